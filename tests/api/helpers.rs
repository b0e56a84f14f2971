//! `TestApp`: a server with its own database, config file and master key, plus the helpers
//! tests use to talk to it (`post_token`, `verify`, `cli`).

use std::path::PathBuf;
use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;
use tokenmint::app::App;
use tokenmint::config::Config;

mod processes;

pub use processes::{CuttableProxy, ServeProcess};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use: `TOKENMINT_TEST_DATABASE_URL`, else the local `test` database.
pub fn postgres_url() -> String {
    std::env::var("TOKENMINT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Whether PostgreSQL answers; without it the PostgreSQL runs are skipped loudly, except in CI
/// (`CI=true`), where a missing server fails the suite.
async fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    if let Some(known) = AVAILABLE.get() {
        return *known;
    }
    let url = postgres_url();
    let connected = tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url))
        .await
        .is_ok_and(|r| r.is_ok());
    if !connected {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI=true but PostgreSQL does not answer at {url}: the PostgreSQL tests may not be skipped in CI"
            );
        }
        // Written to the stderr handle, not with eprintln!, which the test harness captures.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "\n*** SKIPPED: PostgreSQL tests — no server at {url}.\n*** Start PostgreSQL or set \
                 TOKENMINT_TEST_DATABASE_URL to run them (CI runs them always).\n\n"
            )
            .as_bytes(),
        );
    }
    *AVAILABLE.get_or_init(|| connected)
}

/// A fresh database for one test: a SQLite file in the test's folder, or a PostgreSQL schema of
/// its own (dropped when the test ends), so tests run in parallel.
struct TestDb {
    url: String,
    schema: Option<String>,
}

impl TestDb {
    async fn create(backend: Backend, dir: &std::path::Path) -> Self {
        match backend {
            Backend::Sqlite => Self {
                url: format!("sqlite://{}/tokenmint.db", dir.display()),
                schema: None,
            },
            Backend::Postgres => {
                let schema = format!("tm_{}", uuid::Uuid::new_v4().simple());
                let pool = sqlx::PgPool::connect(&postgres_url())
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&pool)
                    .await
                    .expect("create schema");
                pool.close().await;
                let separator = if postgres_url().contains('?') {
                    '&'
                } else {
                    '?'
                };
                let url = format!(
                    "{}{separator}options=-c%20search_path%3D{schema}",
                    postgres_url()
                );
                Self {
                    url,
                    schema: Some(schema),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else {
            return;
        };
        // Drop runs outside async: a short-lived runtime on its own thread does the clean-up.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                }
            });
        })
        .join();
    }
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
    /// given to the server and to every CLI call); `None` when the backend is unavailable
    /// outside CI.
    pub async fn spawn_with(backend: Backend, env: &[(&str, &str)]) -> Option<Self> {
        if backend == Backend::Postgres && !postgres_available().await {
            return None;
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
        Some(app)
    }

    pub async fn spawn(backend: Backend) -> Option<Self> {
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
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tokenmint"))
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("TOKENMINT_MASTER_KEY")
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .await
            .expect("run tokenmint")
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

/// A response, read whole: status, headers and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl ApiResponse {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Requires an RFC 9457 problem document with this status and `error` code.
    pub fn assert_problem(&self, status: u16, error: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.header("content-type"), "application/problem+json");
        assert_eq!(self.body["status"], status, "{}", self.text);
        assert_eq!(self.body["error"], error, "{}", self.text);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(self.body["title"].is_string() && self.body["type"].is_string());
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

/// Like `backend_tests!`, with setting overrides: `backend_tests_with!([("TOKENMINT_…", "…")], name, …)`.
macro_rules! backend_tests_with {
    ($env:expr, $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, &$env).await;
                    super::$name(app.expect("SQLite is always available")).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Postgres, &$env).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// Runs each listed `async fn(TestApp)` once per backend: `sqlite::name` and `postgres::name`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        backend_tests_with!([], $($name),*);
    };
}
