//! The console at `/console`: Settings → API Keys in a browser.
//!
//! A static page and its scripts, built into the binary from `console/` (so `cargo build` needs no
//! Node toolchain and the page loads nothing from another origin). The page is a client of the
//! management API and of the token endpoint, like any other: the server has no console-only
//! route, session or cookie. Every console response carries a strict Content-Security-Policy
//! (scripts and styles from this origin only, no inline ones, no framing, no form posts), so a
//! label that smuggles markup into the page cannot run, and a page that failed to load its script
//! cannot post the sign-in form anywhere.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::errors::error_body;

/// The console's address; stable (product documents and bookmarks point at it).
pub const PATH: &str = "/console";

/// The Content-Security-Policy of every console response: everything from this origin only; no
/// inline script or style (`'self'` alone admits neither); no plugins; no `<base>`; no form
/// submission (the sign-in form is handled by script, so without script it posts nothing);
/// never inside a frame (clickjacking); and DOM sinks that parse HTML are refused outright
/// (the console builds its DOM with `textContent`, so a key's label is always text).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'";

/// One file of the console, as it is served.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../console/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page's files under `/console/assets/`; `index.html` is the page itself.
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/format.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/secret.js", JS),
    asset!("js/admin.js", JS),
];

/// Each asset's entity tag: its CRC-32 and length, computed once. A reload revalidates
/// (`Cache-Control: no-cache`) and gets 304, so a new binary's page is never mixed with the
/// old one's scripts, and an unchanged one costs no bytes.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{:08x}-{}\"", crc32fast::hash(a.body), a.body.len()))
        .collect()
});

/// The console's routes, each answer with the security headers of `secure_headers`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PATH, get(page))
        .route("/console/", get(|| async { Redirect::permanent(PATH) }))
        .route("/console/assets/{*name}", get(asset))
        .route("/console/{*rest}", get(not_found))
        .layer(axum::middleware::map_response(secure_headers))
}

/// `GET /console`: the page.
async fn page(headers: HeaderMap) -> Response {
    serve(0, &headers)
}

/// `GET /console/assets/{name}`.
async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(index) => serve(index, &headers),
        None => not_found().await,
    }
}

async fn not_found() -> Response {
    error_body(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page in the console",
    )
}

/// The asset at `index`, or 304 when the client holds it already (RFC 9110 §13.1.2).
fn serve(index: usize, headers: &HeaderMap) -> Response {
    let (Some(asset), Some(etag)) = (ASSETS.get(index), ETAGS.get(index)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag_value = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), cache],
        )
            .into_response();
    }
    let content_type = HeaderValue::from_static(asset.content_type);
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::ETAG, etag_value),
        cache,
    ];
    (headers, asset.body).into_response()
}

/// The headers every console response carries, errors included.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        // For browsers that predate `frame-ancestors`.
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    for (name, value) in set {
        headers.insert(name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_names_is_served_and_every_served_asset_is_named() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        for asset in &ASSETS[1..] {
            let url = format!("/console/assets/{}", asset.name);
            let named = page.contains(&url)
                || ASSETS.iter().any(|a| {
                    std::str::from_utf8(a.body)
                        .is_ok_and(|t| t.contains(&format!("./{}", file_name(asset.name))))
                });
            assert!(named, "{} is served but nothing loads it", asset.name);
        }
        for (at, _) in page.match_indices("/console/assets/") {
            let rest = &page[at + "/console/assets/".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "the page loads {name}, which is not served"
            );
        }
    }

    fn file_name(path: &str) -> &str {
        path.rsplit('/').next().unwrap()
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(!page.contains("<style"), "inline <style>");
        assert!(!page.contains(" style="), "inline style attribute");
        for (at, _) in page.match_indices(" on") {
            let name: String = page[at + 3..]
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            let after = page[at + 3 + name.len()..].chars().next();
            assert!(after != Some('='), "inline event handler on{name}");
        }
        for (at, _) in page.match_indices("<script") {
            let tag = &page[at..at + page[at..].find('>').unwrap()];
            assert!(tag.contains(" src="), "inline script: {tag}");
        }
    }
}
