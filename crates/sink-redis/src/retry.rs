//! Which failures are worth retrying: the one place that decides.
//!
//! | failure | outcome |
//! |---|---|
//! | connection refused or reset, I/O error, timeout | retry the batch, on a new connection |
//! | `LOADING`, `BUSY`, `TRYAGAIN`, `MASTERDOWN`, `CLUSTERDOWN`, `READONLY`, `OOM`, `MISCONF` | retry the batch |
//! | `NOAUTH`, `WRONGPASS`, authentication failed, `NOPERM` | stop: credentials or ACLs are wrong |
//! | `MOVED`, `ASK`, `CROSSSLOT` | stop: a Redis Cluster, which the sink does not support |
//! | `ERR unknown command` (`EVALSHA` renamed or disabled), invalid client configuration | stop |
//! | `WRONGTYPE` of one record's command | reject that record (dead letter) |
//! | `NOSCRIPT` | load the scripts again and resend (see the sink) |
//! | anything else | retry the batch: nothing is committed past it |
//!
//! Retrying a whole batch is safe because every write is guarded by its version: what
//! was applied the first time is refused as stale the second.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use sluice_sink::SinkError;

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Retry the batch on the same connection (the server answered).
    Retry,
    /// Retry the batch on a new connection (this one may be broken).
    Reconnect,
    /// Stop the sink.
    Stop,
    /// One record's command failed for good.
    Reject,
}

/// Classifies an error.
pub(crate) fn classify(error: &RedisError) -> Class {
    match error.kind() {
        ErrorKind::Io | ErrorKind::Parse | ErrorKind::ClusterConnectionNotFound => {
            return Class::Reconnect;
        }
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig => return Class::Stop,
        ErrorKind::Server(
            ServerErrorKind::NoPerm
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask
            | ServerErrorKind::CrossSlot,
        ) => return Class::Stop,
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::ReadOnly,
        ) => return Class::Retry,
        _ => {}
    }
    if error.is_timeout() || error.is_connection_dropped() || error.is_connection_refusal() {
        return Class::Reconnect;
    }
    match error.code() {
        Some("NOAUTH" | "WRONGPASS" | "NOPERM") => Class::Stop,
        Some("WRONGTYPE") => Class::Reject,
        Some("ERR") if error.detail().is_some_and(is_unknown_command) => Class::Stop,
        _ => Class::Retry,
    }
}

fn is_unknown_command(detail: &str) -> bool {
    detail.trim_start().starts_with("unknown command")
}

/// The sink error for a failure of `what` (a phrase: "the write pipeline").
pub(crate) fn error(what: &str, error: &RedisError) -> SinkError {
    let code = error.code().unwrap_or_default();
    match classify(error) {
        Class::Stop => SinkError::Permanent(stop_sentence(what, code, error)),
        Class::Retry | Class::Reconnect | Class::Reject => {
            SinkError::Retryable(format!("{what} failed: {error}"))
        }
    }
}

fn stop_sentence(what: &str, code: &str, error: &RedisError) -> String {
    match (error.kind(), code) {
        (ErrorKind::AuthenticationFailed, _) | (_, "NOAUTH" | "WRONGPASS") => format!(
            "{what} was refused ({error}): Redis does not accept the sink's credentials; \
             check the user and password in redis.url"
        ),
        (ErrorKind::Server(ServerErrorKind::NoPerm), _) | (_, "NOPERM") => format!(
            "{what} was refused ({error}): the sink's Redis user lacks a permission; \
             grant it EVALSHA, SCRIPT LOAD, SCAN, GET, UNLINK, DEL and PING on the \
             sink's keys (for example `+@read +@write +@scripting +@keyspace +ping`)"
        ),
        (
            ErrorKind::Server(
                ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::CrossSlot,
            ),
            _,
        ) => format!(
            "{what} failed ({error}): redis.url points at a Redis Cluster, which the sink \
             does not support; use a standalone Redis (or its primary)"
        ),
        _ => format!(
            "{what} failed ({error}); retrying would fail the same way, so the sink stops: \
             check redis.url and the server's configuration"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: &str, detail: &str) -> RedisError {
        redis::make_extension_error(code.to_owned(), Some(detail.to_owned()))
    }

    #[test]
    fn failures_are_classified() {
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify(&io), Class::Reconnect);
        let timeout = RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(classify(&timeout), Class::Reconnect);
        assert!(matches!(error("x", &io), SinkError::Retryable(_)));
        for code in ["BUSY", "OOM", "MISCONF", "SOMETHINGNEW"] {
            assert_eq!(classify(&server(code, "detail")), Class::Retry, "{code}");
        }
        for code in ["NOAUTH", "WRONGPASS", "NOPERM"] {
            assert_eq!(classify(&server(code, "detail")), Class::Stop, "{code}");
            assert!(matches!(
                error("x", &server(code, "detail")),
                SinkError::Permanent(_)
            ));
        }
        assert_eq!(
            classify(&server("WRONGTYPE", "Operation against a key")),
            Class::Reject
        );
        assert_eq!(
            classify(&server("ERR", "unknown command 'EVALSHA'")),
            Class::Stop
        );
        assert_eq!(classify(&server("ERR", "something else")), Class::Retry);
    }
}
