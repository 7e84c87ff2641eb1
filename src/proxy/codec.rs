//! What every protocol parser returns: either a message and how many bytes it took,
//! or a request for more bytes. Errors are each codec's own type.

/// The outcome of parsing a prefix of a byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The buffer holds only part of a message; read more and call again.
    NeedMore,
    /// A whole message was parsed from the first `consumed` bytes.
    Done { value: T, consumed: usize },
}

impl<T> Parsed<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Parsed<U> {
        match self {
            Parsed::NeedMore => Parsed::NeedMore,
            Parsed::Done { value, consumed } => Parsed::Done {
                value: f(value),
                consumed,
            },
        }
    }
}
