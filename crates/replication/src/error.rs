//! Errors of the replication connection, split into retryable and permanent.
//!
//! The retry table is on [`ReplicationError`], where rustdoc shows it.

use std::fmt;
use std::io;
use std::time::Duration;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::ErrorFields;
use sluice_pgoutput::DecodeError;

/// An error of the replication connection.
///
/// The source's supervisor reconnects with backoff on a retryable error and stops with the
/// error's message on a permanent one, so the split is the one decision that matters here.
/// It lives in one table, [`ReplicationError::is_retryable`] and [`DbError::is_retryable`]:
///
/// | error | retryable | why |
/// | --- | --- | --- |
/// | I/O error, connection closed, timeout | yes | the network or the server went away; a new connection resumes from the slot |
/// | SQLSTATE class `08` (connection exception) | yes | same |
/// | `57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect now | yes | the server is restarting, failing over or starting up |
/// | `53300` too many connections | yes | `max_connections` or `max_wal_senders` is full for now |
/// | any other server error (`28P01`, `28000`, `42501`, `42704`, `55006`, `55000`, ...) | no | a person has to change something; [`DbError::operator_advice`] says what |
/// | TLS, authentication, configuration and protocol errors raised by this client | no | same |
/// | a CopyData payload that is not a valid `w`/`k` message ([`ReplicationError::Decode`]) | no | the server would send the same bytes again |
/// | [`ReplicationError::SqlConnection`] closed, or with an I/O error among its causes | yes | as for I/O errors above |
/// | any other [`ReplicationError::SqlConnection`] (TLS required but not offered, client-side authentication) | no | a person has to change the URL or the server |
///
/// `55006` (slot active for another PID) is permanent on purpose: the design runs one active
/// reader per slot with a standby replica waiting, and a reader that silently keeps retrying
/// against a slot held by someone else hides a deployment mistake. A supervisor that wants to
/// ride out the few seconds in which PostgreSQL notices a dead predecessor can match on
/// [`DbError::code`] itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplicationError {
    /// Reading from or writing to the socket failed.
    #[error("I/O error on the replication connection: {0}")]
    Io(#[from] io::Error),
    /// The server closed the connection without an error message.
    #[error("the server closed the replication connection")]
    ConnectionClosed,
    /// An operation with a deadline did not finish in time.
    #[error("timed out after {after:?} while {during}")]
    Timeout {
        /// What was being done.
        during: &'static str,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server answered with an `ErrorResponse`.
    #[error("{0}")]
    Server(Box<DbError>),
    /// The TLS handshake failed (certificate not trusted, name mismatch, no common cipher...).
    #[error(
        "TLS handshake with the server failed: {0}; check sslmode, the CA file and that the server certificate names this host"
    )]
    Tls(#[source] rustls::Error),
    /// TLS is required, but the server answered the SSLRequest with `N`.
    #[error(
        "the server does not accept TLS connections but sslmode={mode} requires TLS: set ssl=on on the server, or lower sslmode"
    )]
    TlsNotSupported {
        /// The configured TLS mode.
        mode: &'static str,
    },
    /// The TLS client could not be set up (unreadable CA file, no trusted roots...).
    #[error("cannot set up TLS: {0}")]
    TlsConfig(String),
    /// Authentication failed on the client side: the server asked for a method this client
    /// does not speak, a password is needed but none is configured, the server's SCRAM proof
    /// was wrong, or channel binding was required but not done.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The configuration (or an argument such as a slot name) is invalid.
    #[error("invalid replication configuration: {0}")]
    Config(String),
    /// The server sent something this client did not expect.
    #[error("replication protocol error: {0}")]
    Protocol(String),
    /// A CopyData payload of the stream is not a valid XLogData or keepalive message
    /// ([`ReplicationMessage::parse`](crate::ReplicationMessage::parse) refused it).
    #[error("malformed replication message: {0}")]
    Decode(#[from] DecodeError),
    /// [`connect_sql_client`](crate::connect_sql_client) failed for a reason that is neither
    /// the server's error ([`ReplicationError::Server`]) nor a refused certificate
    /// ([`ReplicationError::Tls`]): the network, the server not offering TLS that sslmode
    /// requires, an authentication step on the client side.
    #[error("cannot open the SQL connection: {0}")]
    SqlConnection(#[source] tokio_postgres::Error),
}

impl ReplicationError {
    /// Whether reconnecting (with backoff) may succeed without anyone changing anything.
    ///
    /// See the table on [`ReplicationError`].
    pub fn is_retryable(&self) -> bool {
        match self {
            ReplicationError::Io(_)
            | ReplicationError::ConnectionClosed
            | ReplicationError::Timeout { .. } => true,
            ReplicationError::Server(db) => db.is_retryable(),
            ReplicationError::SqlConnection(error) => is_transport_failure(error),
            ReplicationError::Tls(_)
            | ReplicationError::TlsNotSupported { .. }
            | ReplicationError::TlsConfig(_)
            | ReplicationError::Authentication(_)
            | ReplicationError::Config(_)
            | ReplicationError::Protocol(_)
            | ReplicationError::Decode(_) => false,
        }
    }

    /// The server's error, when the server sent one.
    pub fn as_db_error(&self) -> Option<&DbError> {
        match self {
            ReplicationError::Server(db) => Some(db),
            _ => None,
        }
    }

    /// The SQLSTATE code, when the server sent an error.
    pub fn code(&self) -> Option<&str> {
        self.as_db_error().map(DbError::code)
    }

    /// Maps an I/O error from the TLS stream: a rustls error inside means the handshake
    /// itself was refused (permanent), anything else is a transport error (retryable).
    pub(crate) fn from_tls_io(error: io::Error) -> ReplicationError {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned();
        match tls {
            Some(tls) => ReplicationError::Tls(tls),
            None => ReplicationError::Io(error),
        }
    }
}

/// Whether a `tokio-postgres` error means the connection or the network failed (closed, or
/// an I/O error somewhere in its causes), rather than something a person has to change.
fn is_transport_failure(error: &tokio_postgres::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<io::Error>() {
            return true;
        }
        cause = current.source();
    }
    error.is_closed()
}

