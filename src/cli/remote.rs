//! The command line over a running server's management API (`--url` / `TOKENMINT_URL`), for
//! admins who cannot reach the database: on Kubernetes, behind a firewall. The same commands
//! print the same `--json` documents as on the database host, because both print the
//! management API's own documents. Credentials come from the environment, never the command
//! line: `TOKENMINT_CLIENT_ID` and `TOKENMINT_CLIENT_SECRET` (a key with a management scope,
//! exchanged for a management token here), or `TOKENMINT_TOKEN` (such a token).

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

mod keys;
mod webhooks;

use super::args::{Command, SigningKeysCommand, TeamsCommand};
use super::print::{print_json, show_table, text};

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A management API session: the server's base URL and a management token.
struct Remote {
    http: reqwest::Client,
    base: Url,
    token: String,
}

/// Runs `command` against the server at `base`.
pub(super) async fn run(base: Url, command: Command) -> anyhow::Result<()> {
    let remote = Remote::connect(base).await?;
    match command {
        Command::Teams(TeamsCommand::Create { slug, name, json }) => {
            let team = remote
                .call(
                    Method::POST,
                    "/api/teams",
                    Some(json!({ "slug": slug, "name": name })),
                )
                .await?;
            show(&team, json.json, || {
                println!(
                    "created team {} ({})",
                    text(&team["slug"]),
                    text(&team["name"])
                );
            })
        }
        Command::Teams(TeamsCommand::List(flag)) => {
            let teams = remote.all("/api/teams").await?;
            show_table(
                &teams,
                flag.json,
                &[
                    ("SLUG", "slug"),
                    ("NAME", "name"),
                    ("CREATED", "created_at"),
                ],
            )
        }
        Command::Keys(command) => keys::run(&remote, command).await,
        Command::Webhooks(command) => webhooks::run(&remote, command).await,
        Command::SigningKeys(command) => signing_keys(&remote, command).await,
        Command::Audit { team, limit, json } => {
            let path = match &team {
                Some(team) => format!("/api/teams/{}/audit?limit={limit}", segment(team)),
                None => format!("/api/admin/audit?limit={limit}"),
            };
            let page = remote.call(Method::GET, &path, None).await?;
            let events = items(&page);
            show_table(
                &events,
                json.json,
                &[
                    ("AT", "at"),
                    ("ACTOR", "actor"),
                    ("ACTION", "action"),
                    ("TEAM", "team"),
                    ("TARGET", "target"),
                ],
            )
        }
        _ => bail!(
            "this command works on the database host only (it is not part of the management \
             API): run it without --url / TOKENMINT_URL"
        ),
    }
}

async fn signing_keys(remote: &Remote, command: SigningKeysCommand) -> anyhow::Result<()> {
    match command {
        SigningKeysCommand::List(flag) => {
            let keys = remote.all("/api/admin/signing-keys").await?;
            show_table(
                &keys,
                flag.json,
                &[
                    ("KID", "kid"),
                    ("ALG", "alg"),
                    ("STATE", "state"),
                    ("CREATED", "created_at"),
                ],
            )
        }
        SigningKeysCommand::Rotate { now, json } => {
            let body = json!({ "now": now });
            let rotation = remote
                .call(Method::POST, "/api/admin/signing-keys/rotate", Some(body))
                .await?;
            let key = &rotation["key"];
            show(key, json.json, || {
                println!(
                    "{}: {} ({})",
                    text(&key["state"]),
                    text(&key["kid"]),
                    text(&key["alg"])
                );
            })
        }
        SigningKeysCommand::Revoke { kid, json } => {
            let path = format!("/api/admin/signing-keys/{}/revoke", segment(&kid));
            let revocation = remote.call(Method::POST, &path, None).await?;
            show(&revocation, json.json, || {
                println!(
                    "revoked {kid}: it is out of the JWKS and tokens it signed no longer validate"
                );
            })
        }
    }
}

