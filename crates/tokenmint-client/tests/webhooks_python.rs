//! Interoperability: webhooks signed by the official `standardwebhooks` Python package (from
//! PyPI, in a virtualenv under target/) verify here, and tampered ones do not. Nothing is
//! skipped: without Python or PyPI this test fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use tokenmint_client::webhook::{Webhook, WebhookError};

/// A virtualenv with `standardwebhooks`, made once per target directory.
fn python() -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("standardwebhooks-venv");
    let python = venv.join("bin/python");
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", "import standardwebhooks"])
            .status()
            .is_ok_and(|s| s.success());
    if !ready {
        let made = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status();
        assert!(made.is_ok_and(|s| s.success()), "python3 -m venv failed");
        let installed = Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "-q",
                "--disable-pip-version-check",
                "standardwebhooks>=1,<2",
            ])
            .status();
        assert!(
            installed.is_ok_and(|s| s.success()),
            "pip install standardwebhooks failed"
        );
    }
    python
}

const SIGN: &str = r#"
import base64, json, os, sys
from datetime import datetime, timezone
from standardwebhooks import Webhook
out = []
for i in range(20):
    secret = "whsec_" + base64.b64encode(os.urandom(24 + i)).decode()
    payload = json.dumps({"event": "key.deleted", "n": i, "text": "ünïcode ✓"})
    ts = datetime.now(tz=timezone.utc)
    msg_id = f"msg_{i}_{os.urandom(4).hex()}"
    signature = Webhook(secret).sign(msg_id, ts, payload)
    out.append({"secret": secret, "id": msg_id, "timestamp": str(int(ts.timestamp())),
                "signature": signature, "payload": payload})
print(json.dumps(out))
"#;

#[test]
fn webhooks_signed_by_the_python_package_verify() {
    let output = Command::new(python()).args(["-c", SIGN]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(signed.len(), 20);
    for (i, case) in signed.iter().enumerate() {
        let field = |name: &str| case[name].as_str().unwrap();
        let webhook = Webhook::new(field("secret")).unwrap();
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("webhook-id", field("id").parse().unwrap());
        headers.insert("webhook-timestamp", field("timestamp").parse().unwrap());
        headers.insert("webhook-signature", field("signature").parse().unwrap());
        let payload = field("payload").as_bytes();
        assert_eq!(webhook.verify(&headers, payload), Ok(()), "{case}");

        let mut tampered = payload.to_vec();
        tampered[3] ^= 1;
        assert_eq!(
            webhook.verify(&headers, &tampered),
            Err(WebhookError::Signature)
        );
        let another = signed[(i + 1) % signed.len()]["secret"].as_str().unwrap();
        let another = Webhook::new(another).unwrap();
        assert_eq!(
            another.verify(&headers, payload),
            Err(WebhookError::Signature)
        );
    }
}
