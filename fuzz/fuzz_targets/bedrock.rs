#![no_main]
// See switchyard::fuzzing::bedrock: must return, never panic, whatever the input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard::fuzzing::bedrock(data));
