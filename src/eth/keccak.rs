//! Keccak-256, the hash Ethereum uses everywhere (not NIST SHA3-256: the padding differs).

use sha3::{Digest, Keccak256};

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::hex;

    #[test]
    fn known_digests() {
        assert_eq!(
            hex::encode(&keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        // The selector of ERC-20 transfer(address,uint256) is a9059cbb.
        assert_eq!(
            hex::encode(&keccak256(b"transfer(address,uint256)")[..4]),
            "a9059cbb"
        );
    }
}
