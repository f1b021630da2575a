//! The streaming replication protocol's CopyData messages that wrap pgoutput.
//!
//! After `START_REPLICATION ... LOGICAL`, the connection is in CopyBoth mode. The server sends
//! CopyData payloads that are either WAL data (`w`, carrying exactly one pgoutput message)
//! or keepalives (`k`); the client answers with status updates (`r`, which is what lets the
//! server recycle WAL: a client that never sends them keeps WAL forever) and optionally hot
//! standby feedback (`h`).
//!
//! This module parses the server's messages and encodes the client's. It also does the
//! converse (encodes `w`/`k`, parses `r`/`h`) so tests can play the server. The CopyData
//! envelope itself (`d`, length) is the PostgreSQL client library's business.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, MessageKind};
use crate::lsn::{Lsn, PgTimestamp};
use crate::reader::Reader;

/// A message from the server in a replication CopyData payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationMessage {
    /// `w`: WAL data, i.e. one pgoutput message.
    XLogData(XLogData),
    /// `k`: a keepalive, possibly asking for an immediate status update.
    PrimaryKeepalive(PrimaryKeepalive),
}

/// `w`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XLogData {
    /// The WAL position of the start of `data` (0 for some pgoutput messages).
    pub wal_start: Lsn,
    /// The server's current end of WAL.
    pub wal_end: Lsn,
    /// The server's clock when it sent the message.
    pub server_clock: PgTimestamp,
    /// The pgoutput message, a zero-copy slice of the payload: give it to
    /// [`crate::Decoder::decode`].
    pub data: Bytes,
}

/// `k`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrimaryKeepalive {
    /// The server's current end of WAL.
    pub wal_end: Lsn,
    /// The server's clock when it sent the message.
    pub server_clock: PgTimestamp,
    /// The server wants a status update now (it is about to time the client out).
    pub reply_requested: bool,
}

impl ReplicationMessage {
    /// Length of the `w` header before the WAL data: tag, two LSNs, clock.
    pub const XLOG_DATA_HEADER_LEN: usize = 1 + 8 + 8 + 8;
    /// Length of a `k` message: tag, LSN, clock, flag.
    pub const KEEPALIVE_LEN: usize = 1 + 8 + 8 + 1;

    /// Parses a CopyData payload from the server. `w` data is sliced, not copied.
    pub fn parse(payload: Bytes) -> Result<Self, DecodeError> {
        let Some(&tag) = payload.first() else {
            return Err(DecodeError::Empty {
                what: "CopyData payload",
            });
        };
        match tag {
            b'w' => {
                let mut reader = Reader::new(&payload, 1, MessageKind::XLogData);
                let wal_start = reader.lsn("WAL start")?;
                let wal_end = reader.lsn("WAL end")?;
                let server_clock = reader.timestamp("server clock")?;
                // The payload is ours: advancing it past the header hands it over as the
                // data without touching its reference count (slicing would add one).
                // (The reader has just read that far, so the payload is at least that long.)
                let header_len = reader.position();
                let mut data = payload;
                data.advance(header_len);
                Ok(ReplicationMessage::XLogData(XLogData {
                    wal_start,
                    wal_end,
                    server_clock,
                    data,
                }))
            }
            b'k' => {
                let mut reader = Reader::new(&payload, 1, MessageKind::PrimaryKeepalive);
                let keepalive = PrimaryKeepalive {
                    wal_end: reader.lsn("WAL end")?,
                    server_clock: reader.timestamp("server clock")?,
                    reply_requested: reader.u8("reply requested flag")? == 1,
                };
                reader.finish()?;
                Ok(ReplicationMessage::PrimaryKeepalive(keepalive))
            }
            tag => Err(DecodeError::UnknownReplicationTag { tag }),
        }
    }

