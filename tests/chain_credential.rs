//! Member credentials made by another wallet (`cast wallet sign`) verify with our
//! code, and ours verify with cast: the format is plain EIP-191 personal_sign.
// A test's unwrap is its assertion: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
use support::anvil;

use anvil::{cast, DEV_KEYS};
use aqueduct::credential::{self, CredentialError, NodeScope, Verifier};
use aqueduct::eth::signer::PrivateKey;
use aqueduct::eth::{hex, Address};

const CONTRACT: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const NOW: u64 = 1_800_000_000;

fn key(i: usize) -> PrivateKey {
    PrivateKey::from_bytes(&hex::decode_array(DEV_KEYS[i]).unwrap()).unwrap()
}

fn verifier(node: Address) -> Verifier {
    Verifier {
        chain_id: 8453,
        contract: CONTRACT.parse().unwrap(),
        node,
        max_lifetime: 7 * 86_400,
    }
}

/// Signs the documented text with `cast wallet sign`; returns the 0x signature.
fn cast_sign(key_index: usize, text: &str) -> String {
    cast(&["wallet", "sign", "--private-key", DEV_KEYS[key_index], text])
}

#[test]
fn a_credential_signed_by_cast_is_accepted() {
    let node = key(1).address();
    let member = key(2).address();
    for scope in [NodeScope::Any, NodeScope::One(node)] {
        let expires = NOW + 3600;
        let text = credential::message(8453, CONTRACT.parse().unwrap(), scope, expires);
        let sig = cast_sign(2, &text);
        assert_eq!(sig.len(), 132, "{sig}");
        // As a user would paste it: checksummed username, signature without 0x.
        let password = format!("{expires}:{scope}:{}", &sig[2..]);
        let username = member.to_string();
        assert_eq!(
            verifier(node).check(username.as_bytes(), password.as_bytes(), NOW),
            Ok(member)
        );
    }
}

#[test]
fn a_cast_signature_over_different_text_is_refused() {
    let node = key(1).address();
    let member = key(2).address();
    let expires = NOW + 3600;
    // Signed for chain 1, presented to a node on chain 8453.
    let text = credential::message(1, CONTRACT.parse().unwrap(), NodeScope::Any, expires);
    let sig = cast_sign(2, &text);
    let password = format!("{expires}:*:{}", &sig[2..]);
    assert!(matches!(
        verifier(node).check(member.to_string().as_bytes(), password.as_bytes(), NOW),
        Err(CredentialError::WrongSigner { .. })
    ));
    // Signed by someone else than the username.
    let text = credential::message(8453, CONTRACT.parse().unwrap(), NodeScope::Any, expires);
    let sig = cast_sign(3, &text);
    let password = format!("{expires}:*:{}", &sig[2..]);
    assert_eq!(
        verifier(node).check(member.to_string().as_bytes(), password.as_bytes(), NOW),
        Err(CredentialError::WrongSigner {
            claimed: member,
            recovered: key(3).address()
        })
    );
}

#[test]
fn our_signature_verifies_with_cast() {
    let member = key(4);
    let contract: Address = CONTRACT.parse().unwrap();
    let (user, pass) = credential::sign(&member, 8453, contract, NodeScope::Any, NOW + 60);
    let sig = pass.rsplit(':').next().unwrap();
    let text = credential::message(8453, contract, NodeScope::Any, NOW + 60);
    let out = cast(&[
        "wallet",
        "verify",
        "--address",
        &user,
        &text,
        &format!("0x{sig}"),
    ]);
    assert!(out.contains("Validation succeeded"), "{out}");
}
