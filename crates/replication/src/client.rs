//! The replication connection before streaming: connect, authenticate, run replication
//! commands.

use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::{self, sasl};
use postgres_protocol::message::backend::{AuthenticationSaslBody, Message};
use postgres_protocol::message::frontend;
use sluice_pgoutput::Lsn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::{ChannelBinding, ReplicationConfig, TlsMode};
use super::error::{DbError, ReplicationError};
use super::stream::ReplicationStream;
use super::tls;
use super::wire::{Backend, Connection, Stream};

/// The output plugin Sluice decodes.
pub const PGOUTPUT: &str = "pgoutput";

/// How the server authenticated this connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// No password was asked (`trust`).
    Trust,
    /// Clear-text password (`password` in pg_hba.conf); avoid it without TLS.
    Cleartext,
    /// MD5 challenge (`md5`), deprecated by PostgreSQL.
    Md5,
    /// SCRAM-SHA-256 without channel binding.
    ScramSha256,
    /// SCRAM-SHA-256-PLUS: SCRAM bound to the TLS channel (`tls-server-end-point`).
    ScramSha256Plus,
}

/// What `IDENTIFY_SYSTEM` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    /// The cluster's unique system identifier; changes when the cluster is re-created (a
    /// restored backup keeps it), so a source can notice it is reading another cluster.
    pub systemid: u64,
    /// Current timeline.
    pub timeline: u32,
    /// Current WAL flush position.
    pub xlogpos: Lsn,
    /// The database connected to (`None` on a physical replication connection).
    pub dbname: Option<String>,
}

/// What to do with the snapshot a new logical slot is created at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotAction {
    /// `SNAPSHOT 'export'` (`EXPORT_SNAPSHOT`): export it under a name that another session
    /// imports with `SET TRANSACTION SNAPSHOT`, to read the tables exactly as of the slot's
    /// consistent point. The snapshot lives until this connection runs another command.
    Export,
    /// `SNAPSHOT 'nothing'` (`NOEXPORT_SNAPSHOT`): no snapshot.
    NoExport,
    /// `SNAPSHOT 'use'` (`USE_SNAPSHOT`): use it in the current transaction of this very
    /// connection, which must have just run `BEGIN ISOLATION LEVEL REPEATABLE READ`.
    Use,
}

/// What `CREATE_REPLICATION_SLOT` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSlot {
    /// The slot's name.
    pub slot_name: String,
    /// The LSN from which the slot's changes are complete: every transaction committing after
    /// it is streamed, every one committed before it is in the snapshot.
    pub consistent_point: Lsn,
    /// The exported snapshot's name, with [`SnapshotAction::Export`].
    pub snapshot_name: Option<String>,
    /// The output plugin (`pgoutput`).
    pub output_plugin: String,
}

/// A replication connection (`replication=database`) to one database, ready for commands.
///
/// Commands use the simple query protocol, the only one a walsender speaks. Each method
/// takes `&mut self` and is cancel-safe: if its future is dropped half-way, the next command
/// first reads the abandoned command's remaining responses.
pub struct ReplicationClient {
    conn: Connection,
    backend_pid: Option<i32>,
    auth_method: AuthMethod,
    /// Whether this connection has already streamed (see [`ReplicationStream::stop`]).
    streamed: bool,
}

impl std::fmt::Debug for ReplicationClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationClient")
            .field("backend_pid", &self.backend_pid())
            .field("tls", &self.is_tls())
            .field("auth_method", &self.auth_method)
            .finish_non_exhaustive()
    }
}

