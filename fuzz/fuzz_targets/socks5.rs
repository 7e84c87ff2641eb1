//! Arbitrary bytes into every SOCKS5 parser and the reply encoder; see the crate docs for
//! the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aqueduct_fuzz::check_socks5(data);
});
