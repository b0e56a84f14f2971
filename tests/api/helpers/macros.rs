//! The test macros: each listed `async fn(TestApp)` becomes a test per backend (or one, for
//! tests that storage has no part in).

/// Like `backend_tests!`, with setting overrides: `backend_tests_with!([("TOKENMINT_…", "…")], name, …)`.
macro_rules! backend_tests_with {
    ($env:expr, $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, &$env).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(skip_postgres, ignore = "built with TOKENMINT_SKIP_POSTGRES=1")]
                async fn $name() {
                    super::$name(crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Postgres, &$env).await).await;
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

/// For behaviour that storage has no part in (the OpenAPI document, request ids, config
/// checks): each listed `async fn(TestApp)` runs once, on SQLite, as `sqlite::name`.
macro_rules! storage_free_tests_with {
    ($env:expr, $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::helpers::TestApp::spawn_with(crate::helpers::Backend::Sqlite, &$env).await).await;
                }
            )*
        }
    };
}

/// `storage_free_tests_with!` without setting overrides.
macro_rules! storage_free_tests {
    ($($name:ident),* $(,)?) => {
        storage_free_tests_with!([], $($name),*);
    };
}
