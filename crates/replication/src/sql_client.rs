//! Ordinary SQL connections (`tokio-postgres`) with the replication connection's TLS policy.
//!
//! The source opens more than the replication connection: a catalog connection, the
//! snapshot reader, the repair reader, and `sluice verify` its own. They must reach the same
//! servers as the replication connection, including those that accept TLS only (`hostssl`
//! pg_hba lines, RDS with `rds.force_ssl`), and must trust exactly what it trusts. So they
//! are configured from the same [`ReplicationConfig`] (one URL grammar, one validation) and
//! handshake with the same rustls client configuration (`tls::client_config`): same roots,
//! same "any certificate" verifier for `prefer` and `require`, same ALPN.
//!
//! `tokio-postgres` knows only `sslmode` disable, prefer and require, and leaves the
//! certificate check to the TLS connector, so `verify-full` becomes its `require` with a
//! connector that verifies the chain against `sslrootcert` (or the system's roots) and the
//! host name. It also refuses URL keys it does not know (`sslrootcert`, `verify-full`), which
//! is why the URL is never handed to it: its `Config` is built field by field instead.
//! `tokio-postgres-rustls` bridges `tokio-postgres` to rustls and supplies the
//! `tls-server-end-point` channel binding data for SCRAM-SHA-256-PLUS.

use std::error::Error as _;
use std::future::Future;
use std::io;

use rustls::pki_types::ServerName;
use tokio_postgres::config::{ChannelBinding as PgChannelBinding, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::config::{ChannelBinding, ReplicationConfig, TlsMode};
use super::error::{DbError, ReplicationError};
use super::tls;

/// Opens an ordinary (non-replication) `tokio-postgres` connection to the server `config`
/// names, with the same TLS policy, trusted roots and channel binding policy as
/// [`ReplicationClient::connect`](crate::ReplicationClient::connect).
///
/// Returns the client and the connection future that performs the I/O; spawn the latter, as
/// with `tokio_postgres::connect`. `config.connect_timeout` bounds TCP connect, TLS and
/// authentication together.
///
/// # Errors
///
/// The server's refusal ([`ReplicationError::Server`], e.g. `28000` from a `hostssl`-only
/// pg_hba.conf when `sslmode=disable`), a refused certificate ([`ReplicationError::Tls`]),
/// an unreadable CA file ([`ReplicationError::TlsConfig`]), a timeout, or any other failure
/// to connect ([`ReplicationError::SqlConnection`]); [`ReplicationError::is_retryable`]
/// classifies them as for the replication connection.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), sluice_replication::ReplicationError> {
/// use sluice_replication::{ReplicationConfig, connect_sql_client};
///
/// let url = "postgres://sluice:sluice@db.example/sluice?sslmode=verify-full&sslrootcert=/ca.pem";
/// let (client, connection) = connect_sql_client(&ReplicationConfig::from_url(url)?).await?;
/// tokio::spawn(connection);
/// # let _ = client;
/// # Ok(()) }
/// ```
pub async fn connect_sql_client(
    config: &ReplicationConfig,
) -> Result<
    (
        tokio_postgres::Client,
        impl Future<Output = Result<(), tokio_postgres::Error>> + Send + use<>,
    ),
    ReplicationError,
> {
    let postgres = postgres_config(config);
    if config.tls != TlsMode::Disable {
        // Checked here so that a bad name is a configuration error, as for replication.
        ServerName::try_from(config.host.as_str()).map_err(|_| {
            ReplicationError::Config(format!(
                "host {:?} is not a valid TLS server name",
                config.host
            ))
        })?;
    }
    let connector = MakeRustlsConnect::new(tls::client_config(&config.tls)?);
    let attempt = postgres.connect(connector);
    let connected =
        match config.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, attempt).await.map_err(|_| {
                ReplicationError::Timeout {
                    during: "connecting the SQL connection (TCP, TLS and authentication)",
                    after: limit,
                }
            })?,
            None => attempt.await,
        };
    let (client, connection) = connected.map_err(ReplicationError::from_sql_connect)?;
    tracing::debug!(
        host = %config.host,
        port = config.port,
        sslmode = config.tls.as_sslmode(),
        "SQL connection ready"
    );
    Ok((client, connection))
}

