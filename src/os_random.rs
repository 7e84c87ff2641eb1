//! Bytes from the kernel's CSPRNG: `getrandom(2)`, or `/dev/urandom` on kernels before
//! 3.17 that lack the call. The one source of randomness for keys and DNS query IDs.

use std::io::{self, Read};

/// Fills `buf` completely, or fails if the kernel has no randomness to give.
pub fn fill(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or(&mut []);
        // SAFETY: the pointer and length describe `rest`, a live mutable slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ENOSYS) => return std::fs::File::open("/dev/urandom")?.read_exact(rest),
                _ => return Err(err),
            }
        }
        filled += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fills_every_byte_of_a_large_buffer() {
        // Two 64 KiB draws: zero bytes left at the end of a short fill would show up as
        // identical tails.
        let (mut a, mut b) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
        super::fill(&mut a).unwrap();
        super::fill(&mut b).unwrap();
        assert_ne!(a[a.len() - 32..], b[b.len() - 32..]);
        assert!(a.iter().filter(|&&x| x == 0).count() < 1024);
    }
}