impl From<DbError> for ReplicationError {
    fn from(value: DbError) -> Self {
        ReplicationError::Server(Box::new(value))
    }
}

/// SQLSTATE codes this crate gives meaning to.
pub mod sqlstate {
    /// `28P01` invalid_password.
    pub const INVALID_PASSWORD: &str = "28P01";
    /// `28000` invalid_authorization_specification (no pg_hba.conf entry, unknown role).
    pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
    /// `42501` insufficient_privilege.
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    /// `42704` undefined_object (slot or publication does not exist).
    pub const UNDEFINED_OBJECT: &str = "42704";
    /// `42710` duplicate_object (slot already exists).
    pub const DUPLICATE_OBJECT: &str = "42710";
    /// `55006` object_in_use (slot is active for another process).
    pub const OBJECT_IN_USE: &str = "55006";
    /// `55000` object_not_in_prerequisite_state (`wal_level` not logical, slot invalidated).
    pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
    /// `53300` too_many_connections (also `max_wal_senders` exhausted).
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// `53400` configuration_limit_exceeded (`max_replication_slots` exhausted).
    pub const CONFIGURATION_LIMIT_EXCEEDED: &str = "53400";
    /// `57P01` admin_shutdown.
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    /// `57P02` crash_shutdown.
    pub const CRASH_SHUTDOWN: &str = "57P02";
    /// `57P03` cannot_connect_now (starting up, shutting down, in recovery).
    pub const CANNOT_CONNECT_NOW: &str = "57P03";
}

/// An `ErrorResponse` (or `NoticeResponse`) from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    severity: String,
    code: String,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    where_: Option<String>,
    routine: Option<String>,
}

impl DbError {
    /// Severity, not localized when the server sends the `V` field (`ERROR`, `FATAL`, ...).
    pub fn severity(&self) -> &str {
        &self.severity
    }

    /// The SQLSTATE code, such as `55006`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The primary message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The optional detail message.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The optional hint.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The optional context (`WHERE` field).
    pub fn where_(&self) -> Option<&str> {
        self.where_.as_deref()
    }

    /// The server routine that raised the error.
    pub fn routine(&self) -> Option<&str> {
        self.routine.as_deref()
    }

