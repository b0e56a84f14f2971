//! Property tests of everything that parses untrusted input: whatever the bytes, a parser
//! answers (Ok or a refusal) and never panics; what tokenmint generates always parses back.

use proptest::prelude::*;

use super::client_auth::presented;
use super::credentials::{ClientId, ClientSecret, KeyEnv};
use super::request::TokenParams;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn form_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = TokenParams::from_form(&body);
    }

    #[test]
    fn form_like_bodies_never_panic(body in "[a-z_=&%+0-9A-Fa-f\\x00-\\x7f]{0,200}") {
        let _ = TokenParams::from_form(body.as_bytes());
    }

    #[test]
    fn json_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = TokenParams::from_json(&body);
    }

    #[test]
    fn basic_headers_never_panic(header in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = presented(&[&header], &TokenParams::default());
    }

    #[test]
    fn basic_credentials_round_trip(id in "[ -~]{1,40}", secret in "[ -~]{0,60}") {
        use base64::Engine;
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let raw = format!("{}:{}", encode(&id), encode(&secret));
        let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
        let creds = presented(&[header.as_bytes()], &TokenParams::default()).unwrap();
        prop_assert_eq!(creds.client_id, id);
        prop_assert_eq!(creds.client_secret, secret);
    }

    #[test]
    fn credential_parsers_never_panic(text in "\\PC{0,100}") {
        let _ = ClientId::parse(&text);
        let _ = ClientSecret::parse(&text);
    }

    #[test]
    fn any_one_character_change_breaks_a_secret(position in 10usize..59, replacement in "[0-9A-Za-z]") {
        let secret = ClientSecret::generate("dh").unwrap();
        let mut text = secret.expose().to_string();
        prop_assume!(text[position..=position] != replacement);
        text.replace_range(position..=position, &replacement);
        prop_assert!(ClientSecret::parse(&text).is_none());
    }

    #[test]
    fn generated_credentials_always_parse(prefix in "[a-z][a-z0-9]{0,15}", test in any::<bool>()) {
        let env = if test { KeyEnv::Test } else { KeyEnv::Live };
        let id = ClientId::generate(&prefix, env).unwrap();
        let id_start = format!("{prefix}_{}_", env.as_str());
        prop_assert!(id.as_str().starts_with(&id_start));
        prop_assert_eq!(ClientId::parse(id.as_str()), Some(id));
        let secret = ClientSecret::generate(&prefix).unwrap();
        let secret_start = format!("{prefix}_secret_");
        prop_assert!(secret.expose().starts_with(&secret_start));
        prop_assert!(ClientSecret::parse(secret.expose()).is_some());
    }

    #[test]
    fn config_documents_never_panic(text in "\\PC{0,300}") {
        let _ = crate::config::Config::from_toml(&text);
    }

    #[test]
    fn config_like_documents_never_panic(
        section in "(server|database|token|keys|signing|rate_limit|log|metrics|x)",
        key in "[a-z_]{1,20}",
        value in "(\"[^\"\\\\]{0,20}\"|[0-9]{1,12}|true|false|\\[\\]|-[0-9]{1,5})",
    ) {
        let _ = crate::config::Config::from_toml(&format!("[{section}]\n{key} = {value}\n"));
    }
}
