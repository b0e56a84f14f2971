//! `rate_limit.trusted_proxies`: CIDRs (`10.0.0.0/8`) or single addresses (`10.1.2.3`), read
//! into networks when the configuration is read.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serializer};

/// A CIDR, or a single address as the network of that address alone.
pub fn parse(entry: &str) -> Result<IpNet, String> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{entry:?} is not an address or CIDR"))
}

/// Reads a list of CIDRs or addresses.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|entry| parse(entry).map_err(serde::de::Error::custom))
        .collect()
}

/// Writes the networks back as CIDR strings.
pub fn serialize<S: Serializer>(networks: &[IpNet], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(networks.iter().map(ToString::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_single_addresses_are_networks() {
        assert_eq!(parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse("192.0.2.1").unwrap().to_string(), "192.0.2.1/32");
        assert_eq!(parse("2001:db8::/32").unwrap().to_string(), "2001:db8::/32");
        assert!(parse("10.0.0.0/33").is_err());
        assert!(
            parse("proxy.internal")
                .unwrap_err()
                .contains("proxy.internal")
        );
    }
}
