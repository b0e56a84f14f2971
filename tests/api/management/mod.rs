//! The management API through HTTP with real tokens: bootstrap, team isolation, scopes and
//! audiences (RFC 6750 §3.1), secrets shown once, problem documents (RFC 9457).

mod access;
mod key_options;
mod keys;
mod listings;
mod roll;
mod signing;

use serde_json::Value;

use crate::helpers::Key;

pub(super) fn key_of(body: &Value) -> Key {
    Key::from_json(body.clone())
}

/// Sends `request`, once more if the connection broke while the body was still being written:
/// the server answers an oversized body's 413 from its `Content-Length` and closes without reading
/// the rest (RFC 9112 §9.6 allows it), so the client may lose the race to read that answer.
pub async fn send_racing_413(request: reqwest::RequestBuilder) -> reqwest::Response {
    let mut last = None;
    for _ in 0..5 {
        match request.try_clone().expect("a cloneable body").send().await {
            Ok(response) => return response,
            Err(e) if e.is_request() && !e.is_timeout() => last = Some(e),
            Err(e) => panic!("no answer: {e}"),
        }
    }
    panic!("no answer after 5 tries: {last:?}")
}
