//! The member credential: a proxy username and password that prove, without any
//! server, that the holder controls a member's wallet (doc/protocol.md).
//!
//! The member signs this text with EIP-191 `personal_sign` (lines joined by `\n`, no
//! trailing newline):
//!
//! ```text
//! aqueduct proxy access
//! chain: <chain id, decimal>
//! contract: <contract address, 0x + 40 lowercase hex>
//! node: <node address, 0x + 40 lowercase hex, or *>
//! expires: <unix seconds, decimal>
//! ```
//!
//! Username: the member's address. Password: `<expires>:<node or *>:<130 hex sig>`.
//! [`Verifier::check`] checks everything that needs no chain state; whether the recovered
//! member has paid is the caller's question.

use crate::eth::personal;
use crate::eth::signer::{PrivateKey, Signature};
use crate::eth::{hex, Address};
use std::fmt;

/// Which node a credential is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeScope {
    /// `*`: any node of the network.
    Any,
    One(Address),
}

impl fmt::Display for NodeScope {
    /// `*` or `0x` + 40 lowercase hex digits: the form signed and sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeScope::Any => f.write_str("*"),
            NodeScope::One(a) => f.write_str(&a.to_lower_hex()),
        }
    }
}

/// A parsed, not yet verified, credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The address the username claims.
    pub member: Address,
    pub expires: u64,
    pub node: NodeScope,
    pub signature: Signature,
}

/// Why a credential is refused. The text names the failed check and never repeats
/// the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    /// The username is not a `0x` + 40 hex digit address.
    BadUsername,
    /// The password is not `<expires>:<node or *>:<130 hex digits>`; says which part.
    Malformed(&'static str),
    /// The signature bytes are not a valid recoverable signature.
    BadSignature(String),
    /// The signature recovers to a different address than the username.
    WrongSigner {
        claimed: Address,
        recovered: Address,
    },
    /// `expires` is not in the future.
    Expired { expires: u64, now: u64 },
    /// `expires` is further in the future than this node accepts.
    LifetimeTooLong { expires: u64, max_lifetime: u64 },
    /// Scoped to another node.
    WrongNode { scoped_to: Address },
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialError::BadUsername => {
                write!(f, "username is not an address (0x + 40 hex digits)")
            }
            CredentialError::Malformed(what) => write!(f, "malformed password: {what}"),
            CredentialError::BadSignature(why) => write!(f, "invalid signature: {why}"),
            CredentialError::WrongSigner { claimed, recovered } => write!(
                f,
                "signature is by {recovered}, not by the username {claimed}"
            ),
            CredentialError::Expired { expires, now } => write!(
                f,
                "credential expired at {expires} (now {now}); make a new one with `aqueduct token`"
            ),
            CredentialError::LifetimeTooLong {
                expires,
                max_lifetime,
            } => write!(
                f,
                "credential expires at {expires}, more than {max_lifetime}s from now, beyond this node's limit"
            ),
            CredentialError::WrongNode { scoped_to } => {
                write!(f, "credential is for node {scoped_to}, not this one")
            }
        }
    }
}

impl std::error::Error for CredentialError {}

/// What a node checks a credential against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub chain_id: u64,
    pub contract: Address,
    /// This node's address: credentials scoped to another node are refused.
    pub node: Address,
    /// Longest accepted `expires - now`, in seconds.
    pub max_lifetime: u64,
}

/// Longest password [`parse`] reads: a u64 (20) + ':' + address (42) + ':' + 132.
pub const MAX_PASSWORD_LEN: usize = 20 + 1 + 42 + 1 + 132;

/// The exact text the member signs.
pub fn message(chain_id: u64, contract: Address, node: NodeScope, expires: u64) -> String {
    format!(
        "aqueduct proxy access\nchain: {chain_id}\ncontract: {}\nnode: {node}\nexpires: {expires}",
        contract.to_lower_hex()
    )
}