    /// The payload as the server sends it (for tests that play the server).
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode_into(&mut out);
        out.freeze()
    }

    /// Appends the payload as the server sends it.
    pub fn encode_into(&self, out: &mut BytesMut) {
        match self {
            ReplicationMessage::XLogData(xlog) => {
                out.reserve(Self::XLOG_DATA_HEADER_LEN + xlog.data.len());
                out.put_u8(b'w');
                out.put_u64(xlog.wal_start.0);
                out.put_u64(xlog.wal_end.0);
                out.put_i64(xlog.server_clock.0);
                out.put_slice(&xlog.data);
            }
            ReplicationMessage::PrimaryKeepalive(keepalive) => {
                out.reserve(Self::KEEPALIVE_LEN);
                out.put_u8(b'k');
                out.put_u64(keepalive.wal_end.0);
                out.put_i64(keepalive.server_clock.0);
                out.put_u8(u8::from(keepalive.reply_requested));
            }
        }
    }
}

/// `r`: tells the server how far the client has received, made durable and applied the WAL.
///
/// The server may discard WAL up to `flushed` once every slot has confirmed it, so `flushed`
/// must only cover changes the pipeline has durably handed on (Kafka acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StandbyStatusUpdate {
    /// Last WAL position received (+1).
    pub written: Lsn,
    /// Last WAL position durably processed (+1): the slot's confirmed flush position.
    pub flushed: Lsn,
    /// Last WAL position applied (+1).
    pub applied: Lsn,
    /// The client's clock ([`PgTimestamp::now`]).
    pub client_clock: PgTimestamp,
    /// Ask the server to answer with a keepalive right away.
    pub reply_requested: bool,
}

impl StandbyStatusUpdate {
    /// Length of the payload: tag, three LSNs, clock, flag.
    pub const LEN: usize = 1 + 8 + 8 + 8 + 8 + 1;

    /// The CopyData payload to send.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(Self::LEN);
        out.put_u8(b'r');
        out.put_u64(self.written.0);
        out.put_u64(self.flushed.0);
        out.put_u64(self.applied.0);
        out.put_i64(self.client_clock.0);
        out.put_u8(u8::from(self.reply_requested));
        out.freeze()
    }

    /// Parses the payload (for tests that play the server).
    pub fn parse(payload: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = client_message_reader(payload, MessageKind::StandbyStatusUpdate)?;
        let update = StandbyStatusUpdate {
            written: reader.lsn("written LSN")?,
            flushed: reader.lsn("flushed LSN")?,
            applied: reader.lsn("applied LSN")?,
            client_clock: reader.timestamp("client clock")?,
            reply_requested: reader.u8("reply requested flag")? == 1,
        };
        reader.finish()?;
        Ok(update)
    }
}

/// `h`: hot standby feedback. A logical replication client normally does not need it (the
/// slot already holds back the catalog xmin); provided for completeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotStandbyFeedback {
    /// The client's clock.
    pub client_clock: PgTimestamp,
    /// The client's oldest running xmin (0 for none).
    pub global_xmin: u32,
    /// Epoch of `global_xmin`.
    pub global_xmin_epoch: u32,
    /// The lowest catalog xmin of the client's slots (0 for none).
    pub catalog_xmin: u32,
    /// Epoch of `catalog_xmin`.
    pub catalog_xmin_epoch: u32,
}

impl HotStandbyFeedback {
    /// Length of the payload: tag, clock, four 32-bit values.
    pub const LEN: usize = 1 + 8 + 4 * 4;

    /// The CopyData payload to send.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(Self::LEN);
        out.put_u8(b'h');
        out.put_i64(self.client_clock.0);
        out.put_u32(self.global_xmin);
        out.put_u32(self.global_xmin_epoch);
        out.put_u32(self.catalog_xmin);
        out.put_u32(self.catalog_xmin_epoch);
        out.freeze()
    }

    /// Parses the payload (for tests that play the server).
    pub fn parse(payload: &Bytes) -> Result<Self, DecodeError> {
        let mut reader = client_message_reader(payload, MessageKind::HotStandbyFeedback)?;
        let feedback = HotStandbyFeedback {
            client_clock: reader.timestamp("client clock")?,
            global_xmin: reader.u32("global xmin")?,
            global_xmin_epoch: reader.u32("global xmin epoch")?,
            catalog_xmin: reader.u32("catalog xmin")?,
            catalog_xmin_epoch: reader.u32("catalog xmin epoch")?,
        };
        reader.finish()?;
        Ok(feedback)
    }
}

