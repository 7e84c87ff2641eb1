//! Raw key files: the 32-byte key as 64 hex digits, readable by its owner only.

use super::KeyError;
use crate::eth::hex;
use crate::eth::signer::{wipe, PrivateKey};
use k256::elliptic_curve::zeroize::Zeroize;
use std::fs::{Metadata, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Any permission bit for group or others disqualifies a raw key file, as ssh does
/// for private keys: readable leaks the key, writable lets someone swap it.
const GROUP_OTHER: u32 = 0o077;

pub(super) fn check_private(path: &Path, meta: &Metadata) -> Result<(), KeyError> {
    if meta.mode() & GROUP_OTHER != 0 {
        return Err(KeyError::InsecurePermissions {
            path: path.to_path_buf(),
            mode: meta.mode(),
        });
    }
    Ok(())
}

/// 64 hex digits with an optional `0x`; surrounding whitespace (a trailing newline) is ignored.
pub(super) fn parse_hex_key(text: &[u8], path: &Path) -> Result<PrivateKey, KeyError> {
    let malformed = || KeyError::MalformedKeyFile {
        path: path.to_path_buf(),
    };
    let digits = std::str::from_utf8(text.trim_ascii()).map_err(|_| malformed())?;
    let digits = hex::strip_prefix(digits);
    if digits.len() != 64 {
        return Err(malformed());
    }
    let mut bytes: [u8; 32] = hex::decode_array(digits).map_err(|_| malformed())?;
    let key = PrivateKey::from_bytes(&bytes);
    wipe(&mut bytes);
    Ok(key?)
}

/// Writes `key` as `0x` + 64 hex digits + newline to a new file with mode 0600.
/// An existing file is never replaced; a partly written file is removed.
pub fn write_key_file(path: &Path, key: &PrivateKey) -> Result<(), KeyError> {
    let io_err = |error| KeyError::Io {
        path: path.to_path_buf(),
        error,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                io_err(error)
            }
        })?;
    let mut bytes = key.to_bytes();
    let mut digits = hex::encode(&bytes);
    wipe(&mut bytes);
    let mut text = Vec::with_capacity(67);
    text.extend_from_slice(b"0x");
    text.extend_from_slice(digits.as_bytes());
    text.push(b'\n');
    digits.zeroize();
    let written = file.write_all(&text).and_then(|()| file.sync_all());
    wipe(&mut text);
    if let Err(error) = written {
        drop(file);
        // Best effort: a truncated key file must not be mistaken for a key later.
        let _ = std::fs::remove_file(path);
        return Err(io_err(error));
    }
    Ok(())
}
