//! The DNS message codec (RFC 1035 §4) for a stub resolver: A and AAAA queries out, answers in.
//!
//! Pure functions over byte slices. Every length and offset read from a message is checked
//! before use, compression pointers may only point backwards (so they cannot loop), and names
//! are bounded to 255 bytes: no input can make these functions panic or spin.
//!
//! ```text
//! Header (12 bytes)                 Question            Resource record
//! +----+-------+----+----+----+----+ +-------+----+-----+ +-------+----+-----+-----+-------+-------+
//! | ID | FLAGS | QD | AN | NS | AR | | QNAME | TY | CLS | | NAME  | TY | CLS | TTL | RDLEN | RDATA |
//! +----+-------+----+----+----+----+ +-------+----+-----+ +-------+----+-----+-----+-------+-------+
//!  2    2       2    2    2    2       var     2    2       var     2    2     4     2       RDLEN
//! FLAGS: QR(1) OPCODE(4) AA(1) TC(1) RD(1) RA(1) Z(3) RCODE(4)
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Addrs;

pub const HEADER_LEN: usize = 12;
/// Longest name in wire form, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
pub const MAX_LABEL_LEN: usize = 63;
/// Header, the longest name, type and class.
pub const MAX_QUERY_LEN: usize = HEADER_LEN + MAX_NAME_LEN + 4;
/// CNAME records followed from the question name before giving up on a chain.
pub const MAX_CNAME_HOPS: usize = 8;

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;

/// The two questions a lookup asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QType {
    A,
    Aaaa,
}

impl QType {
    pub fn code(self) -> u16 {
        match self {
            QType::A => TYPE_A,
            QType::Aaaa => TYPE_AAAA,
        }
    }
}

/// Why a name or message was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// Empty name, empty label, or a byte outside letters, digits, `-` and `_`.
    BadName,
    LabelTooLong,
    NameTooLong,
    /// The message ends before its own counts and lengths say it should.
    Truncated,
    /// A compression pointer that does not point strictly backwards.
    BadPointer,
    /// Label types 0x40 and 0x80 (RFC 6891 extended labels are not used in answers).
    BadLabelType,
    /// The QR bit is clear or the opcode is not QUERY.
    NotResponse,
    /// Not exactly one question.
    BadQuestionCount,
    /// An A record whose RDATA is not 4 bytes, AAAA not 16, or a CNAME overrunning its RDATA.
    BadRdata,
    /// A CNAME chain longer than [`MAX_CNAME_HOPS`] (or a loop).
    CnameChainTooLong,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::BadName => "invalid domain name",
            WireError::LabelTooLong => "label longer than 63 bytes",
            WireError::NameTooLong => "name longer than 255 bytes",
            WireError::Truncated => "message shorter than its lengths",
            WireError::BadPointer => "compression pointer not pointing backwards",
            WireError::BadLabelType => "unknown label type",
            WireError::NotResponse => "not a response to a standard query",
            WireError::BadQuestionCount => "not exactly one question",
            WireError::BadRdata => "record data of the wrong length",
            WireError::CnameChainTooLong => "CNAME chain too long",
        })
    }
}

impl std::error::Error for WireError {}

/// A domain name in wire form (length-prefixed labels, then the root label), ASCII letters
/// lowercased so equal names compare equal. At most 255 bytes, kept inline.
#[derive(Clone)]
pub struct Name {
    bytes: [u8; MAX_NAME_LEN],
    len: u8,
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_wire() == other.as_wire()
    }
}

impl Eq for Name {}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl fmt::Display for Name {
    /// Dotted form; bytes other than printable ASCII are shown as `\DDD` (RFC 1035 §5.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.as_wire();
        while let Some((&len, tail)) = rest.split_first() {
            if len == 0 {
                break;
            }
            let (label, tail) = tail.split_at(usize::from(len).min(tail.len()));
            for &b in label {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    write!(f, "{}", char::from(b))?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
            }
            f.write_str(".")?;
            rest = tail;
        }
        Ok(())
    }
}

impl Name {
    fn empty() -> Name {
        Name {
            bytes: [0; MAX_NAME_LEN],
            len: 0,
        }
    }

