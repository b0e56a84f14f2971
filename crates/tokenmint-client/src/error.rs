//! Errors: which check a token failed ([`VerifyError`]), and why a verifier could not be set up
//! ([`SetupError`]).

/// Why a token was refused. Each variant names the one check that failed first.
///
/// Display gives a sentence for logs (it may quote the token's own header values);
/// [`VerifyError::description`] gives a fixed text safe to send back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No bearer token was presented (RFC 6750 §3.1: answered without an error code).
    #[error("no bearer token in the request")]
    Missing,
    /// Not a JWS compact serialization, or its header or claims are not readable JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// RFC 9068 §4: the header's `typ` must be `at+jwt`.
    #[error("token type {found:?} is not at+jwt")]
    Type {
        /// The `typ` the token carried, if any.
        found: Option<String>,
    },
    /// The header names no `kid`, so no published key can be chosen.
    #[error("token header has no kid")]
    MissingKeyId,
    /// The `kid` is not in the issuer's JWKS, even after the refetch the interval allowed.
    #[error("no published signing key has kid {kid:?}")]
    UnknownKeyId {
        /// The token's `kid`.
        kid: String,
    },
    /// The token's `alg` is not the algorithm its key is published for (this refuses `none`,
    /// every `HS*`, and any algorithm swap).
    #[error("algorithm {token:?} is not allowed for this key (published for {key})")]
    Algorithm {
        /// The `alg` of the token's header.
        token: String,
        /// The `alg` of the published key the `kid` names.
        key: String,
    },
    /// The header lists critical extensions (RFC 7515 §4.1.11), none of which this crate knows.
    #[error("token header has critical extensions this verifier does not understand")]
    CriticalHeader,
    /// The signature does not verify with the published key.
    #[error("signature does not verify")]
    Signature,
    /// `exp` has passed (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token not valid yet")]
    NotYetValid,
    /// `iss` is not the expected issuer.
    #[error("wrong issuer")]
    Issuer,
    /// No `aud` is one of the accepted audiences.
    #[error("wrong audience")]
    Audience,
    /// A required claim is missing or has the wrong type.
    #[error("claims: {0}")]
    Claims(String),
    /// The JWKS could not be fetched and no cached copy is fresh enough to use.
    #[error("signing keys unavailable: {0}")]
    JwksUnavailable(String),
}

impl VerifyError {
    /// A fixed description of the failed check, without any of the token's own values: what a
    /// resource server may send back in `error_description` (RFC 6750 §3).
    pub fn description(&self) -> &'static str {
        match self {
            Self::Missing => "no bearer token",
            Self::Malformed(_) => "the token is not a well-formed JWT",
            Self::Type { .. } => "the token is not an access token (typ must be at+jwt)",
            Self::MissingKeyId => "the token names no signing key",
            Self::UnknownKeyId { .. } => "the token's signing key is unknown",
            Self::Algorithm { .. } => "the token's algorithm is not allowed",
            Self::CriticalHeader => "the token has unsupported critical headers",
            Self::Signature => "the token's signature is invalid",
            Self::Expired => "the token expired",
            Self::NotYetValid => "the token is not valid yet",
            Self::Issuer => "the token is from another issuer",
            Self::Audience => "the token is for another audience",
            Self::Claims(_) => "the token's claims are incomplete",
            Self::JwksUnavailable(_) => "the signing keys cannot be loaded",
        }
    }

    /// Whether the fault is the token's (401 `invalid_token`) rather than this side's: only
    /// [`VerifyError::JwksUnavailable`] is not, and a resource server should answer it with 503.
    pub fn is_token_fault(&self) -> bool {
        !matches!(self, Self::JwksUnavailable(_))
    }
}

/// Why a [`Verifier`](crate::Verifier) or [`TokenSource`](crate::TokenSource) could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// A URL that does not parse, or that cannot carry the well-known suffix.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it is refused.
        reason: String,
    },
    /// The HTTP request for the metadata failed or answered something other than 200.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// RFC 8414 §3.3: the metadata's `issuer` must be the issuer it was fetched for.
    #[error("metadata names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch {
        /// The issuer asked for.
        expected: String,
        /// The issuer the metadata names.
        found: String,
    },
    /// A setting the builder requires was not given.
    #[error("missing setting: {0}")]
    Missing(&'static str),
    /// The HTTP client could not be built (TLS initialisation).
    #[error("HTTP client: {0}")]
    Client(String),
}
