//! The process's log: env_logger with one format of our own, chosen by `[log]`.
//!
//! - `text` (default): `[time LEVEL target] message key=value ...`, the key-values in
//!   logfmt (a value with a space, `=`, `"` or a control character is quoted, with `\"`,
//!   `\\` and `\n`-style escapes), so a line is one record for any logfmt parser.
//! - `json`: one object per line, `{"ts":..,"level":..,"module":..,"msg":..,key:value...}`
//!   (`module` is the logging module; `target` is free for the access record's field).
//!
//! `timestamps = false` leaves the time out (journald stamps each line itself).
//! `RUST_LOG` overrides the level as usual.

use std::fmt::Write as _;
use std::io::Write;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `[log]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    pub timestamps: bool,
    /// `[log] level`; unset: the command's default. `RUST_LOG`, when set, wins.
    pub level: Option<log::LevelFilter>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            timestamps: true,
            level: None,
        }
    }
}

/// Installs the logger: `[log] level` or `default_level` unless `RUST_LOG` says
/// otherwise; the HTTP client's own debug lines (one per RPC call) stay out unless asked
/// for by name.
pub fn init(settings: LogSettings, default_level: log::LevelFilter) {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    // Without RUST_LOG the logger passes everything and the global maximum decides, so
    // that a reload can raise the level as well as lower it.
    let built_in = if from_env {
        default_level
    } else {
        log::LevelFilter::Trace
    };
    let installed = env_logger::Builder::new()
        .filter_level(built_in)
        .filter_module("ureq", log::LevelFilter::Warn)
        .filter_module("ureq_proto", log::LevelFilter::Warn)
        .filter_module("rustls", log::LevelFilter::Warn)
        .parse_env(env_logger::Env::default())
        .format(move |buf, record| {
            let time = settings
                .timestamps
                .then(|| buf.timestamp_seconds().to_string());
            let line = match settings.format {
                LogFormat::Text => text_line(time.as_deref(), record),
                LogFormat::Json => json_line(time.as_deref(), record),
            };
            buf.write_all(line.as_bytes())
        })
        .try_init();
    if installed.is_ok() {
        set_level(settings, default_level);
    }
}

/// The level from `[log] level` (or `default_level`), unless `RUST_LOG` set it; on
/// start and on every reload.
pub fn set_level(settings: LogSettings, default_level: log::LevelFilter) {
    if std::env::var_os("RUST_LOG").is_none() {
        log::set_max_level(settings.level.unwrap_or(default_level));
    }
}

/// Collects a record's key-values as text.
struct Pairs(Vec<(String, String)>);

impl<'kvs> log::kv::VisitSource<'kvs> for Pairs {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

fn pairs(record: &log::Record<'_>) -> Vec<(String, String)> {
    let mut pairs = Pairs(Vec::new());
    let _ = record.key_values().visit(&mut pairs);
    pairs.0
}

fn text_line(time: Option<&str>, record: &log::Record<'_>) -> String {
    let mut line = String::with_capacity(160);
    line.push('[');
    if let Some(time) = time {
        line.push_str(time);
        line.push(' ');
    }
    let _ = write!(
        line,
        "{:<5} {}] {}",
        record.level(),
        record.target(),
        record.args()
    );
    for (key, value) in pairs(record) {
        line.push(' ');
        line.push_str(&key);
        line.push('=');
        push_logfmt_value(&mut line, &value);
    }
    line.push('\n');
    line
}

/// A logfmt value: bare if it needs no quotes, else quoted with escapes.
pub fn push_logfmt_value(out: &mut String, value: &str) {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| !c.is_control() && c != ' ' && c != '"' && c != '=' && c != '\\');
    if bare {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_line(time: Option<&str>, record: &log::Record<'_>) -> String {
    let mut object = serde_json::Map::new();
    if let Some(time) = time {
        object.insert("ts".into(), time.into());
    }
    object.insert("level".into(), record.level().as_str().into());
    object.insert("module".into(), record.target().into());
    object.insert("msg".into(), record.args().to_string().into());
    for (key, value) in pairs(record) {
        // Counts and sizes stay numbers, so a JSON consumer can sum them.
        let value = match value.parse::<u64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(value),
        };
        object.insert(key, value);
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logfmt(value: &str) -> String {
        let mut out = String::new();
        push_logfmt_value(&mut out, value);
        out
    }

    #[test]
    fn logfmt_values_are_quoted_only_when_they_must_be() {
        assert_eq!(logfmt("127.0.0.1:80"), "127.0.0.1:80");
        assert_eq!(logfmt("auth_failed"), "auth_failed");
        assert_eq!(logfmt("denied by policy"), "\"denied by policy\"");
        assert_eq!(logfmt(""), "\"\"");
        assert_eq!(logfmt("a=b"), "\"a=b\"");
        assert_eq!(logfmt("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(logfmt("line\nbreak\u{1}"), "\"line\\nbreak\\u{1}\"");
    }

    #[test]
    fn records_with_key_values_become_one_line_in_either_format() {
        let kvs: [(&str, log::kv::Value<'_>); 3] = [
            ("outcome", log::kv::Value::from("denied")),
            ("reason", log::kv::Value::from("denied by policy: private")),
            ("up", log::kv::Value::from(42u64)),
        ];
        let args = format_args!("session");
        let record = log::Record::builder()
            .args(args)
            .level(log::Level::Info)
            .target("aqueduct::access")
            .key_values(&kvs)
            .build();
        assert_eq!(
            text_line(None, &record),
            "[INFO  aqueduct::access] session outcome=denied reason=\"denied by policy: private\" up=42\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(json_line(Some("2026-12-02T00:00:00Z"), &record).trim()).unwrap();
        assert_eq!(json["msg"], "session");
        assert_eq!(json["outcome"], "denied");
        assert_eq!(json["reason"], "denied by policy: private");
        assert_eq!(json["up"], 42);
        assert_eq!(json["ts"], "2026-12-02T00:00:00Z");
    }
}