/// The `tokio-postgres` configuration for `config`; the TLS connector supplies the rest.
fn postgres_config(config: &ReplicationConfig) -> tokio_postgres::Config {
    let mut postgres = tokio_postgres::Config::new();
    postgres
        .host(&config.host)
        .port(config.port)
        .user(&config.user)
        .dbname(&config.database)
        .application_name(&config.application_name)
        .ssl_mode(match config.tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            // The certificate check of verify-full is the connector's (`tls::client_config`).
            TlsMode::Require | TlsMode::VerifyFull { .. } => SslMode::Require,
        })
        .channel_binding(match config.channel_binding {
            ChannelBinding::Disable => PgChannelBinding::Disable,
            ChannelBinding::Prefer => PgChannelBinding::Prefer,
            ChannelBinding::Require => PgChannelBinding::Require,
        });
    if let Some(password) = &config.password {
        postgres.password(password.expose());
    }
    postgres
}

impl ReplicationError {
    /// Classifies a failure of `tokio_postgres::Config::connect` like the replication
    /// connection's: the server's error keeps its SQLSTATE and advice, a certificate refused
    /// by rustls is [`ReplicationError::Tls`], the rest stays a `tokio-postgres` error.
    fn from_sql_connect(error: tokio_postgres::Error) -> ReplicationError {
        if let Some(db) = error.as_db_error() {
            return DbError::from_tokio_postgres(db).into();
        }
        // tokio-postgres-rustls reports a refused handshake as an io::Error around the
        // rustls::Error; io::Error::source skips its inner error, hence get_ref.
        let mut cause = error.source();
        while let Some(current) = cause {
            let rustls = current
                .downcast_ref::<rustls::Error>()
                .or_else(|| {
                    current
                        .downcast_ref::<io::Error>()
                        .and_then(io::Error::get_ref)
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                })
                .cloned();
            if let Some(rustls) = rustls {
                return ReplicationError::Tls(rustls);
            }
            cause = current.source();
        }
        ReplicationError::SqlConnection(error)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn postgres(url: &str) -> tokio_postgres::Config {
        postgres_config(&ReplicationConfig::from_url(url).expect("valid URL"))
    }

    #[test]
    fn maps_the_url_field_by_field() {
        let config = postgres(
            "postgres://us%40er:p%3Ass@db.example:6543/app?application_name=src-1\
             &channel_binding=require",
        );
        assert_eq!(
            config.get_hosts(),
            [tokio_postgres::config::Host::Tcp("db.example".into())]
        );
        assert_eq!(config.get_ports(), [6543]);
        assert_eq!(config.get_user(), Some("us@er"));
        assert_eq!(config.get_password(), Some(&b"p:ss"[..]));
        assert_eq!(config.get_dbname(), Some("app"));
        assert_eq!(config.get_application_name(), Some("src-1"));
        assert_eq!(config.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(config.get_channel_binding(), PgChannelBinding::Require);
        assert_eq!(postgres("postgres://u@h/d").get_password(), None);
    }

    #[test]
    fn verify_full_is_require_with_a_verifying_connector() {
        for (sslmode, expected) in [
            ("disable", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-full", SslMode::Require),
            ("verify-full&sslrootcert=/ca.pem", SslMode::Require),
        ] {
            let url = format!("postgres://u@h/d?sslmode={sslmode}");
            assert_eq!(postgres(&url).get_ssl_mode(), expected, "{sslmode}");
        }
    }

    #[tokio::test]
    async fn an_unreadable_ca_file_is_a_tls_configuration_error() {
        let mut config = ReplicationConfig::new("127.0.0.1", "u", "d");
        config.tls = TlsMode::VerifyFull {
            ca_file: Some(PathBuf::from("/nonexistent/sluice-ca.pem")),
        };
        let error = connect_sql_client(&config).await.err().expect("no CA file");
        assert!(matches!(error, ReplicationError::TlsConfig(_)), "{error}");
        assert!(!error.is_retryable());
    }
}