impl ReplicationClient {
    /// Connects, negotiates TLS, authenticates and waits until the server is ready.
    ///
    /// The whole of it is bounded by [`ReplicationConfig::connect_timeout`].
    pub async fn connect(config: &ReplicationConfig) -> Result<Self, ReplicationError> {
        let attempt = Self::establish(config);
        match config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, attempt).await.map_err(|_| {
                ReplicationError::Timeout {
                    during: "connecting (TCP, TLS and authentication)",
                    after: limit,
                }
            })?,
            None => attempt.await,
        }
    }

    async fn establish(config: &ReplicationConfig) -> Result<Self, ReplicationError> {
        let tcp = TcpStream::connect((config.host.as_str(), config.port)).await?;
        // Standby status updates are tiny and latency matters more than packet count.
        tcp.set_nodelay(true)?;
        let mut conn = Connection::new(negotiate_tls(tcp, config).await?);

        let parameters = [
            ("user", config.user.as_str()),
            ("database", config.database.as_str()),
            ("replication", "database"),
            ("application_name", config.application_name.as_str()),
            ("client_encoding", "UTF8"),
        ];
        frontend::startup_message(parameters, conn.write_buf())?;
        conn.flush().await?;
        let auth_method = authenticate(&mut conn, config).await?;

        let mut backend_pid = None;
        loop {
            match read_message(&mut conn).await? {
                Message::BackendKeyData(body) => {
                    // The secret key is only for CancelRequest, which replication never needs.
                    backend_pid = Some(body.process_id());
                }
                Message::ReadyForQuery(_) => break,
                Message::ErrorResponse(body) => {
                    return Err(DbError::parse(&mut body.fields())?.into());
                }
                other => unexpected(&mut conn, &other, "waiting for ReadyForQuery")?,
            }
        }
        tracing::debug!(
            host = %config.host,
            port = config.port,
            tls = conn.is_tls(),
            auth = ?auth_method,
            pid = backend_pid,
            "replication connection ready"
        );
        Ok(ReplicationClient {
            conn,
            backend_pid,
            auth_method,
            streamed: false,
        })
    }

    /// The server process serving this connection (`pg_stat_replication.pid`,
    /// `pg_replication_slots.active_pid`).
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_pid
    }

    /// A parameter the server reported (`server_version`, `server_encoding`, `TimeZone`...).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.conn.parameter(name)
    }

    /// The server's major version (15 for 15.4), from `server_version`.
    pub fn server_major_version(&self) -> Option<u32> {
        let version = self.parameter("server_version")?;
        let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    /// Whether the connection is encrypted with TLS.
    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// How the server authenticated this connection.
    pub fn auth_method(&self) -> AuthMethod {
        self.auth_method
    }

    /// Runs SQL with the simple query protocol and returns every row as text.
    ///
    /// On a replication connection the server accepts replication commands and, since
    /// PostgreSQL 10, plain SQL in the simple protocol (`SHOW`, catalog reads, `BEGIN`).
    /// With several statements, the rows of all of them are returned, in order. `COPY` is not
    /// supported.
    pub async fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, ReplicationError> {
        Ok(self.query(sql).await?.rows)
    }

    /// `IDENTIFY_SYSTEM`.
    pub async fn identify_system(&mut self) -> Result<SystemIdentity, ReplicationError> {
        let result = self.query("IDENTIFY_SYSTEM").await?;
        let row = result.single_row("IDENTIFY_SYSTEM")?;
        Ok(SystemIdentity {
            systemid: result.parse(row, "systemid")?,
            timeline: result.parse(row, "timeline")?,
            xlogpos: result.parse(row, "xlogpos")?,
            dbname: result.get(row, "dbname")?.map(str::to_owned),
        })
    }

    /// `CREATE_REPLICATION_SLOT name [TEMPORARY] LOGICAL pgoutput (SNAPSHOT '...')`.
    ///
    /// A temporary slot disappears when this connection ends, and also when any command on
    /// it fails: the walsender's error cleanup drops its session's temporary slots. A
    /// permanent slot keeps WAL on the server until it is dropped, so every permanent slot
    /// needs an owner that drops it.
    /// Servers before 15 get the older `EXPORT_SNAPSHOT` keywords.
    pub async fn create_replication_slot(
        &mut self,
        name: &str,
        temporary: bool,
        snapshot: SnapshotAction,
    ) -> Result<CreatedSlot, ReplicationError> {
        let modern = self.server_major_version().is_none_or(|major| major >= 15);
        let sql = create_slot_command(name, temporary, snapshot, modern)?;
        let result = self.query(&sql).await?;
        let row = result.single_row("CREATE_REPLICATION_SLOT")?;
        Ok(CreatedSlot {
            slot_name: result.required(row, "slot_name")?.to_owned(),
            consistent_point: result.parse(row, "consistent_point")?,
            snapshot_name: result.get(row, "snapshot_name")?.map(str::to_owned),
            output_plugin: result
                .get(row, "output_plugin")?
                .unwrap_or(PGOUTPUT)
                .to_owned(),
        })
    }

    /// `DROP_REPLICATION_SLOT name [WAIT]`. With `wait`, a slot still active for another
    /// connection is waited for instead of failing with `55006`.
    pub async fn drop_replication_slot(
        &mut self,
        name: &str,
        wait: bool,
    ) -> Result<(), ReplicationError> {
        validate_slot_name(name)?;
        let sql = format!(
            "DROP_REPLICATION_SLOT {}{}",
            quote_identifier(name),
            if wait { " WAIT" } else { "" }
        );
        self.query(&sql).await?;
        Ok(())
    }

    /// `START_REPLICATION SLOT name LOGICAL start_lsn (option 'value', ...)`, then streams.
    ///
    /// `start_lsn` `0/0` resumes at the slot's `confirmed_flush_lsn`; the server never goes
    /// back before that point whatever is asked. For pgoutput the options are, for instance,
    /// `[("proto_version", "1"), ("publication_names", &quote_publication_names(&["pub"]))]`.
    /// Option names are quoted as identifiers and values as literals, so any text is safe.
    ///
    /// The connection moves into the returned stream; [`ReplicationStream::stop`] gives it
    /// back for other commands. If the server refuses (slot missing or in use...), the
    /// connection is dropped with the error. One connection streams once: PostgreSQL's
    /// logical walsender ends a second `START_REPLICATION` at once, so this method refuses
    /// it (a [`ReplicationError::Config`] error); resume on a new connection.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start_lsn: Lsn,
        options: &[(&str, &str)],
    ) -> Result<ReplicationStream, ReplicationError> {
        let sql = start_replication_command(slot, start_lsn, options)?;
        if self.streamed {
            return Err(ReplicationError::Config(
                "this connection already streamed once, and PostgreSQL's logical walsender \
                 cannot stream twice on one connection: open a new connection to resume"
                    .into(),
            ));
        }
        self.conn.resync().await?;
        frontend::query(&sql, self.conn.write_buf())?;
        self.conn.flush().await?;
        let mut error = None;
        loop {
            match self.conn.read().await? {
                Backend::CopyBothResponse if error.is_none() => {
                    tracing::debug!(%slot, %start_lsn, "replication started");
                    self.streamed = true;
                    return Ok(ReplicationStream::new(self));
                }
                Backend::CopyBothResponse => {
                    return Err(ReplicationError::Protocol(
                        "CopyBothResponse after an ErrorResponse".into(),
                    ));
                }
                Backend::Message(Message::ErrorResponse(body)) => {
                    error = Some(DbError::parse(&mut body.fields())?);
                }
                Backend::Message(Message::ReadyForQuery(_)) => {
                    return Err(match error {
                        Some(error) => error.into(),
                        None => ReplicationError::Protocol(
                            "START_REPLICATION ended without streaming".into(),
                        ),
                    });
                }
                Backend::Message(other) => {
                    unexpected(&mut self.conn, &other, "waiting for CopyBothResponse")?;
                }
            }
        }
    }

    /// Ends the session politely (Terminate). Dropping the client closes the socket too; the
    /// server then logs an unexpected EOF but cleans up the same way (temporary slots go).
    pub async fn close(mut self) -> Result<(), ReplicationError> {
        frontend::terminate(self.conn.write_buf());
        self.conn.flush().await
    }

    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    async fn query(&mut self, sql: &str) -> Result<QueryResult, ReplicationError> {
        self.conn.resync().await?;
        frontend::query(sql, self.conn.write_buf())?;
        self.conn.query_sent();
        self.conn.flush().await?;

        let mut result = QueryResult::default();
        let mut error = None;
        loop {
            match read_message(&mut self.conn).await? {
                Message::RowDescription(body) => {
                    result.columns = body
                        .fields()
                        .map(|field| Ok(field.name().to_owned()))
                        .collect()
                        .map_err(|e| ReplicationError::Protocol(format!("RowDescription: {e}")))?;
                }
                Message::DataRow(body) => {
                    let buffer = body.buffer();
                    let row = body
                        .ranges()
                        .map(|range| {
                            Ok(range
                                .map(|range| String::from_utf8_lossy(&buffer[range]).into_owned()))
                        })
                        .collect()
                        .map_err(|e| ReplicationError::Protocol(format!("DataRow: {e}")))?;
                    result.rows.push(row);
                }
                Message::CommandComplete(_) | Message::EmptyQueryResponse => {}
                Message::ErrorResponse(body) => {
                    error = Some(DbError::parse(&mut body.fields())?);
                }
                Message::ReadyForQuery(_) => {
                    self.conn.ready_received();
                    return match error {
                        Some(error) => Err(error.into()),
                        None => Ok(result),
                    };
                }
                Message::CopyInResponse(_) | Message::CopyOutResponse(_) => {
                    return Err(ReplicationError::Protocol(
                        "COPY is not supported by simple_query; the connection is unusable \
                         now"
                        .into(),
                    ));
                }
                other => unexpected(&mut self.conn, &other, "running a simple query")?,
            }
        }
    }
}

