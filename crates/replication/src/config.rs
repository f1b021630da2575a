//! Where and how to connect: [`ReplicationConfig`], parsed from a `postgres://` URL.
//!
//! The URL grammar is libpq's (`postgres://user:password@host:port/database?key=value`) with
//! the query keys a replication source needs; unknown keys are refused, naming the key, so a
//! typo such as `sslmod=require` fails at start-up instead of silently connecting in clear.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::error::ReplicationError;

/// The default `application_name`, visible in `pg_stat_replication` and
/// `pg_stat_activity`.
pub const DEFAULT_APPLICATION_NAME: &str = "sluice";

/// The default time allowed for TCP connect, TLS handshake and authentication together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A password. It is never shown by `Debug` and has no `Display`: read it with
/// [`Password::expose`] at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl From<String> for Password {
    fn from(value: String) -> Self {
        Password(value)
    }
}

impl From<&str> for Password {
    fn from(value: &str) -> Self {
        Password(value.to_owned())
    }
}

/// Whether and how to use TLS, after libpq's `sslmode`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// `sslmode=disable`: never TLS.
    Disable,
    /// `sslmode=prefer` (libpq's default): TLS when the server offers it, without checking
    /// the server's certificate; clear text otherwise. Protects against passive sniffing only.
    #[default]
    Prefer,
    /// `sslmode=require`: TLS or fail, without checking the server's certificate.
    Require,
    /// `sslmode=verify-full`: TLS or fail, the certificate chain must lead to a trusted root
    /// and the certificate must name the host (DNS name or IP address).
    VerifyFull {
        /// PEM file of the roots to trust (`sslrootcert`); `None` trusts the operating
        /// system's roots.
        ca_file: Option<PathBuf>,
    },
}

impl TlsMode {
    /// The libpq `sslmode` spelling.
    pub fn as_sslmode(&self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyFull { .. } => "verify-full",
        }
    }
}

/// Whether SCRAM authentication binds itself to the TLS channel (`SCRAM-SHA-256-PLUS`,
/// `tls-server-end-point`), after libpq's `channel_binding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBinding {
    /// Never use channel binding.
    Disable,
    /// Use it when the connection is TLS and the server offers it (libpq's default).
    #[default]
    Prefer,
    /// Fail unless the server authenticated with SCRAM-SHA-256-PLUS over TLS. Channel
    /// binding proves the TLS peer is the server that knows the password's verifier, which
    /// `require` (no certificate check) does not otherwise give.
    Require,
}

/// Everything needed to open a replication connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// Host name or IP address of the server.
    pub host: String,
    /// TCP port (5432 by default).
    pub port: u16,
    /// Role to log in as; needs the `REPLICATION` attribute.
    pub user: String,
    /// The role's password, if the server asks for one.
    pub password: Option<Password>,
    /// Database whose changes are decoded (logical slots belong to one database).
    pub database: String,
    /// `application_name`, shown in `pg_stat_replication`.
    pub application_name: String,
    /// TLS mode.
    pub tls: TlsMode,
    /// SCRAM channel binding policy.
    pub channel_binding: ChannelBinding,
    /// Deadline for TCP connect, TLS and authentication together; `None` waits forever.
    pub connect_timeout: Option<Duration>,
}

