//! A sequence of messages through one decoder, to explore its streamed-block state.
//!
//! Input: a selector byte (bits 0-1: protocol version - 1), then messages, each prefixed by
//! a one-byte length. Checks: no panic, and a failed decode never changes the state.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_pgoutput::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let mut decoder =
        Decoder::new(u32::from(selector & 3) + 1).expect("versions 1 to 4 are supported");
    while let Some((&length, tail)) = rest.split_first() {
        let length = usize::from(length).min(tail.len());
        let (message, tail) = tail.split_at(length);
        rest = tail;
        let before = decoder.clone();
        if decoder.decode(&Bytes::copy_from_slice(message)).is_err() {
            assert_eq!(decoder, before);
        }
    }
});
