//! `TestApp`: a server with its own database, config file and master key, plus the helpers
//! tests use to talk to it (`post_token`, `verify`, `cli`).

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;
use tokenmint::app::App;
use tokenmint::config::Config;

#[macro_use]
mod macros;
mod database;
mod processes;
pub mod raw;
mod responses;

pub use database::postgres_url;
use database::{TestDb, require_postgres};
pub use processes::{CuttableProxy, ServeProcess};
pub use responses::ApiResponse;

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An API key as `keys create --json` prints it.
#[derive(Debug, Clone)]
pub struct Key {
    pub client_id: String,
    pub client_secret: String,
    pub json: Value,
}

impl Key {
    /// The key a creation document describes (`keys create --json`, or the API's 201 body).
    pub fn from_json(json: Value) -> Self {
        Self {
            client_id: json["client_id"].as_str().expect("client_id").to_string(),
            client_secret: json["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_string(),
            json,
        }
    }
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A tokenmint server and everything it needs, in a temporary folder.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the running server.
    pub base: String,
    /// `http://…` of the separate metrics listener, when `metrics.bind` is set.
    pub metrics_base: Option<String>,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub http: reqwest::Client,
    /// Setting overrides, as environment variables.
    env: Vec<(String, String)>,
    /// Held for its clean-up on drop.
    _db: TestDb,
    running: Option<Running>,
}

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "https://api.example.com";
pub const OTHER_AUDIENCE: &str = "https://other.example.com";
pub const THIRD_AUDIENCE: &str = "https://third.example.com";

impl TestApp {
    /// A running server on `backend` whose settings `env` overrides (`TOKENMINT_…` variables,
    /// given to the server and to every CLI call).
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Self {
        if backend == Backend::Postgres {
            require_postgres().await;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::create(backend, dir.path()).await;
        let config_path = dir.path().join("tokenmint.toml");
        let config = format!(
            "[server]\nbind = \"127.0.0.1:0\"\nissuer = \"{ISSUER}\"\n\
             [database]\nurl = \"{}\"\n\
             [token]\naudiences = [\"{OTHER_AUDIENCE}\", \"{THIRD_AUDIENCE}\"]\n\
             [signing]\nrefresh = \"1s\"\nmaster_key_file = \"{}/keys/master.key\"\n",
            db.url,
            dir.path().display(),
        );
        std::fs::write(&config_path, config).expect("write config");
        let mut app = Self {
            base: String::new(),
            metrics_base: None,
            dir,
            config_path,
            http: reqwest::Client::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _db: db,
            running: None,
        };
        app.start().await;
        app
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// The configuration the server and the CLI read.
    pub fn config(&self) -> Config {
        Config::load_from(Some(&self.config_path), &self.env)
            .expect("test config loads")
            .config
    }

    async fn start(&mut self) {
        let app = App::build(self.config()).await.expect("server builds");
        self.base = format!("http://{}", app.local_addr().expect("bound"));
        self.metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        self.running = Some(Running { stop, task });
    }

    /// Stops the server gracefully (in-flight requests finish, usage is flushed).
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(());
            running
                .task
                .await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }

    /// Stops and starts the server on the same database and master key.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Runs the `tokenmint` binary with this app's config.
    pub async fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, b"").await
    }

