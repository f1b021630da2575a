//! One payload, read three ways: as a pgoutput message (with the protocol version and the
//! streamed-block state chosen by the first input byte), as a replication CopyData payload
//! from the server (whose XLogData data is decoded too), and as the client's messages.
//!
//! Checks: no panic, and whatever the decoder accepts re-encodes to a message that decodes
//! back to the same value.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_pgoutput::{Decoder, HotStandbyFeedback, ReplicationMessage, StandbyStatusUpdate};

/// Bits 0-1: protocol version - 1. Bit 7: start inside a streamed block (protocol 2+).
fn decoder_for(selector: u8) -> Decoder {
    let version = u32::from(selector & 3) + 1;
    let mut decoder = Decoder::new(version).expect("versions 1 to 4 are supported");
    if selector & 0x80 != 0 && version >= 2 {
        decoder
            .decode(&Bytes::from_static(b"S\x00\x00\x00\x2a\x01"))
            .expect("a valid Stream Start");
    }
    decoder
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let payload = Bytes::copy_from_slice(payload);

    let mut decoder = decoder_for(selector);
    if let Ok(message) = decoder.decode(&payload) {
        let mut again = decoder_for(selector);
        assert_eq!(again.decode(&message.encode()), Ok(message));
    }

    if let Ok(ReplicationMessage::XLogData(xlog)) = ReplicationMessage::parse(payload.clone()) {
        let _ = decoder_for(selector).decode(&xlog.data);
    }
    let _ = StandbyStatusUpdate::parse(&payload);
    let _ = HotStandbyFeedback::parse(&payload);
});