/// A reader past the tag of a client message, after checking the tag.
fn client_message_reader(payload: &Bytes, kind: MessageKind) -> Result<Reader<'_>, DecodeError> {
    match payload.first() {
        None => Err(DecodeError::Empty {
            what: "CopyData payload",
        }),
        Some(&tag) if tag == kind.tag() => Ok(Reader::new(payload, 1, kind)),
        Some(&tag) => Err(DecodeError::UnknownReplicationTag { tag }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlog_data_round_trips_and_slices_its_data() {
        let message = ReplicationMessage::XLogData(XLogData {
            wal_start: Lsn(0x1_0000_0010),
            wal_end: Lsn(0x1_0000_0020),
            server_clock: PgTimestamp(12345),
            data: Bytes::from_static(b"E"),
        });
        let payload = message.encode();
        assert_eq!(payload.len(), ReplicationMessage::XLOG_DATA_HEADER_LEN + 1);
        assert_eq!(ReplicationMessage::parse(payload), Ok(message));
    }

    #[test]
    fn keepalive_round_trips() {
        for reply_requested in [false, true] {
            let message = ReplicationMessage::PrimaryKeepalive(PrimaryKeepalive {
                wal_end: Lsn(77),
                server_clock: PgTimestamp(-5),
                reply_requested,
            });
            let payload = message.encode();
            assert_eq!(payload.len(), ReplicationMessage::KEEPALIVE_LEN);
            assert_eq!(ReplicationMessage::parse(payload), Ok(message));
        }
    }

    #[test]
    fn status_update_has_the_documented_layout() {
        let update = StandbyStatusUpdate {
            written: Lsn(0x0102_0304_0506_0708),
            flushed: Lsn(2),
            applied: Lsn(3),
            client_clock: PgTimestamp(4),
            reply_requested: true,
        };
        let payload = update.encode();
        assert_eq!(payload.len(), StandbyStatusUpdate::LEN);
        assert_eq!(&payload[..9], b"r\x01\x02\x03\x04\x05\x06\x07\x08");
        assert_eq!(payload[33], 1);
        assert_eq!(StandbyStatusUpdate::parse(&payload), Ok(update));
    }

    #[test]
    fn hot_standby_feedback_round_trips() {
        let feedback = HotStandbyFeedback {
            client_clock: PgTimestamp(1),
            global_xmin: 2,
            global_xmin_epoch: 3,
            catalog_xmin: 4,
            catalog_xmin_epoch: 5,
        };
        let payload = feedback.encode();
        assert_eq!(payload.len(), HotStandbyFeedback::LEN);
        assert_eq!(HotStandbyFeedback::parse(&payload), Ok(feedback));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert_eq!(
            ReplicationMessage::parse(Bytes::new()),
            Err(DecodeError::Empty {
                what: "CopyData payload"
            })
        );
        assert_eq!(
            ReplicationMessage::parse(Bytes::from_static(b"x")),
            Err(DecodeError::UnknownReplicationTag { tag: b'x' })
        );
        let error = ReplicationMessage::parse(Bytes::from_static(b"w\x00\x00")).expect_err("short");
        assert_eq!(
            error.to_string(),
            "truncated XLogData message at offset 1: expected 8 bytes for WAL start, 2 left"
        );
        let mut long_keepalive = BytesMut::from(&b"k"[..]);
        long_keepalive.put_bytes(0, ReplicationMessage::KEEPALIVE_LEN);
        assert!(matches!(
            ReplicationMessage::parse(long_keepalive.freeze()),
            Err(DecodeError::TrailingBytes {
                kind: MessageKind::PrimaryKeepalive,
                ..
            })
        ));
        assert!(matches!(
            StandbyStatusUpdate::parse(&Bytes::from_static(b"h")),
            Err(DecodeError::UnknownReplicationTag { tag: b'h' })
        ));
    }
}