/// Sends an SSLRequest unless TLS is disabled, and upgrades the socket on `S`.
///
/// Exactly one byte is read before the handshake, so nothing a man in the middle injects
/// in clear ahead of the TLS stream can be mistaken for server messages (CVE-2021-23222).
async fn negotiate_tls(
    mut tcp: TcpStream,
    config: &ReplicationConfig,
) -> Result<Stream, ReplicationError> {
    if config.tls == TlsMode::Disable {
        return Ok(Stream::Plain(tcp));
    }
    let mut request = bytes::BytesMut::with_capacity(8);
    frontend::ssl_request(&mut request);
    tcp.write_all(&request).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ReplicationError::ConnectionClosed
        } else {
            e.into()
        }
    })?;
    match (answer[0], &config.tls) {
        (b'S', mode) => Ok(Stream::Tls(Box::new(
            tls::handshake(tcp, &config.host, mode).await?,
        ))),
        (b'N', TlsMode::Prefer) => Ok(Stream::Plain(tcp)),
        (b'N', mode) => Err(ReplicationError::TlsNotSupported {
            mode: mode.as_sslmode(),
        }),
        (other, _) => Err(ReplicationError::Protocol(format!(
            "unexpected answer {:?} to the SSLRequest",
            char::from(other)
        ))),
    }
}

