//! The token request's parameters (RFC 6749 §4.4.2), read from either body format.
//!
//! Rules applied here, with their source:
//! - §3.2: a parameter sent more than once is an error (`invalid_request`), except `resource`,
//!   which RFC 8707 §2 allows to repeat.
//! - §3.1: a parameter sent without a value is treated as omitted.
//! - §3.2: unknown parameters are ignored.
//! - Appendix B: `+` is a space and `%XX` escapes must be well formed and decode to UTF-8.

use serde_json::Value;

use super::OAuthError;

/// The parameters of a token request that tokenmint reads; empty values are already `None`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// RFC 8707 resource indicators; may repeat.
    pub resource: Vec<String>,
    /// The `audience` parameter some OAuth libraries send instead of `resource`.
    pub audience: Option<String>,
}

impl TokenParams {
    /// Reads an `application/x-www-form-urlencoded` body.
    pub fn from_form(body: &[u8]) -> Result<Self, OAuthError> {
        let mut params = Self::default();
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode_form_component(name)?;
            let value = decode_form_component(value)?;
            params.set(&name, value)?;
        }
        Ok(params.finish())
    }

    /// Reads an `application/json` body: an object whose values are strings (`resource` may also
    /// be an array of strings); `null` counts as omitted.
    pub fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let Members(object) = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_request(format!("the body is not a JSON object: {e}"))
        })?;
        let mut params = Self::default();
        for (name, value) in object {
            if !is_known(&name) {
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(s) => params.set(&name, s)?,
                Value::Array(items) if name == "resource" => {
                    for item in items {
                        let Value::String(s) = item else {
                            return Err(OAuthError::invalid_request("resource must hold strings"));
                        };
                        params.set(&name, s)?;
                    }
                }
                _ => {
                    return Err(OAuthError::invalid_request(format!(
                        "{name} must be a string"
                    )));
                }
            }
        }
        Ok(params.finish())
    }

    /// Stores one parameter; repeats are refused (§3.2), empty values dropped (§3.1).
    fn set(&mut self, name: &str, value: String) -> Result<(), OAuthError> {
        let slot = match name {
            "grant_type" => &mut self.grant_type,
            "scope" => &mut self.scope,
            "client_id" => &mut self.client_id,
            "client_secret" => &mut self.client_secret,
            "audience" => &mut self.audience,
            "resource" => {
                if !value.is_empty() {
                    self.resource.push(value);
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            )));
        }
        // An empty value is kept until `finish`, so that repeating it is still caught.
        *slot = Some(value);
        Ok(())
    }

    /// Drops parameters that were sent empty (§3.1), once everything is read.
    fn finish(mut self) -> Self {
        for slot in [
            &mut self.grant_type,
            &mut self.scope,
            &mut self.client_id,
            &mut self.client_secret,
            &mut self.audience,
        ] {
            if slot.as_deref() == Some("") {
                *slot = None;
            }
        }
        self
    }
}

/// A JSON object's members in order, repeats included: serde_json's own map keeps only the last
/// of a repeated key, which would hide a repeated parameter (§3.2).
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

fn is_known(name: &str) -> bool {
    matches!(
        name,
        "grant_type" | "scope" | "client_id" | "client_secret" | "resource" | "audience"
    )
}

/// Decodes one form component strictly: `+` is a space, `%` must start two hex digits, and the
/// result must be UTF-8 without NUL.
pub fn decode_form_component(raw: &[u8]) -> Result<String, OAuthError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let Some(byte) = raw.get(i + 1..i + 3).and_then(hex_byte) else {
                    return Err(OAuthError::invalid_request(
                        "malformed percent-encoding in the body",
                    ));
                };
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    if out.contains(&0) {
        return Err(OAuthError::invalid_request(
            "the body holds a NUL character",
        ));
    }
    String::from_utf8(out).map_err(|_| OAuthError::invalid_request("the body is not valid UTF-8"))
}

/// Two ASCII hex digits as a byte (`from_str_radix` alone would also accept a sign).
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Result<TokenParams, OAuthError> {
        TokenParams::from_form(body.as_bytes())
    }

    #[test]
    fn reads_a_form_body() {
        let p =
            form("grant_type=client_credentials&scope=a+b&client_id=x%5Fy&resource=r1&resource=r2")
                .unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.scope.as_deref(), Some("a b"));
        assert_eq!(p.client_id.as_deref(), Some("x_y"));
        assert_eq!(p.resource, ["r1", "r2"]);
    }

    #[test]
    fn repeated_parameter_is_invalid_request() {
        let err = form("grant_type=client_credentials&grant_type=client_credentials").unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(err.description().contains("grant_type"));
        assert!(form("scope=&scope=a").is_err());
    }

    #[test]
    fn empty_values_count_as_omitted() {
        let p = form("grant_type=client_credentials&scope=&client_id").unwrap();
        assert_eq!(p.scope, None);
        assert_eq!(p.client_id, None);
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let p = form("grant_type=client_credentials&foo=bar&foo=baz").unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
    }

    #[test]
    fn malformed_encoding_is_invalid_request() {
        for body in [
            "scope=%zz",
            "scope=%4",
            "scope=%",
            "scope=%ff%fe",
            "scope=a%00b",
            "scope=%+1",
        ] {
            let err = form(body).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{body}");
        }
    }

    #[test]
    fn reads_a_json_body() {
        let body =
            br#"{"grant_type":"client_credentials","resource":["a","b"],"audience":null,"x":1}"#;
        let p = TokenParams::from_json(body).unwrap();
        assert_eq!(p.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(p.resource, ["a", "b"]);
        assert_eq!(p.audience, None);
    }

    #[test]
    fn a_repeated_json_member_is_invalid_request() {
        let body = br#"{"grant_type":"client_credentials","grant_type":"client_credentials"}"#;
        let err = TokenParams::from_json(body).unwrap_err();
        assert!(err.description().contains("grant_type"), "{err:?}");
    }

    #[test]
    fn json_of_the_wrong_shape_is_invalid_request() {
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"{",
            br#"{"scope":1}"#,
            br#"{"resource":[1]}"#,
        ] {
            let err = TokenParams::from_json(body).unwrap_err();
            assert_eq!(err.code(), "invalid_request");
        }
    }
}