/// The proxy password for a signature: `<expires>:<node or *>:<130 hex digits>`.
pub fn password(expires: u64, node: NodeScope, signature: &Signature) -> String {
    format!("{expires}:{node}:{}", hex::encode(&signature.to_rsv()))
}

/// Signs a credential with the member's key; returns (username, password).
pub fn sign(
    key: &PrivateKey,
    chain_id: u64,
    contract: Address,
    node: NodeScope,
    expires: u64,
) -> (String, String) {
    let sig = personal::sign_message(key, message(chain_id, contract, node, expires).as_bytes());
    (key.address().to_lower_hex(), password(expires, node, &sig))
}

/// True when `digits` is exactly `n` hex digits, all lowercase or all uppercase, or
/// (with `mixed`) in any letter case.
fn is_hex_digits(digits: &str, n: usize, mixed: bool) -> bool {
    let b = digits.as_bytes();
    let lower = b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    let upper = b.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'));
    b.len() == n && (lower || upper || (mixed && b.iter().all(u8::is_ascii_hexdigit)))
}

/// `0x` (lowercase, once) then [`is_hex_digits`].
fn is_prefixed_hex(s: &str, n: usize, mixed: bool) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|digits| is_hex_digits(digits, n, mixed))
}

/// Reads a username and password as a proxy client sent them, accepting exactly the
/// forms doc/protocol.md lists and nothing looser: the username is `0x` + 40 hex digits
/// in any letter case (wallets print checksummed addresses, users type lowercase); the
/// expiry is decimal without leading zeros, as signed; the node is `*` or `0x` + 40
/// lowercase or uppercase hex digits; the signature is 130 lowercase or uppercase hex
/// digits, after at most one `0x`.
pub fn parse(username: &[u8], password: &[u8]) -> Result<Credential, CredentialError> {
    let member = std::str::from_utf8(username)
        .ok()
        .filter(|u| is_prefixed_hex(u, 40, true))
        .and_then(|u| u.to_ascii_lowercase().parse::<Address>().ok())
        .ok_or(CredentialError::BadUsername)?;
    if password.len() > MAX_PASSWORD_LEN {
        return Err(CredentialError::Malformed("too long"));
    }
    let password =
        std::str::from_utf8(password).map_err(|_| CredentialError::Malformed("not ASCII text"))?;
    let mut parts = password.split(':');
    let (Some(expires), Some(node), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CredentialError::Malformed(
            "expected <expires>:<node or *>:<signature>",
        ));
    };
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CredentialError::Malformed(
            "expiry is not a decimal unix time",
        ));
    }
    if expires.len() > 1 && expires.starts_with('0') {
        // The signed text has none: a padded expiry is not the value that was signed.
        return Err(CredentialError::Malformed("expiry has leading zeros"));
    }
    let expires: u64 = expires
        .parse()
        .map_err(|_| CredentialError::Malformed("expiry is out of range"))?;
    let node = if node == "*" {
        NodeScope::Any
    } else if is_prefixed_hex(node, 40, false) {
        NodeScope::One(
            node.to_ascii_lowercase()
                .parse()
                .map_err(|_| CredentialError::Malformed("node is not an address or *"))?,
        )
    } else {
        return Err(CredentialError::Malformed(
            "node is not * or 0x + 40 lowercase (or uppercase) hex digits",
        ));
    };
    let digits = sig.strip_prefix("0x").unwrap_or(sig);
    if !is_hex_digits(digits, 130, false) {
        return Err(CredentialError::Malformed(
            "signature is not 130 lowercase (or uppercase) hex digits after an optional 0x",
        ));
    }
    let rsv: [u8; 65] = hex::decode_array(digits)
        .map_err(|_| CredentialError::Malformed("signature is not 130 hex digits"))?;
    let signature =
        Signature::from_rsv(&rsv).map_err(|e| CredentialError::BadSignature(e.to_string()))?;
    Ok(Credential {
        member,
        expires,
        node,
        signature,
    })
}

