//! Arbitrary bytes as a node's registry entry, through the parser `aqueduct local`, the
//! monitor and the commands read it with; see `check_endpoint`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    aqueduct_fuzz::check_endpoint(data);
});
