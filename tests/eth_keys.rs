//! Raw key files and password sources as an operator meets them: permissions,
//! formats, refusals, and error messages that never show the key.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aqueduct::eth::hex;
use aqueduct::eth::keys::{load_key, read_password, write_key_file, KeyError, PasswordSource};
use aqueduct::eth::signer::PrivateKey;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const KEY_HEX: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// A fresh, empty directory under cargo's per-target temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("eth_keys-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_with_mode(path: &Path, contents: &str, mode: u32) {
    fs::write(path, contents).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn raw_key_file_open_to_group_or_others_is_refused_with_the_fix() {
    let dir = temp_dir("perm");
    let path = dir.join("node.key");
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666] {
        write_with_mode(&path, KEY_HEX, mode);
        let err = load_key(&path, None).unwrap_err();
        assert!(
            matches!(err, KeyError::InsecurePermissions { .. }),
            "mode {mode:o}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("chmod 600 {}", path.display())),
            "{msg}"
        );
        assert!(msg.contains(&format!("{mode:o}")), "{msg}");
        assert!(!msg.contains(&KEY_HEX[..16]), "{msg}");
    }
    for mode in [0o600, 0o400] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let k = load_key(&path, None).unwrap();
        assert_eq!(hex::encode(&k.to_bytes()), KEY_HEX);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn raw_key_file_formats() {
    let dir = temp_dir("formats");
    let path = dir.join("k");
    let upper = KEY_HEX.to_uppercase();
    for text in [
        KEY_HEX.to_string(),
        format!("0x{KEY_HEX}"),
        format!("0x{KEY_HEX}\n"),
        format!("{KEY_HEX}\r\n"),
        format!("  0X{upper}\n\n"),
    ] {
        let _ = fs::remove_file(&path);
        write_with_mode(&path, &text, 0o600);
        let k = load_key(&path, None).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(hex::encode(&k.to_bytes()), KEY_HEX);
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_raw_key_files_are_refused_without_echoing_them() {
    let dir = temp_dir("malformed");
    let path = dir.join("k");
    let cases = [
        (KEY_HEX[..63].to_string(), "not a key file"),
        (format!("{KEY_HEX}00"), "not a key file"),
        (format!("{}zz", &KEY_HEX[..62]), "not a key file"),
        (format!("0x{KEY_HEX} 0x{KEY_HEX}"), "not a key file"),
        (String::new(), "not a key file"),
        ("0".repeat(64), "not a valid secp256k1 private key"),
        // The curve order n itself.
        (
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141".into(),
            "not a valid secp256k1 private key",
        ),
    ];
    for (text, expected) in cases {
        let _ = fs::remove_file(&path);
        write_with_mode(&path, &text, 0o600);
        let msg = load_key(&path, None).unwrap_err().to_string();
        assert!(msg.contains(expected), "{text:?}: {msg}");
        assert!(!msg.contains(&KEY_HEX[..16]), "{msg}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_huge_files_are_clear_errors() {
    let dir = temp_dir("missing");
    let missing = dir.join("nope.key");
    let err = load_key(&missing, None).unwrap_err();
    assert!(matches!(err, KeyError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.key"), "{err}");

    let huge = dir.join("huge");
    write_with_mode(&huge, &"0".repeat(1 << 20), 0o600);
    assert!(matches!(
        load_key(&huge, None),
        Err(KeyError::TooLarge { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_key_file_is_private_loadable_and_never_overwrites() {
    let dir = temp_dir("write");
    let path = dir.join("new.key");
    let key = PrivateKey::random();
    write_key_file(&path, &key).unwrap();

    let meta = fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("0x{}\n", hex::encode(&key.to_bytes())));
    assert_eq!(load_key(&path, None).unwrap(), key);

    // A second key must not replace the first.
    let other = PrivateKey::random();
    let err = write_key_file(&path, &other).unwrap_err();
    assert!(matches!(err, KeyError::Exists { .. }), "{err:?}");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert_eq!(load_key(&path, None).unwrap(), key);

    // A directory that does not exist is an I/O error naming the path.
    let nowhere = dir.join("no/such/dir/k");
    assert!(matches!(
        write_key_file(&nowhere, &key),
        Err(KeyError::Io { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keystore_without_a_password_source_asks_for_one() {
    let dir = temp_dir("nopw");
    let path = dir.join("keystore.json");
    // Keystores are encrypted, so their mode is not checked; the missing password is.
    write_with_mode(&path, r#"  {"crypto": {}, "version": 3}"#, 0o644);
    let err = load_key(&path, None).unwrap_err();
    assert!(matches!(err, KeyError::PasswordRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("password"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_keystore_json_is_a_keystore_error() {
    let dir = temp_dir("badjson");
    let path = dir.join("keystore.json");
    let pw = PasswordSource::Env("AQUEDUCT_TEST_BADJSON_PW".into());
    std::env::set_var("AQUEDUCT_TEST_BADJSON_PW", "secret-password");
    for text in [
        r#"{"crypto": "#,
        r#"{"version": 3}"#,
        r#"{"crypto": {"cipher": 7}, "version": 3}"#,
    ] {
        write_with_mode(&path, text, 0o600);
        let err = load_key(&path, Some(&pw)).unwrap_err();
        assert!(matches!(err, KeyError::Keystore { .. }), "{text}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains("malformed keystore JSON"), "{msg}");
        assert!(!msg.contains("secret-password"), "{msg}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn password_sources() {
    let dir = temp_dir("pw");
    let file = dir.join("pw");
    for (contents, expected) in [
        ("hunter2\n", "hunter2"),
        ("hunter2\r\n", "hunter2"),
        ("hunter2", "hunter2"),
        // Only the line ending goes; spaces may be part of a password.
        (" hunter2 \n", " hunter2 "),
        ("\n", ""),
    ] {
        fs::write(&file, contents).unwrap();
        let pw = read_password(&PasswordSource::File(file.clone())).unwrap();
        assert_eq!(pw, expected.as_bytes(), "{contents:?}");
    }

    std::env::set_var("AQUEDUCT_TEST_PW_SOURCE", "from env");
    let pw = read_password(&PasswordSource::Env("AQUEDUCT_TEST_PW_SOURCE".into())).unwrap();
    assert_eq!(pw, b"from env");

    let err = read_password(&PasswordSource::Env("AQUEDUCT_TEST_PW_UNSET".into())).unwrap_err();
    assert!(err.to_string().contains("AQUEDUCT_TEST_PW_UNSET"), "{err}");
    let err = read_password(&PasswordSource::File(dir.join("absent"))).unwrap_err();
    assert!(matches!(err, KeyError::PasswordFile { .. }), "{err:?}");
    fs::remove_dir_all(&dir).unwrap();
}
