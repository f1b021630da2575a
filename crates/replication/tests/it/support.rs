//! What every test needs: the server's address, an ordinary SQL connection, unique names,
//! and a guard that drops what a test created even when the test panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sluice_replication::{Lsn, ReplicationConfig};

/// The shared server's URL, from the workspace's test harness: the local stack's
/// `SLUICE_POSTGRES_URL`, or else a container. No server is a failure, never a skip.
pub(crate) async fn url() -> String {
    sluice_testkit::address(sluice_testkit::Server::Postgres)
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL for the replication tests: {e}"))
}

/// The replication configuration for the shared server.
pub(crate) async fn config() -> ReplicationConfig {
    let url = url().await;
    ReplicationConfig::from_url(&url)
        .unwrap_or_else(|e| panic!("the shared server's URL {url:?} is not usable: {e}"))
}

/// An ordinary (non-replication) connection to the shared server, opened as the source
/// opens its own: `connect_sql_client` on the same configuration.
pub(crate) async fn sql() -> tokio_postgres::Client {
    let (client, connection) = sluice_replication::connect_sql_client(&config().await)
        .await
        .unwrap_or_else(|e| panic!("ordinary connection to the shared server: {e}"));
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("ordinary connection ended: {error}");
        }
    });
    client
}

/// A name no other test (or test run) uses: `sluice_rt_<what>_<pid>_<n>`.
pub(crate) fn unique(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sluice_rt_{what}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The slot's `confirmed_flush_lsn`, if the slot exists.
pub(crate) async fn confirmed_flush_lsn(sql: &tokio_postgres::Client, slot: &str) -> Option<Lsn> {
    let row = sql
        .query_opt(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .expect("read pg_replication_slots")?;
    let text: Option<String> = row.get(0);
    text.map(|text| text.parse().expect("confirmed_flush_lsn is an LSN"))
}

/// Whether the slot exists.
pub(crate) async fn slot_exists(sql: &tokio_postgres::Client, slot: &str) -> bool {
    sql.query_opt(
        "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
        &[&slot],
    )
    .await
    .expect("read pg_replication_slots")
    .is_some()
}

/// Drops, when it goes out of scope (also on panic), the slots, publications and tables a
/// test registered. Active slots are freed by terminating the backend holding them.
#[derive(Default)]
pub(crate) struct Cleanup {
    slots: Vec<String>,
    publications: Vec<String>,
    tables: Vec<String>,
}

impl Cleanup {
    pub(crate) fn slot(&mut self, name: &str) -> String {
        self.slots.push(name.to_owned());
        name.to_owned()
    }

    pub(crate) fn publication(&mut self, name: &str) -> String {
        self.publications.push(name.to_owned());
        name.to_owned()
    }

    pub(crate) fn table(&mut self, name: &str) -> String {
        self.tables.push(name.to_owned());
        name.to_owned()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        let publications = std::mem::take(&mut self.publications);
        let tables = std::mem::take(&mut self.tables);
        // Drop runs inside the test's runtime, which cannot be blocked on: clean up from a
        // thread of our own with a runtime of its own.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(clean(slots, publications, tables));
        })
        .join();
        if outcome.is_err() && !std::thread::panicking() {
            panic!("cleanup failed");
        }
    }
}

async fn clean(slots: Vec<String>, publications: Vec<String>, tables: Vec<String>) {
    let sql = sql().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !slots.is_empty() {
        sql.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
             WHERE slot_name = ANY($1) AND active_pid IS NOT NULL \
             AND active_pid <> pg_backend_pid()",
            &[&slots],
        )
        .await
        .expect("terminate slot holders");
        let dropped = sql
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                 WHERE slot_name = ANY($1) AND NOT active",
                &[&slots],
            )
            .await;
        let left: i64 = sql
            .query_one(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = ANY($1)",
                &[&slots],
            )
            .await
            .expect("count slots")
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "could not drop slots {slots:?}: {dropped:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for publication in publications {
        sql.batch_execute(&format!("DROP PUBLICATION IF EXISTS {publication}"))
            .await
            .expect("drop publication");
    }
    for table in tables {
        sql.batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .expect("drop table");
    }
}
