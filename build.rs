//! `TOKENMINT_SKIP_POSTGRES=1 cargo test` marks the PostgreSQL half of the integration suite
//! ignored (the test report says so) instead of running it; without it, those tests need a
//! PostgreSQL server and fail when none answers.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skip_postgres)");
    println!("cargo::rerun-if-env-changed=TOKENMINT_SKIP_POSTGRES");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("TOKENMINT_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        println!("cargo::rustc-cfg=skip_postgres");
    }
}