    /// Parses a dotted hostname; one trailing dot is allowed. Labels are 1..=63 bytes of ASCII
    /// letters, digits, `-` and `_` (the last for service names such as `_dmarc`).
    pub fn from_text(text: &str) -> Result<Name, WireError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(WireError::BadName);
        }
        let mut name = Name::empty();
        for label in text.split('.') {
            if label.is_empty() {
                return Err(WireError::BadName);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(WireError::LabelTooLong);
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(WireError::BadName);
            }
            name.push_label(label.as_bytes())?;
        }
        name.push_root()?;
        Ok(name)
    }

    /// The wire form, root label included.
    pub fn as_wire(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Appends a label, lowercased; room is kept for the root label.
    fn push_label(&mut self, label: &[u8]) -> Result<(), WireError> {
        let start = usize::from(self.len);
        let end = start + 1 + label.len();
        // `end` must leave one byte for the root label.
        let slot = self
            .bytes
            .get_mut(start..end)
            .filter(|_| end < MAX_NAME_LEN)
            .ok_or(WireError::NameTooLong)?;
        let (len_byte, dst) = slot.split_at_mut(1);
        len_byte[0] = label.len() as u8;
        for (d, s) in dst.iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        self.len = end as u8;
        Ok(())
    }

    fn push_root(&mut self) -> Result<(), WireError> {
        let slot = self
            .bytes
            .get_mut(usize::from(self.len))
            .ok_or(WireError::NameTooLong)?;
        *slot = 0;
        self.len += 1;
        Ok(())
    }
}

/// Writes a recursive query for `name` into `out`, returning its length.
pub fn encode_query(id: u16, name: &Name, qtype: QType, out: &mut [u8; MAX_QUERY_LEN]) -> usize {
    let wire = name.as_wire();
    let mut header = [0u8; HEADER_LEN];
    header[0..2].copy_from_slice(&id.to_be_bytes());
    header[2..4].copy_from_slice(&FLAG_RD.to_be_bytes());
    header[4..6].copy_from_slice(&1u16.to_be_bytes());
    let parts: [&[u8]; 4] = [
        &header,
        wire,
        &qtype.code().to_be_bytes(),
        &CLASS_IN.to_be_bytes(),
    ];
    let mut len = 0;
    for part in parts {
        // A Name is at most MAX_NAME_LEN bytes, so the parts always fit in MAX_QUERY_LEN.
        if let Some(dst) = out.get_mut(len..len + part.len()) {
            dst.copy_from_slice(part);
            len += part.len();
        }
    }
    len
}

/// The fixed header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn is_response(&self) -> bool {
        self.flags & FLAG_QR != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    pub fn truncated(&self) -> bool {
        self.flags & FLAG_TC != 0
    }

    pub fn rcode(&self) -> u8 {
        (self.flags & 0x000f) as u8
    }
}

fn read_u16(msg: &[u8], at: usize) -> Result<u16, WireError> {
    match msg.get(at..at.checked_add(2).ok_or(WireError::Truncated)?) {
        Some(&[a, b]) => Ok(u16::from_be_bytes([a, b])),
        _ => Err(WireError::Truncated),
    }
}

fn read_u32(msg: &[u8], at: usize) -> Result<u32, WireError> {
    let hi = read_u16(msg, at)?;
    let lo = read_u16(msg, at + 2)?;
    Ok(u32::from(hi) << 16 | u32::from(lo))
}

pub fn parse_header(msg: &[u8]) -> Result<Header, WireError> {
    Ok(Header {
        id: read_u16(msg, 0)?,
        flags: read_u16(msg, 2)?,
        qdcount: read_u16(msg, 4)?,
        ancount: read_u16(msg, 6)?,
        nscount: read_u16(msg, 8)?,
        arcount: read_u16(msg, 10)?,
    })
}

/// Reads the (possibly compressed) name at `start`; returns it and the offset just after its
/// in-place part. Each pointer must point before the label run that contains it, so the runs
/// visited start at strictly decreasing offsets and the walk ends.
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    let mut name = Name::empty();
    let mut pos = start;
    let mut run_start = start;
    let mut after: Option<usize> = None;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                name.push_root()?;
                return Ok((name, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(WireError::Truncated)?;
                name.push_label(label)?;
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let low = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(low);
                if target >= run_start {
                    return Err(WireError::BadPointer);
                }
                after.get_or_insert(pos + 2);
                run_start = target;
                pos = target;
            }
            _ => return Err(WireError::BadLabelType),
        }
    }
}

/// The fixed part of a resource record, with where its data lies.
struct Record {
    owner: Name,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: std::ops::Range<usize>,
}

