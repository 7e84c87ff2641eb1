//! EIP-191 version 0x45 messages (`personal_sign`): the hash is
//! `keccak256("\x19Ethereum Signed Message:\n" ++ decimal byte length ++ message)`,
//! so a signed message can never be mistaken for a signed transaction.

use super::signer::{recover_address, PrivateKey, Signature, SignatureError};
use super::Address;
use sha3::{Digest, Keccak256};

const PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

pub fn message_hash(message: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(PREFIX);
    h.update(message.len().to_string().as_bytes());
    h.update(message);
    h.finalize().into()
}

pub fn sign_message(key: &PrivateKey, message: &[u8]) -> Signature {
    key.sign_hash(&message_hash(message))
}

/// The address that signed `message` with `personal_sign`.
pub fn recover_message(message: &[u8], sig: &Signature) -> Result<Address, SignatureError> {
    recover_address(&message_hash(message), sig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::keccak256;

    #[test]
    fn hash_is_prefixed_keccak() {
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\x19Ethereum Signed Message:\n11hello world");
        assert_eq!(message_hash(b"hello world"), keccak256(&expected));
        // An empty message has length "0".
        assert_eq!(
            message_hash(b""),
            keccak256(b"\x19Ethereum Signed Message:\n0")
        );
    }

    #[test]
    fn sign_and_recover() {
        let key = PrivateKey::from_bytes(&[9; 32]).unwrap();
        let msg = "aqueduct proxy access\nchain: 8453".as_bytes();
        let sig = sign_message(&key, msg);
        assert_eq!(recover_message(msg, &sig), Ok(key.address()));
        assert_ne!(recover_message(b"other", &sig), Ok(key.address()));
    }
}
