//! secp256k1 keys and recoverable signatures as Ethereum uses them: RFC 6979
//! deterministic nonces, `s` normalised to the lower half of the curve order (EIP-2),
//! and the y-parity that lets anyone recover the signer's address from a 32-byte hash.

use super::Address;
use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, SigningKey, VerifyingKey};
use k256::elliptic_curve::scalar::IsHigh;
use std::fmt;
use std::io;

/// A recoverable signature. `y_parity` is the parity of the y coordinate of the nonce
/// point R after low-s normalisation, which is what both `v` encodings are built from.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    pub y_parity: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The last byte of a 65-byte signature was not 27, 28, 0 or 1.
    BadV(u8),
    /// `s` is in the upper half of the curve order: valid ECDSA, but Ethereum (EIP-2)
    /// only accepts the low form, and accepting both would make signatures malleable.
    HighS,
    /// `r` or `s` is zero or not below the curve order.
    OutOfRange,
    /// No public key matches this hash and signature.
    Unrecoverable,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::BadV(v) => {
                write!(
                    f,
                    "signature recovery byte v is {v}; expected 27, 28, 0 or 1"
                )
            }
            SignatureError::HighS => write!(
                f,
                "signature has a high s value (not EIP-2 canonical); re-sign with a standard wallet"
            ),
            SignatureError::OutOfRange => {
                write!(f, "signature r or s is zero or not below the curve order")
            }
            SignatureError::Unrecoverable => {
                write!(
                    f,
                    "no public key can be recovered from this signature and hash"
                )
            }
        }
    }
}

impl std::error::Error for SignatureError {}

impl Signature {
    /// `r || s || v` with `v = 27 + y_parity`: what `personal_sign` wallets and `cast wallet sign` print.
    pub fn to_rsv(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = 27 + u8::from(self.y_parity);
        out
    }

    /// Parses `r || s || v` with `v` as 27/28 or 0/1. High `s`, zero or out-of-range
    /// scalars are rejected, so every accepted signature has exactly one encoding.
    pub fn from_rsv(bytes: &[u8; 65]) -> Result<Signature, SignatureError> {
        let y_parity = match bytes[64] {
            0 | 27 => false,
            1 | 28 => true,
            v => return Err(SignatureError::BadV(v)),
        };
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        let sig = Signature { r, s, y_parity };
        sig.to_ecdsa()?;
        Ok(sig)
    }

    /// The k256 form, checking both scalars are in range and `s` is low.
    fn to_ecdsa(self) -> Result<EcdsaSignature, SignatureError> {
        let sig =
            EcdsaSignature::from_scalars(self.r, self.s).map_err(|_| SignatureError::OutOfRange)?;
        if bool::from(sig.s().is_high()) {
            return Err(SignatureError::HighS);
        }
        Ok(sig)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({})",
            super::hex::encode_prefixed(&self.to_rsv())
        )
    }
}

/// 32 bytes that are zero or not below the secp256k1 group order: no private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidScalar;

impl fmt::Display for InvalidScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid secp256k1 private key (zero or not below the group order)")
    }
}

impl std::error::Error for InvalidScalar {}

/// A secp256k1 private key. The scalar is wiped from memory when the key is dropped
/// (k256's `SigningKey` zeroizes on drop); `Debug` shows only the address.
#[derive(Clone)]
pub struct PrivateKey {
    inner: SigningKey,
    /// Derived once: the node asks for it on every heartbeat and log line.
    address: Address,
}

impl PrivateKey {
    /// Accepts any 32-byte big-endian scalar in `1..n` (n = the curve order).
    pub fn from_bytes(b: &[u8; 32]) -> Result<PrivateKey, InvalidScalar> {
        let inner = SigningKey::from_bytes(b.into()).map_err(|_| InvalidScalar)?;
        let address = address_of(inner.verifying_key());
        Ok(PrivateKey { inner, address })
    }

    /// A fresh key from the operating system's random number generator.
    ///
    /// Panics only if the OS cannot supply randomness at all (no `getrandom` and no
    /// readable `/dev/urandom`), where there is no safe way to continue; use
    /// [`PrivateKey::try_random`] to handle that as an error instead.
    pub fn random() -> PrivateKey {
        match PrivateKey::try_random() {
            Ok(k) => k,
            Err(e) => panic!("the operating system's random number generator failed: {e}"),
        }
    }

    /// Like [`PrivateKey::random`], reporting a failing OS RNG as an error.
    pub fn try_random() -> io::Result<PrivateKey> {
        // A uniform 32-byte value is zero or >= n with probability below 2^-127;
        // redrawing keeps the result uniform over valid keys. The bound only exists
        // so a broken RNG that returns constant invalid bytes cannot spin forever.
        for _ in 0..64 {
            let mut buf = [0u8; 32];
            crate::os_random::fill(&mut buf)?;
            let key = PrivateKey::from_bytes(&buf);
            wipe(&mut buf);
            if let Ok(key) = key {
                return Ok(key);
            }
        }
        Err(io::Error::other(
            "random number generator keeps returning invalid keys",
        ))
    }

    /// The 32-byte big-endian scalar. The caller owns (and should wipe) the copy.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes().into()
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte hash: RFC 6979 nonce, low `s`, parity adjusted to match.
    pub fn sign_hash(&self, hash: &[u8; 32]) -> Signature {
        // k256 normalises s and flips the recovery id with it. Signing a 32-byte
        // prehash with a valid key fails only if RFC 6979 yields r = 0 or s = 0,
        // which would take a preimage attack on the nonce derivation to arrange.
        #[allow(clippy::expect_used)] // unreachable, as the comment above says
        let (sig, recid) = self
            .inner
            .sign_prehash_recoverable(hash)
            .expect("RFC 6979 signing of a 32-byte hash with a valid key cannot fail");
        let (r, s) = sig.split_bytes();
        Signature {
            r: r.into(),
            s: s.into(),
            y_parity: recid.is_y_odd(),
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.address())
    }
}