fn read_record(msg: &[u8], at: usize) -> Result<(Record, usize), WireError> {
    let (owner, pos) = read_name(msg, at)?;
    let rtype = read_u16(msg, pos)?;
    let class = read_u16(msg, pos + 2)?;
    let ttl = read_u32(msg, pos + 4)?;
    let rdlen = usize::from(read_u16(msg, pos + 8)?);
    let start = pos + 10;
    let end = start + rdlen;
    if end > msg.len() {
        return Err(WireError::Truncated);
    }
    let record = Record {
        owner,
        rtype,
        class,
        // RFC 2181 §8: a TTL with the top bit set is treated as zero.
        ttl: if ttl > i32::MAX as u32 { 0 } else { ttl },
        rdata: start..end,
    };
    Ok((record, end))
}

/// What a response says about its question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub rcode: u8,
    /// TC: the server cut the message short. The records present are still used.
    pub truncated: bool,
    pub qname: Name,
    pub qtype: u16,
    pub qclass: u16,
    /// Addresses of type `qtype` owned by the end of the CNAME chain that starts at `qname`,
    /// in answer order (at most [`Addrs::CAPACITY`]).
    pub addrs: Addrs,
    /// The smallest TTL of the chain's CNAMEs and the addresses used; 0 if there are none.
    pub ttl: u32,
}

