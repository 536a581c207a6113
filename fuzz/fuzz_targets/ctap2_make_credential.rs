#![no_main]
libfuzzer_sys::fuzz_target!(
    |data: &[u8]| softkey_authenticator::fuzzing::make_credential_request(data)
);
