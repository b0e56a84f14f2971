//! The client's address: the peer's, or — when the peer is a trusted proxy — the one it reports
//! in `X-Forwarded-For`. Only proxies listed in `rate_limit.trusted_proxies` are believed;
//! anyone else could put any address there.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed. Shared, not copied: a handler's state
/// holds it, and axum clones that state for every request.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// The proxies of `rate_limit.trusted_proxies`.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks.into())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Walks `X-Forwarded-For` from the nearest hop back, past trusted proxies, to the first
    /// address not trusted: the client as far as trusted proxies can vouch.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        let networks = entries
            .iter()
            .map(|e| crate::config::networks::parse(e).unwrap());
        TrustedProxies::new(networks.collect())
    }

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in xff {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let proxies = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_ip(ip("198.51.100.7"), &headers(&["203.0.113.5"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_up_to_the_first_untrusted_hop() {
        let proxies = proxies(&["10.0.0.0/8", "192.0.2.1"]);
        let xff = headers(&["203.0.113.9, 203.0.113.5", "192.0.2.1"]);
        assert_eq!(proxies.client_ip(ip("10.1.1.1"), &xff), ip("203.0.113.5"));
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        let proxies = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            proxies.client_ip(ip("10.1.1.1"), &HeaderMap::new()),
            ip("10.1.1.1")
        );
        assert_eq!(
            proxies.client_ip(ip("10.1.1.1"), &headers(&["garbage"])),
            ip("10.1.1.1")
        );
    }
}
