//! Arbitrary bytes as what a client sends to the node's TLS listener, through the node's
//! own sans-I/O connection; see the crate docs for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aqueduct_fuzz::check_tls(data);
});
