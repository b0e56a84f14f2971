//! A database of its own for each test: a SQLite file in the test's folder, or a PostgreSQL
//! schema dropped when the test ends; and the rule that PostgreSQL tests never pass by skipping.

use std::time::Duration;

use super::Backend;

/// The PostgreSQL server tests use: `TOKENMINT_TEST_DATABASE_URL`, else the local `test` database.
pub fn postgres_url() -> String {
    std::env::var("TOKENMINT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Fails the test unless PostgreSQL answers: the PostgreSQL half of the suite is never
/// skipped silently. To leave it out, build with `TOKENMINT_SKIP_POSTGRES=1`, which marks
/// those tests ignored (see build.rs).
pub(super) async fn require_postgres() {
    static AVAILABLE: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    let url = postgres_url();
    let connected = *AVAILABLE
        .get_or_init(|| async {
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url))
                .await
                .is_ok_and(|r| r.is_ok())
        })
        .await;
    assert!(
        connected,
        "PostgreSQL does not answer at {url}. Start it (bash .ci/run installs and starts one), \
         set TOKENMINT_TEST_DATABASE_URL, or run TOKENMINT_SKIP_POSTGRES=1 cargo test to mark \
         the PostgreSQL tests ignored"
    );
}

/// A fresh database for one test: a SQLite file in the test's folder, or a PostgreSQL schema of
/// its own (dropped when the test ends), so tests run in parallel.
pub(super) struct TestDb {
    pub(super) url: String,
    schema: Option<String>,
}

impl TestDb {
    pub(super) async fn create(backend: Backend, dir: &std::path::Path) -> Self {
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
                let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await else {
                    return;
                };
                // A test that failed may leave its server in the middle of a transaction on
                // its runtime, which no longer runs: DROP SCHEMA would wait for its locks for
                // ever and hang the suite instead of failing the test. Its connections go
                // first, and the DROP waits 10 s at most (the schema then stays behind).
                let _ = sqlx::query(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                     JOIN pg_class c ON c.oid = l.relation \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND l.pid <> pg_backend_pid() \
                     AND l.database = (SELECT oid FROM pg_database \
                                       WHERE datname = current_database())",
                )
                .bind(&schema)
                .execute(&pool)
                .await;
                let mut connection = match pool.acquire().await {
                    Ok(connection) => connection,
                    Err(_) => return,
                };
                let _ = sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut *connection)
                    .await;
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&mut *connection)
                    .await;
            });
        })
        .join();
    }
}
