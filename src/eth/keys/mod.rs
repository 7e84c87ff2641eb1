//! Loading and storing the operator's or member's private key.
//!
//! Two formats are read: a raw key file (64 hex digits, optional `0x`, surrounding
//! whitespace ignored) that only its owner may read, and Web3 Secret Storage v3
//! keystores as written by geth or `cast wallet new` ([`keystore`]). Passwords come
//! from a file or an environment variable, never from the command line, where any
//! user could read them in the process list. No error message contains key bytes or
//! a password.

pub mod keyfile;
pub mod keystore;

pub use keyfile::write_key_file;

use super::signer::{wipe, InvalidScalar, PrivateKey};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Where a keystore's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file holding the password; one trailing line ending (`\n` or `\r\n`) is not part of it.
    File(PathBuf),
    /// The name of an environment variable holding the password.
    Env(String),
}

#[derive(Debug)]
pub enum KeyError {
    /// 32 bytes that are zero or not below the secp256k1 group order.
    InvalidScalar,
    /// Reading or writing `path` failed.
    Io { path: PathBuf, error: io::Error },
    /// A raw key file that group or others can access.
    InsecurePermissions { path: PathBuf, mode: u32 },
    /// Neither a raw hex key nor JSON.
    MalformedKeyFile { path: PathBuf },
    /// The file is far larger than any key or keystore.
    TooLarge { path: PathBuf },
    /// `write_key_file` refuses to replace an existing file.
    Exists { path: PathBuf },
    /// A keystore was given without a password source.
    PasswordRequired { path: PathBuf },
    /// The password environment variable is unset or not UTF-8.
    PasswordEnvMissing { name: String },
    /// The password file could not be read.
    PasswordFile { path: PathBuf, error: io::Error },
    /// The keystore JSON is malformed or uses something we do not support.
    Keystore { path: PathBuf, reason: String },
    /// The keystore's MAC does not match: the password is wrong (or the file corrupt).
    WrongPassword { path: PathBuf },
    /// The decrypted key's address differs from the keystore's `address` field.
    AddressMismatch { path: PathBuf },
}

impl From<InvalidScalar> for KeyError {
    fn from(_: InvalidScalar) -> KeyError {
        KeyError::InvalidScalar
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidScalar => write!(
                f,
                "not a valid secp256k1 private key (zero or not below the curve order)"
            ),
            KeyError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            KeyError::InsecurePermissions { path, mode } => write!(
                f,
                "key file {p} is accessible by other users (mode {mode:03o}); run `chmod 600 {p}`",
                p = path.display(),
                mode = mode & 0o777
            ),
            KeyError::MalformedKeyFile { path } => write!(
                f,
                "{}: not a key file (expected 64 hex digits, optionally with 0x, or a JSON keystore)",
                path.display()
            ),
            KeyError::TooLarge { path } => write!(
                f,
                "{}: too large to be a key file or keystore",
                path.display()
            ),
            KeyError::Exists { path } => write!(
                f,
                "{} already exists; refusing to overwrite a key file",
                path.display()
            ),
            KeyError::PasswordRequired { path } => write!(
                f,
                "{} is an encrypted keystore: give its password in a file or an environment variable",
                path.display()
            ),
            KeyError::PasswordEnvMissing { name } => write!(
                f,
                "environment variable {name} (the keystore password) is not set or not UTF-8"
            ),
            KeyError::PasswordFile { path, error } => write!(
                f,
                "cannot read password file {}: {error}",
                path.display()
            ),
            KeyError::Keystore { path, reason } => {
                write!(f, "keystore {}: {reason}", path.display())
            }
            KeyError::WrongPassword { path } => write!(
                f,
                "keystore {}: wrong password (MAC mismatch)",
                path.display()
            ),
            KeyError::AddressMismatch { path } => write!(
                f,
                "keystore {}: the decrypted key does not match the file's address field",
                path.display()
            ),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { error, .. } | KeyError::PasswordFile { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Key files and keystores are under 1 KiB; anything much larger is a wrong path.
const MAX_FILE: u64 = 64 * 1024;

/// Loads a raw hex key file or, if the file is JSON, a v3 keystore decrypted with
/// the password from `password`.
pub fn load_key(path: &Path, password: Option<&PasswordSource>) -> Result<PrivateKey, KeyError> {
    let io_err = |error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let mut text = read_capped(file, path)?;
    let result = if text.trim_ascii_start().first() == Some(&b'{') {
        match password {
            None => Err(KeyError::PasswordRequired {
                path: path.to_path_buf(),
            }),
            Some(source) => read_password(source).and_then(|mut pw| {
                let key = keystore::decrypt(&text, &pw, path);
                wipe(&mut pw);
                key
            }),
        }
    } else {
        // A file that is not a key at all is reported as such, not as a permissions
        // problem. The mode comes from the opened file, so the file cannot be
        // swapped between the check and the read.
        keyfile::parse_hex_key(&text, path)
            .and_then(|key| keyfile::check_private(path, &meta).map(|()| key))
    };
    wipe(&mut text);
    result
}

/// Reads the password, without its trailing line ending.
pub fn read_password(source: &PasswordSource) -> Result<Vec<u8>, KeyError> {
    let mut pw = match source {
        PasswordSource::Env(name) => std::env::var(name)
            .map_err(|_| KeyError::PasswordEnvMissing { name: name.clone() })?
            .into_bytes(),
        PasswordSource::File(path) => {
            let file = File::open(path).map_err(|error| KeyError::PasswordFile {
                path: path.clone(),
                error,
            })?;
            read_capped(file, path)?
        }
    };
    // Editors add a final newline; it is not part of the password. Other trailing
    // whitespace is kept, since it may be.
    if pw.last() == Some(&b'\n') {
        pw.pop();
        if pw.last() == Some(&b'\r') {
            pw.pop();
        }
    }
    Ok(pw)
}

fn read_capped(file: File, path: &Path) -> Result<Vec<u8>, KeyError> {
    // Sized up front so the secret is never copied by a reallocation.
    let mut buf = Vec::with_capacity(4096);
    file.take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|error| KeyError::Io {
            path: path.to_path_buf(),
            error,
        })?;
    if buf.len() as u64 > MAX_FILE {
        wipe(&mut buf);
        return Err(KeyError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    Ok(buf)
}
