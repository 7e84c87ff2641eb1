//! SIGHUP: new settings read off the loop. The embedder hands the server a function that
//! reads and validates its config file; it runs on a thread of its own (files may be
//! large or slow), and its answer reaches the loop through a channel and the waker. The
//! loop then applies what can change while sessions run (see `Server::apply`); a config
//! that fails validation changes nothing.

use super::auth::Account;
use super::settings::{AuthMode, AuthSettings, Settings};
use mio::Waker;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread;

/// Reads the config again: the new engine settings, or why they cannot be used.
pub type ReadSettings = Box<dyn FnMut() -> Result<Settings, String> + Send>;

/// The loop's end of the reload thread.
pub(crate) struct Reloader {
    requests: Sender<()>,
    answers: Receiver<Result<Settings, String>>,
    /// A request is out and not answered yet (a second SIGHUP meanwhile is folded in).
    pending: bool,
    again: bool,
}

impl Reloader {
    pub fn spawn(mut read: ReadSettings, waker: Arc<Waker>) -> std::io::Result<Reloader> {
        let (requests, incoming) = mpsc::channel::<()>();
        let (answer, answers) = mpsc::channel();
        thread::Builder::new()
            .name("reload".into())
            .spawn(move || {
                // Ends when the loop drops its sender (the node exits).
                while incoming.recv().is_ok() {
                    if answer.send(read()).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(Reloader {
            requests,
            answers,
            pending: false,
            again: false,
        })
    }

    /// SIGHUP arrived.
    pub fn request(&mut self) {
        if self.pending {
            self.again = true;
            return;
        }
        self.pending = self.requests.send(()).is_ok();
    }

    /// The answer, once the thread has one.
    pub fn answer(&mut self) -> Option<Result<Settings, String>> {
        match self.answers.try_recv() {
            Ok(answer) => {
                self.pending = false;
                if std::mem::take(&mut self.again) {
                    self.request();
                }
                Some(answer)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.pending = false;
                Some(Err("the reload thread has stopped".into()))
            }
        }
    }
}

/// What a reload changes, decided before anything is touched.
pub(crate) struct Plan {
    /// What the loop runs with from now on (the parts that need a restart kept as they
    /// were).
    pub settings: Settings,
    /// Static users whose sessions end now.
    pub gone: Vec<Account>,
    /// Changes that take effect only at the next start.
    pub at_restart: Vec<&'static str>,
}

/// Checks `new` against what runs: `Err` (nothing applied) when it cannot be applied at
/// all, e.g. another `auth.mode`.
pub(crate) fn plan(current: &Settings, mut new: Settings) -> Result<Plan, String> {
    if new.auth.mode != current.auth.mode {
        return Err("auth.mode cannot change while the node runs; restart it".into());
    }
    let mut at_restart = Vec::new();
    if new.listen != current.listen {
        at_restart.push("node.listen");
        new.listen.clone_from(&current.listen);
    }
    if new.tls_listen != current.tls_listen {
        at_restart.push("node.tls_listen");
        new.tls_listen.clone_from(&current.tls_listen);
    }
    // The embedder loads the TLS identity at start only: the running one stays.
    new.tls.clone_from(&current.tls);
    if new.metrics_listen != current.metrics_listen {
        at_restart.push("metrics.listen");
        new.metrics_listen = current.metrics_listen;
    }
    if new.dns != current.dns {
        at_restart.push("[dns]");
        new.dns.clone_from(&current.dns);
    }
    if new.relay != current.relay {
        at_restart.push("[relay]");
        new.relay = current.relay;
    }
    // Buffers already lent out have the old size; the pool keeps one size.
    if new.limits.buffer_bytes != current.limits.buffer_bytes {
        at_restart.push("limits.buffer_bytes");
        new.limits.buffer_bytes = current.limits.buffer_bytes;
    }
    Ok(Plan {
        gone: users_gone(&current.auth, &new.auth),
        settings: new,
        at_restart,
    })
}

/// Static users whose sessions must end: removed, or given another password.
pub(crate) fn users_gone(old: &AuthSettings, new: &AuthSettings) -> Vec<Account> {
    if old.mode != AuthMode::Static {
        return Vec::new();
    }
    old.users
        .iter()
        .filter(|u| {
            !new.users
                .iter()
                .any(|n| n.name == u.name && n.password == u.password)
        })
        .map(|u| Account::new(&u.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::settings::User;

    fn users(list: &[(&str, &str)]) -> AuthSettings {
        AuthSettings {
            mode: AuthMode::Static,
            users: list
                .iter()
                .map(|(n, p)| User {
                    name: n.to_string(),
                    password: p.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn removed_users_and_changed_passwords_end_their_sessions() {
        let old = users(&[("alice", "a"), ("bob", "b"), ("carol", "c")]);
        let new = users(&[("alice", "a"), ("bob", "b2"), ("dave", "d")]);
        let gone: Vec<String> = users_gone(&old, &new)
            .iter()
            .map(|a| a.name().to_string())
            .collect();
        assert_eq!(gone, ["bob", "carol"]);
        assert!(users_gone(&old, &old).is_empty());
    }
}