/// Parses a response to an A or AAAA query. The caller checks the ID, source and question.
///
/// Truncated (TC) responses: the complete records before the cut are used and the incomplete
/// one is ignored; without TC, a cut record is an error. Records of other classes and types
/// (DNAME, RRSIG, ...) are skipped; authority and additional sections are not read.
pub fn parse_response(msg: &[u8]) -> Result<Response, WireError> {
    let header = parse_header(msg)?;
    if !header.is_response() || header.opcode() != 0 {
        return Err(WireError::NotResponse);
    }
    if header.qdcount != 1 {
        return Err(WireError::BadQuestionCount);
    }
    let (qname, pos) = read_name(msg, HEADER_LEN)?;
    let qtype = read_u16(msg, pos)?;
    let qclass = read_u16(msg, pos + 2)?;
    let answers_at = pos + 4;

    // First pass: how many answer records are complete.
    let mut complete = 0usize;
    let mut at = answers_at;
    for _ in 0..header.ancount {
        match read_record(msg, at) {
            Ok((_, next)) => {
                complete += 1;
                at = next;
            }
            Err(WireError::Truncated) if header.truncated() => break,
            Err(e) => return Err(e),
        }
    }
    let records = || {
        let mut at = answers_at;
        (0..complete).map_while(move |_| {
            let (record, next) = read_record(msg, at).ok()?;
            at = next;
            Some(record)
        })
    };

    // Follow the CNAME chain from the question name, in whatever order the records come.
    let mut target = qname.clone();
    let mut ttl = u32::MAX;
    let mut hops = 0;
    while let Some(cname) =
        records().find(|r| r.class == CLASS_IN && r.rtype == TYPE_CNAME && r.owner == target)
    {
        if hops == MAX_CNAME_HOPS {
            return Err(WireError::CnameChainTooLong);
        }
        hops += 1;
        let (next, end) = read_name(msg, cname.rdata.start)?;
        if end != cname.rdata.end {
            return Err(WireError::BadRdata);
        }
        target = next;
        ttl = ttl.min(cname.ttl);
    }

    let mut addrs = Addrs::new();
    for r in records().filter(|r| r.class == CLASS_IN && r.rtype == qtype && r.owner == target) {
        let rdata = msg.get(r.rdata.clone()).ok_or(WireError::Truncated)?;
        let ip = match (qtype, rdata.len()) {
            (TYPE_A, 4) => {
                let mut b = [0u8; 4];
                b.copy_from_slice(rdata);
                IpAddr::V4(Ipv4Addr::from(b))
            }
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                IpAddr::V6(Ipv6Addr::from(b))
            }
            (TYPE_A | TYPE_AAAA, _) => return Err(WireError::BadRdata),
            _ => continue,
        };
        if addrs.push(ip) {
            ttl = ttl.min(r.ttl);
        }
    }
    if addrs.is_empty() {
        ttl = 0;
    }
    Ok(Response {
        id: header.id,
        rcode: header.rcode(),
        truncated: header.truncated(),
        qname,
        qtype,
        qclass,
        addrs,
        ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response as a recursive resolver sends it for `www.example.com A`: the answer is a
    /// CNAME to example.com (compressed into the question) and example.com's A record.
    const WWW_EXAMPLE: &[u8] = &[
        0xbe, 0xef, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, // header
        3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0,
        0x00, 0x01, 0x00, 0x01, // question: A IN
        0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x02, 0xc0, 0x10, 0xc0,
        0x10, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 93, 184, 216, 34,
    ];

    fn name(s: &str) -> Name {
        Name::from_text(s).expect("test name")
    }

    fn ips(r: &Response) -> Vec<IpAddr> {
        r.addrs.iter().collect()
    }

    /// Header, question `q` (type `qtype`), then `answers` already encoded.
    fn message(flags: u16, q: &str, qtype: u16, ancount: u16, answers: &[u8]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34];
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m.extend_from_slice(&ancount.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(name(q).as_wire());
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(answers);
        m
    }

    fn record(owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = owner.to_vec();
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    const QNAME_PTR: &[u8] = &[0xc0, 0x0c];

    #[test]
    fn encodes_a_recursive_query() {
        let mut out = [0u8; MAX_QUERY_LEN];
        let len = encode_query(0x1234, &name("Example.COM."), QType::Aaaa, &mut out);
        let want: &[u8] = &[
            0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l',
            b'e', 3, b'c', b'o', b'm', 0, 0, 28, 0, 1,
        ];
        assert_eq!(&out[..len], want);
        // The query parses back as a message (not as a response).
        assert_eq!(parse_response(&out[..len]), Err(WireError::NotResponse));
        let h = parse_header(&out[..len]).unwrap();
        assert_eq!((h.id, h.qdcount, h.ancount), (0x1234, 1, 0));
    }

    #[test]
    fn longest_name_fits_the_query_buffer() {
        let label = "a".repeat(63);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        let n = name(&longest);
        assert_eq!(n.as_wire().len(), MAX_NAME_LEN);
        let mut out = [0u8; MAX_QUERY_LEN];
        assert_eq!(encode_query(1, &n, QType::A, &mut out), MAX_QUERY_LEN);
    }

    #[test]
    fn name_validation() {
        let l63 = "a".repeat(63);
        assert!(Name::from_text(&l63).is_ok());
        assert_eq!(
            Name::from_text(&"a".repeat(64)),
            Err(WireError::LabelTooLong)
        );
        let too_long = format!("{l63}.{l63}.{l63}.{}", "b".repeat(62));
        assert_eq!(Name::from_text(&too_long), Err(WireError::NameTooLong));
        for bad in [
            "",
            ".",
            "..",
            "a..b",
            ".a",
            "a b",
            "ex\u{e4}mple.com",
            "a/b",
            "a.b..",
        ] {
            assert_eq!(Name::from_text(bad), Err(WireError::BadName), "{bad:?}");
        }
        assert_eq!(
            name("_dmarc.Example-1.com").to_string(),
            "_dmarc.example-1.com."
        );
        assert_eq!(name("a.b."), name("A.B"));
    }

    #[test]
    fn parses_cname_chain_with_compression() {
        let r = parse_response(WWW_EXAMPLE).unwrap();
        assert_eq!(r.id, 0xbeef);
        assert_eq!(r.rcode, RCODE_NOERROR);
        assert!(!r.truncated);
        assert_eq!(r.qname, name("www.example.com"));
        assert_eq!((r.qtype, r.qclass), (TYPE_A, CLASS_IN));
        assert_eq!(ips(&r), vec![IpAddr::from([93, 184, 216, 34])]);
        assert_eq!(r.ttl, 300, "the smallest TTL along the chain");
    }

    #[test]
    fn every_prefix_of_a_response_is_an_error_not_a_panic() {
        for cut in 0..WWW_EXAMPLE.len() {
            assert!(parse_response(&WWW_EXAMPLE[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn corrupting_any_byte_never_panics() {
        for at in 0..WWW_EXAMPLE.len() {
            for value in [0x00, 0x01, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff] {
                let mut m = WWW_EXAMPLE.to_vec();
                m[at] = value;
                let _ = parse_response(&m);
                m[at] = WWW_EXAMPLE[at].wrapping_add(1);
                let _ = parse_response(&m);
            }
        }
        // Random messages with a plausible header, from a fixed xorshift sequence.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 96) as usize;
            let mut m: Vec<u8> = (0..len)
                .map(|i| (x.rotate_left(i as u32 * 5) as u8) & if i % 3 == 0 { 0xc3 } else { 0xff })
                .collect();
            if m.len() > 7 {
                m[2] = 0x81;
                m[4] = 0;
                m[5] = 1;
                m[6] = 0;
            }
            let _ = parse_response(&m);
        }
    }

    #[test]
    fn pointers_must_point_backwards() {
        // The question name is a pointer to itself.
        let mut m = message(0x8180, "a", TYPE_A, 0, &[]);
        m.truncate(HEADER_LEN);
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        // A label followed by a pointer back to that label: a loop.
        m.truncate(HEADER_LEN);
        m.extend_from_slice(&[1, b'a', 0xc0, 0x0c, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        // A forward pointer, and one far past the end.
        for ptr in [[0xc0, 0x20], [0xff, 0xff]] {
            m.truncate(HEADER_LEN);
            m.extend_from_slice(&ptr);
            m.extend_from_slice(&[0, 1, 0, 1]);
            assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        }
        // Reserved label types.
        for kind in [0x40, 0x80] {
            m.truncate(HEADER_LEN);
            m.extend_from_slice(&[kind, 0, 0, 1, 0, 1]);
            assert_eq!(parse_response(&m), Err(WireError::BadLabelType));
        }
    }

    #[test]
    fn compressed_names_are_bounded_to_255_bytes() {
        // Four 63-byte labels, each run pointing back to the previous one: 257 bytes in all.
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        let first = m.len();
        m.push(63);
        m.extend_from_slice(&[b'a'; 63]);
        m.push(0);
        let mut prev = first;
        for _ in 0..3 {
            let here = m.len();
            m.push(63);
            m.extend_from_slice(&[b'b'; 63]);
            m.extend_from_slice(&[0xc0 | (prev >> 8) as u8, prev as u8]);
            prev = here;
        }
        assert_eq!(read_name(&m, prev), Err(WireError::NameTooLong));
        let (three, after) = read_name(&m, prev - 66).unwrap();
        assert_eq!(three.as_wire().len(), 64 * 3 + 1);
        assert_eq!(after, prev);
    }

    #[test]
    fn header_counts_and_flags_are_checked() {
        // QR clear.
        let m = message(0x0180, "a.test", TYPE_A, 0, &[]);
        assert_eq!(parse_response(&m), Err(WireError::NotResponse));
        // Opcode 4 (NOTIFY).
        let m = message(0xa180, "a.test", TYPE_A, 0, &[]);
        assert_eq!(parse_response(&m), Err(WireError::NotResponse));
        // No question.
        let mut m = message(0x8180, "a.test", TYPE_A, 0, &[]);
        m[5] = 0;
        assert_eq!(parse_response(&m), Err(WireError::BadQuestionCount));
        // More answers announced than present.
        let a = record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 1]);
        let m = message(0x8180, "a.test", TYPE_A, 2, &a);
        assert_eq!(parse_response(&m), Err(WireError::Truncated));
    }

    #[test]
    fn rcodes_are_reported() {
        for rcode in [RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED] {
            let m = message(0x8180 | u16::from(rcode), "nx.test", TYPE_A, 0, &[]);
            let r = parse_response(&m).unwrap();
            assert_eq!(r.rcode, rcode);
            assert!(r.addrs.is_empty());
        }
    }

    #[test]
    fn aaaa_answers_and_ttl_minimum() {
        let mut answers = record(
            QNAME_PTR,
            TYPE_AAAA,
            120,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        answers.extend(record(
            QNAME_PTR,
            TYPE_AAAA,
            60,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        ));
        let m = message(0x8180, "v6.test", TYPE_AAAA, 2, &answers);
        let r = parse_response(&m).unwrap();
        let want: Vec<IpAddr> = vec![
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        ];
        assert_eq!(ips(&r), want);
        assert_eq!(r.ttl, 60);
    }

    #[test]
    fn ttls_with_the_top_bit_set_count_as_zero() {
        let a = record(QNAME_PTR, TYPE_A, 0x8000_0000, &[192, 0, 2, 1]);
        let r = parse_response(&message(0x8180, "a.test", TYPE_A, 1, &a)).unwrap();
        assert_eq!(r.ttl, 0);
    }

    #[test]
    fn wrong_rdata_lengths_are_rejected() {
        let a = record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 1, 5]);
        let m = message(0x8180, "a.test", TYPE_A, 1, &a);
        assert_eq!(parse_response(&m), Err(WireError::BadRdata));
        let aaaa = record(QNAME_PTR, TYPE_AAAA, 60, &[0; 4]);
        let m = message(0x8180, "a.test", TYPE_AAAA, 1, &aaaa);
        assert_eq!(parse_response(&m), Err(WireError::BadRdata));
        // A CNAME whose target runs past its RDATA.
        let mut c = record(QNAME_PTR, TYPE_CNAME, 60, &[1, b'b']);
        c.push(0);
        let m = message(0x8180, "a.test", TYPE_A, 1, &c);
        assert_eq!(parse_response(&m), Err(WireError::BadRdata));
    }

    #[test]
    fn cname_chain_in_any_order_and_other_owners_ignored() {
        // a.test -> b.test -> c.test; records listed backwards, plus a stray A for a.test
        // (invalid next to a CNAME, and not the chain's end) and one for another name.
        let mut answers = record(name("c.test").as_wire(), TYPE_A, 30, &[192, 0, 2, 3]);
        answers.extend(record(
            name("B.TEST").as_wire(),
            TYPE_CNAME,
            40,
            name("c.test").as_wire(),
        ));
        answers.extend(record(QNAME_PTR, TYPE_CNAME, 50, name("b.test").as_wire()));
        answers.extend(record(QNAME_PTR, TYPE_A, 50, &[192, 0, 2, 66]));
        answers.extend(record(
            name("x.test").as_wire(),
            TYPE_A,
            50,
            &[192, 0, 2, 99],
        ));
        let r = parse_response(&message(0x8180, "a.test", TYPE_A, 5, &answers)).unwrap();
        assert_eq!(ips(&r), vec![IpAddr::from([192, 0, 2, 3])]);
        assert_eq!(r.ttl, 30);
    }

    #[test]
    fn cname_loops_end() {
        let mut answers = record(QNAME_PTR, TYPE_CNAME, 50, name("b.test").as_wire());
        answers.extend(record(
            name("b.test").as_wire(),
            TYPE_CNAME,
            50,
            name("a.test").as_wire(),
        ));
        let m = message(0x8180, "a.test", TYPE_A, 2, &answers);
        assert_eq!(parse_response(&m), Err(WireError::CnameChainTooLong));
    }

    #[test]
    fn cname_without_target_records_has_no_addresses() {
        let c = record(QNAME_PTR, TYPE_CNAME, 50, name("elsewhere.test").as_wire());
        let r = parse_response(&message(0x8180, "a.test", TYPE_A, 1, &c)).unwrap();
        assert!(r.addrs.is_empty());
        assert_eq!(r.ttl, 0);
    }

    #[test]
    fn truncated_responses_keep_their_complete_records() {
        let mut answers = record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 1]);
        answers.extend(record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 2]));
        let full = message(0x8380, "a.test", TYPE_A, 2, &answers);
        // Cut inside the second record: TC set, so the first is used.
        for cut in full.len() - 14..full.len() {
            let r = parse_response(&full[..cut]).unwrap();
            assert!(r.truncated);
            assert_eq!(ips(&r), vec![IpAddr::from([192, 0, 2, 1])], "cut at {cut}");
        }
        let r = parse_response(&full).unwrap();
        assert_eq!(r.addrs.len(), 2);
        // A TC response with no answers at all parses, with no addresses.
        let empty = message(0x8380, "a.test", TYPE_A, 0, &[]);
        let r = parse_response(&empty).unwrap();
        assert!(r.truncated && r.addrs.is_empty());
    }

    #[test]
    fn records_of_other_types_and_classes_are_skipped() {
        let mut answers = record(QNAME_PTR, 46, 60, &[1, 2, 3]); // RRSIG-like
        let mut chaos = record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 9]);
        chaos[4] = 0; // class 3 (CH)
        chaos[5] = 3;
        answers.extend(chaos);
        answers.extend(record(QNAME_PTR, TYPE_A, 60, &[192, 0, 2, 1]));
        let r = parse_response(&message(0x8180, "a.test", TYPE_A, 3, &answers)).unwrap();
        assert_eq!(ips(&r), vec![IpAddr::from([192, 0, 2, 1])]);
    }

    #[test]
    fn names_display_escaped() {
        let msg = [5, b'a', b'.', b'b', b' ', 0xff, 0];
        let (n, after) = read_name(&msg, 0).unwrap();
        assert_eq!(after, 7);
        assert_eq!(n.to_string(), "a\\046b\\032\\255.");
    }
}
