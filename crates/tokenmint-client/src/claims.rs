//! The claims tokenmint puts in an access token (RFC 9068 §2.2 plus tokenmint's own `team` and
//! `env`), typed.

use serde::{Deserialize, Deserializer};

/// The claims of an access token that passed every check of [`Verifier::verify`].
///
/// Fields may be added in a minor release, so the struct cannot be built outside this crate;
/// read it through its fields and methods.
///
/// [`Verifier::verify`]: crate::Verifier::verify
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct AccessClaims {
    /// `iss`: the issuer, already checked against the expected one.
    pub iss: String,
    /// `sub`: the subject; for client-credentials tokens, the Client ID (RFC 9068 §2.2).
    pub sub: String,
    /// `aud`: every audience of the token (a single string in the token becomes one item).
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// `exp`: expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// `iat`: issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// `nbf`: not before, seconds since the Unix epoch, when the token has one.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// `jti`: the token's unique id.
    pub jti: String,
    /// `client_id`: the API key's public Client ID (`dh_live_…`, `dh_test_…`).
    pub client_id: String,
    /// `scope`: the granted scopes, space-separated (RFC 9068 §2.2.3.1). See [`Self::scopes`].
    #[serde(default)]
    pub scope: String,
    /// `team`: the slug of the team that owns the API key; whose resources the caller may touch.
    pub team: String,
    /// `env`: whether the API key is a live or a test key.
    pub env: Environment,
}

impl AccessClaims {
    /// The granted scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether `scope` is among the granted scopes (exact match; scopes have no hierarchy).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|granted| granted == scope)
    }

    /// Whether the token belongs to team `team`.
    pub fn is_team(&self, team: &str) -> bool {
        self.team == team
    }
}

/// The `env` claim: which kind of API key the token was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Environment {
    /// A `…_live_…` key: production traffic.
    Live,
    /// A `…_test_…` key: test traffic.
    Test,
    /// A value this version of the crate does not know (a newer issuer's).
    #[serde(other)]
    Unknown,
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of strings.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> AccessClaims {
        serde_json::from_value(json).unwrap()
    }

    fn sample(aud: serde_json::Value, env: &str) -> AccessClaims {
        claims(serde_json::json!({
            "iss": "https://issuer.test", "sub": "dh_live_x", "aud": aud, "exp": 2, "iat": 1,
            "jti": "j", "client_id": "dh_live_x", "scope": "monitors:read  logs:read",
            "team": "acme", "env": env,
        }))
    }

    #[test]
    fn audience_is_a_string_or_an_array() {
        assert_eq!(sample("a".into(), "live").aud, ["a"]);
        assert_eq!(
            sample(serde_json::json!(["a", "b"]), "live").aud,
            ["a", "b"]
        );
    }

    #[test]
    fn scopes_match_exactly() {
        let c = sample("a".into(), "test");
        assert_eq!(
            c.scopes().collect::<Vec<_>>(),
            ["monitors:read", "logs:read"]
        );
        assert!(c.has_scope("logs:read"));
        assert!(!c.has_scope("monitors"));
        assert!(!c.has_scope(""));
        assert_eq!(c.env, Environment::Test);
    }

    #[test]
    fn an_unknown_environment_still_parses() {
        assert_eq!(sample("a".into(), "staging").env, Environment::Unknown);
    }
}
