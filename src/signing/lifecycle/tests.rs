use chrono::TimeZone;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);
const LEEWAY: Duration = Duration::from_secs(300);

fn t(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::hours(hours)
}

fn policy() -> Policy {
    Policy {
        ttl: 24 * HOUR,
        publish_ahead: HOUR,
        rotation_interval: 30 * 24 * HOUR,
        retire_leeway: LEEWAY,
    }
}

fn key(kid: &str, created: i64, activates: i64) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        alg: "ES256".into(),
        public_jwk: "{}".into(),
        sealed_private: Some(vec![1]),
        created_at: t(created),
        activates_at: t(activates),
        revoked_at: None,
    }
}

fn states(keys: &[StoredSigningKey], now: DateTime<Utc>) -> Vec<(String, KeyState)> {
    classify(keys, now, &policy())
        .iter()
        .map(|s| (s.key.kid.clone(), s.state))
        .collect()
}

fn s(kid: &str, state: KeyState) -> (String, KeyState) {
    (kid.into(), state)
}

#[test]
fn an_empty_store_gets_a_current_key_at_once() {
    assert_eq!(
        plan_maintenance(&[], t(0), &policy()),
        [Step::Create { activates_at: t(0) }]
    );
}

#[test]
fn a_staged_rotation_publishes_a_next_key_that_signs_after_publish_ahead() {
    let keys = [key("a", 0, 0)];
    assert_eq!(
        plan_rotation(&keys, t(10), &policy(), false),
        [Step::Create {
            activates_at: t(11)
        }]
    );
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    assert_eq!(
        states(&keys, t(10)),
        [s("a", KeyState::Current), s("b", KeyState::Next)]
    );
    assert_eq!(
        states(&keys, t(11)),
        [s("a", KeyState::Retired), s("b", KeyState::Current)]
    );
}

#[test]
fn a_second_staged_rotation_while_one_is_pending_does_nothing() {
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    assert!(plan_rotation(&keys, t(10), &policy(), false).is_empty());
}

#[test]
fn an_immediate_rotation_promotes_the_pending_key_or_creates_one() {
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    let at = t(10);
    assert_eq!(
        plan_rotation(&keys, at, &policy(), true),
        [Step::Activate {
            kid: "b".into(),
            at
        }]
    );
    let keys = [key("a", 0, 0)];
    assert_eq!(
        plan_rotation(&keys, at, &policy(), true),
        [Step::Create { activates_at: at }]
    );
}

#[test]
fn a_retired_key_stays_published_for_ttl_plus_leeway_then_expires() {
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    let status = classify(&keys, t(12), &policy());
    assert_eq!(status[0].retired_at, Some(t(11)));
    let removal = t(11 + 24) + chrono::Duration::from_std(LEEWAY).unwrap();
    assert_eq!(status[0].removed_after, Some(removal));
    assert_eq!(states(&keys, removal)[0], s("a", KeyState::Retired));
    let later = removal + chrono::Duration::seconds(1);
    assert_eq!(states(&keys, later)[0], s("a", KeyState::Expired));
    assert!(!KeyState::Expired.is_published());
}

#[test]
fn maintenance_forgets_retired_private_keys_and_deletes_expired_ones() {
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    assert_eq!(
        plan_maintenance(&keys, t(12), &policy()),
        [Step::ForgetPrivate { kid: "a".into() }]
    );
    let steps = plan_maintenance(&keys, t(11 + 25), &policy());
    assert_eq!(steps, [Step::Delete { kid: "a".into() }]);
}

#[test]
fn revoking_the_current_key_hands_over_in_the_same_plan() {
    let keys = [key("a", 0, 0)];
    let at = t(5);
    let steps = plan_revoke(&keys, "a", at, &policy()).unwrap();
    assert_eq!(
        steps,
        [
            Step::Revoke {
                kid: "a".into(),
                at
            },
            Step::Create { activates_at: at }
        ]
    );
    let keys = [key("a", 0, 0), key("b", 4, 6)];
    let steps = plan_revoke(&keys, "a", at, &policy()).unwrap();
    assert_eq!(
        steps[1],
        Step::Activate {
            kid: "b".into(),
            at
        }
    );
}

#[test]
fn a_revoked_key_is_not_published_and_never_signs() {
    let mut a = key("a", 0, 0);
    a.revoked_at = Some(t(5));
    let b = key("b", 5, 5);
    let keys = [a, b];
    assert_eq!(
        states(&keys, t(6)),
        [s("a", KeyState::Revoked), s("b", KeyState::Current)]
    );
    assert!(!KeyState::Revoked.is_published());
}

