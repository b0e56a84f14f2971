//! The fuzz targets' committed corpus (`fuzz/corpus/`, seeds and whatever fuzzing added), run
//! through the same functions as `cargo fuzz` on the stable toolchain: the smoke run CI does.
//! Long fuzzing runs outside CI (README, "Fuzzing").

use std::path::Path;

use tokenmint::fuzz_targets::TARGETS;

#[test]
fn every_target_has_a_corpus_and_survives_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, target) in TARGETS {
        let dir = root.join(name);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut inputs = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            target(&std::fs::read(&path).unwrap());
            inputs += 1;
        }
        assert!(inputs >= 5, "{name}: only {inputs} corpus inputs");
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{name}.rs"));
        assert!(source.is_file(), "{name} has a cargo-fuzz target");
    }
}
