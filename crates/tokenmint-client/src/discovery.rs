//! RFC 8414: the authorization server's metadata, for the `jwks_uri` of an issuer.

use serde::Deserialize;
use url::Url;

use crate::error::SetupError;

/// The metadata fields a verifier needs.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: String,
    #[serde(default)]
    pub(crate) token_endpoint: Option<String>,
}

/// RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path
/// (`https://h/tenant` → `https://h/.well-known/oauth-authorization-server/tenant`).
pub(crate) fn metadata_url(issuer: &str) -> Result<Url, SetupError> {
    let refuse = |reason: &str| SetupError::Url {
        url: issuer.to_string(),
        reason: reason.into(),
    };
    let mut url = Url::parse(issuer).map_err(|e| refuse(&e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(refuse("an issuer has no query or fragment (RFC 8414 §2)"));
    }
    let path = url.path().trim_end_matches('/').to_string();
    url.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    Ok(url)
}

/// Fetches and checks the metadata of `issuer`.
pub(crate) async fn fetch(http: &reqwest::Client, issuer: &str) -> Result<Metadata, SetupError> {
    let url = metadata_url(issuer)?;
    let failed = |reason: String| SetupError::Fetch {
        url: url.to_string(),
        reason,
    };
    let response = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("answered {}", response.status())));
    }
    let metadata: Metadata = response.json().await.map_err(|e| failed(e.to_string()))?;
    // RFC 8414 §3.3: the metadata must name the very issuer it was fetched for.
    if metadata.issuer != issuer {
        return Err(SetupError::IssuerMismatch {
            expected: issuer.to_string(),
            found: metadata.issuer,
        });
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_suffix_goes_before_the_issuer_path() {
        let url = |i| metadata_url(i).unwrap().to_string();
        assert_eq!(
            url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            url("https://h.example/tenant/"),
            "https://h.example/.well-known/oauth-authorization-server/tenant"
        );
        assert!(metadata_url("https://h.example/?x=1").is_err());
        assert!(metadata_url("not a url").is_err());
    }
}
