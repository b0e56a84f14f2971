//! The limits on a clock the tests move.

use super::*;
use crate::clock::ManualMonotonic;

fn config(per_second: u32, failures: u32) -> RateLimitConfig {
    RateLimitConfig {
        enabled: true,
        token_requests_per_second: per_second,
        failed_auth_per_minute: failures,
        trusted_proxies: Vec::new(),
    }
}

/// Limits on a clock the test moves.
fn limits(per_second: u32, failures: u32) -> (RateLimits, Arc<ManualMonotonic>) {
    let clock = ManualMonotonic::new();
    let shared: SharedMonotonic = clock.clone();
    (
        RateLimits::with_clock(&config(per_second, failures), shared),
        clock,
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_client_gets_a_burst_of_twice_its_rate_then_waits() {
    let (limits, clock) = limits(2, 10);
    for _ in 0..4 {
        assert!(limits.check_client("a", None).is_ok());
    }
    let wait = limits.check_client("a", None).unwrap_err();
    assert_eq!(wait, Duration::from_millis(500), "one request per 1/rate");
    assert!(
        limits.check_client("b", None).is_ok(),
        "other clients are not affected"
    );
    clock.advance(Duration::from_millis(499));
    assert!(
        limits.check_client("a", None).is_err(),
        "not before the wait"
    );
    clock.advance(Duration::from_millis(1));
    assert!(limits.check_client("a", None).is_ok(), "one more after it");
    assert!(limits.check_client("a", None).is_err());
    clock.advance(Duration::from_secs(2));
    for _ in 0..4 {
        assert!(
            limits.check_client("a", None).is_ok(),
            "a full burst after a rest"
        );
    }
}

#[test]
fn reservations_are_taken_before_hashing_so_concurrent_ones_are_bounded() {
    let (limits, _clock) = limits(20, 3);
    // Ten requests arrive at once: three may hash, whatever their verdicts will be.
    let results: Vec<_> = (0..10)
        .map(|_| limits.reserve_hash(ip("203.0.113.5")))
        .collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    let wait = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(
        *wait, WINDOW,
        "the oldest reservation frees up a window later"
    );
    assert!(limits.reserve_hash(ip("203.0.113.6")).is_ok());
}

#[test]
fn a_right_secret_gives_its_hash_back() {
    let (limits, _clock) = limits(20, 1);
    let reservation = limits.reserve_hash(ip("203.0.113.5")).unwrap();
    assert!(limits.reserve_hash(ip("203.0.113.5")).is_err());
    reservation.give_back();
    let wrong = limits.reserve_hash(ip("203.0.113.5")).unwrap();
    drop(wrong);
    assert!(
        limits.reserve_hash(ip("203.0.113.5")).is_err(),
        "a wrong secret stays spent"
    );
}

#[test]
fn the_allowance_slides_with_the_window() {
    let (limits, clock) = limits(20, 2);
    let secs = Duration::from_secs;
    drop(limits.reserve_hash(ip("203.0.113.5")).unwrap());
    clock.advance(secs(30));
    drop(limits.reserve_hash(ip("203.0.113.5")).unwrap());
    clock.advance(secs(29));
    let wait = limits.reserve_hash(ip("203.0.113.5")).unwrap_err();
    assert_eq!(wait, secs(1));
    clock.advance(secs(1));
    drop(limits.reserve_hash(ip("203.0.113.5")).unwrap());
    clock.advance(secs(1));
    assert_eq!(
        limits.reserve_hash(ip("203.0.113.5")).unwrap_err(),
        secs(29)
    );
}

#[test]
fn ipv6_addresses_share_the_allowance_of_their_64() {
    let (limits, _clock) = limits(20, 1);
    drop(limits.reserve_hash(ip("2001:db8:1:2::1")).unwrap());
    assert!(
        limits
            .reserve_hash(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
            .is_err()
    );
    assert!(limits.reserve_hash(ip("2001:db8:1:3::1")).is_ok());
    drop(limits.reserve_hash(ip("198.51.100.7")).unwrap());
    assert!(limits.reserve_hash(ip("::ffff:198.51.100.7")).is_err());
}

#[test]
fn a_full_table_refuses_new_blocks_until_old_ones_go_idle() {
    let (limits, clock) = limits(20, 1);
    for n in 0..u32::try_from(MAX_TRACKED_BLOCKS).unwrap() {
        let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        drop(limits.reserve_hash(ip).unwrap());
    }
    let newcomer = ip("203.0.113.9");
    assert_eq!(
        limits.reserve_hash(newcomer).unwrap_err(),
        WINDOW,
        "fail closed: no fresh allowance for anyone"
    );
    clock.advance(WINDOW);
    assert!(limits.reserve_hash(newcomer).is_ok());
}

#[test]
fn address_blocks() {
    assert_eq!(address_block(ip("192.0.2.1")), ip("192.0.2.1"));
    assert_eq!(address_block(ip("2001:db8::1:2:3:4")), ip("2001:db8::"));
    assert_eq!(address_block(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
}

#[test]
fn disabled_limits_never_refuse() {
    let mut off = config(1, 1);
    off.enabled = false;
    let limits = RateLimits::new(&off);
    for _ in 0..10 {
        drop(limits.reserve_hash(ip("203.0.113.5")).unwrap());
        assert!(limits.check_client("a", None).is_ok());
    }
}

#[test]
fn a_key_with_its_own_rate_gets_that_rate_and_not_the_issuers() {
    let (limits, clock) = limits(2, 10);
    for _ in 0..20 {
        assert!(limits.check_client("fast", Some(10)).is_ok());
    }
    let wait = limits.check_client("fast", Some(10)).unwrap_err();
    assert_eq!(wait, Duration::from_millis(100), "one request per 1/10 s");
    for _ in 0..2 {
        assert!(limits.check_client("slow", Some(1)).is_ok());
    }
    assert!(
        limits.check_client("slow", Some(1)).is_err(),
        "a rate below the issuer's holds too"
    );
    for _ in 0..4 {
        assert!(limits.check_client("plain", None).is_ok());
    }
    assert!(limits.check_client("plain", None).is_err());
    clock.advance(Duration::from_millis(100));
    assert!(limits.check_client("fast", Some(10)).is_ok());
}

#[test]
fn a_changed_rate_applies_from_the_next_request() {
    let (limits, _clock) = limits(2, 10);
    for _ in 0..2 {
        assert!(limits.check_client("k", Some(1)).is_ok());
    }
    assert!(limits.check_client("k", Some(1)).is_err());
    for _ in 0..100 {
        assert!(
            limits.check_client("k", Some(50)).is_ok(),
            "a new limiter at the new rate"
        );
    }
}

#[test]
fn own_rates_are_off_with_the_limits_and_idle_keys_are_forgotten() {
    let clock = ManualMonotonic::new();
    let shared: SharedMonotonic = clock.clone();
    let mut off = config(2, 10);
    off.enabled = false;
    let unlimited = RateLimits::with_clock(&off, Arc::clone(&shared));
    for _ in 0..100 {
        assert!(unlimited.check_client("k", Some(1)).is_ok());
    }
    let limits = RateLimits::with_clock(&config(2, 10), shared);
    assert!(limits.check_client("k", Some(1)).is_ok());
    let own = limits.own.as_ref().unwrap();
    assert_eq!(own.len(), 1);
    clock.advance(Duration::from_secs(599));
    limits.shrink();
    assert_eq!(own.len(), 1, "kept while it may still be refilling");
    clock.advance(Duration::from_secs(1));
    limits.shrink();
    assert_eq!(own.len(), 0);
}
