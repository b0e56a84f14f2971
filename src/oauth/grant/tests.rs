//! The grant checklist without HTTP: a real SQLite store, a keyring of one key, and a clock
//! the test sets.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::audit::Actor;
use crate::clock::Clock;
use crate::manage::{self, NewKeyRequest};
use crate::oauth::credentials::{ClientSecret, KeyEnv};
use crate::signing::Algorithm;
use crate::signing::keyring::Keyring;

/// A clock that reads out the times it was given, then keeps the last one.
struct ScriptedClock(Mutex<VecDeque<DateTime<Utc>>>);

impl Clock for ScriptedClock {
    fn now(&self) -> DateTime<Utc> {
        let mut times = self.0.lock().unwrap();
        if times.len() > 1 {
            times.pop_front().unwrap()
        } else {
            times[0]
        }
    }
}

struct Setup {
    issuer: TokenIssuer,
    client_id: String,
    secret: String,
    _dir: tempfile::TempDir,
}

/// An issuer on a fresh store with one key that expires in an hour from `created`, reading
/// the time from `times`.
async fn setup(created: DateTime<Utc>, times: &[DateTime<Utc>]) -> Setup {
    setup_with(created, times, None).await
}

/// The same, the key rolled at `created` with an overlap of `rolled` when given: the setup's
/// secret is then the previous one, which works until the overlap ends.
async fn setup_with(
    created: DateTime<Utc>,
    times: &[DateTime<Utc>],
    rolled: Option<Duration>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}/grant.db", dir.path().display());
    let store = crate::store::open(&config.database).await.unwrap();
    manage::create_team(store.as_ref(), &Actor::Cli, "acme", None, created)
        .await
        .unwrap();
    let request = NewKeyRequest {
        team: "acme".into(),
        label: "grant-test".into(),
        scopes: vec!["logs:read".into(), "monitors:read".into()],
        expires_in: Some(Duration::from_secs(3600)),
        env: KeyEnv::Live,
        token_ttl: None,
        token_requests_per_second: None,
    };
    let made = manage::create_api_key(store.as_ref(), &Actor::Cli, &config, request, created)
        .await
        .unwrap();
    if let Some(overlap) = rolled {
        manage::roll_secret(
            store.as_ref(),
            &Actor::Cli,
            manage::KeyAuthority::Operator,
            &config,
            &made.key.client_id,
            Some(overlap),
            created,
        )
        .await
        .unwrap();
    }
    let created = made;
    let (keyring, _) = Keyring::with_one_key(Algorithm::Es256, crate::store::now()).unwrap();
    let clock = ScriptedClock(Mutex::new(times.iter().copied().collect()));
    let issuer = TokenIssuer::new(
        &config,
        store,
        SecretVerifier::new(1, Duration::from_secs(5)).unwrap(),
        UsageRecorder::default(),
        KeyringHandle::new(keyring),
        Arc::default(),
    )
    .with_clock(Arc::new(clock));
    Setup {
        issuer,
        client_id: created.key.client_id,
        secret: created.secret.expose().to_string(),
        _dir: dir,
    }
}

fn params(setup: &Setup, scope: Option<&str>) -> TokenParams {
    TokenParams {
        grant_type: Some(CLIENT_CREDENTIALS.into()),
        client_id: Some(setup.client_id.clone()),
        client_secret: Some(setup.secret.clone()),
        scope: scope.map(String::from),
        ..TokenParams::default()
    }
}

