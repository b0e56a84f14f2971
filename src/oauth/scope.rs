//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens.

use std::collections::HashSet;

pub use crate::domain::scope::{
    ADMIN, KEYS_READ, KEYS_WRITE, MANAGEMENT_SCOPES, WEBHOOKS_READ, WEBHOOKS_SIGN, WEBHOOKS_WRITE,
    is_management, is_scope_token,
};

/// Most scope tokens a request may name. A key holds at most the catalog and the management
/// scopes, so a longer list cannot be granted anyway; the cap keeps parsing bounded.
pub const MAX_REQUESTED_SCOPES: usize = 256;

/// Why a `scope` parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A token that breaks §3.3 syntax.
    #[error("malformed scope {0:?}")]
    Malformed(String),
    #[error("too many scopes: ask for at most {MAX_REQUESTED_SCOPES}")]
    TooMany,
}

/// Splits a `scope` parameter into its tokens, once each, in the order given. Linear in the
/// parameter's length: repeats are found with a set, and more than [`MAX_REQUESTED_SCOPES`]
/// distinct tokens are refused.
pub fn parse(param: &str) -> Result<Vec<String>, ScopeError> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut scopes: Vec<String> = Vec::new();
    for token in param.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(token) {
            return Err(ScopeError::Malformed(token.to_string()));
        }
        if seen.insert(token) {
            if scopes.len() == MAX_REQUESTED_SCOPES {
                return Err(ScopeError::TooMany);
            }
            scopes.push(token.to_string());
        }
    }
    Ok(scopes)
}

/// The scopes a token gets: what was asked for, which must all be held by the key, or every
/// scope the key holds when nothing was asked for (§3.3 lets the server pick the default).
/// The error lists the scopes asked for but not held.
pub fn narrow(requested: Option<&[String]>, held: &[String]) -> Result<Vec<String>, Vec<String>> {
    let Some(requested) = requested.filter(|r| !r.is_empty()) else {
        return Ok(held.to_vec());
    };
    let missing: Vec<String> = requested
        .iter()
        .filter(|s| !held.contains(s))
        .cloned()
        .collect();
    if missing.is_empty() {
        Ok(requested.to_vec())
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scope_token_syntax_follows_rfc_6749_section_3_3() {
        assert!(is_scope_token("monitors:read"));
        assert!(is_scope_token("a!#[]~"));
        for bad in ["", "a b", "a\"b", "a\\b", "é", "a\tb", "a\u{7f}"] {
            assert!(!is_scope_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn parse_splits_on_spaces_and_drops_repeats() {
        assert_eq!(parse("a b  a").unwrap(), v(&["a", "b"]));
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(
            parse("a \"b\"").unwrap_err(),
            ScopeError::Malformed("\"b\"".into())
        );
    }

    #[test]
    fn parsing_is_bounded_and_linear() {
        let many: Vec<String> = (0..=MAX_REQUESTED_SCOPES)
            .map(|i| format!("s{i}"))
            .collect();
        assert_eq!(parse(&many.join(" ")).unwrap_err(), ScopeError::TooMany);
        let at_most = &many[..MAX_REQUESTED_SCOPES];
        assert_eq!(
            parse(&at_most.join(" ")).unwrap().len(),
            MAX_REQUESTED_SCOPES
        );
        // Repeats do not count against the cap: 10,000 of one scope is one scope.
        assert_eq!(parse(&"a ".repeat(10_000)).unwrap(), v(&["a"]));
    }

    #[test]
    fn no_request_grants_everything_held() {
        let held = v(&["a", "b"]);
        assert_eq!(narrow(None, &held).unwrap(), held);
        assert_eq!(narrow(Some(&[]), &held).unwrap(), held);
    }

    #[test]
    fn a_request_narrows_to_a_subset() {
        let held = v(&["a", "b", "c"]);
        assert_eq!(
            narrow(Some(&v(&["c", "a"])), &held).unwrap(),
            v(&["c", "a"])
        );
    }

    #[test]
    fn a_scope_not_held_is_refused_and_named() {
        let held = v(&["a"]);
        assert_eq!(narrow(Some(&v(&["a", "z"])), &held).unwrap_err(), v(&["z"]));
    }
}
