//! Web3 Secret Storage v3 keystores (geth, `cast wallet new`): a password-derived
//! key (scrypt or PBKDF2-HMAC-SHA256) encrypts the private key with AES-128-CTR and
//! authenticates it with `mac = keccak256(derived[16..32] ++ ciphertext)`.
//!
//! The MAC is checked before anything is decrypted, and KDF parameters are capped
//! before any work is done, so a hostile file can neither exhaust memory nor hand
//! back a garbage key as if the password had been right.

use super::KeyError;
use crate::eth::signer::{wipe, PrivateKey};
use crate::eth::{hex, keccak256, Address};
use aes::cipher::{KeyIvInit, StreamCipher};
use serde::Deserialize;
use std::path::Path;

/// scrypt allocates 128 * r * n bytes; 256 MiB admits geth's "standard" setting
/// (n = 2^18, r = 8) and nothing larger.
pub const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// scrypt work is proportional to n * r * p: four times geth's standard setting.
pub const MAX_SCRYPT_WORK: u64 = 4 * (1 << 18) * 8;
/// PBKDF2 iterations: geth writes 262144; ten million takes seconds, not hours.
pub const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;

#[derive(Deserialize)]
struct KeystoreJson {
    // geth wrote "Crypto" in early versions.
    #[serde(alias = "Crypto")]
    crypto: CryptoJson,
    version: u32,
    address: Option<String>,
}

#[derive(Deserialize)]
struct CryptoJson {
    cipher: String,
    cipherparams: CipherParams,
    ciphertext: String,
    kdf: String,
    kdfparams: KdfParams,
    mac: String,
}

#[derive(Deserialize)]
struct CipherParams {
    iv: String,
}

/// The union of both KDFs' parameters; which ones must be present depends on `kdf`.
#[derive(Deserialize)]
struct KdfParams {
    dklen: u32,
    salt: String,
    n: Option<u64>,
    r: Option<u32>,
    p: Option<u32>,
    c: Option<u32>,
    prf: Option<String>,
}

enum Kdf {
    Scrypt(scrypt::Params),
    Pbkdf2 { rounds: u32 },
}

