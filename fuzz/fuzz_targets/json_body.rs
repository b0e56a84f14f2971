#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenmint::fuzz_targets::json_body(data));