    /// Runs the `tokenmint` binary with this app's config and `input` on its stdin.
    pub async fn cli_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        use tokio::io::AsyncWriteExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TOKENMINT_MASTER_KEY")
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run tokenmint");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).await.expect("write stdin");
        drop(stdin);
        child.wait_with_output().await.expect("tokenmint output")
    }

    /// Runs the CLI, requires success, and returns stdout.
    pub async fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).await;
        assert!(
            out.status.success(),
            "tokenmint {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs the CLI with `--json` appended and parses stdout.
    pub async fn cli_json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.cli_ok(&args).await).expect("JSON output")
    }

    /// Creates team `acme` if needed and a key in it; `extra` adds `keys create` flags.
    pub async fn create_key(&self, extra: &[&str]) -> Key {
        self.create_key_with("acme", extra).await
    }

    /// Creates team `team` if needed and a key in it holding `scopes` (each by `--scope`).
    pub async fn create_key_in(&self, team: &str, scopes: &[&str]) -> Key {
        let extra: Vec<&str> = scopes.iter().flat_map(|s| ["--scope", s]).collect();
        self.create_key_with(team, &extra).await
    }

    async fn create_key_with(&self, team: &str, extra: &[&str]) -> Key {
        let _ = self.cli(&["teams", "create", team]).await;
        let mut args = vec!["keys", "create", "--team", team, "--label", "test-key"];
        args.extend_from_slice(extra);
        Key::from_json(self.cli_json(&args).await)
    }

    /// An admin key (team `ops`, scope `admin`), as an operator bootstraps one with the CLI.
    pub async fn admin_key(&self) -> Key {
        self.create_key_in("ops", &["admin"]).await
    }

    /// A token for the management API: `resource` is the issuer (RFC 8707).
    pub async fn management_token(&self, key: &Key, scope: Option<&str>) -> String {
        let mut form = format!("grant_type=client_credentials&resource={ISSUER}");
        if let Some(scope) = scope {
            form.push_str(&format!("&scope={scope}"));
        }
        let body = self.token(key, &form).await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    /// A management API request with an optional Bearer token and JSON body.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> ApiResponse {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        ApiResponse::read(request.send().await.expect("management request")).await
    }

    /// `POST` of a JSON body to the management API with a Bearer token.
    pub async fn post_api(&self, path: &str, token: &str, body: Value) -> ApiResponse {
        self.api(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub fn token_url(&self) -> String {
        format!("{}/api/oauth/token", self.base)
    }

    /// A token request with HTTP Basic client authentication and a form body.
    pub async fn post_token(&self, key: &Key, form: &str) -> reqwest::Response {
        self.http
            .post(self.token_url())
            .header("authorization", basic(&key.client_id, &key.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .expect("token request")
    }

    /// A token request with a raw form body and no Authorization header.
    pub async fn post_form(&self, form: &str) -> reqwest::Response {
        self.http
            .post(self.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .expect("token request")
    }

    /// Gets a token with Basic auth, requiring 200, and returns the response body.
    pub async fn token(&self, key: &Key, form: &str) -> Value {
        let response = self.post_token(key, form).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(status, 200, "token request failed: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    pub async fn jwks(&self) -> JwkSet {
        self.get("/.well-known/jwks.json")
            .await
            .json()
            .await
            .expect("JWKS")
    }

    pub async fn jwks_kids(&self) -> Vec<String> {
        self.jwks()
            .await
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect()
    }

    /// Verifies an access token the way a resource server would: the JWKS over HTTP, the
    /// signature, `iss`, `aud`, `exp`. Returns the claims, or why it did not verify.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<Value, String> {
        verify_with(&self.jwks().await, token, audience)
    }

    /// The database URL, for more processes on the same database.
    pub fn database_url(&self) -> &str {
        &self._db.url
    }

    /// Starts another `tokenmint serve` process on this app's config (another node).
    pub async fn start_node(&self, env: &[(&str, &str)]) -> ServeProcess {
        let config = self.config_path.to_str().expect("utf-8 path").to_string();
        ServeProcess::start(self.dir.path(), &["--config", &config], env)
            .await
            .expect("node starts")
    }

    /// Polls `check` until it holds or `timeout` passes.
    pub async fn eventually<F, Fut>(&self, timeout: Duration, mut check: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check().await {
                return true;
            }
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Verifies `token` against `jwks` with jsonwebtoken.
pub fn verify_with(jwks: &JwkSet, token: &str, audience: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let data =
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| e.to_string())?;
    Ok(data.claims)
}

/// The decoded JOSE header of a JWT, as JSON.
pub fn jwt_header(token: &str) -> Value {
    let part = token.split('.').next().expect("header part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON header")
}

/// `Authorization: Basic` per RFC 6749 §2.3.1 (parts form-urlencoded, then base64).
pub fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}
