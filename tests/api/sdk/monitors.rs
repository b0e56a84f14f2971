//! The example monitors API with tokens from the real issuer: 200 for a valid token, 403 for
//! another team's monitor or a missing scope, 401 (RFC 6750) for everything forged or stale.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::AlgorithmParameters;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokenmint_client::VerifyError;

use super::*;
use crate::helpers::OTHER_AUDIENCE;

/// What the monitors API answered: status, `WWW-Authenticate`, JSON body.
struct Answer {
    status: StatusCode,
    challenge: String,
    body: Value,
}

async fn call(base: &str, method: reqwest::Method, path: &str, token: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().request(method.clone(), format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == reqwest::Method::POST {
        request = request.json(&json!({"name": "home", "url": "https://acme.example"}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
    }
}

async fn get(base: &str, path: &str, token: Option<&str>) -> Answer {
    call(base, reqwest::Method::GET, path, token).await
}

/// Asserts a 401 `invalid_token` answer.
fn assert_invalid(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {:?}", answer.body);
    assert!(
        answer
            .challenge
            .starts_with("Bearer realm=\"monitors\", error=\"invalid_token\""),
        "{what}: {}",
        answer.challenge
    );
    assert_eq!(answer.body["error"], "invalid_token", "{what}");
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let decode = |p: &str| serde_json::from_slice(&B64.decode(p).unwrap()).unwrap();
    let header = decode(it.next().unwrap());
    let claims = decode(it.next().unwrap());
    (header, claims, it.next().unwrap().to_string())
}

fn join(header: &Value, claims: &Value, signature: &str) -> String {
    let encode = |v: &Value| B64.encode(v.to_string());
    format!("{}.{}.{signature}", encode(header), encode(claims))
}

async fn valid_tokens_reach_their_teams_monitors(app: TestApp) {
    let base = serve_monitors(verifier_at(&jwks_url(&app), Duration::from_secs(60))).await;
    let acme = token_for(&app, &app.create_key(&[]).await, "").await;
    let created = call(&base, reqwest::Method::POST, "/monitors", Some(&acme)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["team"], "acme");
    let id = created.body["id"].as_u64().unwrap();
    let listed = get(&base, "/monitors", Some(&acme)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        1,
        "only acme's monitors are listed"
    );
    assert_eq!(
        get(&base, &format!("/monitors/{id}"), Some(&acme))
            .await
            .status,
        200
    );
    assert_eq!(get(&base, "/monitors/999", Some(&acme)).await.status, 404);
}

async fn another_teams_monitor_is_forbidden(app: TestApp) {
    let base = serve_monitors(verifier_at(&jwks_url(&app), Duration::from_secs(60))).await;
    let acme = token_for(&app, &app.create_key(&[]).await, "").await;
    let refused = get(&base, "/monitors/1", Some(&acme)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"], "forbidden");
    let globex = token_for(&app, &app.create_key_in("globex", &[]).await, "").await;
    assert_eq!(get(&base, "/monitors/1", Some(&globex)).await.status, 200);
}

async fn a_token_without_the_scope_gets_insufficient_scope(app: TestApp) {
    let base = serve_monitors(verifier_at(&jwks_url(&app), Duration::from_secs(60))).await;
    let reader = token_for(
        &app,
        &app.create_key_in("acme", &["monitors:read"]).await,
        "",
    )
    .await;
    assert_eq!(get(&base, "/monitors", Some(&reader)).await.status, 200);
    let refused = call(&base, reqwest::Method::POST, "/monitors", Some(&reader)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.challenge,
        "Bearer realm=\"monitors\", error=\"insufficient_scope\", scope=\"monitors:write\""
    );
    let logs_only = token_for(&app, &app.create_key_in("acme", &["logs:read"]).await, "").await;
    assert_eq!(
        get(&base, "/monitors/1", Some(&logs_only)).await.status,
        403
    );
}

async fn missing_and_malformed_tokens_get_401(app: TestApp) {
    let base = serve_monitors(verifier_at(&jwks_url(&app), Duration::from_secs(60))).await;
    let missing = get(&base, "/monitors", None).await;
    assert_eq!(missing.status, 401);
    // RFC 6750 §3.1: no error code when no authentication was attempted.
    assert_eq!(missing.challenge, "Bearer realm=\"monitors\"");
    assert_invalid(&get(&base, "/monitors", Some("not-a-jwt")).await, "garbage");
    assert_invalid(
        &get(&base, "/monitors", Some("a.b.c")).await,
        "three parts of nothing",
    );
}

/// Forged tokens, each refused at the check it fails, by the verifier and by the API alike.
async fn forged_tokens_get_401_naming_the_failed_check(app: TestApp) {
    let verifier = verifier_at(&jwks_url(&app), Duration::from_secs(60));
    let base = serve_monitors(verifier.clone()).await;
    let valid = token_for(&app, &app.create_key(&[]).await, "").await;
    let (header, claims, signature) = parts(&valid);
    assert!(verifier.verify(&valid).await.is_ok());

    let mut other_team = claims.clone();
    other_team["team"] = json!("globex");
    let mut alg_none = header.clone();
    alg_none["alg"] = json!("none");
    let mut jwt_typ = header.clone();
    jwt_typ["typ"] = json!("JWT");
    let mut no_typ = header.clone();
    no_typ.as_object_mut().unwrap().remove("typ");
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("not-a-published-kid");
    let mut critical = header.clone();
    critical["crit"] = json!(["exp"]);
    let cases: Vec<(&str, String, VerifyError)> = vec![
        (
            "claims changed",
            join(&header, &other_team, &signature),
            VerifyError::Signature,
        ),
        ("alg none", join(&alg_none, &claims, ""), alg_error("none")),
        (
            "typ JWT",
            join(&jwt_typ, &claims, &signature),
            VerifyError::Type {
                found: Some("JWT".into()),
            },
        ),
        (
            "no typ",
            join(&no_typ, &claims, &signature),
            VerifyError::Type { found: None },
        ),
        (
            "unknown kid",
            join(&unknown_kid, &claims, &signature),
            VerifyError::UnknownKeyId {
                kid: "not-a-published-kid".into(),
            },
        ),
        (
            "crit header",
            join(&critical, &claims, &signature),
            VerifyError::CriticalHeader,
        ),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(&app, &header, &claims).await,
            alg_error("HS256"),
        ),
    ];
    for (what, token, expected) in cases {
        let error = verifier.verify(&token).await.unwrap_err();
        assert_eq!(error, expected, "{what}");
        assert_invalid(&get(&base, "/monitors", Some(&token)).await, what);
    }
}

fn alg_error(alg: &str) -> VerifyError {
    VerifyError::Algorithm {
        token: alg.into(),
        key: "-".into(),
    }
}

/// The classic key-confusion forgery: HS256, keyed with the published EC public key.
async fn hs256_with_public_key(app: &TestApp, header: &Value, claims: &Value) -> String {
    let kid = header["kid"].as_str().unwrap();
    let jwks = app.jwks().await;
    let AlgorithmParameters::EllipticCurve(ec) = &jwks.find(kid).unwrap().algorithm else {
        panic!("the default signing key is ES256");
    };
    let mut public = vec![4u8];
    public.extend(B64.decode(&ec.x).unwrap());
    public.extend(B64.decode(&ec.y).unwrap());
    let mut hs = header.clone();
    hs["alg"] = json!("HS256");
    let unsigned = join(&hs, claims, "");
    let signing_input = unsigned.trim_end_matches('.');
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public);
    let tag = ring::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", B64.encode(tag.as_ref()))
}

async fn a_token_for_another_audience_gets_401(app: TestApp) {
    let verifier = verifier_at(&jwks_url(&app), Duration::from_secs(60));
    let base = serve_monitors(verifier.clone()).await;
    let key = app.create_key(&[]).await;
    let elsewhere = token_for(&app, &key, &format!("&resource={OTHER_AUDIENCE}")).await;
    assert_eq!(
        verifier.verify(&elsewhere).await.unwrap_err(),
        VerifyError::Audience
    );
    assert_invalid(
        &get(&base, "/monitors", Some(&elsewhere)).await,
        "wrong aud",
    );
}

storage_free_tests!(
    valid_tokens_reach_their_teams_monitors,
    another_teams_monitor_is_forbidden,
    a_token_without_the_scope_gets_insufficient_scope,
    missing_and_malformed_tokens_get_401,
    forged_tokens_get_401_naming_the_failed_check,
    a_token_for_another_audience_gets_401,
);

/// Tokens that live one second: expiry is checked without leeway here.
mod short_lived {
    use super::*;

    async fn an_expired_token_gets_401(app: TestApp) {
        let verifier = verifier_at(&jwks_url(&app), Duration::from_secs(60));
        let base = serve_monitors(verifier.clone()).await;
        let token = token_for(&app, &app.create_key(&[]).await, "").await;
        assert_eq!(get(&base, "/monitors", Some(&token)).await.status, 200);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            VerifyError::Expired
        );
        let answer = get(&base, "/monitors", Some(&token)).await;
        assert_invalid(&answer, "expired");
        assert!(answer.challenge.contains("expired"), "{}", answer.challenge);
    }

    storage_free_tests_with!([("TOKENMINT_TOKEN__TTL", "1s")], an_expired_token_gets_401);
}