/// Decrypts a v3 keystore. `path` is only used to name the file in errors.
pub fn decrypt(json: &[u8], password: &[u8], path: &Path) -> Result<PrivateKey, KeyError> {
    let bad = |reason: String| KeyError::Keystore {
        path: path.to_path_buf(),
        reason,
    };
    let file: KeystoreJson = serde_json::from_slice(json).map_err(|e| {
        // serde's message can quote the offending value; the position is enough.
        bad(format!(
            "malformed keystore JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if file.version != 3 {
        return Err(bad(format!(
            "keystore version {} is not supported (only 3)",
            file.version
        )));
    }
    let c = &file.crypto;
    if c.cipher != "aes-128-ctr" {
        return Err(bad("unsupported cipher (only aes-128-ctr)".into()));
    }
    let field = |name: &str, text: &str| {
        hex::decode(text).map_err(|e| bad(format!("{name} is not hex: {e}")))
    };
    let iv: [u8; 16] = field("iv", &c.cipherparams.iv)?
        .try_into()
        .map_err(|_| bad("iv is not 16 bytes".into()))?;
    let ciphertext = field("ciphertext", &c.ciphertext)?;
    if ciphertext.len() != 32 {
        return Err(bad("ciphertext is not 32 bytes (a secp256k1 key)".into()));
    }
    let mac: [u8; 32] = field("mac", &c.mac)?
        .try_into()
        .map_err(|_| bad("mac is not 32 bytes".into()))?;
    let salt = field("salt", &c.kdfparams.salt)?;
    if c.kdfparams.dklen != 32 {
        return Err(bad("kdfparams.dklen must be 32".into()));
    }
    let kdf = kdf_params(&c.kdf, &c.kdfparams).map_err(bad)?;

    let mut derived = [0u8; 32];
    match kdf {
        Kdf::Scrypt(params) => scrypt::scrypt(password, &salt, &params, &mut derived)
            .map_err(|_| bad("scrypt failed".into()))?,
        Kdf::Pbkdf2 { rounds } => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, rounds, &mut derived)
        }
    }

    let mut mac_input = [0u8; 48];
    mac_input[..16].copy_from_slice(&derived[16..]);
    mac_input[16..].copy_from_slice(&ciphertext);
    let expected = keccak256(&mac_input);
    wipe(&mut mac_input);
    if !constant_time_eq(&expected, &mac) {
        wipe(&mut derived);
        return Err(KeyError::WrongPassword {
            path: path.to_path_buf(),
        });
    }

    let mut secret = [0u8; 32];
    secret.copy_from_slice(&ciphertext);
    let mut cipher = ctr::Ctr128BE::<aes::Aes128>::new((&derived[..16]).into(), (&iv).into());
    cipher.apply_keystream(&mut secret);
    wipe(&mut derived);
    let key = PrivateKey::from_bytes(&secret);
    wipe(&mut secret);
    let key = key?;

    if let Some(text) = &file.address {
        let expected: Address = hex::decode_array(text)
            .map(Address)
            .map_err(|e| bad(format!("address field is not 20 bytes of hex: {e}")))?;
        if key.address() != expected {
            return Err(KeyError::AddressMismatch {
                path: path.to_path_buf(),
            });
        }
    }
    Ok(key)
}

/// Validates the KDF and its parameters against the caps, before any work.
fn kdf_params(kdf: &str, p: &KdfParams) -> Result<Kdf, String> {
    match kdf {
        "scrypt" => {
            let (Some(n), Some(r), Some(par)) = (p.n, p.r, p.p) else {
                return Err("scrypt kdfparams need n, r and p".into());
            };
            if n < 2 || !n.is_power_of_two() || r == 0 || par == 0 {
                return Err("scrypt n must be a power of two above 1, r and p at least 1".into());
            }
            let log_n = n.trailing_zeros();
            if u64::from(log_n) >= 16 * u64::from(r) {
                return Err(format!(
                    "scrypt n={n} is too large for r={r} (RFC 7914 requires n < 2^(16 r))"
                ));
            }
            let memory = 128 * u64::from(r) * n;
            let work = n * u64::from(r) * u64::from(par);
            if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
                return Err(format!(
                    "scrypt parameters too costly (n={n}, r={r}, p={par}); refusing to spend that much memory or time"
                ));
            }
            scrypt::Params::new(log_n as u8, r, par, 32)
                .map(Kdf::Scrypt)
                .map_err(|_| "invalid scrypt parameters".into())
        }
        "pbkdf2" => {
            if p.prf.as_deref() != Some("hmac-sha256") {
                return Err("pbkdf2 prf must be hmac-sha256".into());
            }
            match p.c {
                Some(rounds @ 1..=MAX_PBKDF2_ROUNDS) => Ok(Kdf::Pbkdf2 { rounds }),
                Some(_) => Err(format!(
                    "pbkdf2 iteration count must be 1 to {MAX_PBKDF2_ROUNDS}"
                )),
                None => Err("pbkdf2 kdfparams need c".into()),
            }
        }
        _ => Err("unsupported kdf (only scrypt and pbkdf2)".into()),
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed keystore around the given `kdf` and `kdfparams` members, with
    /// a MAC that matches no password.
    fn keystore(kdf: &str, version: u32, cipher: &str, iv: &str) -> String {
        format!(
            r#"{{"crypto": {{"cipher": "{cipher}", "cipherparams": {{"iv": "{iv}"}},
              "ciphertext": "{ct}", {kdf},
              "mac": "{mac}"}}, "id": "x", "version": {version}}}"#,
            ct = "11".repeat(32),
            mac = "22".repeat(32),
        )
    }

    const IV: &str = "000102030405060708090a0b0c0d0e0f";
    const CHEAP_PBKDF2: &str = r#""kdf": "pbkdf2", "kdfparams": {"c": 1, "dklen": 32, "prf": "hmac-sha256", "salt": "00"}"#;

    fn err(json: &str) -> KeyError {
        match decrypt(json.as_bytes(), b"pw", Path::new("ks.json")) {
            Ok(_) => panic!("accepted {json}"),
            Err(e) => e,
        }
    }

    fn reason(json: &str) -> String {
        match err(json) {
            KeyError::Keystore { reason, .. } => reason,
            other => panic!("expected a keystore error, got {other:?}"),
        }
    }

    /// Encrypts `secret` the v3 way with a single PBKDF2 round (cheap, for tests).
    fn encrypt_cheaply(secret: &[u8; 32], password: &[u8], address: Option<&str>) -> String {
        let mut dk = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, b"salt", 1, &mut dk);
        let iv = [9u8; 16];
        let mut ct = *secret;
        ctr::Ctr128BE::<aes::Aes128>::new((&dk[..16]).into(), (&iv).into())
            .apply_keystream(&mut ct);
        let mut mac_in = dk[16..].to_vec();
        mac_in.extend_from_slice(&ct);
        let address = address.map_or(String::new(), |a| format!(r#""address": "{a}","#));
        format!(
            r#"{{{address} "crypto": {{"cipher": "aes-128-ctr", "cipherparams": {{"iv": "{iv}"}},
              "ciphertext": "{ct}", "kdf": "pbkdf2",
              "kdfparams": {{"c": 1, "dklen": 32, "prf": "hmac-sha256", "salt": "{salt}"}},
              "mac": "{mac}"}}, "version": 3}}"#,
            iv = hex::encode(&iv),
            ct = hex::encode(&ct),
            salt = hex::encode(b"salt"),
            mac = hex::encode(&keccak256(&mac_in)),
        )
    }

    #[test]
    fn address_field_must_match_the_key() {
        let secret = [0x42u8; 32];
        let key = PrivateKey::from_bytes(&secret).unwrap();
        let own = hex::encode(&key.address().0);
        for address in [None, Some(own.as_str()), Some(&*format!("0x{own}"))] {
            let json = encrypt_cheaply(&secret, b"pw", address);
            let got = decrypt(json.as_bytes(), b"pw", Path::new("ks.json")).unwrap();
            assert_eq!(got, key, "{address:?}");
        }
        let json = encrypt_cheaply(&secret, b"pw", Some(&"ab".repeat(20)));
        assert!(matches!(
            decrypt(json.as_bytes(), b"pw", Path::new("ks.json")),
            Err(KeyError::AddressMismatch { .. })
        ));
        let json = encrypt_cheaply(&secret, b"pw", None);
        assert!(matches!(
            decrypt(json.as_bytes(), b"pW", Path::new("ks.json")),
            Err(KeyError::WrongPassword { .. })
        ));
    }

    #[test]
    fn mac_is_checked_before_anything_is_decrypted() {
        // Any ciphertext decrypts to 32 bytes; only the MAC tells a wrong password.
        let e = err(&keystore(CHEAP_PBKDF2, 3, "aes-128-ctr", IV));
        assert!(matches!(e, KeyError::WrongPassword { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "keystore ks.json: wrong password (MAC mismatch)"
        );
    }

    #[test]
    fn costly_kdf_parameters_are_refused_before_any_work() {
        for params in [
            // 2^30 * 8 * 128 bytes = 1 TiB of memory.
            r#""kdf": "scrypt", "kdfparams": {"n": 1073741824, "r": 8, "p": 1, "dklen": 32, "salt": "00"}"#,
            // 2^18 * 16 * 128 = 512 MiB.
            r#""kdf": "scrypt", "kdfparams": {"n": 262144, "r": 16, "p": 1, "dklen": 32, "salt": "00"}"#,
            // Little memory but 2^32 rounds of work.
            r#""kdf": "scrypt", "kdfparams": {"n": 16384, "r": 8, "p": 4294967295, "dklen": 32, "salt": "00"}"#,
            r#""kdf": "pbkdf2", "kdfparams": {"c": 4000000000, "dklen": 32, "prf": "hmac-sha256", "salt": "00"}"#,
        ] {
            let r = reason(&keystore(params, 3, "aes-128-ctr", IV));
            assert!(
                r.contains("too costly") || r.contains("iteration count"),
                "{r}"
            );
        }
    }

    #[test]
    fn unsupported_or_invalid_parameters_say_which() {
        let cases = [
            (keystore(CHEAP_PBKDF2, 1, "aes-128-ctr", IV), "version 1"),
            (keystore(CHEAP_PBKDF2, 3, "aes-128-cbc", IV), "cipher"),
            (keystore(CHEAP_PBKDF2, 3, "aes-128-ctr", "0001"), "iv"),
            (
                keystore(CHEAP_PBKDF2, 3, "aes-128-ctr", "xyz"),
                "iv is not hex",
            ),
            (
                keystore(
                    &CHEAP_PBKDF2.replace("sha256", "sha512"),
                    3,
                    "aes-128-ctr",
                    IV,
                ),
                "prf",
            ),
            (
                keystore(
                    &CHEAP_PBKDF2.replace("\"c\": 1", "\"c\": 0"),
                    3,
                    "aes-128-ctr",
                    IV,
                ),
                "iteration count",
            ),
            (
                keystore(&CHEAP_PBKDF2.replace("32", "16"), 3, "aes-128-ctr", IV),
                "dklen",
            ),
            (
                keystore(
                    &CHEAP_PBKDF2.replace("pbkdf2", "argon2"),
                    3,
                    "aes-128-ctr",
                    IV,
                ),
                "unsupported kdf",
            ),
            (
                keystore(
                    r#""kdf": "scrypt", "kdfparams": {"n": 1000, "r": 8, "p": 1, "dklen": 32, "salt": "00"}"#,
                    3,
                    "aes-128-ctr",
                    IV,
                ),
                "power of two",
            ),
            (
                keystore(
                    r#""kdf": "scrypt", "kdfparams": {"r": 8, "p": 1, "dklen": 32, "salt": "00"}"#,
                    3,
                    "aes-128-ctr",
                    IV,
                ),
                "need n, r and p",
            ),
        ];
        for (json, expected) in cases {
            let r = reason(&json);
            assert!(r.contains(expected), "expected {expected:?} in {r:?}");
        }
        let short_ct = keystore(CHEAP_PBKDF2, 3, "aes-128-ctr", IV).replace(&"11".repeat(32), "11");
        assert!(reason(&short_ct).contains("ciphertext"));
    }

    #[test]
    fn malformed_json_reports_a_position_not_the_contents() {
        let r = reason(r#"{"crypto": {"cipher": "my-secret-value"#);
        assert!(r.contains("line 1"), "{r}");
        let r = reason(r#"{"crypto": ["my-secret-value"], "version": 3}"#);
        assert!(r.starts_with("malformed keystore JSON"), "{r}");
        assert!(!r.contains("my-secret-value"), "{r}");
    }
}
