#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| softkey_authenticator::fuzzing::pin_session(data));
