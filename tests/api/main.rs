//! tokenmint's integration suite: the real server on a free port, a fresh database per test,
//! real OAuth and JOSE clients, and the real `tokenmint` binary for the CLI.
//!
//! Every test listed in `backend_tests!` runs twice: on SQLite and on PostgreSQL (which must
//! answer, unless the suite was built with `TOKENMINT_SKIP_POSTGRES=1`: then those are
//! ignored). Tests that storage has no part in are listed in `storage_free_tests!` and run once.

// A failed unwrap or assertion is how a test (or a benchmark set-up) fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod helpers;

mod algorithms;
mod attacks;
mod cli;
mod connections;
mod console;
mod crash;
mod extreme_inputs;
mod file_modes;
mod fuzz_corpus;
mod leases;
mod lifecycle;
mod malformed;
mod management;
mod nodes;
mod observability;
mod openapi;
mod operations;
mod process;
mod rate_limits;
mod remote_cli;
mod request_heads;
mod sdk;
mod secret_scanning;
mod token;
mod token_errors;
mod webhooks;
mod well_known;
