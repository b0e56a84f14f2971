//! The Standard Webhooks format and the rotation overlap, checked by the official library.

use reqwest::Method;
use serde_json::json;

use super::{Delivery, assert_verdicts, caller, reveal, sign};
use crate::helpers::TestApp;

const PAYLOAD: &str = r#"{"type":"monitor.down","data":{"id":"mon_1"}}"#;

async fn signatures_verify_with_the_official_library_through_an_overlap(app: TestApp) {
    let (_, writer) = caller(&app, "acme", &["webhooks:write"]).await;
    let (_, worker) = caller(&app, "acme", &["webhooks:sign"]).await;
    let first = reveal(&app, "acme", &writer).await;
    let old = first["secret"].as_str().unwrap().to_string();
    assert!(old.starts_with("whsec_"), "{first}");
    assert_eq!(first["previous_secret"], json!(null));

    let signed = sign(&app, "acme", &worker, json!({"payload": PAYLOAD})).await;
    assert!(signed["webhook-id"].as_str().unwrap().starts_with("msg_"));
    let foreign = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let now = chrono::Utc::now().timestamp().to_string();
    let good = Delivery::new(&old, PAYLOAD, &signed);
    assert_verdicts(
        &[
            good.clone(),
            Delivery::new(&old, r#"{"type":"monitor.up"}"#, &signed),
            good.clone().with_header("webhook-id", "msg_other"),
            good.clone().with_header(
                "webhook-timestamp",
                &(now.parse::<i64>().unwrap() - 1).to_string(),
            ),
            Delivery::new(foreign, PAYLOAD, &signed),
        ],
        &[true, false, false, false, false],
    )
    .await;

    // A replayed delivery from ten minutes ago is outside the receiver's tolerance.
    let stale_at = chrono::Utc::now().timestamp() - 600;
    let stale = sign(
        &app,
        "acme",
        &worker,
        json!({"payload": PAYLOAD, "timestamp": stale_at}),
    )
    .await;
    assert_eq!(stale["webhook-timestamp"], stale_at.to_string());
    assert_verdicts(&[Delivery::new(&old, PAYLOAD, &stale)], &[false]).await;

    let rotated = app
        .post_api(
            "/api/teams/acme/webhook-secret/rotate",
            &writer,
            json!({"overlap": "2h"}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(rotated.body["previous_secret"], old.as_str());
    let until =
        chrono::DateTime::parse_from_rfc3339(rotated.body["previous_until"].as_str().unwrap())
            .unwrap();
    let hours = (until.timestamp() - chrono::Utc::now().timestamp()) as f64 / 3600.0;
    assert!((1.9..=2.0).contains(&hours), "previous_until {until}");

    let both = sign(
        &app,
        "acme",
        &worker,
        json!({"payload": PAYLOAD, "id": "msg_retry-1"}),
    )
    .await;
    assert_eq!(both["webhook-id"], "msg_retry-1");
    assert_eq!(
        both["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2,
        "{both}"
    );
    assert_verdicts(
        &[
            Delivery::new(&new, PAYLOAD, &both),
            Delivery::new(&old, PAYLOAD, &both),
            Delivery::new(foreign, PAYLOAD, &both),
        ],
        &[true, true, false],
    )
    .await;

    let revoked = app
        .api(
            Method::DELETE,
            "/api/teams/acme/webhook-secret/previous",
            Some(&writer),
            None,
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let after = sign(&app, "acme", &worker, json!({"payload": PAYLOAD})).await;
    assert_eq!(
        after["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    assert_verdicts(
        &[
            Delivery::new(&new, PAYLOAD, &after),
            Delivery::new(&old, PAYLOAD, &after),
        ],
        &[true, false],
    )
    .await;
    let shown = reveal(&app, "acme", &writer).await;
    assert_eq!(
        (shown["secret"].as_str(), &shown["previous_secret"]),
        (Some(new.as_str()), &json!(null))
    );
    app.api(
        Method::DELETE,
        "/api/teams/acme/webhook-secret/previous",
        Some(&writer),
        None,
    )
    .await
    .assert_problem(404, "not_found");
}

async fn an_overlap_of_zero_and_a_second_rotation_keep_at_most_two_secrets(app: TestApp) {
    let (_, admin) = caller(&app, "ops", &["admin"]).await;
    let _ = app.cli(&["teams", "create", "acme"]).await;
    let rotate = |overlap: &'static str| {
        let path = "/api/teams/acme/webhook-secret/rotate";
        let admin = admin.clone();
        let app = &app;
        async move {
            app.post_api(path, &admin, json!({"overlap": overlap}))
                .await
        }
    };
    let first = rotate("1h").await;
    let second = rotate("1h").await;
    assert_eq!(
        second.body["previous_secret"], first.body["secret"],
        "only the last one replaced"
    );
    let signed = sign(&app, "acme", &admin, json!({"payload": "x"})).await;
    assert_eq!(
        signed["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    let immediate = rotate("0s").await;
    assert_eq!(
        immediate.body["previous_secret"],
        json!(null),
        "{}",
        immediate.text
    );
    let alone = sign(&app, "acme", &admin, json!({"payload": "x"})).await;
    let secret = immediate.body["secret"].as_str().unwrap();
    assert_verdicts(
        &[
            Delivery::new(secret, "x", &alone),
            Delivery::new(second.body["secret"].as_str().unwrap(), "x", &alone),
        ],
        &[true, false],
    )
    .await;
}

backend_tests!(
    signatures_verify_with_the_official_library_through_an_overlap,
    an_overlap_of_zero_and_a_second_rotation_keep_at_most_two_secrets,
);
