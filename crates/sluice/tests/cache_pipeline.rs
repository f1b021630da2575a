//! The pipeline into Redis: the scenario every store runs ([`super::store_pipeline`]),
//! with the rows cached as hashes under the test's own key prefix.

use redis::AsyncCommands as _;

use super::store_pipeline::{Converged, Rows, Store, TABLE_DDL, tail};
use super::*;

/// The local stack's Redis, rows under a key prefix of the test's own.
struct Cache {
    url: String,
    key_prefix: String,
    table: String,
}

impl Cache {
    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url.as_str()).ok()?;
        client.get_multiplexed_async_connection().await.ok()
    }

    /// Every key the sink wrote for the test, rows, tombstones and floors alike.
    async fn keys(&self) -> Option<Vec<String>> {
        let mut connection = self.connection().await?;
        let mut keys: Vec<String> = Vec::new();
        let mut iter = connection
            .scan_match::<_, String>(format!("{}:*", self.key_prefix))
            .await
            .ok()?;
        while let Some(key) = iter.next_item().await {
            keys.push(key.ok()?);
        }
        Some(keys)
    }
}

impl Store for Cache {
    const KIND: &'static str = "redis";

    fn upstream(&self) -> String {
        self.url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned()
    }

    fn section(&self, address: &str) -> String {
        format!(
            "[redis]\nurl = \"redis://{address}\"\nkey_prefix = \"{}\"\nrequest_timeout_seconds = 5\n",
            self.key_prefix
        )
    }

    async fn rows(&self) -> Option<Rows> {
        let row_prefix = format!("{}:public.{}:", self.key_prefix, self.table);
        let keys = self.keys().await?;
        let mut connection = self.connection().await?;
        let mut rows = Rows::new();
        for key in keys {
            // Tombstones and the truncate floor live under the table's prefix too, behind
            // a backslash no row key starts with.
            let Some(suffix) = key.strip_prefix(&row_prefix) else {
                continue;
            };
            if suffix.starts_with('\\') {
                continue;
            }
            let fields: std::collections::HashMap<String, String> =
                connection.hgetall(&key).await.ok()?;
            let id = fields
                .get("id")
                .and_then(|id| id.parse().ok())
                .unwrap_or(-1);
            rows.insert(
                id,
                (fields.get("name").cloned(), fields.get("big").cloned()),
            );
        }
        Some(rows)
    }
}

#[tokio::test]
async fn the_cache_converges_through_an_outage_and_a_killed_sink() {
    let h = Harness::new("redis_pipe", TABLE_DDL).await;
    let cache = Cache {
        url: address(Server::Redis).await.expect("redis"),
        key_prefix: h.name.clone(),
        table: h.name.clone(),
    };
    let Converged {
        source,
        sink,
        sink_log,
        ..
    } = super::store_pipeline::converges_through_an_outage_and_a_killed_sink(&h, &cache).await;

    // The rows are where an application looks for them: `<prefix>:<schema>.<table>:<id>`.
    let mut connection = cache.connection().await.expect("redis");
    let name: Option<String> = connection
        .hget(
            format!("{}:public.{}:3", cache.key_prefix, cache.table),
            "name",
        )
        .await
        .expect("HGET");
    assert_eq!(name.as_deref(), Some("stainless steel kettle"));

    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    assert!(terminate(source).success());
    let keys = cache.keys().await.expect("keys");
    if !keys.is_empty() {
        let _: () = connection.unlink(keys).await.expect("UNLINK");
    }
    h.clean_up().await;
}