async fn authenticate(
    conn: &mut Connection,
    config: &ReplicationConfig,
) -> Result<AuthMethod, ReplicationError> {
    let mut method = AuthMethod::Trust;
    loop {
        match read_message(conn).await? {
            Message::AuthenticationOk => break,
            Message::AuthenticationCleartextPassword => {
                refuse_unbound_password(config, "a clear-text password")?;
                frontend::password_message(password(config)?.as_bytes(), conn.write_buf())?;
                conn.flush().await?;
                method = AuthMethod::Cleartext;
            }
            Message::AuthenticationMd5Password(body) => {
                refuse_unbound_password(config, "an MD5 password")?;
                let hash = authentication::md5_hash(
                    config.user.as_bytes(),
                    password(config)?.as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), conn.write_buf())?;
                conn.flush().await?;
                method = AuthMethod::Md5;
            }
            Message::AuthenticationSasl(body) => method = scram(conn, config, body).await?,
            Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationSspi => {
                return Err(ReplicationError::Authentication(
                    "the server asks for GSSAPI, SSPI or Kerberos authentication, which this \
                     client does not speak: use scram-sha-256 for this role in pg_hba.conf"
                        .into(),
                ));
            }
            Message::ErrorResponse(body) => {
                return Err(DbError::parse(&mut body.fields())?.into());
            }
            other => unexpected(conn, &other, "authenticating")?,
        }
    }
    if config.channel_binding == ChannelBinding::Require && method != AuthMethod::ScramSha256Plus {
        return Err(ReplicationError::Authentication(format!(
            "channel_binding=require, but the server authenticated this connection with {method:?} \
             instead of SCRAM-SHA-256-PLUS over TLS"
        )));
    }
    Ok(method)
}

