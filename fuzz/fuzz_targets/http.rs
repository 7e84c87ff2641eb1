//! Arbitrary bytes into the HTTP proxy head parser, the forwarded-head writer and the Basic
//! credential decoder; see the crate docs for the invariants checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aqueduct_fuzz::check_http(data);
});