impl PartialEq for PrivateKey {
    fn eq(&self, other: &Self) -> bool {
        // SigningKey compares in constant time.
        self.inner == other.inner
    }
}

impl Eq for PrivateKey {}

/// The address whose key made `sig` over `hash`. High-`s` signatures are rejected
/// (EIP-2), as in transaction validation.
pub fn recover_address(hash: &[u8; 32], sig: &Signature) -> Result<Address, SignatureError> {
    let ecdsa = sig.to_ecdsa()?;
    // x-reduced recovery ids (r >= n) occur with probability ~2^-128 and no Ethereum
    // encoding of v can express them.
    let recid = RecoveryId::new(sig.y_parity, false);
    let key = VerifyingKey::recover_from_prehash(hash, &ecdsa, recid)
        .map_err(|_| SignatureError::Unrecoverable)?;
    Ok(address_of(&key))
}

fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_encoded_point(false);
    let mut xy = [0u8; 64];
    // An uncompressed SEC1 point is 0x04 || x || y (65 bytes).
    xy.copy_from_slice(&point.as_bytes()[1..]);
    Address::from_public_key_bytes(&xy)
}

/// Overwrites secret bytes in a way the optimiser may not remove.
pub(crate) fn wipe(buf: &mut [u8]) {
    use k256::elliptic_curve::zeroize::Zeroize;
    buf.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::{hex, keccak256};

    fn key(hex_key: &str) -> PrivateKey {
        PrivateKey::from_bytes(&hex::decode_array(hex_key).unwrap()).unwrap()
    }

    #[test]
    fn address_of_known_key() {
        // anvil's first development account.
        let k = key("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
        assert_eq!(
            k.address().to_checksum(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn rejects_zero_and_out_of_range_keys() {
        assert!(PrivateKey::from_bytes(&[0; 32]).is_err());
        assert!(PrivateKey::from_bytes(&[0xff; 32]).is_err());
        // n itself is out of range, n - 1 is the largest valid key.
        let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        assert!(PrivateKey::from_bytes(&hex::decode_array(n).unwrap()).is_err());
        let n_minus_1 = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
        assert!(PrivateKey::from_bytes(&hex::decode_array(n_minus_1).unwrap()).is_ok());
    }

    #[test]
    fn debug_shows_address_not_key() {
        let k = key("4646464646464646464646464646464646464646464646464646464646464646");
        let shown = format!("{k:?}");
        assert!(!shown.contains("4646"), "{shown}");
        assert!(shown.contains(&k.address().to_checksum()));
    }

    #[test]
    fn random_keys_differ_and_sign() {
        let a = PrivateKey::random();
        let b = PrivateKey::random();
        assert_ne!(a.to_bytes(), b.to_bytes());
        let h = keccak256(b"random");
        assert_eq!(recover_address(&h, &a.sign_hash(&h)), Ok(a.address()));
    }

    #[test]
    fn signatures_are_deterministic_low_s_and_recoverable() {
        let k = key("4646464646464646464646464646464646464646464646464646464646464646");
        let half_n = hex::decode_array::<32>(
            "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        )
        .unwrap();
        let mut parities = [false; 2];
        for i in 0u32..64 {
            let h = keccak256(&i.to_be_bytes());
            let sig = k.sign_hash(&h);
            assert_eq!(sig, k.sign_hash(&h));
            assert!(sig.s <= half_n, "high s for message {i}");
            parities[usize::from(sig.y_parity)] = true;
            assert_eq!(recover_address(&h, &sig), Ok(k.address()));
            // The other parity recovers some other key (or none).
            let flipped = Signature {
                y_parity: !sig.y_parity,
                ..sig
            };
            assert_ne!(recover_address(&h, &flipped), Ok(k.address()));
        }
        assert_eq!(parities, [true, true], "both parities occur over 64 hashes");
    }

    #[test]
    fn rsv_round_trip_and_rejections() {
        let k = key("4646464646464646464646464646464646464646464646464646464646464646");
        let sig = k.sign_hash(&keccak256(b"x"));
        let rsv = sig.to_rsv();
        assert_eq!(rsv[64], 27 + u8::from(sig.y_parity));
        assert_eq!(Signature::from_rsv(&rsv), Ok(sig));
        let mut zero_one = rsv;
        zero_one[64] -= 27;
        assert_eq!(Signature::from_rsv(&zero_one), Ok(sig));

        let mut bad_v = rsv;
        bad_v[64] = 29;
        assert_eq!(Signature::from_rsv(&bad_v), Err(SignatureError::BadV(29)));

        // s' = n - s is the high-s twin of the same signature.
        let n = hex::decode_array::<32>(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        )
        .unwrap();
        let mut high = rsv;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(sig.s[i]) - borrow;
            high[32 + i] = d.rem_euclid(256) as u8;
            borrow = i16::from(d < 0);
        }
        assert_eq!(Signature::from_rsv(&high), Err(SignatureError::HighS));

        let mut zero_r = rsv;
        zero_r[..32].fill(0);
        assert_eq!(
            Signature::from_rsv(&zero_r),
            Err(SignatureError::OutOfRange)
        );
    }
}
