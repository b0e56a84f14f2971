//! tokenmint's integration suite: the real server on a free port, a fresh database per test,
//! real OAuth and JOSE clients, and the real `tokenmint` binary for the CLI.
//!
//! Every test in a module listed in `backend_tests!` runs twice: on SQLite and on PostgreSQL.

#[macro_use]
mod helpers;

mod algorithms;
mod cli;
mod crash;
mod fuzz_corpus;
mod lifecycle;
mod malformed;
mod management;
mod nodes;
mod observability;
mod openapi;
mod process;
mod rate_limits;
mod token;
mod token_errors;
mod well_known;
