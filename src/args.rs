//! The vocabulary every command speaks: [`Args`] (the flags after the command's name,
//! consumed by the command that needs them), [`Failure`] (what went wrong, the fix, the
//! exit code) and [`CmdResult`]. Below both [`crate::cli`] and [`crate::commands`].
//!
//! Flags are looked up by the command that needs them (`--name VALUE`, `--name=VALUE`
//! or a bare `--name`), and [`Args::finish`] rejects whatever is left, so a typo is an
//! error instead of being silently ignored.

use std::fmt;

/// A failure a command reports to its user: one line saying what went wrong, and
/// optionally one line saying how to fix it. Never contains key material.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    /// Process exit code: 2 for usage errors, 1 for everything else.
    pub code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
            code: 2,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

pub type CmdResult = Result<(), Failure>;

/// The arguments after the subcommand name, consumed flag by flag.
#[derive(Debug, Clone)]
pub struct Args {
    tokens: Vec<Option<String>>,
}

impl Args {
    pub fn new(tokens: Vec<String>) -> Self {
        Args {
            tokens: tokens.into_iter().map(Some).collect(),
        }
    }

    fn find(&self, name: &str) -> Option<(usize, Option<String>)> {
        let long = format!("--{name}");
        let with_eq = format!("--{name}=");
        self.tokens.iter().enumerate().find_map(|(i, t)| {
            let t = t.as_deref()?;
            if t == long {
                Some((i, None))
            } else {
                t.strip_prefix(&with_eq).map(|v| (i, Some(v.to_string())))
            }
        })
    }

    /// Takes `--name VALUE` or `--name=VALUE`; `Ok(None)` when the flag is absent.
    pub fn value(&mut self, name: &str) -> Result<Option<String>, Failure> {
        let Some((i, inline)) = self.find(name) else {
            return Ok(None);
        };
        self.tokens[i] = None;
        if let Some(v) = inline {
            return Ok(Some(v));
        }
        match self.tokens.get_mut(i + 1).and_then(Option::take) {
            Some(v) if !v.starts_with("--") => Ok(Some(v)),
            _ => Err(Failure::usage(format!("--{name} needs a value"))),
        }
    }

    /// Takes every occurrence of `--name VALUE`, in order.
    pub fn values(&mut self, name: &str) -> Result<Vec<String>, Failure> {
        let mut out = Vec::new();
        while let Some(v) = self.value(name)? {
            out.push(v);
        }
        Ok(out)
    }

    /// Like [`Args::value`], but a missing flag is a usage error.
    pub fn required(&mut self, name: &str) -> Result<String, Failure> {
        self.value(name)?
            .ok_or_else(|| Failure::usage(format!("--{name} is required")))
    }

    /// Takes a bare `--name`; true when it was given.
    pub fn flag(&mut self, name: &str) -> Result<bool, Failure> {
        match self.find(name) {
            None => Ok(false),
            Some((_, Some(_))) => Err(Failure::usage(format!("--{name} takes no value"))),
            Some((i, None)) => {
                self.tokens[i] = None;
                Ok(true)
            }
        }
    }

    /// Takes the bare word `name` when it comes first (`monitor report`).
    pub fn word(&mut self, name: &str) -> bool {
        match self.tokens.first_mut() {
            Some(t) if t.as_deref() == Some(name) => {
                *t = None;
                true
            }
            _ => false,
        }
    }

    /// Rejects anything no lookup consumed.
    pub fn finish(self) -> CmdResult {
        let left: Vec<String> = self.tokens.into_iter().flatten().collect();
        if left.is_empty() {
            Ok(())
        } else {
            Err(Failure::usage(format!(
                "unexpected argument(s): {}",
                left.join(" ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Args {
        Args::new(s.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn values_flags_and_leftovers() {
        let mut a = args("--rpc http://x --json --periods=3 --mint-to a --mint-to b");
        assert_eq!(a.value("rpc").unwrap().as_deref(), Some("http://x"));
        assert_eq!(a.value("periods").unwrap().as_deref(), Some("3"));
        assert!(a.flag("json").unwrap());
        assert!(!a.flag("dev").unwrap());
        assert_eq!(a.values("mint-to").unwrap(), vec!["a", "b"]);
        assert!(a.finish().is_ok());
    }

    #[test]
    fn missing_value_and_unknown_flag_are_usage_errors() {
        let mut a = args("--key");
        assert_eq!(a.value("key").unwrap_err().code, 2);
        let a = args("--typo 1");
        let err = a.finish().unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("--typo 1"), "{}", err.message);
    }

    #[test]
    fn flag_with_value_is_rejected() {
        let mut a = args("--json=yes");
        assert!(a.flag("json").is_err());
    }
}
