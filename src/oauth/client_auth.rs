//! Client authentication at the token endpoint (RFC 6749 §2.3.1).
//!
//! Two methods: `client_secret_basic` (the `Authorization: Basic` header, whose id and secret are
//! form-urlencoded before base64) and `client_secret_post` (`client_id` and `client_secret` in the
//! body). §2.3 forbids using more than one in a request.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

use super::OAuthError;
use super::request::{TokenParams, decode_form_component};

/// Standard base64, with or without padding (clients differ).
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the client presented its credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

/// The credentials a client presented, not yet checked against anything.
pub struct PresentedCredentials {
    pub client_id: String,
    /// Raw text; [`crate::oauth::credentials::ClientSecret::parse`] checks its shape later.
    pub client_secret: String,
    pub method: AuthMethod,
}

impl std::fmt::Debug for PresentedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("method", &self.method)
            .finish()
    }
}

/// Finds the client's credentials in the `Authorization` header values (every one received)
/// and the body parameters.
pub fn presented(
    authorization: &[&[u8]],
    params: &TokenParams,
) -> Result<PresentedCredentials, OAuthError> {
    match authorization {
        [] => from_body(params),
        [header] => {
            let creds = from_basic_header(header)?;
            if params.client_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method: the Basic header or client_secret in the body, not both",
                ));
            }
            if params
                .client_id
                .as_deref()
                .is_some_and(|id| id != creds.client_id)
            {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(creds)
        }
        _ => Err(OAuthError::invalid_request(
            "the request has more than one Authorization header",
        )),
    }
}

fn from_body(params: &TokenParams) -> Result<PresentedCredentials, OAuthError> {
    match (&params.client_id, &params.client_secret) {
        (Some(id), Some(secret)) => Ok(PresentedCredentials {
            client_id: id.clone(),
            client_secret: secret.clone(),
            method: AuthMethod::ClientSecretPost,
        }),
        (Some(_), None) => Err(OAuthError::InvalidClient(
            "client_secret is required: tokenmint has no public clients".into(),
        )),
        _ => Err(OAuthError::InvalidClient(
            "client authentication is required: HTTP Basic or client_id and client_secret in the body"
                .into(),
        )),
    }
}

/// RFC 7617 Basic credentials whose parts are form-urlencoded (RFC 6749 §2.3.1).
fn from_basic_header(header: &[u8]) -> Result<PresentedCredentials, OAuthError> {
    let malformed = || OAuthError::InvalidClient("malformed Basic credentials".into());
    let text = std::str::from_utf8(header).map_err(|_| malformed())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::InvalidClient(
            "unsupported authentication scheme: use Basic".into(),
        ));
    }
    let decoded = BASIC_BASE64
        .decode(token.trim_start())
        .map_err(|_| malformed())?;
    let colon = decoded
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(malformed)?;
    let client_id = decode_form_component(&decoded[..colon]).map_err(|_| malformed())?;
    let client_secret = decode_form_component(&decoded[colon + 1..]).map_err(|_| malformed())?;
    if client_id.is_empty() {
        return Err(malformed());
    }
    Ok(PresentedCredentials {
        client_id,
        client_secret,
        method: AuthMethod::ClientSecretBasic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose;

    fn basic(raw: &str) -> String {
        format!("Basic {}", general_purpose::STANDARD.encode(raw))
    }

    fn params(id: Option<&str>, secret: Option<&str>) -> TokenParams {
        TokenParams {
            client_id: id.map(String::from),
            client_secret: secret.map(String::from),
            ..TokenParams::default()
        }
    }

    #[test]
    fn basic_parts_are_form_urlencoded_per_rfc_6749_section_2_3_1() {
        let header = basic("my%3Aid:p%40ss+word");
        let creds = presented(&[header.as_bytes()], &TokenParams::default()).unwrap();
        assert_eq!(creds.client_id, "my:id");
        assert_eq!(creds.client_secret, "p@ss word");
        assert_eq!(creds.method, AuthMethod::ClientSecretBasic);
    }

    #[test]
    fn scheme_is_case_insensitive_and_padding_optional() {
        let header = format!("bAsIc {}", general_purpose::STANDARD_NO_PAD.encode("ab:c"));
        let creds = presented(&[header.as_bytes()], &TokenParams::default()).unwrap();
        assert_eq!(
            (creds.client_id.as_str(), creds.client_secret.as_str()),
            ("ab", "c")
        );
    }

    #[test]
    fn post_credentials_come_from_the_body() {
        let creds = presented(&[], &params(Some("id"), Some("s"))).unwrap();
        assert_eq!(creds.method, AuthMethod::ClientSecretPost);
    }

    #[test]
    fn both_methods_at_once_is_invalid_request() {
        let header = basic("id:s");
        let err = presented(&[header.as_bytes()], &params(None, Some("s"))).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn matching_client_id_in_body_beside_basic_is_accepted() {
        let header = basic("id:s");
        assert!(presented(&[header.as_bytes()], &params(Some("id"), None)).is_ok());
        let err = presented(&[header.as_bytes()], &params(Some("other"), None)).unwrap_err();
        assert_eq!(err.code(), "invalid_request");
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let header = basic("id:s");
        let err = presented(
            &[header.as_bytes(), header.as_bytes()],
            &TokenParams::default(),
        );
        assert_eq!(err.unwrap_err().code(), "invalid_request");
    }

    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        for header in [
            "Basic",
            "Basic !!!",
            "Basic Zm9v",
            "Bearer abc",
            "Basic OnNlY3JldA==",
            "Basic JXp6OmE=",
        ] {
            let err = presented(&[header.as_bytes()], &TokenParams::default()).unwrap_err();
            assert_eq!(err.code(), "invalid_client", "{header}");
        }
    }

    #[test]
    fn missing_credentials_are_invalid_client() {
        for p in [
            params(None, None),
            params(Some("id"), None),
            params(None, Some("s")),
        ] {
            assert_eq!(presented(&[], &p).unwrap_err().code(), "invalid_client");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let creds = presented(&[], &params(Some("id"), Some("hunter2"))).unwrap();
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
