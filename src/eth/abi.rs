//! The Solidity ABI, as far as the Aqueduct contract needs it: `address`, `uint<N>`
//! (held as `u128`), `bool`, `bytes<N>`, `string`, `bytes`, dynamic arrays and tuples of
//! those; function selectors, event topics and custom-error selectors from signatures.
//!
//! Decoding never trusts the input: every offset and length is checked against the
//! data before it is used, and a `uint256` above `u128::MAX` is an error, not a wrap.

use super::{keccak256, Address};
use std::fmt;

/// A type, as far as encoding and decoding need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Address,
    /// `uint8` .. `uint256`; the width is checked on decode.
    Uint(u16),
    Bool,
    /// `bytes1` .. `bytes32`, left-aligned in their word.
    FixedBytes(u8),
    String,
    Bytes,
    Array(Box<Kind>),
    Tuple(Vec<Kind>),
}

/// A decoded or to-be-encoded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Address(Address),
    Uint(u128),
    Bool(bool),
    FixedBytes(Vec<u8>),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Tuple(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbiError {
    /// The data ends before a word, offset or length it promises.
    Truncated { at: usize },
    /// An offset points outside the data or before the heads it belongs to.
    BadOffset { at: usize },
    /// A length cannot fit in the remaining data.
    BadLength { at: usize },
    /// A `uint` does not fit in its declared width or in 128 bits.
    Overflow { at: usize },
    /// A `bool` word other than 0 or 1, an address word with high bytes set, ...
    BadValue { at: usize, what: &'static str },
    /// A `string` that is not UTF-8.
    NotUtf8 { at: usize },
    /// The value given for encoding does not match its expected kind, or a type name
    /// this encoder does not support.
    Unsupported(String),
}

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AbiError::Truncated { at } => write!(f, "ABI data truncated at byte {at}"),
            AbiError::BadOffset { at } => write!(f, "ABI offset out of bounds at byte {at}"),
            AbiError::BadLength { at } => write!(f, "ABI length out of bounds at byte {at}"),
            AbiError::Overflow { at } => write!(f, "ABI integer too large at byte {at}"),
            AbiError::BadValue { at, what } => write!(f, "invalid ABI {what} at byte {at}"),
            AbiError::NotUtf8 { at } => write!(f, "ABI string at byte {at} is not UTF-8"),
            AbiError::Unsupported(what) => write!(f, "unsupported ABI type: {what}"),
        }
    }
}

impl std::error::Error for AbiError {}

/// The first four bytes of keccak256 of a canonical signature such as
/// `subscribe(address,uint256)`: function and custom-error selectors.
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// keccak256 of a canonical event signature: the log's first topic.
pub fn event_topic(signature: &str) -> [u8; 32] {
    keccak256(signature.as_bytes())
}

impl Kind {
    /// Parses a canonical type name as found in an ABI JSON `type` field. Tuples come
    /// from [`Kind::from_abi_param`], which sees their components.
    pub fn parse(name: &str) -> Result<Kind, AbiError> {
        if let Some(inner) = name.strip_suffix("[]") {
            return Ok(Kind::Array(Box::new(Kind::parse(inner)?)));
        }
        let unsupported = || AbiError::Unsupported(name.to_string());
        Ok(match name {
            "address" => Kind::Address,
            "bool" => Kind::Bool,
            "string" => Kind::String,
            "bytes" => Kind::Bytes,
            "uint" => Kind::Uint(256),
            _ => {
                if let Some(bits) = name.strip_prefix("uint") {
                    let bits: u16 = bits.parse().map_err(|_| unsupported())?;
                    if bits == 0 || bits > 256 || bits % 8 != 0 {
                        return Err(unsupported());
                    }
                    Kind::Uint(bits)
                } else if let Some(n) = name.strip_prefix("bytes") {
                    let n: u8 = n.parse().map_err(|_| unsupported())?;
                    if n == 0 || n > 32 {
                        return Err(unsupported());
                    }
                    Kind::FixedBytes(n)
                } else {
                    return Err(unsupported());
                }
            }
        })
    }

