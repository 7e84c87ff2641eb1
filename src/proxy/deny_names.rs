//! `policy.deny_domains` (and `deny_domains_file`): names a session may not ask for,
//! exact (`example.com`) or with every subdomain (`*.example.com`, which matches
//! `a.example.com` and `a.b.example.com` but not `example.com` itself). Names compare
//! case-insensitively, a trailing dot ignored. A lookup costs one hash per label.

use std::collections::HashSet;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainList {
    exact: HashSet<Box<str>>,
    /// `*.suffix` entries, stored as `suffix`.
    suffixes: HashSet<Box<str>>,
}

/// An entry that is not a name or a `*.name` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEntry(pub String);

impl fmt::Display for BadEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a domain name or *.domain pattern", self.0)
    }
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl DomainList {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.suffixes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.exact.len() + self.suffixes.len()
    }

    pub fn add(&mut self, entry: &str) -> Result<(), BadEntry> {
        let entry = entry.trim();
        let (set, name) = match entry.strip_prefix("*.") {
            Some(suffix) => (&mut self.suffixes, normal(suffix)),
            None => (&mut self.exact, normal(entry)),
        };
        if !valid_name(&name) {
            return Err(BadEntry(entry.to_string()));
        }
        set.insert(name.into());
        Ok(())
    }

    /// The entry that denies `name`, if one does (as written in the list, `*.` included).
    pub fn denies(&self, name: &str) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let name = normal(name);
        if self.exact.contains(name.as_str()) {
            return Some(name);
        }
        let mut rest = name.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if self.suffixes.contains(parent) {
                return Some(format!("*.{parent}"));
            }
            rest = parent;
        }
        None
    }
}

/// The entries of a list file: one per line, `#` starts a comment, blank lines skipped.
/// Returns each with its line number, for errors that point at the line.
pub fn list_file_entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, line)| {
        let entry = line.split('#').next().unwrap_or("").trim();
        (!entry.is_empty()).then_some((i + 1, entry))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_suffix_patterns() {
        let mut l = DomainList::default();
        l.add("Tracker.Example").unwrap();
        l.add("*.ads.net").unwrap();
        assert_eq!(l.denies("tracker.example."), Some("tracker.example".into()));
        assert_eq!(l.denies("www.tracker.example"), None, "exact means exact");
        assert_eq!(l.denies("x.ADS.net"), Some("*.ads.net".into()));
        assert_eq!(l.denies("a.b.ads.net"), Some("*.ads.net".into()));
        assert_eq!(l.denies("ads.net"), None, "*.ads.net is its subdomains");
        assert_eq!(l.denies("badads.net"), None);
        for bad in ["", "*.", "a..b", "exa mple.com", "*", "a/b"] {
            assert!(l.add(bad).is_err(), "{bad:?}");
        }
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn list_files_skip_comments_and_blank_lines() {
        let text = "# blocked\nexample.com\n\n  *.ads.net  # trackers\n#only a comment\n";
        let entries: Vec<_> = list_file_entries(text).collect();
        assert_eq!(entries, vec![(2, "example.com"), (4, "*.ads.net")]);
    }
}
