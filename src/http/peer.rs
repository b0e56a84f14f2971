//! The per-address connection cap (`server.max_connections_per_address`): one peer may not
//! hold more than its share of the listener's slots, so a single host cannot fill them all.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};

use super::client_ip::TrustedProxies;

/// The peers that count together: one IPv4 address, or one IPv6 /64 (a single host is usually
/// handed a whole /64, so counting its addresses one by one would be no cap at all). An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, seen on a dual-stack socket) is its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerGroup {
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6(u64),
}

impl PeerGroup {
    /// The group `ip` belongs to.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

/// Open connections per peer group, against a cap.
#[derive(Debug)]
pub struct PeerCounts {
    cap: usize,
    exempt: TrustedProxies,
    // A std Mutex, not a Tokio one: it is held for one map update, never across an await.
    open: Mutex<HashMap<PeerGroup, usize>>,
}

/// Whether a new connection may be served.
#[derive(Debug)]
pub enum Admission {
    /// Counted against its group until the slot is dropped.
    Counted(PeerSlot),
    /// Not counted: the cap is off, or the peer is a trusted proxy (a load balancer carries
    /// many clients' connections).
    Exempt,
    /// Its group already holds `cap` connections.
    Refused,
}

/// One connection's place in its group's count, given back on drop.
#[derive(Debug)]
pub struct PeerSlot {
    counts: Arc<PeerCounts>,
    group: PeerGroup,
}

impl PeerCounts {
    /// A cap of `cap` connections per group (0: no cap), `exempt` not counted.
    pub fn new(cap: usize, exempt: TrustedProxies) -> Arc<Self> {
        Arc::new(Self {
            cap,
            exempt,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new connection from `ip`, unless its group is full.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Admission {
        if self.cap == 0 || self.exempt.trusts(ip.to_canonical()) {
            return Admission::Exempt;
        }
        let group = PeerGroup::of(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(group).or_insert(0);
        if *count >= self.cap {
            return Admission::Refused;
        }
        *count += 1;
        Admission::Counted(PeerSlot {
            counts: Arc::clone(self),
            group,
        })
    }

    /// Open connections counted for `group`.
    pub fn open(&self, group: PeerGroup) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&group).copied().unwrap_or(0)
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self
            .counts
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.group) {
            *count = count.saturating_sub(1);
            // Forget a group with no connection left, so the map holds live peers only.
            if *count == 0 {
                open.remove(&self.group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_addresses_in_one_slash_64_are_one_group() {
        let a = PeerGroup::of(ip("2001:db8:1:2::1"));
        assert_eq!(a, PeerGroup::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")));
        assert_ne!(a, PeerGroup::of(ip("2001:db8:1:3::1")));
    }

    #[test]
    fn an_ipv4_mapped_address_counts_as_its_ipv4_address() {
        assert_eq!(
            PeerGroup::of(ip("::ffff:192.0.2.7")),
            PeerGroup::of(ip("192.0.2.7"))
        );
        assert_ne!(
            PeerGroup::of(ip("192.0.2.7")),
            PeerGroup::of(ip("192.0.2.8"))
        );
    }

    #[test]
    fn past_the_cap_a_connection_is_refused_until_one_closes() {
        let counts = PeerCounts::new(2, TrustedProxies::default());
        let first = counts.admit(ip("192.0.2.7"));
        let second = counts.admit(ip("::ffff:192.0.2.7"));
        assert!(matches!(first, Admission::Counted(_)));
        assert!(matches!(second, Admission::Counted(_)));
        assert!(matches!(counts.admit(ip("192.0.2.7")), Admission::Refused));
        assert!(matches!(
            counts.admit(ip("192.0.2.8")),
            Admission::Counted(_)
        ));
        drop(first);
        assert!(matches!(
            counts.admit(ip("192.0.2.7")),
            Admission::Counted(_)
        ));
        drop(second);
        assert_eq!(counts.open(PeerGroup::of(ip("192.0.2.7"))), 0);
    }

    #[test]
    fn trusted_proxies_and_a_zero_cap_are_not_counted() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let counts = PeerCounts::new(1, proxies);
        let _held = counts.admit(ip("10.1.1.1"));
        assert!(matches!(counts.admit(ip("10.1.1.1")), Admission::Exempt));
        assert!(matches!(
            counts.admit(ip("::ffff:10.1.1.1")),
            Admission::Exempt
        ));
        let off = PeerCounts::new(0, TrustedProxies::default());
        assert!(matches!(off.admit(ip("192.0.2.7")), Admission::Exempt));
    }
}
