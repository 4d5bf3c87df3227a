#![no_main]
// See switchyard::fuzzing::sse: must return, never panic, whatever the input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard::fuzzing::sse(data));