#[test]
fn revoking_a_retired_or_next_key_changes_nothing_else() {
    let keys = [key("a", 0, 0), key("b", 10, 11), key("c", 12, 13)];
    let at = t(12);
    assert_eq!(plan_revoke(&keys, "a", at, &policy()).unwrap().len(), 1);
    assert_eq!(plan_revoke(&keys, "c", at, &policy()).unwrap().len(), 1);
}

#[test]
fn revoking_twice_or_an_unknown_kid_is_an_error() {
    let mut a = key("a", 0, 0);
    a.revoked_at = Some(t(1));
    let keys = [a, key("b", 1, 1)];
    assert_eq!(
        plan_revoke(&keys, "a", t(2), &policy()),
        Err(LifecycleError::AlreadyRevoked("a".into()))
    );
    assert_eq!(
        plan_revoke(&keys, "zz", t(2), &policy()),
        Err(LifecycleError::UnknownKid("zz".into()))
    );
}

#[test]
fn a_retired_key_never_signs_again_when_its_successor_is_revoked() {
    let mut b = key("b", 10, 11);
    b.revoked_at = Some(t(12));
    let keys = [key("a", 0, 0), b, key("c", 12, 12)];
    assert_eq!(
        states(&keys, t(13)),
        [
            s("a", KeyState::Retired),
            s("b", KeyState::Revoked),
            s("c", KeyState::Current)
        ]
    );
    // a retired when b took over, not when c did.
    assert_eq!(classify(&keys, t(13), &policy())[0].retired_at, Some(t(11)));
}

#[test]
fn scheduled_rotation_publishes_ahead_of_the_interval() {
    let keys = [key("a", 0, 0)];
    let interval = 30 * 24;
    assert!(plan_maintenance(&keys, t(interval - 2), &policy()).is_empty());
    let steps = plan_maintenance(&keys, t(interval - 1), &policy());
    assert_eq!(
        steps,
        [Step::Create {
            activates_at: t(interval)
        }]
    );
}

#[test]
fn scheduled_rotation_after_downtime_still_publishes_ahead() {
    let keys = [key("a", 0, 0)];
    let now = t(40 * 24);
    assert_eq!(
        plan_maintenance(&keys, now, &policy()),
        [Step::Create {
            activates_at: t(40 * 24 + 1)
        }]
    );
}

#[test]
fn rotation_interval_zero_turns_the_schedule_off() {
    let keys = [key("a", 0, 0)];
    let off = Policy {
        rotation_interval: Duration::ZERO,
        ..policy()
    };
    assert!(plan_maintenance(&keys, t(1000 * 24), &off).is_empty());
}

#[test]
fn a_pending_key_is_promoted_when_there_is_no_current_one() {
    let mut a = key("a", 0, 0);
    a.revoked_at = Some(t(1));
    let keys = [a, key("b", 1, 5)];
    assert_eq!(
        plan_maintenance(&keys, t(2), &policy())[0],
        Step::Activate {
            kid: "b".into(),
            at: t(2)
        }
    );
}

#[test]
fn next_change_is_the_earliest_future_boundary() {
    let keys = [key("a", 0, 0), key("b", 10, 11)];
    assert_eq!(next_change(&keys, t(10), &policy()), Some(t(11)));
}

#[test]
fn extreme_durations_and_dates_saturate_instead_of_panicking() {
    let huge = Policy {
        ttl: Duration::MAX,
        publish_ahead: Duration::MAX,
        rotation_interval: Duration::MAX,
        retire_leeway: Duration::MAX,
    };
    let mut keys = vec![key("a", 0, 0), key("b", 1, 1)];
    keys[0].revoked_at = Some(t(2));
    for now in [t(3), DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
        for policy in [huge, policy()] {
            classify(&keys, now, &policy);
            plan_maintenance(&keys, now, &policy);
            plan_rotation(&keys, now, &policy, false);
            next_change(&keys, now, &policy);
        }
    }
    let far = key("far", 0, 0);
    let mut far = vec![far];
    far[0].activates_at = DateTime::<Utc>::MAX_UTC;
    plan_maintenance(&far, t(0), &huge);
    assert_eq!(after(t(0), Duration::MAX), DateTime::<Utc>::MAX_UTC);
    assert_eq!(before(t(0), Duration::MAX), DateTime::<Utc>::MIN_UTC);
}
