//! RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without a Host header, and to any
//! request with more than one Host line or with a Host value that is not `uri-host [":" port]`.
//! HTTP/1.0 may omit Host; HTTP/2 names the authority in `:authority` and needs no Host.

use std::net::Ipv6Addr;

use axum::http::{HeaderMap, Version, header};

/// Why the request's Host header is refused, or `None` when it is acceptable.
pub fn host_refusal(version: Version, headers: &HeaderMap) -> Option<&'static str> {
    let mut hosts = headers.get_all(header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if version == Version::HTTP_11 => {
            Some("an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)")
        }
        (None, _) => None,
        (Some(_), Some(_)) => Some("the request has more than one Host header (RFC 9112 §3.2)"),
        (Some(host), None) if !is_valid_host(host.as_bytes()) => {
            Some("the Host header is not a host with an optional port (RFC 9112 §3.2)")
        }
        (Some(_), None) => None,
    }
}

/// RFC 3986 §3.2.2–3.2.3: `uri-host [":" port]`, where `uri-host` is an IP literal in brackets,
/// or a reg-name (which covers IPv4 addresses), and `port` is digits.
pub fn is_valid_host(value: &[u8]) -> bool {
    let (host, port) = match value.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) => {
                if !is_ip_literal(&rest[..end]) {
                    return false;
                }
                (&[][..], &rest[end + 1..])
            }
            None => return false,
        },
        None => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &[][..]),
        },
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(b":")
            .is_some_and(|digits| digits.iter().all(u8::is_ascii_digit));
    port_ok && is_reg_name(host)
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = host.get(i) {
        if b == b'%' {
            let hex = host.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if is_unreserved(b) || is_sub_delim(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `IP-literal = "[" ( IPv6address / IPvFuture ) "]"`, the brackets already removed.
fn is_ip_literal(inner: &[u8]) -> bool {
    if let Some(future) = inner
        .strip_prefix(b"v")
        .or_else(|| inner.strip_prefix(b"V"))
    {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, rest) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !rest.is_empty()
            && rest
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(inner).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn hosts_with_and_without_ports_are_valid() {
        for host in [
            "example.com",
            "example.com:8080",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%20b",
            "",
        ] {
            assert!(is_valid_host(host.as_bytes()), "{host:?}");
        }
    }

    #[test]
    fn userinfo_spaces_paths_and_bad_ports_are_invalid() {
        for host in [
            "a@b",
            "exa mple",
            "example.com/x",
            "example.com:80:80",
            "example.com:8o",
            "[::1",
            "[::1]x",
            "[example.com]",
            "a%2",
            "a\tb",
        ] {
            assert!(!is_valid_host(host.as_bytes()), "{host:?}");
        }
    }

    #[test]
    fn host_is_required_once_in_http_1_1_only() {
        let none = HeaderMap::new();
        assert!(host_refusal(Version::HTTP_11, &none).is_some());
        assert!(host_refusal(Version::HTTP_10, &none).is_none());
        assert!(host_refusal(Version::HTTP_2, &none).is_none());
        let mut two = HeaderMap::new();
        two.append(header::HOST, HeaderValue::from_static("a"));
        assert!(host_refusal(Version::HTTP_11, &two).is_none());
        two.append(header::HOST, HeaderValue::from_static("a"));
        assert!(host_refusal(Version::HTTP_11, &two).is_some());
        assert!(host_refusal(Version::HTTP_10, &two).is_some());
    }
}