impl Remote {
    /// Reads the credentials from the environment and, for a key, gets a management token.
    async fn connect(base: Url) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = match (
            env("TOKENMINT_TOKEN"),
            env("TOKENMINT_CLIENT_ID"),
            env("TOKENMINT_CLIENT_SECRET"),
        ) {
            (Some(token), _, _) => token,
            (None, Some(id), Some(secret)) => management_token(&http, &base, &id, &secret).await?,
            _ => bail!(
                "--url needs credentials: TOKENMINT_CLIENT_ID and TOKENMINT_CLIENT_SECRET (a key \
                 holding a management scope), or TOKENMINT_TOKEN"
            ),
        };
        Ok(Self { http, base, token })
    }

    /// One call; a problem document becomes an error with its `detail`.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = self.base.join(path).context("building the request URL")?;
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        read(answer).await
    }

    /// Every item of a paginated listing, following `next_cursor`.
    async fn all(&self, path: &str) -> anyhow::Result<Vec<Value>> {
        let joiner = if path.contains('?') { '&' } else { '?' };
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_path = match &cursor {
                Some(cursor) => format!("{path}{joiner}limit=200&cursor={}", segment(cursor)),
                None => format!("{path}{joiner}limit=200"),
            };
            let page = self.call(Method::GET, &page_path, None).await?;
            found.extend(items(&page));
            match page["next_cursor"].as_str() {
                // A cursor that does not move on would page forever: a server bug, refused.
                Some(next) if cursor.as_deref() == Some(next) => {
                    bail!("{path}: the server answered the same page cursor twice")
                }
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(found),
            }
        }
    }

    /// `/api/teams/{team}/keys/{client_id}`, the team by default the credentials' own.
    fn key_path(&self, team: Option<String>, client_id: &str) -> anyhow::Result<String> {
        let team = match team {
            Some(team) => team,
            None => self.own_team()?,
        };
        Ok(format!(
            "/api/teams/{}/keys/{}",
            segment(&team),
            segment(client_id)
        ))
    }

    /// The team of the token's key, for commands that name a key without its team.
    fn own_team(&self) -> anyhow::Result<String> {
        let claims = self
            .token
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        match claims.as_ref().and_then(|c| c["team"].as_str()) {
            Some(team) => Ok(team.to_string()),
            None => bail!("name the key's team with --team"),
        }
    }
}

/// Trades a key for a management token (`resource` = the issuer, RFC 8707).
async fn management_token(
    http: &reqwest::Client,
    base: &Url,
    client_id: &str,
    secret: &str,
) -> anyhow::Result<String> {
    let metadata_url = base.join("/.well-known/oauth-authorization-server")?;
    let metadata: Value = read(
        http.get(metadata_url)
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?,
    )
    .await?;
    let (Some(issuer), Some(endpoint)) = (
        metadata["issuer"].as_str(),
        metadata["token_endpoint"].as_str(),
    ) else {
        bail!("{base} does not look like tokenmint: its metadata names no issuer");
    };
    // The token endpoint as served here: the metadata names it under the public issuer URL,
    // which a remote admin may reach by another address.
    let endpoint = base.join(Url::parse(endpoint)?.path())?;
    let answer = http
        .post(endpoint)
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("resource", issuer)])
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    match body["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => bail!(
            "the token endpoint refused TOKENMINT_CLIENT_ID ({status}): {}",
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no reason given")
        ),
    }
}

/// The JSON of an answer, or an error carrying the problem's `detail`.
async fn read(answer: reqwest::Response) -> anyhow::Result<Value> {
    let status = answer.status();
    if status == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let detail = body["detail"]
        .as_str()
        .or(body["error_description"].as_str())
        .unwrap_or("no detail given");
    bail!("the server answered {status}: {detail}")
}

/// A listing's items.
fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A duration as the API takes it.
fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

/// The document with `--json`, else what `human` prints.
fn show(document: &Value, as_json: bool, human: impl FnOnce()) -> anyhow::Result<()> {
    if as_json {
        return print_json(document);
    }
    human();
    Ok(())
}
