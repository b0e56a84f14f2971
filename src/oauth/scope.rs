//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens.

/// Reads the caller's own team's API keys through the management API.
pub const KEYS_READ: &str = "keys:read";
/// Creates and deletes the caller's own team's API keys (and reads them).
pub const KEYS_WRITE: &str = "keys:write";
/// Every team, every API key, the signing keys and the audit log.
pub const ADMIN: &str = "admin";
/// The management API's scopes. They are built in, beside the product catalog (`keys.scopes`);
/// a key holds one only when it was created with it by name, and only tokens for the issuer's
/// own audience carry them.
pub const MANAGEMENT_SCOPES: [&str; 3] = [KEYS_READ, KEYS_WRITE, ADMIN];

/// Whether `scope` is one of the management API's.
pub fn is_management(scope: &str) -> bool {
    MANAGEMENT_SCOPES.contains(&scope)
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Splits a `scope` parameter into its tokens, once each, in the order given.
/// Returns the first token that breaks §3.3 syntax as the error.
pub fn parse(param: &str) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for token in param.split(' ').filter(|t| !t.is_empty()) {
        if !is_scope_token(token) {
            return Err(token.to_string());
        }
        if !scopes.iter().any(|s| s == token) {
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
        assert_eq!(parse("a \"b\"").unwrap_err(), "\"b\"");
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