async fn issue(setup: &Setup, params: &TokenParams) -> Result<IssuedToken, OAuthError> {
    setup
        .issuer
        .issue(params, &[], Ipv4Addr::LOCALHOST.into())
        .await
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn the_checklist_issues_rfc_9068_claims_capped_by_the_key_expiry() {
    let created = crate::store::now();
    let now = created + chrono::Duration::minutes(30);
    let setup = setup(created, &[now]).await;
    let token = issue(&setup, &params(&setup, Some("logs:read")))
        .await
        .unwrap();
    let claims = claims(&token.access_token);
    assert_eq!(claims["sub"], setup.client_id.as_str());
    assert_eq!(claims["client_id"], setup.client_id.as_str());
    assert_eq!(claims["scope"], "logs:read");
    assert_eq!(claims["team"], "acme");
    assert_eq!(claims["env"], "live");
    assert_eq!(claims["iat"], now.timestamp());
    // 24 h asked by the config, 30 minutes left on the key: the key wins.
    assert_eq!(token.expires_in, 30 * 60);
    assert_eq!(claims["exp"], now.timestamp() + 30 * 60);
}

#[tokio::test]
async fn a_key_that_expires_while_its_request_waits_gets_no_token() {
    let created = crate::store::now();
    let before = created + chrono::Duration::minutes(59);
    let after = created + chrono::Duration::minutes(61);
    // Authenticated a minute before the key expires; signing comes after it has.
    let setup = setup(created, &[before, after]).await;
    let refused = issue(&setup, &params(&setup, None)).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_client");
}

#[tokio::test]
async fn refusals_follow_the_checklist() {
    let created = crate::store::now();
    let setup = setup(created, &[created]).await;
    let mut wrong_grant = params(&setup, None);
    wrong_grant.grant_type = Some("password".into());
    assert_eq!(
        issue(&setup, &wrong_grant).await.unwrap_err().code(),
        "unsupported_grant_type"
    );
    let not_held = params(&setup, Some("settings:write"));
    assert_eq!(
        issue(&setup, &not_held).await.unwrap_err().code(),
        "invalid_scope"
    );
    let mut wrong_secret = params(&setup, Some("not a scope \u{7f}"));
    wrong_secret.client_secret = Some(ClientSecret::generate("dh").unwrap().expose().into());
    assert_eq!(
        issue(&setup, &wrong_secret).await.unwrap_err().code(),
        "invalid_client",
        "a stranger's scope is never looked at"
    );
}

#[tokio::test]
async fn a_previous_secret_whose_overlap_ends_while_its_request_waits_gets_no_token() {
    let created = crate::store::now();
    let overlap = Duration::from_secs(600);
    let during = created + chrono::Duration::minutes(9);
    let after = created + chrono::Duration::minutes(11);
    // Authenticated with the previous secret during the overlap, confirmed after it ended.
    let setup = setup_with(created, &[during, after], Some(overlap)).await;
    let refused = issue(&setup, &params(&setup, None)).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_client");
    // The same request wholly inside the overlap gets its token.
    let setup = setup_with(created, &[during], Some(overlap)).await;
    issue(&setup, &params(&setup, None)).await.unwrap();
}

/// A new read of the setup's key, its secret checked (from the leases cleared, so the read is
/// the store's), as a request has it before its confirmation.
async fn new_read(setup: &Setup) -> ReadCredential {
    setup.issuer.leases.clear();
    let client_id = ClientId::parse(&setup.client_id).unwrap();
    setup
        .issuer
        .authenticate(Some(&client_id), &setup.secret, Ipv4Addr::LOCALHOST.into())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_read_past_its_lease_is_read_again_before_the_signature_so_the_signature_keeps_its_headroom()
 {
    let created = crate::store::now();
    let setup = setup(created, &[created]).await;
    let issuer = &setup.issuer;
    let rereads = || issuer.metrics.credential_rereads.get();

    // The secret hashed once, so the reads below are not held up by a hash.
    new_read(&setup).await;
    // A read as young as a lease is signed from as it is.
    let read = new_read(&setup).await;
    let before = rereads();
    issuer.confirm(read).await.unwrap();
    assert_eq!(rereads(), before, "a young read is not read again");

    // A read still fresh but past its lease (its request waited for a hash) is read again:
    // signed from as it was, it could go stale during the signature and cost a 503.
    let read = new_read(&setup)
        .await
        .aged(CREDENTIAL_FRESHNESS / 2 + Duration::from_millis(30));
    let confirmed = issuer.confirm(read).await.unwrap();
    assert_eq!(rereads(), before + 1, "the aged read was read again");
    assert!(
        confirmed.age() < CREDENTIAL_FRESHNESS / 2,
        "the signature has at least half the freshness left: {:?}",
        confirmed.age()
    );
    confirmed.still_fresh().unwrap();
}

#[tokio::test]
async fn a_read_that_goes_stale_during_the_signature_is_read_and_signed_again_unless_the_key_is_gone()
 {
    let created = crate::store::now();
    let setup = setup(created, &[created]).await;
    let issuer = &setup.issuer;
    let audience = Audience::One(&issuer.default_audience);
    let stale = || async { new_read(&setup).await.aged(CREDENTIAL_FRESHNESS) };

    // The thread held up past the read's freshness while it signed: the token is signed
    // again from a new read, and the request is served.
    let before = issuer.metrics.credential_rereads.get();
    let token = issuer
        .sign_while_fresh(stale().await, &audience, "logs:read")
        .await
        .unwrap();
    assert_eq!(claims(&token.access_token)["client_id"], setup.client_id);
    assert_eq!(issuer.metrics.credential_rereads.get(), before + 1);

    // Deleted meanwhile: the new read finds nothing, and the stale token is never handed out.
    let read = stale().await;
    manage::delete_api_key(
        issuer.store.as_ref(),
        &Actor::Cli,
        manage::KeyAuthority::Operator,
        &setup.client_id,
        created,
    )
    .await
    .unwrap();
    let refused = issuer
        .sign_while_fresh(read, &audience, "logs:read")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "invalid_client");
}

#[tokio::test]
async fn a_rate_set_while_a_signature_was_retried_holds_the_retry_to_it() {
    let created = crate::store::now();
    let setup = setup(created, &[created]).await;
    let issuer = &setup.issuer;
    let stale = new_read(&setup).await.aged(CREDENTIAL_FRESHNESS);
    manage::update_api_key(
        issuer.store.as_ref(),
        &Actor::Cli,
        manage::KeyAuthority::Operator,
        &Config::default(),
        &setup.client_id,
        manage::KeyUpdate {
            token_requests_per_second: Some(Some(1)),
            ..Default::default()
        },
        created,
    )
    .await
    .unwrap();
    // The key's new rate is used up, by requests that read the new limits.
    while issuer
        .limits
        .check_client(&setup.client_id, Some(1))
        .is_ok()
    {}
    let refused = issuer
        .sign_while_fresh(stale, &Audience::One(&issuer.default_audience), "logs:read")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, OAuthError::RateLimited { .. }),
        "the retry read the new rate and is held to it: {refused:?}"
    );
}

#[tokio::test]
async fn a_management_caller_whose_key_expires_after_its_check_is_answered_nothing() {
    let created = crate::store::now();
    let setup = setup(created, &[created]).await;
    let client_id = crate::domain::ClientId::parse(&setup.client_id).unwrap();
    let read = setup.issuer.current_key(&client_id).await.unwrap().unwrap();
    let caller = crate::manage::access::Caller {
        client_id: setup.client_id.clone(),
        team: "acme".into(),
        scopes: vec!["admin".into()],
        ip: Ipv4Addr::LOCALHOST.into(),
        checked_at: read.read_at,
        expires_at: read.key.expires_at,
    };
    // Checked a moment ago, so the key is not read again: its expiry, as read, still counts.
    let before = created + chrono::Duration::minutes(59);
    let after = created + chrono::Duration::minutes(61);
    assert!(caller.still_holds(&setup.issuer, before).await.is_ok());
    assert!(
        caller.still_holds(&setup.issuer, after).await.is_err(),
        "an answer after the key expired must not leave"
    );
}
