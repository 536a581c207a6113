#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| softkey_transport::fuzzing::ctaphid_packets(data));
