#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| softkey_rp::fuzzing::client_data(data));
