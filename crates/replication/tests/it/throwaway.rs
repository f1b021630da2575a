//! MD5, clear-text password and TLS, on a throwaway cluster (`scripts/throwaway-cluster.sh`):
//! the shared server's pg_hba.conf and TLS settings are not ours to change. The ordinary SQL
//! connections of `connect_sql_client` are checked against the same TLS-only role.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_replication::{
    AuthMethod, ChannelBinding, Password, ReplicationClient, ReplicationConfig, ReplicationError,
    SnapshotAction, TlsMode, connect_sql_client, sqlstate,
};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/throwaway-cluster.sh")
}

/// The running cluster; stopped and deleted on drop, also when a test panics.
struct Cluster {
    port: u16,
    ca_file: PathBuf,
}

impl Cluster {
    /// Starts the cluster. A machine that cannot run one fails the test, saying what to
    /// install: a test that skips itself would let MD5, clear-text and TLS go untested.
    fn start() -> Cluster {
        // A port nobody uses now, so parallel test runs do not share (or stop) a cluster.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let output = Command::new("bash")
            .arg(script())
            .arg("up")
            .env("SLUICE_THROWAWAY_PORT", port.to_string())
            .output()
            .expect("run throwaway-cluster.sh");
        assert!(
            output.status.code() != Some(77),
            "cannot start the throwaway cluster the MD5, clear-text and TLS tests need: {} \
             Install PostgreSQL's server binaries and openssl (Debian/Ubuntu: \
             `apt-get install postgresql openssl`; any PostgreSQL 10 or later), or put the \
             directory holding initdb on PATH.",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        assert!(
            output.status.success(),
            "throwaway-cluster.sh up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let values: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Cluster {
            port: values["PORT"].parse().expect("PORT"),
            ca_file: PathBuf::from(&values["CA_FILE"]),
        }
    }

    fn config(&self, host: &str, user: &str, password: &str, tls: TlsMode) -> ReplicationConfig {
        let mut config = ReplicationConfig::new(host, user, "sluice");
        config.port = self.port;
        config.password = Some(Password::from(password));
        config.tls = tls;
        config
    }

    fn run(&self, args: &[&str]) {
        let status = Command::new("bash")
            .arg(script())
            .args(args)
            .env("SLUICE_THROWAWAY_PORT", self.port.to_string())
            .status()
            .expect("run throwaway-cluster.sh");
        assert!(status.success(), "throwaway-cluster.sh {args:?} failed");
    }

    fn verify_full(&self) -> TlsMode {
        TlsMode::VerifyFull {
            ca_file: Some(self.ca_file.clone()),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let status = Command::new("bash")
            .arg(script())
            .arg("down")
            .env("SLUICE_THROWAWAY_PORT", self.port.to_string())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("throwaway-cluster.sh down failed: {status:?}");
        }
    }
}

async fn ssl_in_use(client: &mut ReplicationClient) -> bool {
    let rows = client
        .simple_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .await
        .expect("pg_stat_ssl");
    rows == vec![vec![Some("t".to_owned())]]
}

/// An ordinary SQL connection through `connect_sql_client`, its I/O driven by a task.
async fn sql_client(
    config: &ReplicationConfig,
) -> Result<tokio_postgres::Client, ReplicationError> {
    let (client, connection) = connect_sql_client(config).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("SQL connection ended: {error}");
        }
    });
    Ok(client)
}

