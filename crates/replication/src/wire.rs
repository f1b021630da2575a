//! Frames on the socket: one read buffer, one write buffer, nothing copied twice.
//!
//! ```text
//!   socket ──read_buf()──▶ read_buf: BytesMut ──split_to(frame).freeze()──▶ Bytes (payload)
//!   socket ◀──write()───── write_buf: BytesMut ◀── postgres_protocol::message::frontend
//! ```
//!
//! Reads go into `read_buf` in chunks of at least [`READ_CHUNK`] bytes, so a burst of small
//! CopyData frames costs one system call per chunk, not one per frame. A complete frame is
//! split off the front of the buffer and frozen: the payload handed to the caller is a
//! `Bytes` view into the chunk it arrived in, never a copy. (The only bytes copied again are
//! those of the one frame that straddles a chunk boundary, when the buffer grows.) A caller
//! that keeps payloads alive keeps their chunks alive; one that drops them lets the buffer
//! reuse its memory.
//!
//! Both directions are cancel-safe: a read that is cancelled leaves what it read in
//! `read_buf`, and bytes queued in `write_buf` stay there until a later flush writes them,
//! so dropping a future half-way never loses or tears a message.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use postgres_protocol::message::backend::{Header, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::error::{DbError, ReplicationError};
use super::tls;

/// Read at least this much at a time.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Larger frames are refused: PostgreSQL never builds a message above 1 GiB (`MaxAllocSize`),
/// so a bigger length means a corrupt stream, and reserving it would exhaust memory.
const MAX_FRAME: usize = 1 << 30;

/// Tag of CopyBothResponse, which `postgres_protocol`'s parser does not know.
const COPY_BOTH_RESPONSE_TAG: u8 = b'W';
/// Tag of NegotiateProtocolVersion, which `postgres_protocol`'s parser does not know either.
const NEGOTIATE_PROTOCOL_VERSION_TAG: u8 = b'v';

/// The socket, in clear or wrapped in TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A backend message: what `postgres_protocol` parses, plus the tags it does not.
pub(crate) enum Backend {
    Message(Message),
    /// `W`: the server entered COPY BOTH mode (START_REPLICATION succeeded).
    CopyBothResponse,
}

/// A framed connection to the server.
pub(crate) struct Connection<S = Stream> {
    stream: S,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// Simple queries sent whose ReadyForQuery has not been read yet. Non-zero only when a
    /// caller dropped a query future half-way; the next query reads up to them first.
    pending_ready: usize,
    /// The server parameters reported by ParameterStatus, kept current.
    parameters: HashMap<String, String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    pub(crate) fn new(stream: S) -> Self {
        Connection {
            stream,
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            write_buf: BytesMut::with_capacity(1024),
            pending_ready: 0,
            parameters: HashMap::new(),
        }
    }

