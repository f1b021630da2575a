//! Connecting, authenticating and plain commands against the shared server.

use std::time::Duration;

use sluice_replication::{
    AuthMethod, Lsn, Password, ReplicationClient, ReplicationConfig, ReplicationError, TlsMode,
    sqlstate,
};

use super::support::{config, sql};

#[tokio::test]
async fn scram_login_then_identify_system() {
    let config = config().await;
    let mut client = ReplicationClient::connect(&config)
        .await
        .expect("replication connection");
    assert!(
        matches!(
            client.auth_method(),
            AuthMethod::ScramSha256 | AuthMethod::ScramSha256Plus
        ),
        "the shared server's pg_hba uses scram-sha-256, got {:?}",
        client.auth_method()
    );
    assert!(client.backend_pid().is_some());
    assert!(client.server_major_version() >= Some(10));
    assert_eq!(client.parameter("server_encoding"), Some("UTF8"));

    let identity = client.identify_system().await.expect("IDENTIFY_SYSTEM");
    assert_eq!(identity.dbname.as_deref(), Some(config.database.as_str()));
    assert!(identity.timeline >= 1);
    assert!(identity.xlogpos > Lsn::INVALID);
    let rows = client
        .simple_query("SELECT system_identifier::text FROM pg_control_system()")
        .await
        .expect("SQL on a replication connection");
    assert_eq!(rows, vec![vec![Some(identity.systemid.to_string())]]);

    let wal_level = client.simple_query("SHOW wal_level").await.expect("SHOW");
    assert_eq!(wal_level, vec![vec![Some("logical".to_owned())]]);
    client.close().await.expect("Terminate");
}

#[tokio::test]
async fn wrong_password_is_a_permanent_authentication_error() {
    let mut config = config().await;
    config.password = Some(Password::from("definitely-not-the-password"));
    let error = ReplicationClient::connect(&config)
        .await
        .expect_err("wrong password must fail");
    assert_eq!(error.code(), Some(sqlstate::INVALID_PASSWORD), "{error}");
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("password"), "{message}");
    assert!(message.contains("What to do"), "{message}");
}

#[tokio::test]
async fn missing_password_is_reported_before_any_guess() {
    let mut config = config().await;
    config.password = None;
    let error = ReplicationClient::connect(&config)
        .await
        .expect_err("no password must fail");
    assert!(
        matches!(error, ReplicationError::Authentication(_)),
        "{error}"
    );
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn refused_and_silent_servers_are_retryable() {
    // Nothing listens on port 1.
    let mut refused = ReplicationConfig::new("127.0.0.1", "sluice", "sluice");
    refused.port = 1;
    let error = ReplicationClient::connect(&refused)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, ReplicationError::Io(_)), "{error}");
    assert!(error.is_retryable());

    // A listener that accepts and never answers: the connect timeout must fire.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut silent = ReplicationConfig::new("127.0.0.1", "sluice", "sluice");
    silent.port = listener.local_addr().expect("address").port();
    silent.connect_timeout = Some(Duration::from_millis(300));
    let error = ReplicationClient::connect(&silent)
        .await
        .expect_err("a silent server must time out");
    assert!(matches!(error, ReplicationError::Timeout { .. }), "{error}");
    assert!(error.is_retryable());
    drop(listener);
}

#[tokio::test]
async fn tls_require_against_a_server_without_tls_is_permanent() {
    let sql = sql().await;
    let ssl: String = sql
        .query_one("SHOW ssl", &[])
        .await
        .expect("SHOW ssl")
        .get(0);
    if ssl == "on" {
        eprintln!("skipped: the shared server has ssl=on (the throwaway cluster covers TLS)");
        return;
    }
    let mut config = config().await;
    config.tls = TlsMode::Require;
    let error = ReplicationClient::connect(&config)
        .await
        .expect_err("require without server TLS");
    assert!(
        matches!(error, ReplicationError::TlsNotSupported { mode: "require" }),
        "{error}"
    );
    assert!(!error.is_retryable());

    // prefer falls back to clear text.
    let mut config = super::support::config().await;
    config.tls = TlsMode::Prefer;
    let client = ReplicationClient::connect(&config).await.expect("prefer");
    assert!(!client.is_tls());
}

#[tokio::test]
async fn sql_errors_keep_the_connection_usable() {
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    let error = client
        .simple_query("SELECT * FROM sluice_rt_no_such_table")
        .await
        .expect_err("undefined table");
    assert_eq!(error.code(), Some("42P01"));
    let db = error.as_db_error().expect("server error");
    assert!(db.message().contains("sluice_rt_no_such_table"));
    let rows = client
        .simple_query("SELECT 1, NULL::text; SELECT 'two'")
        .await
        .expect("usable after an error");
    assert_eq!(
        rows,
        vec![
            vec![Some("1".to_owned()), None],
            vec![Some("two".to_owned())]
        ]
    );
}

#[tokio::test]
async fn a_cancelled_query_does_not_desynchronise_the_connection() {
    let mut client = ReplicationClient::connect(&config().await)
        .await
        .expect("connect");
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        client.simple_query("SELECT pg_sleep(0.5), 'late'"),
    )
    .await;
    assert!(cancelled.is_err(), "the query should have been cancelled");
    // The abandoned query's rows arrive first; the client must skip them.
    let rows = client
        .simple_query("SELECT 'fresh'")
        .await
        .expect("query after cancel");
    assert_eq!(rows, vec![vec![Some("fresh".to_owned())]]);
}
