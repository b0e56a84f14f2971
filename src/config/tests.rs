use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[test]
fn defaults_match_the_design() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(config.token.ttl, Duration::from_secs(86_400));
    assert_eq!(config.signing.algorithm, Algorithm::Es256);
    assert_eq!(
        config.signing.rotation_interval,
        Duration::from_secs(30 * 86_400)
    );
    assert_eq!(config.keys.prefix, "dh");
    assert_eq!(config.keys.scopes.len(), 5);
}

#[test]
fn shipped_default_toml_equals_built_in_defaults() {
    let shipped = include_str!("../../config/default.toml");
    let from_file = serde_json::to_value(Config::from_toml(shipped).unwrap()).unwrap();
    let built_in = serde_json::to_value(Config::default()).unwrap();
    assert_eq!(from_file, built_in);
}

#[test]
fn unknown_key_is_refused_by_name() {
    let err = Config::from_toml("[token]\nttll = \"1h\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ttll"), "{err}");
}

#[test]
fn unknown_section_is_refused_by_name() {
    let err = Config::from_toml("[tokens]\nttl = \"1h\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokens"), "{err}");
}

#[test]
fn bad_duration_names_the_setting() {
    let err = Config::from_toml("[token]\nttl = \"a day\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("token.ttl"), "{err}");
}

#[test]
fn duration_without_unit_is_refused() {
    let err = Config::from_toml("[token]\nttl = 3600")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("token.ttl") && err.contains("no unit"),
        "{err}"
    );
}

#[test]
fn zero_turns_rotation_off() {
    let config = Config::from_toml("[signing]\nrotation_interval = \"0\"").unwrap();
    assert!(config.signing.rotation_interval.is_zero());
}

#[test]
fn bad_issuer_url_names_the_setting() {
    for issuer in [
        "not a url",
        "ftp://x.example",
        "https://x.example/?a=b",
        "https://x.example/#f",
    ] {
        let text = format!("[server]\nissuer = {issuer:?}");
        let err = Config::from_toml(&text).unwrap_err().to_string();
        assert!(err.contains("server.issuer"), "{issuer}: {err}");
    }
}