    /// A server parameter reported by ParameterStatus (`server_version`, `TimeZone`...).
    pub(crate) fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters.get(name).map(String::as_str)
    }

    /// Where frontend messages are encoded; [`Connection::flush`] sends them.
    pub(crate) fn write_buf(&mut self) -> &mut BytesMut {
        &mut self.write_buf
    }

    /// Records that a simple query was queued, so a cancelled caller can be resynchronised.
    pub(crate) fn query_sent(&mut self) {
        self.pending_ready += 1;
    }

    /// Records that the ReadyForQuery of a simple query was read.
    pub(crate) fn ready_received(&mut self) {
        self.pending_ready = self.pending_ready.saturating_sub(1);
    }

    /// Writes everything queued in the write buffer. Cancel-safe: what was not written yet
    /// stays queued.
    pub(crate) async fn flush(&mut self) -> Result<(), ReplicationError> {
        while !self.write_buf.is_empty() {
            let written = self.stream.write(&self.write_buf).await?;
            if written == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            self.write_buf.advance(written);
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Whether bytes are queued but not written.
    pub(crate) fn has_pending_writes(&self) -> bool {
        !self.write_buf.is_empty()
    }

    /// Reads the next backend message. Cancel-safe.
    pub(crate) async fn read(&mut self) -> Result<Backend, ReplicationError> {
        loop {
            if let Some(message) = self.parse_buffered()? {
                return Ok(message);
            }
            self.fill().await?;
        }
    }

    /// Reads (and discards) up to the ReadyForQuery of every simple query a cancelled caller
    /// left behind, after writing whatever it left queued.
    pub(crate) async fn resync(&mut self) -> Result<(), ReplicationError> {
        self.flush().await?;
        while self.pending_ready > 0 {
            if let Backend::Message(message) = self.read().await? {
                match message {
                    Message::ReadyForQuery(_) => self.ready_received(),
                    other => {
                        self.handle_async(&other)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Deals with the messages the server may send at any time: notices are logged,
    /// parameter changes are noted. Returns whether the message was one of those.
    pub(crate) fn handle_async(&mut self, message: &Message) -> Result<bool, ReplicationError> {
        match message {
            Message::NoticeResponse(body) => {
                let notice = DbError::parse(&mut body.fields())?;
                tracing::info!(
                    severity = notice.severity(),
                    code = notice.code(),
                    text = notice.message(),
                    "PostgreSQL notice on the replication connection"
                );
                Ok(true)
            }
            Message::ParameterStatus(body) => {
                let name = body.name().map_err(protocol)?;
                let value = body.value().map_err(protocol)?;
                tracing::trace!(name, value, "server parameter");
                self.parameters.insert(name.to_owned(), value.to_owned());
                Ok(true)
            }
            Message::NotificationResponse(_) => Ok(true),
            _ => Ok(false),
        }
    }

    /// Splits one complete frame off the read buffer, if there is one.
    fn parse_buffered(&mut self) -> Result<Option<Backend>, ReplicationError> {
        let Some(header) = Header::parse(&self.read_buf).map_err(protocol)? else {
            return Ok(None);
        };
        let total = frame_len(header)?;
        if self.read_buf.len() < total {
            self.read_buf.reserve(total - self.read_buf.len());
            return Ok(None);
        }
        match header.tag() {
            COPY_BOTH_RESPONSE_TAG => {
                // Format byte and column formats: nothing to learn for replication.
                self.read_buf.advance(total);
                Ok(Some(Backend::CopyBothResponse))
            }
            NEGOTIATE_PROTOCOL_VERSION_TAG => {
                self.read_buf.advance(total);
                Err(ReplicationError::Protocol(
                    "the server does not support protocol 3.0 as requested \
                     (NegotiateProtocolVersion)"
                        .into(),
                ))
            }
            _ => match Message::parse(&mut self.read_buf).map_err(protocol)? {
                Some(message) => Ok(Some(Backend::Message(message))),
                None => Err(ReplicationError::Protocol(
                    "incomplete frame after a complete header".into(),
                )),
            },
        }
    }

    /// Reads at least one more byte from the socket into the read buffer.
    async fn fill(&mut self) -> Result<(), ReplicationError> {
        if self.read_buf.capacity() - self.read_buf.len() < READ_CHUNK / 4 {
            self.read_buf.reserve(READ_CHUNK);
        }
        let read = self.stream.read_buf(&mut self.read_buf).await?;
        if read == 0 {
            return Err(ReplicationError::ConnectionClosed);
        }
        Ok(())
    }
}

impl Connection<Stream> {
    /// Whether the connection is TLS.
    pub(crate) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The `tls-server-end-point` channel binding data (RFC 5929) of a TLS connection: the
    /// hash of the server's certificate. `None` in clear, or when the certificate's signature
    /// algorithm does not define the hash to use.
    pub(crate) fn tls_server_end_point(&self) -> Option<Vec<u8>> {
        match &self.stream {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => {
                let (_, session) = tls.get_ref();
                let certificate = session.peer_certificates()?.first()?;
                tls::server_end_point(certificate.as_ref())
            }
        }
    }
}

fn frame_len(header: Header) -> Result<usize, ReplicationError> {
    // `Header::parse` has already refused lengths below 4.
    let len = usize::try_from(header.len()).map_err(|_| {
        ReplicationError::Protocol(format!("negative frame length {}", header.len()))
    })?;
    if len > MAX_FRAME {
        return Err(ReplicationError::Protocol(format!(
            "frame of {len} bytes (tag {:?}) exceeds the 1 GiB limit",
            char::from(header.tag())
        )));
    }
    Ok(len + 1)
}

fn protocol(error: io::Error) -> ReplicationError {
    ReplicationError::Protocol(format!("malformed message: {error}"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::{BufMut, Bytes};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    use super::*;

    fn copy_data(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![b'd'];
        frame.extend_from_slice(&(payload.len() as u32 + 4).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    async fn next_payload(conn: &mut Connection<DuplexStream>) -> Bytes {
        match conn.read().await.expect("frame") {
            Backend::Message(Message::CopyData(body)) => body.into_bytes(),
            _ => panic!("expected CopyData"),
        }
    }

    #[tokio::test]
    async fn payloads_are_views_into_the_read_buffer() {
        let (client, mut server) = duplex(1 << 20);
        let mut conn = Connection::new(client);
        let frames = [copy_data(b"first"), copy_data(b"second")].concat();
        server.write_all(&frames).await.expect("write");
        let first = next_payload(&mut conn).await;
        let second = next_payload(&mut conn).await;
        assert_eq!((&first[..], &second[..]), (&b"first"[..], &b"second"[..]));
        // Same allocation, one frame header apart: nothing was copied out of the buffer.
        assert_eq!(
            second.as_ptr() as usize,
            first.as_ptr() as usize + first.len() + 5
        );
    }

    #[tokio::test]
    async fn reads_copy_both_response_which_postgres_protocol_does_not_know() {
        let (client, mut server) = duplex(1024);
        let mut conn = Connection::new(client);
        // CopyBothResponse: format 0, no columns; then a CopyData.
        let mut frames = vec![b'W', 0, 0, 0, 7, 0, 0, 0];
        frames.extend_from_slice(&copy_data(b"w"));
        server.write_all(&frames).await.expect("write");
        assert!(matches!(conn.read().await, Ok(Backend::CopyBothResponse)));
        assert_eq!(&next_payload(&mut conn).await[..], b"w");
    }

    #[tokio::test]
    async fn a_cancelled_read_keeps_the_half_frame_it_read() {
        let (client, mut server) = duplex(1024);
        let mut conn = Connection::new(client);
        let frame = copy_data(b"split across two writes");
        server.write_all(&frame[..9]).await.expect("write");
        let cancelled = tokio::time::timeout(Duration::from_millis(20), conn.read()).await;
        assert!(cancelled.is_err());
        server.write_all(&frame[9..]).await.expect("write");
        assert_eq!(
            &next_payload(&mut conn).await[..],
            b"split across two writes"
        );
    }

    #[tokio::test]
    async fn a_cancelled_flush_keeps_the_rest_queued() {
        let (client, mut server) = duplex(8);
        let mut conn = Connection::new(client);
        let message: Vec<u8> = (0..100).collect();
        conn.write_buf().put_slice(&message);
        // Only 8 bytes fit in the pipe: the flush blocks and is cancelled.
        let cancelled = tokio::time::timeout(Duration::from_millis(20), conn.flush()).await;
        assert!(cancelled.is_err());
        assert!(conn.has_pending_writes());
        let reader = tokio::spawn(async move {
            let mut received = vec![0u8; 100];
            server.read_exact(&mut received).await.expect("read");
            received
        });
        conn.flush().await.expect("flush");
        assert_eq!(reader.await.expect("reader"), message);
    }

    #[tokio::test]
    async fn refuses_absurd_frame_lengths() {
        let (client, mut server) = duplex(1024);
        let mut conn = Connection::new(client);
        server
            .write_all(&[b'd', 0x7F, 0xFF, 0xFF, 0xFF])
            .await
            .expect("write");
        assert!(matches!(
            conn.read().await,
            Err(ReplicationError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn framing_throughput_in_memory() {
        // Not a timed assertion: shows what framing alone costs, without a server.
        const FRAMES: usize = 1_000_000;
        let payload = [b'w'; 133]; // about the size of a 7-column pgoutput Insert
        let chunk: Vec<u8> = copy_data(&payload).repeat(1000);
        let (client, mut server) = duplex(1 << 20);
        let writer = tokio::spawn(async move {
            for _ in 0..FRAMES / 1000 {
                server.write_all(&chunk).await.expect("write");
            }
            server
        });
        let mut conn = Connection::new(client);
        let started = Instant::now();
        let mut bytes = 0usize;
        for _ in 0..FRAMES {
            bytes += next_payload(&mut conn).await.len();
        }
        let seconds = started.elapsed().as_secs_f64();
        drop(writer.await.expect("writer"));
        println!(
            "FRAMING {FRAMES} frames, {:.0} MiB in {seconds:.2} s: {:.0} frames/s, {:.0} MiB/s",
            bytes as f64 / 1048576.0,
            FRAMES as f64 / seconds,
            bytes as f64 / 1048576.0 / seconds
        );
    }
}