/// verify-full to a name the certificate does not carry: refused, permanently.
fn assert_name_mismatch(error: &ReplicationError) {
    assert!(
        matches!(
            error,
            ReplicationError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());
}

/// A `hostssl`-only role in clear text: pg_hba refuses it, permanently, with advice.
fn assert_hostnossl_rejected(error: &ReplicationError) {
    assert_eq!(
        error.code(),
        Some(sqlstate::INVALID_AUTHORIZATION_SPECIFICATION),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("pg_hba.conf"), "{error}");
}

async fn sql_ssl_in_use(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

/// The ordinary SQL connections (catalog, snapshot, repair, verify) follow the replication
/// connection's TLS policy: `sluice_tls` is `hostssl` only, as on RDS with rds.force_ssl.
async fn sql_connections_follow_the_tls_policy(cluster: &Cluster) {
    // verify-full with the CA, from the URL a user writes (keys tokio-postgres would refuse),
    // by DNS name and by IP address, SCRAM bound to the channel.
    for host in ["localhost", "127.0.0.1"] {
        let url = format!(
            "postgres://sluice_tls:tlspass@{host}:{}/sluice?sslmode=verify-full&sslrootcert={}\
             &channel_binding=require&application_name=sluice-sql-test",
            cluster.port,
            cluster.ca_file.display()
        );
        let config = ReplicationConfig::from_url(&url).expect("URL");
        let client = sql_client(&config)
            .await
            .unwrap_or_else(|e| panic!("verify-full SQL connection via {host}: {e}"));
        assert!(sql_ssl_in_use(&client).await, "{host}");
        let name: String = client
            .query_one("SHOW application_name", &[])
            .await
            .expect("SHOW")
            .get(0);
        assert_eq!(name, "sluice-sql-test");
    }

    // require and prefer: TLS without a certificate check.
    for tls in [TlsMode::Require, TlsMode::Prefer] {
        let config = cluster.config("127.0.0.1", "sluice_tls", "tlspass", tls.clone());
        let client = sql_client(&config)
            .await
            .unwrap_or_else(|e| panic!("{tls:?}: {e}"));
        assert!(sql_ssl_in_use(&client).await, "{tls:?}");
    }

    // sslmode=disable: the server refuses clear text for this role, permanently, with advice.
    let clear = cluster.config("127.0.0.1", "sluice_tls", "tlspass", TlsMode::Disable);
    let error = sql_client(&clear).await.expect_err("hostnossl reject");
    assert_hostnossl_rejected(&error);
    // ...while a role allowed in clear text still connects without TLS.
    let md5 = cluster.config("127.0.0.1", "sluice_md5", "md5pass", TlsMode::Disable);
    let client = sql_client(&md5).await.expect("md5 in clear text");
    assert!(!sql_ssl_in_use(&client).await);

    // verify-full without the CA: the test CA is not among the system's roots.
    let system_roots = cluster.config(
        "127.0.0.1",
        "sluice_tls",
        "tlspass",
        TlsMode::VerifyFull { ca_file: None },
    );
    let error = sql_client(&system_roots)
        .await
        .expect_err("the test CA is not a system root");
    assert!(
        matches!(
            error,
            ReplicationError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )) | ReplicationError::TlsConfig(_)
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    // verify-full with the CA, but a name the certificate does not carry.
    let wrong_name = cluster.config("127.0.0.2", "sluice_tls", "tlspass", cluster.verify_full());
    let error = sql_client(&wrong_name)
        .await
        .expect_err("127.0.0.2 is not in the certificate");
    assert_name_mismatch(&error);

    // A wrong password is the server's error, as for replication.
    let wrong = cluster.config("127.0.0.1", "sluice_tls", "nope", cluster.verify_full());
    let error = sql_client(&wrong).await.expect_err("wrong password");
    assert_eq!(error.code(), Some(sqlstate::INVALID_PASSWORD), "{error}");
    assert!(!error.is_retryable());
}

/// One test for the whole cluster, so it is started and removed once.
#[tokio::test]
async fn md5_cleartext_and_tls_on_a_throwaway_cluster() {
    let cluster = Cluster::start();

    // MD5 over clear text.
    let md5 = cluster.config("127.0.0.1", "sluice_md5", "md5pass", TlsMode::Disable);
    let mut client = ReplicationClient::connect(&md5).await.expect("md5 login");
    assert_eq!(client.auth_method(), AuthMethod::Md5);
    assert!(!client.is_tls());
    let identity = client.identify_system().await.expect("IDENTIFY_SYSTEM");
    assert_eq!(identity.dbname.as_deref(), Some("sluice"));
    client.close().await.expect("close");

    let mut wrong = md5.clone();
    wrong.password = Some(Password::from("nope"));
    let error = ReplicationClient::connect(&wrong)
        .await
        .expect_err("wrong md5 password");
    assert_eq!(error.code(), Some(sqlstate::INVALID_PASSWORD), "{error}");
    assert!(!error.is_retryable());

    // Clear-text password, over TLS (require: no certificate check).
    let clear = cluster.config("127.0.0.1", "sluice_clear", "clearpass", TlsMode::Require);
    let mut client = ReplicationClient::connect(&clear)
        .await
        .expect("password login");
    assert_eq!(client.auth_method(), AuthMethod::Cleartext);
    assert!(client.is_tls());
    assert!(ssl_in_use(&mut client).await);
    client.close().await.expect("close");

    // SCRAM over TLS binds to the channel by default (SCRAM-SHA-256-PLUS)...
    let require = cluster.config("127.0.0.1", "sluice_tls", "tlspass", TlsMode::Require);
    let mut client = ReplicationClient::connect(&require).await.expect("require");
    assert!(client.is_tls());
    assert_eq!(client.auth_method(), AuthMethod::ScramSha256Plus);
    assert!(ssl_in_use(&mut client).await);
    client.close().await.expect("close");
    // ...and does not when told not to; prefer upgrades to TLS when offered.
    let mut unbound = cluster.config("127.0.0.1", "sluice_tls", "tlspass", TlsMode::Prefer);
    unbound.channel_binding = ChannelBinding::Disable;
    let client = ReplicationClient::connect(&unbound).await.expect("unbound");
    assert!(client.is_tls());
    assert_eq!(client.auth_method(), AuthMethod::ScramSha256);
    client.close().await.expect("close");

    // verify-full with the test CA, by IP address and by DNS name (both in the SAN).
    for host in ["127.0.0.1", "localhost"] {
        let config = cluster.config(host, "sluice_tls", "tlspass", cluster.verify_full());
        let mut client = ReplicationClient::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("verify-full via {host}: {e}"));
        assert!(ssl_in_use(&mut client).await);
        assert_eq!(client.auth_method(), AuthMethod::ScramSha256Plus);
        client.close().await.expect("close");
    }
    // The same through a URL.
    let url = format!(
        "postgres://sluice_tls:tlspass@localhost:{}/sluice?sslmode=verify-full&sslrootcert={}\
         &channel_binding=require&application_name=sluice-test",
        cluster.port,
        cluster.ca_file.display()
    );
    let config = ReplicationConfig::from_url(&url).expect("URL");
    let mut client = ReplicationClient::connect(&config)
        .await
        .expect("URL login");
    let name = client
        .simple_query("SHOW application_name")
        .await
        .expect("SHOW");
    assert_eq!(name, vec![vec![Some("sluice-test".to_owned())]]);
    client.close().await.expect("close");

    // verify-full refuses: a name the certificate does not carry, an unknown CA.
    let wrong_name = cluster.config("127.0.0.2", "sluice_tls", "tlspass", cluster.verify_full());
    let error = ReplicationClient::connect(&wrong_name)
        .await
        .expect_err("127.0.0.2 is not in the certificate");
    assert_name_mismatch(&error);
    let system_roots = cluster.config(
        "127.0.0.1",
        "sluice_tls",
        "tlspass",
        TlsMode::VerifyFull { ca_file: None },
    );
    let error = ReplicationClient::connect(&system_roots)
        .await
        .expect_err("the test CA is not a system root");
    assert!(
        matches!(
            error,
            ReplicationError::Tls(_) | ReplicationError::TlsConfig(_)
        ),
        "{error:?}"
    );
    assert!(!error.is_retryable());

    sql_connections_follow_the_tls_policy(&cluster).await;

    // A hostssl-only role in clear text: pg_hba rejects it, permanently, with advice.
    let clear_tls_role = cluster.config("127.0.0.1", "sluice_tls", "tlspass", TlsMode::Disable);
    let error = ReplicationClient::connect(&clear_tls_role)
        .await
        .expect_err("hostnossl reject");
    assert_hostnossl_rejected(&error);

    // channel_binding=require cannot be met without TLS.
    let mut must_bind = cluster.config("127.0.0.1", "sluice_md5", "md5pass", TlsMode::Disable);
    must_bind.channel_binding = ChannelBinding::Require;
    let error = ReplicationClient::connect(&must_bind)
        .await
        .expect_err("no channel binding without TLS");
    assert!(
        matches!(error, ReplicationError::Authentication(_)),
        "{error}"
    );

    // A role without REPLICATION cannot start a walsender.
    let plain = cluster.config("127.0.0.1", "sluice_norepl", "noreplpass", TlsMode::Disable);
    let error = ReplicationClient::connect(&plain)
        .await
        .expect_err("no REPLICATION attribute");
    assert_eq!(
        error.code(),
        Some(sqlstate::INSUFFICIENT_PRIVILEGE),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("ALTER ROLE"), "{error}");

    // wal_level below logical: creating a logical slot fails with advice to restart.
    cluster.run(&["wal-level", "replica"]);
    let mut client = ReplicationClient::connect(&md5).await.expect("md5 login");
    let error = client
        .create_replication_slot("sluice_rt_wal_level", true, SnapshotAction::NoExport)
        .await
        .expect_err("wal_level=replica");
    assert_eq!(
        error.code(),
        Some(sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("wal_level = logical"), "{error}");
    client.close().await.expect("close");

    drop(cluster);
}
