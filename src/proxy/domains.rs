//! Names the node refuses to reach (`policy.deny_domains` and its file): exact names and
//! `*.suffix` patterns, matched without regard to letter case or a trailing dot. A set
//! looked up once per label of the asked name, so a list of a million names costs no more
//! per session than a list of ten.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// One entry: `example.com` (that name only) or `*.example.com` (every name under it,
/// not the name itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainPattern {
    /// Lowercase, without a trailing dot.
    name: String,
    subdomains: bool,
}

impl FromStr for DomainPattern {
    type Err = String;

    fn from_str(s: &str) -> Result<DomainPattern, String> {
        let s = s.trim();
        let (subdomains, rest) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = rest.strip_suffix('.').unwrap_or(rest).to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return Err("a name is 1 to 253 characters".into());
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err("each label between dots is 1 to 63 characters".into());
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(
                    "letters, digits, '-' and '_' only (write names in punycode; `*.` only at the start)"
                        .into(),
                );
            }
        }
        Ok(DomainPattern { name, subdomains })
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)
    }
}

/// The compiled list.
#[derive(Debug, Clone, Default)]
pub struct DomainSet {
    exact: HashSet<String>,
    /// Names whose subdomains are denied.
    parents: HashSet<String>,
}

impl DomainSet {
    pub fn new(patterns: &[DomainPattern]) -> DomainSet {
        let mut set = DomainSet::default();
        for p in patterns {
            let target = if p.subdomains {
                &mut set.parents
            } else {
                &mut set.exact
            };
            target.insert(p.name.clone());
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.parents.is_empty()
    }

    /// The entry that denies `name`, if any.
    pub fn find(&self, name: &str) -> Option<DomainPattern> {
        if self.is_empty() {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if self.exact.contains(&name) {
            return Some(DomainPattern {
                name,
                subdomains: false,
            });
        }
        // Every proper parent: for a.b.c, "b.c" then "c".
        let mut rest = name.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if self.parents.contains(parent) {
                return Some(DomainPattern {
                    name: parent.to_string(),
                    subdomains: true,
                });
            }
            rest = parent;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(list: &[&str]) -> DomainSet {
        let patterns: Vec<DomainPattern> = list.iter().map(|s| s.parse().unwrap()).collect();
        DomainSet::new(&patterns)
    }

    #[test]
    fn exact_names_and_suffixes_match_as_written_whatever_the_case() {
        let s = set(&["Tracker.Example", "*.ads.example."]);
        assert_eq!(
            s.find("tracker.example").map(|p| p.to_string()),
            Some("tracker.example".into())
        );
        assert!(s.find("TRACKER.example.").is_some());
        assert!(s.find("www.tracker.example").is_none(), "exact means exact");
        assert_eq!(
            s.find("a.b.ads.example").map(|p| p.to_string()),
            Some("*.ads.example".into())
        );
        assert!(s.find("ads.example").is_none(), "*.x is what is under x");
        assert!(s.find("notads.example").is_none());
        assert!(s.find("example").is_none());
        assert!(set(&[]).find("anything").is_none());
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in ["", "*.", "a..b", "a b", "ex*.com", "*.*.x", "xn--é.com"] {
            assert!(bad.parse::<DomainPattern>().is_err(), "{bad:?}");
        }
        assert!(format!("{}.com", "a".repeat(64))
            .parse::<DomainPattern>()
            .is_err());
    }
}
