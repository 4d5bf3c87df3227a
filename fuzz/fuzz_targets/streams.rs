#![no_main]
// See switchyard::fuzzing::streams: must return, never panic, whatever the input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| switchyard::fuzzing::streams(data));
