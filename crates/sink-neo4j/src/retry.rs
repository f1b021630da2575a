//! Which failures are worth retrying: the one place that decides.
//!
//! | failure | outcome |
//! |---|---|
//! | no connection, I/O error, timeout, connection closed, ignored request | retry the batch |
//! | `Neo.TransientError.*` (deadlock, lock timeout, out of memory for now...) | retry the batch |
//! | `Neo.DatabaseError.*` (the server failed) | retry the batch |
//! | not a leader, read-only database, transaction terminated | retry the batch (a leader switch) |
//! | `Neo.ClientError.Security.*`, authentication failure | stop: credentials or privileges |
//! | `Neo.ClientError.Database.DatabaseNotFound` | stop: `neo4j.database` is wrong |
//! | `Neo.ClientError.Statement.SyntaxError`, `Neo.ClientError.Request.*` | stop: the sink's own query is wrong |
//! | bad URL, unsupported protocol version | stop: the configuration is wrong |
//! | other `Neo.ClientError.*` of a write (a constraint, a value the server refuses) | find the record, reject it |
//!
//! Retrying a whole batch is safe because every write is guarded by its version: what
//! was applied the first time is applied again as a no-op.

use neo4rs::Error;
use sluice_sink::SinkError;

/// What a failed request means.
#[derive(Debug, PartialEq)]
pub(crate) enum Failure {
    /// Worth retrying the batch.
    Retry(String),
    /// Nothing will succeed as configured.
    Stop(String),
    /// The server refused the statement's data: one of its rows is at fault. Carries
    /// the Neo4j status code (never the message, which may quote values).
    Refused(String),
}

impl Failure {
    /// The failure as the batch's error (a refusal outside a row write stops the sink).
    pub(crate) fn into_sink_error(self) -> SinkError {
        match self {
            Failure::Retry(message) => SinkError::Retryable(message),
            Failure::Stop(message) => SinkError::Permanent(message),
            Failure::Refused(code) => SinkError::Permanent(format!(
                "Neo4j refused a statement of the sink with {code}; retrying would send the \
                 same statement, so the sink stops: check the sink's configuration and the \
                 database's schema (constraints, indexes)"
            )),
        }
    }
}

/// Classifies the failure of `what`.
pub(crate) fn classify(what: &str, error: &Error) -> Failure {
    match error {
        Error::Neo4j(e) => match code(what, e.code()) {
            // The statement's text, never a value: parameters are not quoted.
            Failure::Stop(message) if e.code().ends_with("SyntaxError") => {
                Failure::Stop(format!("{message}; the server said: {}", e.message()))
            }
            failure => failure,
        },
        Error::AuthenticationError(_) => Failure::Stop(format!(
            "{what}: Neo4j refused the sink's credentials; check neo4j.user and neo4j.password"
        )),
        Error::UrlParseError(_)
        | Error::UnsupportedScheme(_)
        | Error::InvalidDnsName(_)
        | Error::InvalidConfig => Failure::Stop(format!(
            "{what}: the connection settings are invalid ({error}); check neo4j.url"
        )),
        Error::UnsupportedVersion(..) | Error::ProtocolMismatch(_) => Failure::Stop(format!(
            "{what}: the server does not speak a Bolt version the sink supports ({error}); \
             check that neo4j.url names a Neo4j 5 Bolt port"
        )),
        Error::StringTooLong | Error::MapTooBig | Error::BytesTooBig | Error::ListTooLong => {
            Failure::Refused(format!("a client-side limit ({error})"))
        }
        _ => Failure::Retry(format!("{what} failed: {error}")),
    }
}

/// Classifies a Neo4j status code (`Neo.<class>.<category>.<title>`).
pub(crate) fn code(what: &str, code: &str) -> Failure {
    let mut parts = code.split('.').skip(1);
    let (class, category, title) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    match (class, category, title) {
        ("TransientError", _, _) | ("DatabaseError", _, _) => {
            Failure::Retry(format!("{what} failed with {code}"))
        }
        ("ClientError", "Cluster", "NotALeader")
        | ("ClientError", "General", "ForbiddenOnReadOnlyDatabase")
        | ("ClientError", "Transaction", "Terminated" | "LockClientStopped") => Failure::Retry(
            format!("{what} failed with {code} (a leader switch or a restart)"),
        ),
        ("ClientError", "Security", _) => Failure::Stop(format!(
            "{what} was refused with {code}: check neo4j.user and neo4j.password, and grant \
             the user write access and schema rights (constraints, indexes) on the database"
        )),
        ("ClientError", "Database", "DatabaseNotFound") => Failure::Stop(format!(
            "{what} was refused with {code}: the database in neo4j.database does not exist"
        )),
        ("ClientError", "Statement", "SyntaxError") | ("ClientError", "Request", _) => {
            Failure::Stop(format!(
                "{what} was refused with {code}: the sink sent a statement the server does \
                 not accept (a bug, or a server older than Neo4j 5); report it"
            ))
        }
        ("ClientError", _, _) => Failure::Refused(code.to_owned()),
        _ => Failure::Retry(format!("{what} failed with {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_classified() {
        let retry = |c| matches!(code("x", c), Failure::Retry(_));
        let stop = |c| matches!(code("x", c), Failure::Stop(_));
        assert!(retry("Neo.TransientError.Transaction.DeadlockDetected"));
        assert!(retry(
            "Neo.TransientError.General.MemoryPoolOutOfMemoryError"
        ));
        assert!(retry("Neo.DatabaseError.General.UnknownError"));
        assert!(retry("Neo.ClientError.Cluster.NotALeader"));
        assert!(retry("Neo.ClientError.Transaction.Terminated"));
        assert!(stop("Neo.ClientError.Security.Unauthorized"));
        assert!(stop("Neo.ClientError.Security.Forbidden"));
        assert!(stop("Neo.ClientError.Database.DatabaseNotFound"));
        assert!(stop("Neo.ClientError.Statement.SyntaxError"));
        assert_eq!(
            code("x", "Neo.ClientError.Schema.ConstraintValidationFailed"),
            Failure::Refused("Neo.ClientError.Schema.ConstraintValidationFailed".into())
        );
        assert!(matches!(
            code("x", "Neo.ClientError.Statement.TypeError"),
            Failure::Refused(_)
        ));
    }

    #[test]
    fn transport_failures_are_retried() {
        assert!(matches!(
            classify("x", &Error::ConnectionError),
            Failure::Retry(_)
        ));
        assert!(matches!(
            classify("x", &Error::ConnectionTimedOut),
            Failure::Retry(_)
        ));
        assert!(matches!(
            classify("x", &Error::AuthenticationError("no".into())),
            Failure::Stop(_)
        ));
        assert!(matches!(
            Failure::Refused("c".into()).into_sink_error(),
            SinkError::Permanent(_)
        ));
    }
}
