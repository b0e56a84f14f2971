//! The console at `/console`: its security headers over plain HTTP (`headers`), and the page
//! itself in a real browser, Debian's Chromium driven by `tests/browser/console.mjs` (`browser`).

mod browser;
mod headers;