async fn scram(
    conn: &mut Connection,
    config: &ReplicationConfig,
    body: AuthenticationSaslBody,
) -> Result<AuthMethod, ReplicationError> {
    let password = password(config)?;
    let (mut plain, mut plus) = (false, false);
    let mut offered = Vec::new();
    let mut mechanisms = body.mechanisms();
    while let Some(mechanism) = mechanisms
        .next()
        .map_err(|e| ReplicationError::Protocol(format!("SASL mechanisms: {e}")))?
    {
        plain |= mechanism == sasl::SCRAM_SHA_256;
        plus |= mechanism == sasl::SCRAM_SHA_256_PLUS;
        offered.push(mechanism.to_owned());
    }
    let end_point = match config.channel_binding {
        ChannelBinding::Disable => None,
        ChannelBinding::Prefer | ChannelBinding::Require => conn.tls_server_end_point(),
    };
    // The GS2 header tells the server what the client could do: `p` binds, `y` says "I could
    // bind but you did not offer it" (so a man in the middle who strips PLUS is caught), `n`
    // says "I cannot bind".
    let (mechanism, binding, method) = match end_point {
        Some(data) if plus => (
            sasl::SCRAM_SHA_256_PLUS,
            sasl::ChannelBinding::tls_server_end_point(data),
            AuthMethod::ScramSha256Plus,
        ),
        Some(_) if plain => (
            sasl::SCRAM_SHA_256,
            sasl::ChannelBinding::unrequested(),
            AuthMethod::ScramSha256,
        ),
        None if plain => (
            sasl::SCRAM_SHA_256,
            sasl::ChannelBinding::unsupported(),
            AuthMethod::ScramSha256,
        ),
        _ => {
            return Err(ReplicationError::Authentication(format!(
                "the server offers SASL mechanisms {offered:?}, none of which this client \
                 can use here"
            )));
        }
    };
    if config.channel_binding == ChannelBinding::Require && method != AuthMethod::ScramSha256Plus {
        return Err(ReplicationError::Authentication(
            "channel_binding=require, but channel binding is not possible: it needs TLS, a \
             server offering SCRAM-SHA-256-PLUS and a certificate signed with SHA-2"
                .into(),
        ));
    }

    let mut exchange = sasl::ScramSha256::new(password.as_bytes(), binding);
    frontend::sasl_initial_response(mechanism, exchange.message(), conn.write_buf())?;
    conn.flush().await?;
    loop {
        match read_message(conn).await? {
            Message::AuthenticationSaslContinue(body) => {
                exchange.update(body.data()).map_err(|e| {
                    ReplicationError::Authentication(format!("invalid SCRAM challenge: {e}"))
                })?;
                break;
            }
            Message::ErrorResponse(body) => {
                return Err(DbError::parse(&mut body.fields())?.into());
            }
            other => unexpected(conn, &other, "waiting for the SCRAM challenge")?,
        }
    }
    frontend::sasl_response(exchange.message(), conn.write_buf())?;
    conn.flush().await?;
    loop {
        match read_message(conn).await? {
            Message::AuthenticationSaslFinal(body) => {
                exchange.finish(body.data()).map_err(|e| {
                    ReplicationError::Authentication(format!(
                        "the server's SCRAM signature does not verify ({e}): the peer may not \
                         be the server it claims to be"
                    ))
                })?;
                return Ok(method);
            }
            Message::ErrorResponse(body) => {
                return Err(DbError::parse(&mut body.fields())?.into());
            }
            other => unexpected(conn, &other, "waiting for the SCRAM outcome")?,
        }
    }
}

/// With `channel_binding=require`, no password leaves the client unless SCRAM binds it to
/// the TLS channel (libpq does the same).
fn refuse_unbound_password(config: &ReplicationConfig, what: &str) -> Result<(), ReplicationError> {
    if config.channel_binding == ChannelBinding::Require {
        return Err(ReplicationError::Authentication(format!(
            "channel_binding=require, but the server asks for {what}, which cannot be bound to \
             the TLS channel: use scram-sha-256 in pg_hba.conf and TLS"
        )));
    }
    Ok(())
}

