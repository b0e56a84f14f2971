//! One JWKS request: conditional on the ETag held, bounded in size, with the max-age the
//! response grants.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH};

use super::keys::{self, KeySet};

/// The largest JWKS accepted. tokenmint's holds a handful of keys (a few KiB); the bound keeps a
/// misconfigured or hostile endpoint from filling memory.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// How the cache treats the issuer's answers (set through [`crate::VerifierBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct CachePolicy {
    /// The least time between two fetches caused by unknown `kid`s.
    pub(crate) refetch_interval: Duration,
    /// After a failed fetch of an expired JWKS, how long callers get that failure without a
    /// new attempt.
    pub(crate) retry_after_failure: Duration,
    /// The max-age when the response has none.
    pub(crate) default_max_age: Duration,
    /// Bounds on the max-age the issuer may grant.
    pub(crate) min_max_age: Duration,
    pub(crate) max_max_age: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self {
            refetch_interval: Duration::from_secs(60),
            retry_after_failure: Duration::from_secs(5),
            default_max_age: Duration::from_secs(300),
            min_max_age: Duration::from_secs(1),
            max_max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// A fetch's result: new keys, or `None` for 304 Not Modified.
pub(crate) struct Fetched {
    pub(crate) keys: Option<KeySet>,
    pub(crate) etag: Option<String>,
    pub(crate) max_age: Option<Duration>,
}

/// The JWKS URL and the HTTP client that fetches it.
#[derive(Debug)]
pub(crate) struct JwksClient {
    pub(crate) http: reqwest::Client,
    pub(crate) url: url::Url,
}

impl JwksClient {
    /// Fetches the JWKS, asking for 304 when `etag` still matches. Errors are sentences for logs.
    pub(crate) async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, String> {
        let mut request = self.http.get(self.url.clone());
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("GET {}: {}", self.url, without_url(&e)))?;
        let status = response.status();
        let headers = response.headers();
        let max_age = headers
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age);
        let etag = headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                keys: None,
                etag,
                max_age,
            });
        }
        if status != StatusCode::OK {
            return Err(format!("GET {} answered {status}", self.url));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {}: {}", self.url, without_url(&e)))?
        {
            if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
                return Err(format!(
                    "GET {}: the JWKS exceeds {MAX_JWKS_BYTES} bytes",
                    self.url
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let keys = keys::parse(&body)?;
        Ok(Fetched {
            keys: Some(keys),
            etag,
            max_age,
        })
    }
}

/// reqwest's error text without the URL it repeats (the caller names it once).
fn without_url(error: &reqwest::Error) -> String {
    let mut error = error.to_string();
    if let Some(at) = error.find(" for url (") {
        error.truncate(at);
    }
    error
}

/// RFC 9111 §5.2.2.1 `max-age`; `no-store`/`no-cache` mean zero (the cache's floor applies).
pub(crate) fn max_age(cache_control: &str) -> Option<Duration> {
    let mut found = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(value) = lower.strip_prefix("max-age=") {
            found = value
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("Max-Age=\"7\""), Some(Duration::from_secs(7)));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=-1"), None);
        assert_eq!(max_age("max-age=99999999999999999999999"), None);
        assert_eq!(max_age("no-store, max-age=60"), Some(Duration::ZERO));
    }
}
