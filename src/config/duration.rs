//! Durations in the config are human strings: `"24h"`, `"30d"`, `"5m"`, `"1h 30m"`, or `"0"`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Reads `"24h"`-style text; a bare `0` (string or number) means zero.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Number(u64),
    }
    match Raw::deserialize(deserializer)? {
        Raw::Number(0) => Ok(Duration::ZERO),
        Raw::Number(n) => Err(serde::de::Error::custom(format!(
            "{n} has no unit; write it as \"{n}s\", \"{n}m\", \"{n}h\" or \"{n}d\""
        ))),
        Raw::Text(text) => parse(&text).map_err(serde::de::Error::custom),
    }
}

/// Writes the duration back the way it would be typed.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format(*duration))
}

/// Parses a human duration such as `"90s"` or `"1h 30m"`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("{text:?} is not a duration like \"30s\", \"5m\", \"24h\" or \"30d\" ({e})")
    })
}

/// Formats a duration as `parse` reads it.
pub fn format(duration: Duration) -> String {
    if duration.is_zero() {
        return "0".into();
    }
    humantime::format_duration(duration).to_string()
}