impl ReplicationConfig {
    /// A configuration with the defaults: port 5432, no password, `application_name` sluice,
    /// TLS preferred, channel binding preferred, 10 s connect timeout.
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        database: impl Into<String>,
    ) -> Self {
        ReplicationConfig {
            host: host.into(),
            port: 5432,
            user: user.into(),
            password: None,
            database: database.into(),
            application_name: DEFAULT_APPLICATION_NAME.to_owned(),
            tls: TlsMode::default(),
            channel_binding: ChannelBinding::default(),
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
        }
    }

    /// Parses a `postgres://` (or `postgresql://`) URL.
    ///
    /// `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/ca.pem`.
    /// User, password and database are percent-decoded; the database defaults to the user.
    /// Query keys: `sslmode` (`disable`, `prefer`, `require`, `verify-full`), `sslrootcert`
    /// (a PEM file, or `system`; only with `verify-full`), `application_name`,
    /// `connect_timeout` (seconds, `0` = none), `channel_binding` (`disable`, `prefer`,
    /// `require`). Any other key is an error. One host only; Unix sockets are not supported.
    pub fn from_url(text: &str) -> Result<Self, ReplicationError> {
        let invalid = |why: String| ReplicationError::Config(format!("connection URL: {why}"));
        let url = url::Url::parse(text).map_err(|e| invalid(format!("not a URL ({e})")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(invalid(format!(
                "scheme must be postgres:// or postgresql://, not {}://",
                url.scheme()
            )));
        }
        let host = match url.host() {
            Some(url::Host::Domain(host)) => decode(host, "host")?,
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(invalid("no host (Unix sockets are not supported)".into())),
        };
        if host.is_empty() || host.contains(',') {
            return Err(invalid("exactly one host is supported".into()));
        }
        let user = decode(url.username(), "user")?;
        if user.is_empty() {
            return Err(invalid("no user (postgres://USER:PASSWORD@host/db)".into()));
        }
        let mut config = ReplicationConfig::new(host, user.clone(), user);
        config.port = url.port().unwrap_or(5432);
        config.password = url
            .password()
            .map(|p| decode(p, "password"))
            .transpose()?
            .map(Password::from);
        let database = decode(url.path().trim_start_matches('/'), "database")?;
        if !database.is_empty() {
            config.database = database;
        }

        let mut sslmode = None;
        let mut sslrootcert = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => sslmode = Some(value.into_owned()),
                "sslrootcert" => sslrootcert = Some(value.into_owned()),
                "application_name" => config.application_name = value.into_owned(),
                "connect_timeout" => {
                    let seconds: u64 = value.parse().map_err(|_| {
                        invalid(format!(
                            "connect_timeout={value} is not a number of seconds"
                        ))
                    })?;
                    config.connect_timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
                }
                "channel_binding" => {
                    config.channel_binding = match value.as_ref() {
                        "disable" => ChannelBinding::Disable,
                        "prefer" => ChannelBinding::Prefer,
                        "require" => ChannelBinding::Require,
                        other => {
                            return Err(invalid(format!(
                                "channel_binding={other}: expected disable, prefer or require"
                            )));
                        }
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "unsupported query parameter `{other}` (supported: sslmode, \
                         sslrootcert, application_name, connect_timeout, channel_binding)"
                    )));
                }
            }
        }
        config.tls = match sslmode.as_deref().unwrap_or("prefer") {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-full" => TlsMode::VerifyFull {
                ca_file: sslrootcert
                    .take()
                    .filter(|path| path != "system")
                    .map(PathBuf::from),
            },
            "verify-ca" => {
                return Err(invalid(
                    "sslmode=verify-ca is not supported: use verify-full, with a certificate \
                     that names the host"
                        .into(),
                ));
            }
            other => {
                return Err(invalid(format!(
                    "sslmode={other}: expected disable, prefer, require or verify-full"
                )));
            }
        };
        if sslrootcert.is_some() {
            return Err(invalid(
                "sslrootcert is only used with sslmode=verify-full".into(),
            ));
        }
        Ok(config)
    }
}

impl FromStr for ReplicationConfig {
    type Err = ReplicationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReplicationConfig::from_url(s)
    }
}

fn decode(text: &str, what: &str) -> Result<String, ReplicationError> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ReplicationError::Config(format!("connection URL: {what} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ReplicationConfig {
        ReplicationConfig::from_url(text).expect("valid URL")
    }

    #[test]
    fn parses_the_default_stack_url() {
        let config = parse("postgres://sluice:sluice@127.0.0.1:5432/sluice");
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 5432);
        assert_eq!(config.user, "sluice");
        assert_eq!(config.password, Some(Password::from("sluice")));
        assert_eq!(config.database, "sluice");
        assert_eq!(config.tls, TlsMode::Prefer);
        assert_eq!(config.application_name, DEFAULT_APPLICATION_NAME);
        assert_eq!(config.connect_timeout, Some(DEFAULT_CONNECT_TIMEOUT));
    }

    #[test]
    fn decodes_and_defaults() {
        let config = parse("postgresql://us%40er:p%3Aa%2Fss+w@db.example:6543");
        assert_eq!(config.user, "us@er");
        assert_eq!(
            config.password.as_ref().map(Password::expose),
            Some("p:a/ss+w")
        );
        assert_eq!(config.database, "us@er");
        assert_eq!(config.port, 6543);
        let v6 = parse("postgres://u@[::1]/d");
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.password, None);
    }

    #[test]
    fn parses_query_keys() {
        let config = parse(
            "postgres://u:p@h/d?sslmode=verify-full&sslrootcert=/etc/ca.pem\
             &application_name=src-1&connect_timeout=0&channel_binding=require",
        );
        assert_eq!(
            config.tls,
            TlsMode::VerifyFull {
                ca_file: Some(PathBuf::from("/etc/ca.pem"))
            }
        );
        assert_eq!(config.application_name, "src-1");
        assert_eq!(config.connect_timeout, None);
        assert_eq!(config.channel_binding, ChannelBinding::Require);
        let system = parse("postgres://u@h/d?sslmode=verify-full&sslrootcert=system");
        assert_eq!(system.tls, TlsMode::VerifyFull { ca_file: None });
        assert_eq!(
            parse("postgres://u@h/d?sslmode=disable").tls,
            TlsMode::Disable
        );
        assert_eq!(
            parse("postgres://u@h/d?sslmode=require").tls,
            TlsMode::Require
        );
    }

    #[test]
    fn refuses_what_it_would_misread() {
        for url in [
            "mysql://u@h/d",
            "postgres:///d",
            "postgres://h/d",
            "postgres://u@h/d?sslmod=require",
            "postgres://u@h/d?sslmode=verify-ca",
            "postgres://u@h/d?sslmode=require&sslrootcert=/ca.pem",
            "postgres://u@h/d?connect_timeout=ten",
            "postgres://u@h/d?replication=database",
        ] {
            let error = ReplicationConfig::from_url(url).expect_err(url);
            assert!(!error.is_retryable());
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let config = parse("postgres://sluice:hunter2@h/d");
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