fn password(config: &ReplicationConfig) -> Result<&str, ReplicationError> {
    config
        .password
        .as_ref()
        .map(|password| password.expose())
        .ok_or_else(|| {
            ReplicationError::Authentication(format!(
                "the server asks a password for role {:?}, and none is configured",
                config.user
            ))
        })
}

/// Reads the next message, refusing CopyBothResponse (only START_REPLICATION expects it).
async fn read_message(conn: &mut Connection) -> Result<Message, ReplicationError> {
    match conn.read().await? {
        Backend::Message(message) => Ok(message),
        Backend::CopyBothResponse => Err(ReplicationError::Protocol(
            "unexpected CopyBothResponse".into(),
        )),
    }
}

/// Accepts the messages the server may send at any time, refuses anything else.
fn unexpected(
    conn: &mut Connection,
    message: &Message,
    during: &str,
) -> Result<(), ReplicationError> {
    if conn.handle_async(message)? {
        Ok(())
    } else {
        Err(ReplicationError::Protocol(format!(
            "unexpected {} message while {during}",
            message_name(message)
        )))
    }
}

pub(crate) fn message_name(message: &Message) -> &'static str {
    match message {
        Message::AuthenticationOk => "AuthenticationOk",
        Message::BackendKeyData(_) => "BackendKeyData",
        Message::CommandComplete(_) => "CommandComplete",
        Message::CopyData(_) => "CopyData",
        Message::CopyDone => "CopyDone",
        Message::CopyInResponse(_) => "CopyInResponse",
        Message::CopyOutResponse(_) => "CopyOutResponse",
        Message::DataRow(_) => "DataRow",
        Message::EmptyQueryResponse => "EmptyQueryResponse",
        Message::ErrorResponse(_) => "ErrorResponse",
        Message::ReadyForQuery(_) => "ReadyForQuery",
        Message::RowDescription(_) => "RowDescription",
        _ => "another",
    }
}

#[derive(Default)]
struct QueryResult {
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
}

impl QueryResult {
    fn single_row(&self, command: &str) -> Result<&[Option<String>], ReplicationError> {
        match self.rows.as_slice() {
            [row] => Ok(row),
            rows => Err(ReplicationError::Protocol(format!(
                "{command} returned {} rows instead of one",
                rows.len()
            ))),
        }
    }

    fn get<'a>(
        &self,
        row: &'a [Option<String>],
        column: &str,
    ) -> Result<Option<&'a str>, ReplicationError> {
        let index = self
            .columns
            .iter()
            .position(|name| name == column)
            .ok_or_else(|| ReplicationError::Protocol(format!("no column {column} in result")))?;
        Ok(row.get(index).and_then(|value| value.as_deref()))
    }

    fn required<'a>(
        &self,
        row: &'a [Option<String>],
        column: &str,
    ) -> Result<&'a str, ReplicationError> {
        self.get(row, column)?
            .ok_or_else(|| ReplicationError::Protocol(format!("column {column} is NULL")))
    }

    fn parse<T: std::str::FromStr>(
        &self,
        row: &[Option<String>],
        column: &str,
    ) -> Result<T, ReplicationError> {
        let text = self.required(row, column)?;
        text.parse().map_err(|_| {
            ReplicationError::Protocol(format!("column {column} has an invalid value {text:?}"))
        })
    }
}

/// Quotes an identifier for the replication grammar: `"name"`, inner quotes doubled.
pub fn quote_identifier(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// Quotes a string literal for the replication grammar: `'text'`, inner quotes doubled (the
/// replication scanner knows no backslash escapes).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The value of pgoutput's `publication_names` option: the names as a comma-separated list
/// of quoted identifiers (`"orders","my pub"`), which the server splits and unquotes.
pub fn quote_publication_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| quote_identifier(name))
        .collect::<Vec<_>>()
        .join(",")
}

/// Slot names are what PostgreSQL accepts (`ReplicationSlotValidateName`): 1 to 63
/// characters among lower-case letters, digits and underscores. Checking here turns a
/// mistyped name into a configuration error before any round trip.
pub(crate) fn validate_slot_name(name: &str) -> Result<(), ReplicationError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ReplicationError::Config(format!(
            "invalid replication slot name {name:?}: use 1 to 63 lower-case letters, digits \
             and underscores"
        )))
    }
}

