#![no_main]
// See switchyard::fuzzing::request: must return, never panic, whatever the input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard::fuzzing::request(data));