    /// Whether a new connection may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        use sqlstate::*;
        self.code.starts_with("08")
            || matches!(
                self.code.as_str(),
                ADMIN_SHUTDOWN | CRASH_SHUTDOWN | CANNOT_CONNECT_NOW | TOO_MANY_CONNECTIONS
            )
    }

    /// A sentence telling the operator what to do, for the permanent errors a CDC source
    /// commonly meets.
    pub fn operator_advice(&self) -> Option<&'static str> {
        use sqlstate::*;
        Some(match self.code.as_str() {
            INVALID_PASSWORD => {
                "PostgreSQL rejected the password: fix the password Sluice uses for this role \
                 (and check the role's VALID UNTIL has not passed)"
            }
            INVALID_AUTHORIZATION_SPECIFICATION => {
                "PostgreSQL refused this role from this address: add a pg_hba.conf line for \
                 this database, role and address and reload (logical replication connections \
                 match the database name, not the `replication` keyword), and check the role \
                 exists and has LOGIN"
            }
            INSUFFICIENT_PRIVILEGE => {
                "the role lacks a privilege: logical replication needs the REPLICATION \
                 attribute (ALTER ROLE ... REPLICATION), reading a snapshot needs SELECT on \
                 the published tables"
            }
            UNDEFINED_OBJECT => {
                "the replication slot or publication named in the configuration does not \
                 exist: fix the name or create it; if the slot was dropped, the changes since \
                 its last confirmed position are gone and a new initial snapshot is needed"
            }
            DUPLICATE_OBJECT => {
                "a replication slot with this name already exists: reuse it, or drop it with \
                 pg_drop_replication_slot if it is a leftover"
            }
            OBJECT_IN_USE => {
                "the replication slot is being read by another connection (another Sluice \
                 replica, or a dead one PostgreSQL has not noticed yet): stop the other reader, \
                 or end it with pg_terminate_backend(active_pid) from pg_replication_slots"
            }
            CONFIGURATION_LIMIT_EXCEEDED => {
                "a server limit is reached (usually max_replication_slots): drop unused slots \
                 listed in pg_replication_slots, or raise the limit and restart PostgreSQL"
            }
            OBJECT_NOT_IN_PREREQUISITE_STATE if self.message.contains("wal_level") => {
                "logical decoding needs wal_level = logical: set it (ALTER SYSTEM SET wal_level \
                 = logical) and restart PostgreSQL"
            }
            OBJECT_NOT_IN_PREREQUISITE_STATE
                if self.message.contains("invalidated")
                    || self.message.contains("can no longer get changes") =>
            {
                "the replication slot was invalidated (it fell further behind than \
                 max_slot_wal_keep_size allows): drop and recreate it and take a new initial \
                 snapshot; the changes in between are lost"
            }
            _ => return None,
        })
    }

    pub(crate) fn parse(fields: &mut ErrorFields<'_>) -> Result<DbError, ReplicationError> {
        let mut severity = None;
        let mut severity_localized = None;
        let mut code = None;
        let mut message = None;
        let mut detail = None;
        let mut hint = None;
        let mut where_ = None;
        let mut routine = None;
        while let Some(field) = fields
            .next()
            .map_err(|e| ReplicationError::Protocol(format!("malformed error fields: {e}")))?
        {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'V' => severity = Some(value),
                b'S' => severity_localized = Some(value),
                b'C' => code = Some(value),
                b'M' => message = Some(value),
                b'D' => detail = Some(value),
                b'H' => hint = Some(value),
                b'W' => where_ = Some(value),
                b'R' => routine = Some(value),
                _ => {}
            }
        }
        Ok(DbError {
            severity: severity
                .or(severity_localized)
                .unwrap_or_else(|| "ERROR".to_owned()),
            code: code.unwrap_or_else(|| "XX000".to_owned()),
            message: message.unwrap_or_default(),
            detail,
            hint,
            where_,
            routine,
        })
    }

    /// The same error, as `tokio-postgres` parsed it.
    pub(crate) fn from_tokio_postgres(db: &tokio_postgres::error::DbError) -> DbError {
        DbError {
            severity: db
                .parsed_severity()
                .map_or_else(|| db.severity().to_owned(), |s| s.to_string()),
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            hint: db.hint().map(str::to_owned),
            where_: db.where_().map(str::to_owned),
            routine: db.routine().map(str::to_owned),
        }
    }

    #[cfg(test)]
    pub(crate) fn for_test(code: &str, message: &str) -> DbError {
        DbError {
            severity: "ERROR".to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
            detail: None,
            hint: None,
            where_: None,
            routine: None,
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, " (detail: {detail})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        if let Some(advice) = self.operator_advice() {
            write!(f, ". What to do: {advice}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str, message: &str) -> ReplicationError {
        DbError::for_test(code, message).into()
    }

    #[test]
    fn transport_failures_are_retryable() {
        assert!(
            ReplicationError::Io(io::Error::from(io::ErrorKind::ConnectionReset)).is_retryable()
        );
        assert!(ReplicationError::ConnectionClosed.is_retryable());
        assert!(
            ReplicationError::Timeout {
                during: "connecting",
                after: Duration::from_secs(1)
            }
            .is_retryable()
        );
        for code in ["08006", "08P01", "57P01", "57P02", "57P03", "53300"] {
            assert!(server(code, "x").is_retryable(), "{code}");
        }
    }

    #[test]
    fn operator_errors_are_permanent_and_explained() {
        for code in [
            "28P01", "28000", "42704", "55006", "42501", "53400", "42710",
        ] {
            let error = server(code, "x");
            assert!(!error.is_retryable(), "{code}");
            assert!(error.to_string().contains("What to do"), "{code}: {error}");
        }
        let wal_level = server("55000", "logical decoding requires wal_level >= logical");
        assert!(!wal_level.is_retryable());
        assert!(wal_level.to_string().contains("restart PostgreSQL"));
        let other_55000 = server("55000", "something else");
        assert!(!other_55000.is_retryable());
        assert!(!other_55000.to_string().contains("What to do"));
        assert!(!ReplicationError::Authentication("x".into()).is_retryable());
        assert!(!ReplicationError::Config("x".into()).is_retryable());
    }

    #[test]
    fn malformed_stream_messages_are_permanent() {
        let parsed = sluice_pgoutput::ReplicationMessage::parse(bytes::Bytes::from_static(b"z"));
        let error = ReplicationError::from(parsed.expect_err("unknown tag"));
        assert!(matches!(error, ReplicationError::Decode(_)), "{error}");
        assert!(!error.is_retryable());
        assert!(
            error
                .to_string()
                .starts_with("malformed replication message: ")
        );
    }
}
