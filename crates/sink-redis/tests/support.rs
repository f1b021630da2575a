//! What every test needs: a sink on its own key prefix, a connection to read Redis back,
//! and the hand-built records of `sluice_sink::testing`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use redis::aio::MultiplexedConnection;
use serde_json::Value as Json;
use sluice_sink::{Applied, Record, Sink};
use sluice_sink_redis::{RedisConfig, RedisSink};
use sluice_testkit::{Server, address, unique_name};

pub(crate) use sluice_sink::testing::{TestTable, int, text, unchanged};

/// A sink writing under a prefix of its own, and a connection to look at what it wrote.
pub(crate) struct Harness {
    pub(crate) sink: RedisSink,
    pub(crate) redis: MultiplexedConnection,
}

/// The shared Redis' URL.
pub(crate) async fn redis_url() -> String {
    address(Server::Redis).await.expect("Redis address")
}

/// A connection of the test's own.
pub(crate) async fn connection(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .expect("Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis")
}

/// Runs `body` with a fresh harness, then removes every key under its prefix, whether
/// the body passed or panicked.
pub(crate) async fn with_harness<F, Fut>(
    name: &str,
    configure: impl FnOnce(&mut RedisConfig),
    body: F,
) where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url = redis_url().await;
    let mut config = RedisConfig::new(url.clone());
    config.key_prefix = unique_name(name);
    configure(&mut config);
    let prefix = config.key_prefix.clone();
    let sink = RedisSink::connect(config).await.expect("connect the sink");
    let mut redis = connection(&url).await;
    let result = tokio::spawn(body(Harness {
        sink,
        redis: redis.clone(),
    }))
    .await;
    remove_keys(&mut redis, &format!("{prefix}:*")).await;
    if let Err(error) = result {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// Every key matching `pattern`, by SCAN.
pub(crate) async fn scan(redis: &mut MultiplexedConnection, pattern: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .expect("SCAN");
        keys.extend(page);
        cursor = next;
        if cursor == 0 {
            return keys;
        }
    }
}

/// Removes the keys matching `pattern`.
pub(crate) async fn remove_keys(redis: &mut MultiplexedConnection, pattern: &str) {
    let keys: Vec<String> = scan(redis, pattern).await.into_iter().collect();
    for chunk in keys.chunks(500) {
        let _: Result<i64, _> = redis::cmd("UNLINK").arg(chunk).query_async(redis).await;
    }
}

impl Harness {
    /// Applies a batch the store must accept.
    pub(crate) async fn apply(&mut self, batch: &[Record]) -> Applied {
        self.sink.apply(batch).await.expect("apply the batch")
    }

    /// Applies a batch that must be applied whole, without rejections.
    pub(crate) async fn apply_all(&mut self, batch: &[Record]) {
        let applied = self.apply(batch).await;
        assert!(applied.rejected.is_empty(), "{:?}", applied.rejected);
    }

    /// The key of the row of `table` with this (single-column) primary key.
    pub(crate) fn key(&self, table: &TestTable, id: &str) -> String {
        self.sink.key_for(&table.name(), &[Some(id)])
    }

    /// The row as a hash (empty when there is none).
    pub(crate) async fn hash(&mut self, table: &TestTable, id: &str) -> BTreeMap<String, String> {
        let key = self.key(table, id);
        redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut self.redis)
            .await
            .expect("HGETALL")
    }

    /// The row as a JSON document, or `None`.
    pub(crate) async fn json(&mut self, table: &TestTable, id: &str) -> Option<Json> {
        let key = self.key(table, id);
        let text: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.redis)
            .await
            .expect("GET");
        text.map(|t| serde_json::from_str(&t).expect("a JSON row"))
    }

    /// The primary keys of the table's rows (bookkeeping keys left out).
    pub(crate) async fn ids(&mut self, table: &TestTable) -> BTreeSet<String> {
        let prefix = self.sink.config().table_prefix(&table.name());
        scan(&mut self.redis, &format!("{prefix}:*"))
            .await
            .into_iter()
            .filter_map(|key| key.strip_prefix(&format!("{prefix}:")).map(str::to_owned))
            .filter(|rest| !rest.starts_with("\\deleted:") && rest != "\\truncated")
            .collect()
    }

    /// Runs one command on the test's own connection.
    pub(crate) async fn query<T: redis::FromRedisValue>(&mut self, cmd: &mut redis::Cmd) -> T {
        cmd.query_async(&mut self.redis).await.expect("command")
    }
}

/// Strings to the `BTreeMap` a hash reads back as.
pub(crate) fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `ids` as the set [`Harness::ids`] returns.
pub(crate) fn id_set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}
