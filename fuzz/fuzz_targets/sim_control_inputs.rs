#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| softkey::fuzzing::control_inputs(data));
