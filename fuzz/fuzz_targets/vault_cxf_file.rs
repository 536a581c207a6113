#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| softkey_vault::fuzzing::cxf_file(data));