#[test]
fn bad_database_url_names_the_setting() {
    let err = Config::from_toml("[database]\nurl = \"mysql://x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("database.url"), "{err}");
}

#[test]
fn connection_timeouts_default_and_zero_is_refused() {
    let config = Config::from_toml("").unwrap();
    assert_eq!(config.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(config.server.idle_timeout, Duration::from_secs(60));
    assert_eq!(config.server.max_connections_per_address, 256);
    for name in ["header_read_timeout", "idle_timeout"] {
        let err = Config::from_toml(&format!("[server]\n{name} = \"0\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("server.{name}")), "{err}");
    }
    let err = Config::from_toml("[server]\nmax_connections = 0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.max_connections"), "{err}");
    assert!(Config::from_toml("[server]\nmax_connections_per_address = 0").is_ok());
}

#[test]
fn bad_bind_address_names_the_setting() {
    let err = Config::from_toml("[server]\nbind = \"localhost\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.bind"), "{err}");
}

#[test]
fn jwks_max_age_may_not_exceed_publish_ahead() {
    let text = "[signing]\npublish_ahead = \"1m\"\njwks_max_age = \"5m\"";
    let err = Config::from_toml(text).unwrap_err().to_string();
    assert!(err.contains("signing.jwks_max_age"), "{err}");
}

#[test]
fn scope_catalog_is_checked() {
    let err = Config::from_toml("[keys]\nscopes = [\"a b\"]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("keys.scopes"), "{err}");
    let err = Config::from_toml("[keys]\nscopes = [\"a\", \"a\"]")
        .unwrap_err()
        .to_string();
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn unknown_algorithm_names_the_setting() {
    let err = Config::from_toml("[signing]\nalgorithm = \"HS256\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("signing.algorithm"), "{err}");
}

#[test]
fn environment_overrides_file() {
    let file = write_config("[server]\nbind = \"127.0.0.1:9000\"\n[token]\nttl = \"2h\"");
    let vars = env(&[
        ("TOKENMINT_BIND", "127.0.0.1:9100"),
        ("TOKENMINT_ISSUER", "https://auth.example.com"),
        ("TOKENMINT_DATABASE_URL", "sqlite://elsewhere.db"),
        ("TOKENMINT_TOKEN__TTL", "3h"),
        ("TOKENMINT_RATE_LIMIT__TOKEN_REQUESTS_PER_SECOND", "7"),
        ("TOKENMINT_KEYS__SCOPES", "[\"a:read\", \"b:write\"]"),
    ]);
    let loaded = Config::load_from(Some(file.path()), &vars).unwrap();
    let config = loaded.config;
    assert_eq!(config.server.bind.to_string(), "127.0.0.1:9100");
    assert_eq!(config.server.issuer, "https://auth.example.com");
    assert_eq!(config.database.url, "sqlite://elsewhere.db");
    assert_eq!(config.token.ttl, Duration::from_secs(3 * 3600));
    assert_eq!(config.rate_limit.token_requests_per_second, 7);
    assert_eq!(config.keys.scopes, ["a:read", "b:write"]);
    assert!(loaded.ignored_env.is_empty());
}

#[test]
fn misspelled_environment_variable_is_reported() {
    let vars = env(&[("TOKENMINT_BINDD", "x"), ("TOKENMINT_MASTER_KEY", "y")]);
    let loaded = Config::load_from(None, &vars).unwrap();
    assert_eq!(loaded.ignored_env, ["TOKENMINT_BINDD"]);
}

#[test]
fn unknown_section_key_in_environment_is_refused() {
    let vars = env(&[("TOKENMINT_TOKEN__TTLL", "1h")]);
    let err = Config::load_from(None, &vars).unwrap_err().to_string();
    assert!(err.contains("ttll"), "{err}");
}

#[test]
fn missing_explicit_config_file_is_an_error() {
    let err = Config::load_from(Some(Path::new("/nonexistent/tokenmint.toml")), &[]).unwrap_err();
    assert!(err.to_string().contains("does not exist"));
}

#[test]
fn masked_toml_hides_the_database_password_and_reads_back() {
    let mut config = Config::default();
    config.database.url = "postgres://tokenmint:hunter2@db.internal/tokenmint".into();
    let text = config.to_masked_toml().unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("tokenmint:****@db.internal"), "{text}");
    let again = Config::from_toml(&text).unwrap();
    assert_eq!(again.token.ttl, config.token.ttl);
}

/// The PostgreSQL driver also reads a password from the query (`?password=`).
#[test]
fn masked_toml_hides_a_database_password_given_in_the_query() {
    let mut config = Config::default();
    config.database.url =
        "postgres://tokenmint:hunter1@db/tokenmint?sslmode=require&password=hunter2&sslpassword=hunter3&application_name=a%20b".into();
    let text = config.to_masked_toml().unwrap();
    for secret in ["hunter1", "hunter2", "hunter3"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("sslmode=require&password=****"), "{text}");
    let again = Config::from_toml(&text).unwrap();
    let url = url::Url::parse(&again.database.url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(n, v)| (n.into(), v.into()))
        .collect();
    assert_eq!(
        pairs[3],
        ("application_name".into(), "a b".into()),
        "the rest kept"
    );
}

/// A password with an unencoded `/` or `?` leaves the URL parser without a password to mask.
#[test]
fn masked_toml_hides_a_password_the_url_parser_cannot_find() {
    for url in [
        "postgres://u:pa/ss@db/x",
        "postgres://u:12/ss@db/x",
        "postgres://u:p?ss@db/x",
    ] {
        let mut config = Config::default();
        config.database.url = url.into();
        let text = config.to_masked_toml().unwrap();
        assert!(!text.contains("ss@"), "{url}: {text}");
        assert!(text.contains("postgres://****@db/x"), "{url}: {text}");
    }
}

#[test]
fn masked_toml_leaves_a_url_without_a_password_as_it_is() {
    let mut config = Config::default();
    config.database.url = "postgres://tokenmint@db/tokenmint?sslmode=require".into();
    let text = config.to_masked_toml().unwrap();
    assert!(
        text.contains("postgres://tokenmint@db/tokenmint?sslmode=require"),
        "{text}"
    );
}

#[test]
fn an_error_from_the_environment_names_the_variable() {
    let vars = env(&[("TOKENMINT_TOKEN__TTL", "forever")]);
    let err = Config::load_from(None, &vars).unwrap_err().to_string();
    assert!(
        err.contains("token.ttl") && err.contains("TOKENMINT_TOKEN__TTL"),
        "{err}"
    );
}

/// Text `setting = value` in its TOML section, on top of the defaults.
fn with_setting(setting: &str, value: &str) -> Result<Config, ConfigError> {
    let (section, key) = setting.split_once('.').unwrap();
    Config::from_toml(&format!("[{section}]\n{key} = {value}\n"))
}

#[test]
fn huge_and_overflowing_durations_are_refused_naming_the_setting() {
    let settings = [
        "token.ttl",
        "signing.rotation_interval",
        "signing.publish_ahead",
        "signing.jwks_max_age",
        "signing.refresh",
        "signing.retire_leeway",
        "database.acquire_timeout",
    ];
    let values = [
        "1000000000d",
        "95000000d",
        "18446744073709551615s",
        "18446744073709551616s",
        "3651d",
        "-1d",
    ];
    for setting in settings {
        for value in values {
            let err = with_setting(setting, &format!("\"{value}\""))
                .expect_err(&format!("{setting} = {value} is refused"));
            assert!(err.to_string().contains(setting), "{setting}: {err}");
        }
    }
}

#[test]
fn durations_at_their_bounds_are_accepted() {
    let config = Config::from_toml(
        "[token]\nttl = \"365d\"\n[database]\nacquire_timeout = \"10m\"\n\
         [signing]\nrotation_interval = \"3650d\"\npublish_ahead = \"365d\"\n\
         retire_leeway = \"365d\"\n",
    )
    .unwrap();
    assert_eq!(config.token.ttl, validate::MAX_TOKEN_TTL);
    assert_eq!(
        config.signing.rotation_interval,
        validate::MAX_ROTATION_INTERVAL
    );
    for (setting, value) in [
        ("token.ttl", "\"366d\""),
        ("database.acquire_timeout", "\"11m\""),
        ("signing.rotation_interval", "\"3651d\""),
    ] {
        let err = with_setting(setting, value).unwrap_err();
        assert!(err.to_string().contains(setting), "{err}");
    }
}

#[test]
fn out_of_range_numbers_are_refused_naming_the_setting() {
    for (setting, value) in [
        ("server.max_connections", "0"),
        ("server.max_connections", "9223372036854775807"),
        ("server.max_connections", "-1"),
        ("database.max_connections", "0"),
        ("database.max_connections", "4294967296"),
        ("database.max_connections", "4294967295"),
        ("rate_limit.token_requests_per_second", "-1"),
        ("rate_limit.failed_auth_per_minute", "4294967296"),
    ] {
        let err = with_setting(setting, value).expect_err(setting);
        assert!(
            err.to_string().contains(setting),
            "{setting} = {value}: {err}"
        );
    }
    for (var, setting) in [
        (
            "TOKENMINT_SERVER__MAX_CONNECTIONS",
            "server.max_connections",
        ),
        (
            "TOKENMINT_DATABASE__MAX_CONNECTIONS",
            "database.max_connections",
        ),
        ("TOKENMINT_TOKEN__TTL", "token.ttl"),
    ] {
        for value in ["18446744073709551616", "1000000000d", "-1"] {
            let err = Config::load_from(None, &env(&[(var, value)])).unwrap_err();
            assert!(err.to_string().contains(setting), "{var}={value}: {err}");
        }
    }
}

#[test]
fn refresh_and_per_address_numbers_are_bounded() {
    for (toml, setting) in [
        ("[signing]\nrefresh = \"1ms\"\n", "signing.refresh"),
        ("[signing]\nrefresh = \"2h\"\n", "signing.refresh"),
        (
            "[rate_limit]\nfailed_auth_per_minute = 4000000000\n",
            "rate_limit.failed_auth_per_minute",
        ),
        (
            "[server]\nmax_connections_per_address = 99999999\n",
            "server.max_connections_per_address",
        ),
    ] {
        let error = Config::from_toml(toml)
            .and_then(|c| c.validate().map(|()| c))
            .unwrap_err();
        assert!(error.to_string().contains(setting), "{toml}: {error}");
    }
}

#[test]
fn the_console_is_on_by_default_and_a_non_boolean_is_refused_by_name() {
    assert!(Config::from_toml("").unwrap().console.enabled);
    assert!(
        !Config::from_toml("[console]\nenabled = false")
            .unwrap()
            .console
            .enabled
    );
    let err = Config::from_toml("[console]\nenabled = \"yes\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("console.enabled"), "{err}");
    let err = Config::from_toml("[console]\npath = \"/admin\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("path"), "{err}");
    let vars = env(&[("TOKENMINT_CONSOLE__ENABLED", "false")]);
    let loaded = Config::load_from(Some(write_config("").path()), &vars).unwrap();
    assert!(!loaded.config.console.enabled);
}
