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
            let memory = 128 * u64::from(r) * n;
            let work = n * u64::from(r) * u64::from(par);
            if memory > MAX_SCRYPT_MEMORY || work > MAX_SCRYPT_WORK {
                return Err(format!(
                    "scrypt parameters too costly (n={n}, r={r}, p={par}); refusing to spend that much memory or time"
                ));
            }
            scrypt::Params::new(n.trailing_zeros() as u8, r, par, 32)
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