    /// Reads one entry of an ABI JSON `inputs`/`outputs` list (`type` and, for
    /// tuples, `components`).
    pub fn from_abi_param(param: &serde_json::Value) -> Result<Kind, AbiError> {
        let ty = param
            .get("type")
            .and_then(|t| t.as_str())
            .ok_or_else(|| AbiError::Unsupported("ABI parameter without a type".into()))?;
        if let Some(rest) = ty.strip_prefix("tuple") {
            let comps = param
                .get("components")
                .and_then(|c| c.as_array())
                .ok_or_else(|| AbiError::Unsupported("tuple without components".into()))?;
            let mut kind = Kind::Tuple(
                comps
                    .iter()
                    .map(Kind::from_abi_param)
                    .collect::<Result<_, _>>()?,
            );
            let mut rest = rest;
            while let Some(r) = rest.strip_prefix("[]") {
                kind = Kind::Array(Box::new(kind));
                rest = r;
            }
            if !rest.is_empty() {
                return Err(AbiError::Unsupported(ty.to_string()));
            }
            return Ok(kind);
        }
        Kind::parse(ty)
    }

    /// The canonical name used in signatures: `uint256`, `(address,string)[]`, ...
    pub fn canonical(&self) -> String {
        match self {
            Kind::Address => "address".into(),
            Kind::Uint(bits) => format!("uint{bits}"),
            Kind::Bool => "bool".into(),
            Kind::FixedBytes(n) => format!("bytes{n}"),
            Kind::String => "string".into(),
            Kind::Bytes => "bytes".into(),
            Kind::Array(inner) => format!("{}[]", inner.canonical()),
            Kind::Tuple(items) => format!(
                "({})",
                items
                    .iter()
                    .map(Kind::canonical)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    fn is_dynamic(&self) -> bool {
        match self {
            Kind::String | Kind::Bytes | Kind::Array(_) => true,
            Kind::Tuple(items) => items.iter().any(Kind::is_dynamic),
            _ => false,
        }
    }

    /// Bytes the value takes in its parent's head section.
    fn head_size(&self) -> usize {
        match self {
            Kind::Tuple(items) if !self.is_dynamic() => items.iter().map(Kind::head_size).sum(),
            _ => 32,
        }
    }
}

/// The canonical signature `name(type,type,...)` of a function, event or error.
pub fn signature(name: &str, inputs: &[Kind]) -> String {
    let types: Vec<String> = inputs.iter().map(Kind::canonical).collect();
    format!("{name}({})", types.join(","))
}

impl Value {
    fn is_dynamic(&self) -> bool {
        match self {
            Value::String(_) | Value::Bytes(_) | Value::Array(_) => true,
            Value::Tuple(items) => items.iter().any(Value::is_dynamic),
            _ => false,
        }
    }

    fn head_size(&self) -> usize {
        match self {
            Value::Tuple(items) if !self.is_dynamic() => items.iter().map(Value::head_size).sum(),
            _ => 32,
        }
    }

    pub fn as_address(&self) -> Option<Address> {
        match self {
            Value::Address(a) => Some(*a),
            _ => None,
        }
    }
    pub fn as_uint(&self) -> Option<u128> {
        match self {
            Value::Uint(v) => Some(*v),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// How revert arguments and CLI output show a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Address(a) => write!(f, "{a}"),
            Value::Uint(v) => write!(f, "{v}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::FixedBytes(b) | Value::Bytes(b) => {
                write!(f, "{}", super::hex::encode_prefixed(b))
            }
            Value::String(s) => write!(f, "{s:?}"),
            Value::Array(items) | Value::Tuple(items) => {
                let open_close = if matches!(self, Value::Array(_)) {
                    ("[", "]")
                } else {
                    ("(", ")")
                };
                f.write_str(open_close.0)?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(open_close.1)
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------

fn uint_word(v: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&v.to_be_bytes());
    w
}

fn padded(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(bytes);
    let rem = bytes.len() % 32;
    if rem != 0 {
        out.resize(out.len() + 32 - rem, 0);
    }
}

/// Encodes `values` as the ABI tuple of a call's arguments or a return value.
pub fn encode(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_tuple(values, &mut out);
    out
}

/// `selector ++ encode(args)`: the calldata of a function call.
pub fn encode_call(selector: [u8; 4], args: &[Value]) -> Vec<u8> {
    let mut out = selector.to_vec();
    encode_tuple(args, &mut out);
    out
}

fn encode_tuple(values: &[Value], out: &mut Vec<u8>) {
    let head_len: usize = values.iter().map(Value::head_size).sum();
    let start = out.len();
    let mut tail = Vec::new();
    for v in values {
        if v.is_dynamic() {
            out.extend_from_slice(&uint_word((head_len + tail.len()) as u128));
            encode_value(v, &mut tail);
        } else {
            encode_value(v, out);
        }
    }
    debug_assert_eq!(out.len() - start, head_len);
    out.extend_from_slice(&tail);
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Address(a) => {
            out.extend_from_slice(&[0u8; 12]);
            out.extend_from_slice(&a.0);
        }
        Value::Uint(n) => out.extend_from_slice(&uint_word(*n)),
        Value::Bool(b) => out.extend_from_slice(&uint_word(*b as u128)),
        Value::FixedBytes(b) => {
            let mut w = [0u8; 32];
            let n = b.len().min(32);
            w[..n].copy_from_slice(&b[..n]);
            out.extend_from_slice(&w);
        }
        Value::String(s) => {
            out.extend_from_slice(&uint_word(s.len() as u128));
            padded(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.extend_from_slice(&uint_word(b.len() as u128));
            padded(b, out);
        }
        Value::Array(items) => {
            out.extend_from_slice(&uint_word(items.len() as u128));
            encode_tuple(items, out);
        }
        Value::Tuple(items) => encode_tuple(items, out),
    }
}

// ---------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------

/// Decodes `data` as the ABI tuple of `kinds` (a return value, event data, error args).
pub fn decode(kinds: &[Kind], data: &[u8]) -> Result<Vec<Value>, AbiError> {
    decode_tuple(kinds, data, 0)
}

/// Reads the 32-byte word at `at`.
fn word(data: &[u8], at: usize) -> Result<&[u8; 32], AbiError> {
    at.checked_add(32)
        .and_then(|end| data.get(at..end))
        .and_then(|w| w.try_into().ok())
        .ok_or(AbiError::Truncated { at })
}

/// A word that must hold a small number: an offset or a length.
fn word_usize(data: &[u8], at: usize, err: AbiError) -> Result<usize, AbiError> {
    let w = word(data, at)?;
    if w[..24].iter().any(|&b| b != 0) {
        return Err(err);
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&w[24..]);
    usize::try_from(u64::from_be_bytes(b)).map_err(|_| err)
}

/// `base` is the start of the tuple's encoding in `data`; offsets are relative to it.
fn decode_tuple(kinds: &[Kind], data: &[u8], base: usize) -> Result<Vec<Value>, AbiError> {
    let heads_len: usize = kinds.iter().map(Kind::head_size).sum();
    let heads_end = base
        .checked_add(heads_len)
        .ok_or(AbiError::Truncated { at: base })?;
    if heads_end > data.len() {
        return Err(AbiError::Truncated { at: data.len() });
    }
    let mut at = base;
    let mut out = Vec::with_capacity(kinds.len());
    for kind in kinds {
        if kind.is_dynamic() {
            let offset = word_usize(data, at, AbiError::BadOffset { at })?;
            let target = base
                .checked_add(offset)
                .filter(|&t| t >= heads_end && t < data.len())
                .ok_or(AbiError::BadOffset { at })?;
            out.push(decode_value(kind, data, target)?);
        } else {
            out.push(decode_value(kind, data, at)?);
        }
        at += kind.head_size();
    }
    Ok(out)
}

fn decode_value(kind: &Kind, data: &[u8], at: usize) -> Result<Value, AbiError> {
    match kind {
        Kind::Address => {
            let w = word(data, at)?;
            if w[..12].iter().any(|&b| b != 0) {
                return Err(AbiError::BadValue {
                    at,
                    what: "address",
                });
            }
            let mut a = [0u8; 20];
            a.copy_from_slice(&w[12..]);
            Ok(Value::Address(Address(a)))
        }
        Kind::Uint(bits) => {
            let w = word(data, at)?;
            let zero_bytes = 32 - (*bits as usize / 8).min(16);
            if w[..zero_bytes].iter().any(|&b| b != 0) {
                return Err(AbiError::Overflow { at });
            }
            let mut b = [0u8; 16];
            b.copy_from_slice(&w[16..]);
            Ok(Value::Uint(u128::from_be_bytes(b)))
        }
        Kind::Bool => match word(data, at)? {
            w if w[..31].iter().all(|&b| b == 0) && w[31] <= 1 => Ok(Value::Bool(w[31] == 1)),
            _ => Err(AbiError::BadValue { at, what: "bool" }),
        },
        Kind::FixedBytes(n) => {
            let w = word(data, at)?;
            let n = (*n as usize).min(32);
            if w[n..].iter().any(|&b| b != 0) {
                return Err(AbiError::BadValue {
                    at,
                    what: "fixed bytes",
                });
            }
            Ok(Value::FixedBytes(w[..n].to_vec()))
        }
        Kind::String | Kind::Bytes => {
            let len = word_usize(data, at, AbiError::BadLength { at })?;
            let start = at + 32;
            let bytes = start
                .checked_add(len)
                .and_then(|end| data.get(start..end))
                .ok_or(AbiError::BadLength { at })?;
            if *kind == Kind::Bytes {
                Ok(Value::Bytes(bytes.to_vec()))
            } else {
                String::from_utf8(bytes.to_vec())
                    .map(Value::String)
                    .map_err(|_| AbiError::NotUtf8 { at })
            }
        }
        Kind::Array(inner) => {
            let len = word_usize(data, at, AbiError::BadLength { at })?;
            let start = at + 32;
            // Every element takes at least one word of head: a length that cannot fit is
            // rejected before anything is allocated for it.
            let fits = len
                .checked_mul(inner.head_size().max(32))
                .and_then(|n| n.checked_add(start))
                .is_some_and(|end| end <= data.len());
            if !fits {
                return Err(AbiError::BadLength { at });
            }
            let kinds = vec![(**inner).clone(); len];
            decode_tuple(&kinds, data, start).map(Value::Array)
        }
        Kind::Tuple(items) => decode_tuple(items, data, at).map(Value::Tuple),
    }
}

/// Decodes a log against an event's parameters (`(kind, indexed)` in declaration
/// order). `topics` excludes the signature topic. Indexed dynamic values are stored as
/// their keccak256 hash and come back as `FixedBytes` of 32.
pub fn decode_log(
    params: &[(Kind, bool)],
    topics: &[[u8; 32]],
    data: &[u8],
) -> Result<Vec<Value>, AbiError> {
    let indexed = params.iter().filter(|(_, i)| *i).count();
    if topics.len() != indexed {
        return Err(AbiError::BadValue {
            at: 0,
            what: "topic count",
        });
    }
    let data_kinds: Vec<Kind> = params
        .iter()
        .filter(|(_, i)| !*i)
        .map(|(k, _)| k.clone())
        .collect();
    let mut data_values = decode(&data_kinds, data)?.into_iter();
    let mut topics = topics.iter();
    let mut out = Vec::with_capacity(params.len());
    for (kind, is_indexed) in params {
        let v = if *is_indexed {
            let t = topics.next().ok_or(AbiError::BadValue {
                at: 0,
                what: "topic count",
            })?;
            if kind.is_dynamic() || matches!(kind, Kind::Tuple(_)) {
                Value::FixedBytes(t.to_vec())
            } else {
                decode_value(kind, t, 0)?
            }
        } else {
            data_values
                .next()
                .ok_or(AbiError::Truncated { at: data.len() })?
        };
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::hex;

    fn addr(b: u8) -> Address {
        Address([b; 20])
    }

    #[test]
    fn selectors_of_known_signatures() {
        assert_eq!(
            hex::encode(&selector("transfer(address,uint256)")),
            "a9059cbb"
        );
        assert_eq!(
            hex::encode(&selector("approve(address,uint256)")),
            "095ea7b3"
        );
        assert_eq!(hex::encode(&selector("Error(string)")), "08c379a0");
        assert_eq!(
            hex::encode(&event_topic("Transfer(address,address,uint256)")),
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        );
    }

    #[test]
    fn signature_from_kinds() {
        let kinds = [
            Kind::Address,
            Kind::Array(Box::new(Kind::Tuple(vec![Kind::Uint(64), Kind::String]))),
        ];
        assert_eq!(signature("f", &kinds), "f(address,(uint64,string)[])");
        assert_eq!(Kind::parse("uint64[]").unwrap().canonical(), "uint64[]");
        assert!(Kind::parse("int256").is_err());
        assert!(Kind::parse("uint7").is_err());
    }

    // The example in the Solidity ABI specification: f(uint256,uint32[],bytes10,bytes)
    // with (0x123, [0x456, 0x789], "1234567890", "Hello, world!"), minus bytes10 (same
    // layout as any static word) checked through FixedBytes.
    #[test]
    fn spec_example_encodes_and_decodes() {
        let values = vec![
            Value::Uint(0x123),
            Value::Array(vec![Value::Uint(0x456), Value::Uint(0x789)]),
            Value::FixedBytes(b"1234567890".to_vec()),
            Value::Bytes(b"Hello, world!".to_vec()),
        ];
        let enc = encode_call(selector("f(uint256,uint32[],bytes10,bytes)"), &values);
        let expected = "8be65246\
            0000000000000000000000000000000000000000000000000000000000000123\
            0000000000000000000000000000000000000000000000000000000000000080\
            3132333435363738393000000000000000000000000000000000000000000000\
            00000000000000000000000000000000000000000000000000000000000000e0\
            0000000000000000000000000000000000000000000000000000000000000002\
            0000000000000000000000000000000000000000000000000000000000000456\
            0000000000000000000000000000000000000000000000000000000000000789\
            000000000000000000000000000000000000000000000000000000000000000d\
            48656c6c6f2c20776f726c642100000000000000000000000000000000000000";
        assert_eq!(hex::encode(&enc), expected);
        let kinds = [
            Kind::Uint(256),
            Kind::Array(Box::new(Kind::Uint(32))),
            Kind::FixedBytes(10),
            Kind::Bytes,
        ];
        assert_eq!(decode(&kinds, &enc[4..]).unwrap(), values);
    }

    #[test]
    fn tuples_with_dynamic_members_round_trip() {
        let v = vec![
            Value::Tuple(vec![
                Value::Address(addr(7)),
                Value::String("node.example:1080".into()),
                Value::Bool(true),
            ]),
            Value::Tuple(vec![Value::Uint(5), Value::Bool(false)]),
            Value::Array(vec![
                Value::String("a".into()),
                Value::String(String::new()),
            ]),
        ];
        let kinds = [
            Kind::Tuple(vec![Kind::Address, Kind::String, Kind::Bool]),
            Kind::Tuple(vec![Kind::Uint(256), Kind::Bool]),
            Kind::Array(Box::new(Kind::String)),
        ];
        let enc = encode(&v);
        assert_eq!(decode(&kinds, &enc).unwrap(), v);
    }

    #[test]
    fn overflow_and_bad_words_are_errors() {
        let mut w = [0u8; 32];
        w[15] = 1; // 2^128
        assert_eq!(
            decode(&[Kind::Uint(256)], &w),
            Err(AbiError::Overflow { at: 0 })
        );
        let mut w = [0u8; 32];
        w[23] = 1; // 2^64 does not fit a uint64
        assert_eq!(
            decode(&[Kind::Uint(64)], &w),
            Err(AbiError::Overflow { at: 0 })
        );
        let mut w = [0u8; 32];
        w[31] = 2;
        assert!(decode(&[Kind::Bool], &w).is_err());
        w[31] = 0;
        w[0] = 1;
        assert!(decode(&[Kind::Address], &w).is_err());
    }

    #[test]
    fn hostile_offsets_and_lengths_are_errors() {
        // Offset past the end.
        let mut d = uint_word(0x1000).to_vec();
        assert!(matches!(
            decode(&[Kind::String], &d),
            Err(AbiError::BadOffset { .. })
        ));
        // Offset pointing into the heads.
        d = uint_word(0).to_vec();
        d.extend_from_slice(&uint_word(0));
        assert!(matches!(
            decode(&[Kind::String], &d),
            Err(AbiError::BadOffset { .. })
        ));
        // Huge array length.
        d = uint_word(32).to_vec();
        d.extend_from_slice(&[0xff; 32]);
        assert!(matches!(
            decode(&[Kind::Array(Box::new(Kind::Uint(256)))], &d),
            Err(AbiError::BadLength { .. })
        ));
        // Array length that fits a u64 but not the data.
        d = uint_word(32).to_vec();
        d.extend_from_slice(&uint_word(1 << 40));
        assert!(matches!(
            decode(&[Kind::Array(Box::new(Kind::String))], &d),
            Err(AbiError::BadLength { .. })
        ));
        // String longer than the data.
        d = uint_word(32).to_vec();
        d.extend_from_slice(&uint_word(100));
        assert!(matches!(
            decode(&[Kind::String], &d),
            Err(AbiError::BadLength { .. })
        ));
        // Invalid UTF-8.
        let mut d = encode(&[Value::Bytes(vec![0xff, 0xfe])]);
        assert!(matches!(
            decode(&[Kind::String], &d),
            Err(AbiError::NotUtf8 { .. })
        ));
        d.truncate(40);
        assert!(decode(&[Kind::Bytes], &d).is_err());
        assert!(decode(&[Kind::Uint(256)], &[0u8; 31]).is_err());
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let v = vec![
            Value::Array(vec![Value::Tuple(vec![
                Value::Address(addr(1)),
                Value::String("x".repeat(40)),
                Value::Bool(true),
            ])]),
            Value::Uint(9),
        ];
        let kinds = [
            Kind::Array(Box::new(Kind::Tuple(vec![
                Kind::Address,
                Kind::String,
                Kind::Bool,
            ]))),
            Kind::Uint(256),
        ];
        let enc = encode(&v);
        // The last 24 bytes are the string's zero padding, which decoding does not need.
        for n in 0..enc.len() - 24 {
            assert!(decode(&kinds, &enc[..n]).is_err(), "prefix {n}");
        }
        for i in 0..enc.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut c = enc.clone();
                c[i] ^= x;
                let _ = decode(&kinds, &c);
            }
        }
    }

    #[test]
    fn log_with_indexed_and_data_fields() {
        // Subscribed(address indexed member, address indexed payer, uint256 periods,
        //            uint256 amount, uint64 until)
        let params = [
            (Kind::Address, true),
            (Kind::Address, true),
            (Kind::Uint(256), false),
            (Kind::Uint(256), false),
            (Kind::Uint(64), false),
        ];
        let mut t1 = [0u8; 32];
        t1[12..].copy_from_slice(&addr(1).0);
        let mut t2 = [0u8; 32];
        t2[12..].copy_from_slice(&addr(2).0);
        let data = encode(&[
            Value::Uint(3),
            Value::Uint(30_000_000),
            Value::Uint(1_700_000_000),
        ]);
        let got = decode_log(&params, &[t1, t2], &data).unwrap();
        assert_eq!(got[0], Value::Address(addr(1)));
        assert_eq!(got[1], Value::Address(addr(2)));
        assert_eq!(got[4], Value::Uint(1_700_000_000));
        assert!(decode_log(&params, &[t1], &data).is_err());
    }
}
