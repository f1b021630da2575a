//! The connection in COPY BOTH mode: CopyData payloads in, standby status updates out.

use bytes::Bytes;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use sluice_pgoutput::{Lsn, PgTimestamp, StandbyStatusUpdate};

use super::client::{ReplicationClient, message_name};
use super::error::{DbError, ReplicationError};
use super::wire::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Both directions open.
    Streaming,
    /// The server sent CopyDone: it will send no more data, and waits for ours.
    ServerDone,
    /// The server left COPY mode on its own (ErrorResponse, or CommandComplete without
    /// CopyDone): nothing is to be sent, ReadyForQuery is next.
    Ended,
}

/// A logical replication stream, from `START_REPLICATION` to [`ReplicationStream::stop`].
///
/// Read with [`next_message`](Self::next_message) and answer with
/// [`send_standby_status`](Self::send_standby_status), at least whenever a keepalive asks
/// for it and more often than the server's `wal_sender_timeout` (60 s by default).
///
/// Both methods are cancel-safe, so `next_message` can sit in a `tokio::select!` beside a
/// status timer: a cancelled read keeps what it read, and a cancelled status update stays
/// queued and goes out, whole, before the next read or write.
#[derive(Debug)]
pub struct ReplicationStream {
    client: ReplicationClient,
    state: State,
}

impl ReplicationStream {
    pub(crate) fn new(client: ReplicationClient) -> Self {
        ReplicationStream {
            client,
            state: State::Streaming,
        }
    }

    /// The server process streaming to us (`pg_replication_slots.active_pid`).
    pub fn backend_pid(&self) -> Option<i32> {
        self.client.backend_pid()
    }

    /// The next CopyData payload: an XLogData (`w`) or keepalive (`k`) message, which
    /// [`ReplicationMessage::parse`](super::ReplicationMessage::parse) splits.
    ///
    /// The payload is a view into the connection's read buffer, not a copy. `Ok(None)` means
    /// the server ended the stream (CopyDone, or after an error was returned); call
    /// [`stop`](Self::stop) then. An `ErrorResponse` during streaming (publication dropped,
    /// slot invalidated, server shutting down) is returned as [`ReplicationError::Server`].
    pub async fn next_message(&mut self) -> Result<Option<Bytes>, ReplicationError> {
        if self.state != State::Streaming {
            return Ok(None);
        }
        let conn = self.client.connection();
        if conn.has_pending_writes() {
            conn.flush().await?;
        }
        loop {
            match conn.read().await? {
                Backend::Message(Message::CopyData(body)) => return Ok(Some(body.into_bytes())),
                Backend::Message(Message::CopyDone) => {
                    self.state = State::ServerDone;
                    return Ok(None);
                }
                Backend::Message(Message::ErrorResponse(body)) => {
                    self.state = State::Ended;
                    return Err(DbError::parse(&mut body.fields())?.into());
                }
                Backend::Message(Message::CommandComplete(_)) => {
                    // The server ended the command without CopyDone: what a logical walsender
                    // does when asked to stream a second time on one connection.
                    self.state = State::Ended;
                    return Ok(None);
                }
                Backend::Message(other) => {
                    if !conn.handle_async(&other)? {
                        return Err(ReplicationError::Protocol(format!(
                            "unexpected {} message while streaming",
                            message_name(&other)
                        )));
                    }
                }
                Backend::CopyBothResponse => {
                    return Err(ReplicationError::Protocol(
                        "unexpected CopyBothResponse while streaming".into(),
                    ));
                }
            }
        }
    }

    /// Sends a standby status update (`r`): `written` and `flushed` and `applied` positions,
    /// the current time, and whether the server should answer with a keepalive at once.
    ///
    /// For a logical slot, `flushed` is what moves `confirmed_flush_lsn`: the server will
    /// never send anything before it again, and recycles the WAL behind it. Report as flushed
    /// only positions whose every change Kafka has acknowledged. `written` and `applied` only
    /// show in `pg_stat_replication` (`write_lsn`, `replay_lsn`); report what was received
    /// and what was acknowledged.
    pub async fn send_standby_status(
        &mut self,
        written: Lsn,
        flushed: Lsn,
        applied: Lsn,
        reply_requested: bool,
    ) -> Result<(), ReplicationError> {
        if self.state == State::Ended {
            return Err(ReplicationError::Protocol(
                "the server ended the stream; no status can be sent".into(),
            ));
        }
        let update = StandbyStatusUpdate {
            written,
            flushed,
            applied,
            client_clock: PgTimestamp::now(),
            reply_requested,
        }
        .encode();
        let conn = self.client.connection();
        frontend::CopyData::new(&update[..])?.write(conn.write_buf());
        conn.flush().await
    }

    /// Leaves COPY mode (CopyDone), reads the rest of the stream up to ReadyForQuery, and
    /// gives back the connection for more commands (`DROP_REPLICATION_SLOT`, SQL...).
    ///
    /// Not for another `START_REPLICATION`, though: PostgreSQL resets the walsender's
    /// end-of-streaming flags only on the physical path, so a second logical stream on one
    /// connection ends at once (seen on PostgreSQL 15). [`ReplicationClient::start_replication`] refuses it; to
    /// resume, open a new connection.
    ///
    /// Data still in flight is discarded: it was not confirmed, so the next
    /// `START_REPLICATION` sends it again. Send a last standby status update before, if
    /// there is progress to confirm.
    pub async fn stop(mut self) -> Result<ReplicationClient, ReplicationError> {
        let conn = self.client.connection();
        if self.state != State::Ended {
            frontend::copy_done(conn.write_buf());
        }
        conn.flush().await?;
        let mut discarded = 0usize;
        let mut error = None;
        loop {
            match conn.read().await? {
                Backend::Message(Message::CopyData(_)) => discarded += 1,
                Backend::Message(Message::CopyDone | Message::CommandComplete(_)) => {}
                Backend::Message(Message::ErrorResponse(body)) => {
                    error = Some(DbError::parse(&mut body.fields())?);
                }
                Backend::Message(Message::ReadyForQuery(_)) => break,
                Backend::Message(other) => {
                    if !conn.handle_async(&other)? {
                        return Err(ReplicationError::Protocol(format!(
                            "unexpected {} message while stopping replication",
                            message_name(&other)
                        )));
                    }
                }
                Backend::CopyBothResponse => {
                    return Err(ReplicationError::Protocol(
                        "unexpected CopyBothResponse while stopping replication".into(),
                    ));
                }
            }
        }
        tracing::debug!(discarded, "replication stopped");
        match error {
            Some(error) => Err(error.into()),
            None => Ok(self.client),
        }
    }
}