fn create_slot_command(
    name: &str,
    temporary: bool,
    snapshot: SnapshotAction,
    modern_syntax: bool,
) -> Result<String, ReplicationError> {
    validate_slot_name(name)?;
    let temporary = if temporary { " TEMPORARY" } else { "" };
    let snapshot = match (modern_syntax, snapshot) {
        (true, SnapshotAction::Export) => " (SNAPSHOT 'export')",
        (true, SnapshotAction::NoExport) => " (SNAPSHOT 'nothing')",
        (true, SnapshotAction::Use) => " (SNAPSHOT 'use')",
        (false, SnapshotAction::Export) => " EXPORT_SNAPSHOT",
        (false, SnapshotAction::NoExport) => " NOEXPORT_SNAPSHOT",
        (false, SnapshotAction::Use) => " USE_SNAPSHOT",
    };
    Ok(format!(
        "CREATE_REPLICATION_SLOT {}{temporary} LOGICAL {PGOUTPUT}{snapshot}",
        quote_identifier(name)
    ))
}

fn start_replication_command(
    slot: &str,
    start_lsn: Lsn,
    options: &[(&str, &str)],
) -> Result<String, ReplicationError> {
    validate_slot_name(slot)?;
    let mut sql = format!(
        "START_REPLICATION SLOT {} LOGICAL {start_lsn}",
        quote_identifier(slot)
    );
    if !options.is_empty() {
        let options: Vec<String> = options
            .iter()
            .map(|(name, value)| {
                if name.contains('\0') || value.contains('\0') {
                    Err(ReplicationError::Config(format!(
                        "replication option {name:?} contains a NUL byte"
                    )))
                } else {
                    Ok(format!(
                        "{} {}",
                        quote_identifier(name),
                        quote_literal(value)
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        sql.push_str(" (");
        sql.push_str(&options.join(", "));
        sql.push(')');
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_create_slot_commands() {
        let command = |temporary, snapshot, modern| {
            create_slot_command("sluice_1", temporary, snapshot, modern).expect("valid")
        };
        assert_eq!(
            command(true, SnapshotAction::Export, true),
            "CREATE_REPLICATION_SLOT \"sluice_1\" TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')"
        );
        assert_eq!(
            command(false, SnapshotAction::NoExport, true),
            "CREATE_REPLICATION_SLOT \"sluice_1\" LOGICAL pgoutput (SNAPSHOT 'nothing')"
        );
        assert_eq!(
            command(false, SnapshotAction::Use, false),
            "CREATE_REPLICATION_SLOT \"sluice_1\" LOGICAL pgoutput USE_SNAPSHOT"
        );
    }

    #[test]
    fn builds_start_replication_with_quoting() {
        let publications = quote_publication_names(&["orders", "my \"pub\""]);
        assert_eq!(publications, r#""orders","my ""pub""""#);
        let sql = start_replication_command(
            "sluice",
            Lsn(0x16_B374_D848),
            &[
                ("proto_version", "1"),
                ("publication_names", &publications),
                ("x'y", "it's"),
            ],
        )
        .expect("valid");
        assert_eq!(
            sql,
            r#"START_REPLICATION SLOT "sluice" LOGICAL 16/B374D848 ("proto_version" '1', "publication_names" '"orders","my ""pub"""', "x'y" 'it''s')"#
        );
        assert_eq!(
            start_replication_command("s", Lsn::INVALID, &[]).expect("valid"),
            r#"START_REPLICATION SLOT "s" LOGICAL 0/0"#
        );
        assert!(start_replication_command("s", Lsn::INVALID, &[("a", "b\0")]).is_err());
    }

    #[test]
    fn validates_slot_names_like_postgres() {
        for good in ["a", "sluice_orders_2", &"x".repeat(63)] {
            assert!(validate_slot_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Upper",
            "with-dash",
            "sp ace",
            "quote\"",
            &"x".repeat(64),
        ] {
            assert!(validate_slot_name(bad).is_err(), "{bad}");
        }
    }
}