impl Verifier {
    /// Checks expiry, lifetime, node scope and signature (in that order: the cheap
    /// checks first, the ~0.1 ms recovery last). Returns the member's address.
    pub fn verify(&self, cred: &Credential, now: u64) -> Result<Address, CredentialError> {
        if cred.expires <= now {
            return Err(CredentialError::Expired {
                expires: cred.expires,
                now,
            });
        }
        if cred.expires - now > self.max_lifetime {
            return Err(CredentialError::LifetimeTooLong {
                expires: cred.expires,
                max_lifetime: self.max_lifetime,
            });
        }
        if let NodeScope::One(scoped_to) = cred.node {
            if scoped_to != self.node {
                return Err(CredentialError::WrongNode { scoped_to });
            }
        }
        let text = message(self.chain_id, self.contract, cred.node, cred.expires);
        let recovered = personal::recover_message(text.as_bytes(), &cred.signature)
            .map_err(|e| CredentialError::BadSignature(e.to_string()))?;
        if recovered != cred.member {
            return Err(CredentialError::WrongSigner {
                claimed: cred.member,
                recovered,
            });
        }
        Ok(recovered)
    }

    /// [`parse`] then [`Verifier::verify`]: the node's whole stateless check.
    pub fn check(
        &self,
        username: &[u8],
        password: &[u8],
        now: u64,
    ) -> Result<Address, CredentialError> {
        self.verify(&parse(username, password)?, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: Address = Address([0x11; 20]);
    const NODE: Address = Address([0x22; 20]);

    fn key(b: u8) -> PrivateKey {
        PrivateKey::from_bytes(&[b; 32]).unwrap()
    }

    fn verifier() -> Verifier {
        Verifier {
            chain_id: 31337,
            contract: CONTRACT,
            node: NODE,
            max_lifetime: 30 * 86400,
        }
    }

    /// The worked example of doc/protocol.md; the signature is `cast wallet sign`'s.
    #[test]
    fn protocol_doc_worked_example() {
        let member = PrivateKey::from_bytes(
            &hex::decode_array("5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a")
                .unwrap(),
        )
        .unwrap();
        let contract: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse()
            .unwrap();
        let text = message(31337, contract, NodeScope::Any, 1_800_000_000);
        assert_eq!(text.len(), 115);
        assert_eq!(
            hex::encode(&personal::message_hash(text.as_bytes())),
            "b8a63dcff3b8c78f5d74df51a0f9f53227d5966bdb253026e52359e604f07fbc"
        );
        let (user, pass) = sign(&member, 31337, contract, NodeScope::Any, 1_800_000_000);
        assert_eq!(user, "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
        assert_eq!(
            pass,
            "1800000000:*:cf79af54ba6855f4f88d24146568fa16ead0b7901b8904e0ff694081bfdbdd95\
             0322fef784d3bb534303d2838d33c456d6cb764880f62049e5c51a729dc0568f1b"
        );
        let node: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
            .parse()
            .unwrap();
        let (_, scoped) = sign(
            &member,
            31337,
            contract,
            NodeScope::One(node),
            1_800_000_000,
        );
        assert_eq!(
            scoped,
            "1800000000:0x70997970c51812dc3a010c7d01b50e0d17dc79c8:\
             b6b9ef297861fc91d1104c8b6c6539742a8398cc4c7a105c12fc61ecf72268c8\
             33c58c150639ec110711a262a032c550a1e02e6fdb997a2a3a0f6152076738991c"
        );
    }

    #[test]
    fn message_text_is_exact() {
        assert_eq!(
            message(8453, CONTRACT, NodeScope::Any, 1_700_000_000),
            "aqueduct proxy access\nchain: 8453\ncontract: 0x1111111111111111111111111111111111111111\nnode: *\nexpires: 1700000000"
        );
        assert!(message(1, CONTRACT, NodeScope::One(NODE), 5)
            .contains("\nnode: 0x2222222222222222222222222222222222222222\n"));
    }

    #[test]
    fn signed_credentials_verify_for_any_and_this_node() {
        let k = key(7);
        for scope in [NodeScope::Any, NodeScope::One(NODE)] {
            let (user, pass) = sign(&k, 31337, CONTRACT, scope, 1_000_100);
            assert_eq!(
                verifier().check(user.as_bytes(), pass.as_bytes(), 1_000_000),
                Ok(k.address())
            );
            // Upper-case username and a 0x-prefixed signature are accepted too.
            let upper = format!("0x{}", user[2..].to_uppercase());
            let (head, sig) = pass.rsplit_once(':').unwrap();
            let pass0x = format!("{head}:0x{sig}");
            assert_eq!(
                verifier().check(upper.as_bytes(), pass0x.as_bytes(), 1_000_000),
                Ok(k.address())
            );
        }
    }

    #[test]
    fn v_as_zero_or_one_is_accepted() {
        let k = key(9);
        let (user, pass) = sign(&k, 31337, CONTRACT, NodeScope::Any, 2_000);
        let v = &pass[pass.len() - 2..];
        let v01 = if v == "1b" { "00" } else { "01" };
        let pass01 = format!("{}{v01}", &pass[..pass.len() - 2]);
        assert_eq!(
            verifier().check(user.as_bytes(), pass01.as_bytes(), 1_000),
            Ok(k.address())
        );
    }

    #[test]
    fn each_check_fails_with_its_own_reason() {
        let k = key(7);
        let v = verifier();
        let (user, pass) = sign(&k, 31337, CONTRACT, NodeScope::One(NODE), 5_000);
        assert!(matches!(
            v.check(user.as_bytes(), pass.as_bytes(), 5_000),
            Err(CredentialError::Expired { .. })
        ));
        let mut short = v.clone();
        short.max_lifetime = 100;
        assert!(matches!(
            short.check(user.as_bytes(), pass.as_bytes(), 1_000),
            Err(CredentialError::LifetimeTooLong { .. })
        ));
        let mut other = v.clone();
        other.node = Address([0x33; 20]);
        assert_eq!(
            other.check(user.as_bytes(), pass.as_bytes(), 1_000),
            Err(CredentialError::WrongNode { scoped_to: NODE })
        );
        // Another member's username with this signature.
        let someone = key(8).address().to_lower_hex();
        assert!(matches!(
            v.check(someone.as_bytes(), pass.as_bytes(), 1_000),
            Err(CredentialError::WrongSigner { .. })
        ));
        // Same signature, another chain or contract: the text differs, so the signer does.
        let mut chain = v.clone();
        chain.chain_id = 1;
        assert!(matches!(
            chain.check(user.as_bytes(), pass.as_bytes(), 1_000),
            Err(CredentialError::WrongSigner { .. })
        ));
        // A tampered expiry (later) no longer matches the signed text.
        let tampered = pass.replacen("5000:", "5001:", 1);
        assert!(matches!(
            v.check(user.as_bytes(), tampered.as_bytes(), 1_000),
            Err(CredentialError::WrongSigner { .. })
        ));
    }

    /// Exactly the forms of doc/protocol.md: each looser spelling of a good credential
    /// is refused, naming the part that is wrong.
    #[test]
    fn only_the_documented_forms_are_accepted() {
        let k = key(7);
        // A node address with letters in it, so its case can be wrong.
        let this_node = Address([0xab; 20]);
        let v = Verifier {
            node: this_node,
            ..verifier()
        };
        let (user, pass) = sign(&k, 31337, CONTRACT, NodeScope::One(this_node), 5_000);
        let digits = &user[2..];
        let (head, sig) = pass.rsplit_once(':').unwrap();
        let (expires, node) = head.split_once(':').unwrap();
        let checksummed = k.address().to_string();
        assert_ne!(checksummed, user, "the checksummed form is mixed case");

        let accepted = [
            (user.clone(), pass.clone()),
            (format!("0x{}", digits.to_uppercase()), pass.clone()),
            (checksummed, pass.clone()),
            (user.clone(), format!("{head}:0x{sig}")),
            (user.clone(), format!("{head}:{}", sig.to_uppercase())),
            (
                user.clone(),
                format!("{expires}:0x{}:{sig}", node[2..].to_uppercase()),
            ),
        ];
        for (u, p) in &accepted {
            assert_eq!(
                v.check(u.as_bytes(), p.as_bytes(), 1_000),
                Ok(k.address()),
                "{u} {p}"
            );
        }

        for u in [
            format!("0X{digits}"),
            format!("0x0x{}", &digits[2..]),
            format!(" 0x{}", &digits[1..]),
            format!("0x{}g", &digits[1..]),
        ] {
            assert_eq!(
                v.check(u.as_bytes(), pass.as_bytes(), 1_000),
                Err(CredentialError::BadUsername),
                "{u}"
            );
        }

        let refused: [(String, &str); 11] = [
            (format!("0{pass}"), "expiry has leading zeros"),
            (format!("00{pass}"), "expiry has leading zeros"),
            (format!("+{pass}"), "expiry is not a decimal unix time"),
            (format!(" {pass}"), "expiry is not a decimal unix time"),
            (format!("{expires}:0X{}:{sig}", &node[2..]), "node is not *"),
            (
                format!("{expires}:0x0x{}:{sig}", &node[4..]),
                "node is not *",
            ),
            (
                format!("{expires}:0xA{}:{sig}", &node[3..]),
                "node is not *",
            ),
            (format!("{head}:0x0x{sig}"), "signature is not 130"),
            (format!("{head}:0X{sig}"), "signature is not 130"),
            (
                format!("{head}:{}{}", &sig[..64], sig[64..].to_uppercase()),
                "signature is not 130",
            ),
            (format!("{pass}\n"), "signature is not 130"),
        ];
        for (p, reason) in &refused {
            match v.check(user.as_bytes(), p.as_bytes(), 1_000) {
                Err(e @ CredentialError::Malformed(_)) => {
                    assert!(e.to_string().contains(reason), "{p}: {e}");
                    assert!(!e.to_string().contains(sig), "the reason never repeats it");
                }
                other => panic!("{p} was not refused as malformed: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_input_is_refused_without_panicking() {
        let v = verifier();
        let user = key(7).address().to_lower_hex();
        let sig = "ab".repeat(65);
        for (u, p) in [
            ("0x12", format!("1:*:{sig}")),
            (
                "not an address at all, not an address a",
                format!("1:*:{sig}"),
            ),
        ] {
            assert_eq!(
                v.check(u.as_bytes(), p.as_bytes(), 0),
                Err(CredentialError::BadUsername)
            );
        }
        for p in [
            String::new(),
            "::".into(),
            format!("1:*:{sig}:extra"),
            format!("-1:*:{sig}"),
            format!("99999999999999999999999:*:{sig}"),
            format!("1:node:{sig}"),
            format!("1:*:{}", &sig[2..]),
            format!("1:*:{}zz", &sig[2..]),
            "1:*:".to_string() + &"0".repeat(400),
        ] {
            assert!(
                matches!(
                    v.check(user.as_bytes(), p.as_bytes(), 0),
                    Err(CredentialError::Malformed(_))
                ),
                "{p}"
            );
        }
        // A well-formed but invalid signature (v = 5).
        let bad_v = format!("{}05", &sig[..128]);
        assert!(matches!(
            v.check(user.as_bytes(), format!("9:*:{bad_v}").as_bytes(), 0),
            Err(CredentialError::BadSignature(_))
        ));
        assert!(matches!(
            v.check(user.as_bytes(), &[0xff, 0xfe], 0),
            Err(CredentialError::Malformed(_))
        ));
    }
}
