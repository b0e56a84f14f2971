#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenmint::fuzz_targets::bearer_token(data));
