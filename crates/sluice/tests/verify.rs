//! `sluice verify` against the real pipeline: one table streamed into all three stores
//! by three sinks; verify finds no drift (also while a writer keeps updating rows, which
//! the recheck must not report), then names exactly the drift injected by hand.

use elasticsearch::http::transport::Transport;
use elasticsearch::indices::{IndicesDeleteParts, IndicesRefreshParts};
use elasticsearch::{DeleteParts, Elasticsearch, IndexParts};
use neo4rs::{Graph, query};
use redis::AsyncCommands as _;
use serde_json::{Value as Json, json};
use sluice_sink::TableName;

use super::store_pipeline::{TABLE_DDL, start_sink, tail};
use super::*;

/// The three stores of one test, named after its table.
struct Stores {
    search: Elasticsearch,
    search_url: String,
    index_prefix: String,
    index: String,
    redis_url: String,
    redis_prefix: String,
    graph: Graph,
    neo4j_url: String,
    label: String,
}

impl Stores {
    async fn new(h: &Harness) -> Stores {
        let search_url = address(Server::Search).await.expect("search engine");
        let index_prefix = h.name.replace('_', "-");
        let index = sluice_sink_elasticsearch::default_index_name(&index_prefix, &table(h))
            .expect("index name");
        let neo4j_url = address(Server::Neo4j).await.expect("neo4j");
        Stores {
            search: Elasticsearch::new(Transport::single_node(&search_url).expect("transport")),
            search_url,
            index_prefix,
            index,
            redis_url: address(Server::Redis).await.expect("redis"),
            redis_prefix: h.name.clone(),
            graph: Graph::new(neo4j_url.as_str(), "neo4j", "").expect("connect over Bolt"),
            neo4j_url,
            label: format!("Verify_{}", h.name),
        }
    }

    /// The three store sections.
    fn sections(&self, h: &Harness) -> String {
        format!(
            "[elasticsearch]\nurl = {:?}\nindex_prefix = {:?}\n\
             [redis]\nurl = {:?}\nkey_prefix = {:?}\n\
             [neo4j]\nurl = {:?}\n[neo4j.nodes.\"public.{}\"]\nlabel = {:?}\n",
            self.search_url,
            self.index_prefix,
            self.redis_url,
            self.redis_prefix,
            self.neo4j_url,
            h.name,
            self.label
        )
    }

    fn redis_key(&self, h: &Harness, id: i64) -> String {
        let mut config = sluice_sink_redis::RedisConfig::new(self.redis_url.clone());
        config.key_prefix = self.redis_prefix.clone();
        config.key_for(&table(h), &[Some(id.to_string())])
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis")
    }

    async fn clean_up(&self) {
        let _ = self
            .search
            .indices()
            .delete(IndicesDeleteParts::Index(&[&self.index]))
            .send()
            .await;
        let mut connection = self.redis().await;
        crate::unlink_matching(&mut connection, &format!("{}:*", self.redis_prefix)).await;
        let _ = self
            .graph
            .run(query(&format!("MATCH (n:{}) DETACH DELETE n", self.label)))
            .await;
    }
}

fn table(h: &Harness) -> TableName {
    TableName {
        schema: "public".into(),
        table: h.name.clone(),
    }
}

/// The canonical key of an `int8` id.
fn key(id: i64) -> String {
    format!("[\"{id}\"]")
}

/// Runs `sluice verify` on `config`: its exit code and its JSON report.
pub(crate) fn verify(config: &Path, extra: &[&str]) -> (i32, Json, String) {
    let output = sluice_command()
        .args(["verify", "--format", "json", "--config"])
        .arg(config)
        .args(extra)
        .output()
        .expect("run sluice verify");
    json_outcome(&output)
}

/// The sample keys of one kind in one store's result.
fn keys_of(report: &Json, store: &str, kind: &str) -> Vec<String> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["store"] == store)
        .and_then(|r| r[format!("{kind}_keys")].as_array())
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Updates random rows with ids in `ids` every 2 ms until `stop`; returns how many.
fn spawn_writer(
    h: &Harness,
    ids: std::ops::RangeInclusive<i64>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<u64> {
    let url = h.url.clone();
    let t = h.name.clone();
    tokio::spawn(async move {
        let (pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            pg.execute(
                &format!("UPDATE {t} SET name = 'busy ' || $1::text WHERE id = $2"),
                &[&n.to_string(), &fastrand::i64(ids.clone())],
            )
            .await
            .expect("update");
            n += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n
    })
}

#[tokio::test]
async fn verify_finds_no_drift_under_writes_and_names_injected_drift_in_every_store() {
    let h = Harness::new("verify", TABLE_DDL).await;
    let t = h.name.clone();
    let stores = Stores::new(&h).await;
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'row ' || i, NULL FROM generate_series(1, 500) AS i"
    ))
    .await
    .expect("rows");
    let (source, _pid) = h.start(None).await;

    let base = format!(
        "[kafka]\nbootstrap_servers = {:?}\n[sink]\ntopic_prefix = \"{t}\"\n\
         batch_max_wait_ms = 100\ntopic_refresh_seconds = 1\n{{group}}\n\
         [metrics]\nenabled = false\n{}",
        h.bootstrap,
        stores.sections(&h)
    );
    let mut sinks = Vec::new();
    for kind in ["elasticsearch", "redis", "neo4j"] {
        let config = h.dir.path().join(format!("{kind}.toml"));
        std::fs::write(
            &config,
            base.replace("{group}", &format!("group_id = \"{t}-{kind}\"")),
        )
        .expect("sink config");
        let log = h.dir.path().join(format!("{kind}.log"));
        sinks.push((start_sink(kind, &config, &log), log));
    }
    let verify_config = h.dir.path().join("verify.toml");
    std::fs::write(
        &verify_config,
        format!(
            "{}\n[postgres]\nurl = {:?}\n[verify]\npublication = \"{t}_pub\"\nslot = \"{}\"\n\
             chunk_rows = 100\n[verify.groups]\nelasticsearch = \"{t}-elasticsearch\"\n\
             redis = \"{t}-redis\"\nneo4j = \"{t}-neo4j\"\n",
            base.replace("{group}", ""),
            h.url,
            h.slot()
        ),
    )
    .expect("verify config");

    // The snapshot reaches every store: verify settles to no drift.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, report, output) = verify(&verify_config, &["--settle-seconds", "20"]);
        if code == 0 {
            assert_eq!(report["drift"], false, "{output}");
            break;
        }
        assert_eq!(code, 1, "verify failed:\n{output}");
        assert!(
            Instant::now() < deadline,
            "no convergence:\n{output}\n{}",
            sinks
                .iter()
                .map(|(_, log)| tail(log))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // A writer keeps updating rows during a verify: in-flight changes are not drift.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&h, 1..=500, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = h.dir.path().join("verify.prom");
    let metrics_arg = metrics.to_str().expect("utf-8 path").to_owned();
    let (code, report, output) = verify(
        &verify_config,
        &["--settle-seconds", "60", "--metrics-file", &metrics_arg],
    );
    stop.store(true, Ordering::Relaxed);
    let updates = writer.await.expect("writer");
    assert!(updates > 10, "the writer made {updates} updates");
    assert_eq!(code, 0, "false drift under writes:\n{output}");
    eprintln!("verify under writes: {report}");
    assert_eq!(report["drift"], false);
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    assert!(
        text.contains(&format!(
            "sluice_verify_rows_checked{{table=\"public.{t}\",store=\"redis\"}} 500"
        )),
        "{text}"
    );
    assert!(
        text.contains("sluice_verify_last_run_timestamp_seconds "),
        "{text}"
    );

    // Drift by hand: a document deleted and one added, a Redis field changed and a key
    // added, a node removed and one added.
    let refresh = || async {
        stores
            .search
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&stores.index]))
            .send()
            .await
            .expect("refresh");
    };
    stores
        .search
        .delete(DeleteParts::IndexId(&stores.index, &key(5)))
        .send()
        .await
        .expect("delete a document");
    stores
        .search
        .index(IndexParts::IndexId(&stores.index, &key(9001)))
        .body(json!({ "id": 9001, "name": "ghost", "big": null, "sluice_version": 1 }))
        .send()
        .await
        .expect("add a document");
    refresh().await;
    let mut redis = stores.redis().await;
    let _: () = redis
        .hset(stores.redis_key(&h, 6), "name", "tampered")
        .await
        .expect("HSET");
    let _: () = redis
        .hset_multiple(
            stores.redis_key(&h, 9002),
            &[("id", "9002"), ("name", "ghost"), ("_sluice_version", "1")],
        )
        .await
        .expect("HSET");
    stores
        .graph
        .run(
            query(&format!(
                "MATCH (n:{} {{sluice_key: $key}}) DETACH DELETE n",
                stores.label
            ))
            .param("key", key(7)),
        )
        .await
        .expect("remove a node");
    stores
        .graph
        .run(
            query(&format!(
                "CREATE (:{} {{sluice_key: $key, sluice_version: 1, id: 9003}})",
                stores.label
            ))
            .param("key", key(9003)),
        )
        .await
        .expect("add a node");

    let (code, report, output) = verify(&verify_config, &["--settle-seconds", "10"]);
    assert_eq!(code, 1, "{output}");
    assert_eq!(report["drift"], true, "{output}");
    let expect = |store: &str, kind: &str, keys: &[i64]| {
        let want: Vec<String> = keys.iter().map(|&id| key(id)).collect();
        assert_eq!(
            keys_of(&report, store, kind),
            want,
            "{store} {kind}:\n{output}"
        );
    };
    expect("elasticsearch", "missing", &[5]);
    expect("elasticsearch", "extra", &[9001]);
    expect("elasticsearch", "stale", &[]);
    expect("redis", "missing", &[]);
    expect("redis", "extra", &[9002]);
    expect("redis", "stale", &[6]);
    expect("neo4j", "missing", &[7]);
    expect("neo4j", "extra", &[9003]);
    expect("neo4j", "stale", &[]);

    // --store narrows the run; the text report names the keys too.
    let output = sluice_command()
        .args(["verify", "--store", "redis", "--config"])
        .arg(&verify_config)
        .args(["--settle-seconds", "5"])
        .output()
        .expect("run sluice verify");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("1 extra, 1 stale"), "{text}");
    assert!(text.contains("stale [\"6\"]"), "{text}");
    assert!(!text.contains(" in elasticsearch"), "{text}");

    // --repair emits the drifted keys again through the pipeline, at a version read from
    // an exported snapshot, while a writer keeps changing other rows: every store heals,
    // and nothing the writer did is undone.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = spawn_writer(&h, 100..=500, stop.clone());
    let source_config = h.dir.path().join("sluice.toml");
    let source_arg = source_config.to_str().expect("utf-8 path").to_owned();
    let (code, report, output) = verify(
        &verify_config,
        &[
            "--settle-seconds",
            "30",
            "--repair",
            "--source-config",
            &source_arg,
            "--metrics-file",
            &metrics_arg,
        ],
    );
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    assert_eq!(code, 0, "the repair left drift:\n{output}");
    assert_eq!(report["drift"], false, "{output}");
    let repaired = |store: &str| -> Vec<(String, String)> {
        let result = report["results"]
            .as_array()
            .expect("results")
            .iter()
            .find(|r| r["store"] == store)
            .expect("the store's result");
        let mut keys: Vec<(String, String)> = result["repaired_keys"]
            .as_array()
            .expect("repaired_keys")
            .iter()
            .map(|k| {
                (
                    k["key"].as_str().expect("key").to_owned(),
                    k["kind"].as_str().expect("kind").to_owned(),
                )
            })
            .collect();
        keys.sort();
        keys
    };
    let pair = |id: i64, kind: &str| (key(id), kind.to_owned());
    assert_eq!(
        repaired("elasticsearch"),
        [pair(5, "missing"), pair(9001, "extra")],
        "{output}"
    );
    assert_eq!(
        repaired("redis"),
        [pair(6, "stale"), pair(9002, "extra")],
        "{output}"
    );
    assert_eq!(
        repaired("neo4j"),
        [pair(7, "missing"), pair(9003, "extra")],
        "{output}"
    );
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    assert!(
        text.contains(&format!(
            "sluice_verify_repaired_rows{{table=\"public.{t}\",store=\"redis\",kind=\"stale\"}} 1"
        )),
        "{text}"
    );
    // The healed rows hold PostgreSQL's values, and a plain verify agrees once the
    // writer's changes settled.
    let name6: String =
        h.pg.query_one(&format!("SELECT name FROM {t} WHERE id = 6"), &[])
            .await
            .expect("row 6")
            .get(0);
    let stored6: Option<String> = redis
        .hget(stores.redis_key(&h, 6), "name")
        .await
        .expect("HGET");
    assert_eq!(stored6, Some(name6));
    let (code, _, output) = verify(&verify_config, &["--settle-seconds", "30"]);
    assert_eq!(code, 0, "drift after the repair:\n{output}");

    for (sink, log) in sinks {
        assert!(terminate(sink).success(), "{}", tail(&log));
    }
    assert!(terminate(source).success());
    stores.clean_up().await;
    h.clean_up().await;
}

/// With the source's config, verify compares what the source captures (a column
/// excluded, one hashed), and `--repair` writes the masked form back.
#[tokio::test]
async fn verify_with_the_source_config_compares_and_repairs_masked_rows() {
    let h = Harness::new("verify_mask", TABLE_DDL).await;
    let t = h.name.clone();
    let stores = Stores::new(&h).await;
    let source_config = h.dir.path().join("sluice.toml");
    let text = std::fs::read_to_string(&source_config).expect("source config");
    std::fs::write(
        &source_config,
        text.replace(
            "status_interval_seconds = 0.5\n",
            &format!(
                "status_interval_seconds = 0.5\nexclude_columns = [\"public.{t}.big\"]\n\
                 mask_salt = \"pepper\"\n[[source.mask]]\ncolumns = [\"public.{t}.name\"]\n\
                 method = \"hash\"\n"
            ),
        ),
    )
    .expect("source config with masks");
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'secret ' || i, 'big ' || i FROM generate_series(1, 50) AS i"
    ))
    .await
    .expect("rows");
    let (source, _pid) = h.start(None).await;
    let config = h.dir.path().join("redis.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbootstrap_servers = {:?}\n[sink]\ntopic_prefix = \"{t}\"\n\
             batch_max_wait_ms = 100\ntopic_refresh_seconds = 1\ngroup_id = \"{t}-redis\"\n\
             [metrics]\nenabled = false\n[redis]\nurl = {:?}\nkey_prefix = {:?}\n\
             [postgres]\nurl = {:?}\n[verify]\npublication = \"{t}_pub\"\nslot = \"{}\"\n\
             [verify.groups]\nredis = \"{t}-redis\"\n",
            h.bootstrap,
            stores.redis_url,
            stores.redis_prefix,
            h.url,
            h.slot()
        ),
    )
    .expect("sink config");
    let log = h.dir.path().join("redis.log");
    let sink = start_sink("redis", &config, &log);
    let source_arg = source_config.to_str().expect("utf-8 path").to_owned();
    let with_source = ["--settle-seconds", "20", "--source-config", &source_arg];

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (code, _, output) = verify(&config, &with_source);
        if code == 0 {
            break;
        }
        assert_eq!(code, 1, "verify failed:\n{output}");
        assert!(
            Instant::now() < deadline,
            "no convergence:\n{output}\n{}",
            tail(&log)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut redis = stores.redis().await;
    let stored: Option<String> = redis
        .hget(stores.redis_key(&h, 1), "name")
        .await
        .expect("HGET");
    assert_eq!(stored.map(|hash| hash.len()), Some(64), "a hex SHA-256");
    // Without the source's rules every row looks stale: the store holds hashes.
    let (code, report, output) = verify(&config, &["--settle-seconds", "1"]);
    assert_eq!(code, 1, "{output}");
    assert_eq!(report["results"][0]["stale"], 50, "{output}");

    // A hashed field changed by hand is named, and repaired with the hash.
    let _: () = redis
        .hset(stores.redis_key(&h, 3), "name", "tampered")
        .await
        .expect("HSET");
    let (code, report, output) = verify(&config, &with_source);
    assert_eq!(code, 1, "{output}");
    assert_eq!(keys_of(&report, "redis", "stale"), [key(3)], "{output}");
    let mut repair = vec!["--repair"];
    repair.extend(with_source);
    let (code, report, output) = verify(&config, &repair);
    assert_eq!(code, 0, "{output}");
    assert_eq!(report["results"][0]["repaired"], 1, "{output}");
    let stored: Option<String> = redis
        .hget(stores.redis_key(&h, 3), "name")
        .await
        .expect("HGET");
    assert_eq!(stored.map(|hash| hash.len()), Some(64), "{output}");

    assert!(terminate(sink).success(), "{}", tail(&log));
    assert!(terminate(source).success());
    stores.clean_up().await;
    h.clean_up().await;
}

#[test]
fn repair_without_the_source_config_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("verify.toml");
    std::fs::write(&config, "[kafka]\nbootstrap_servers = \"localhost:1\"\n").expect("config");
    let output = sluice_command()
        .args(["verify", "--repair", "--config"])
        .arg(&config)
        .output()
        .expect("run sluice verify");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--source-config"), "{stderr}");
}

#[test]
fn verify_without_a_publication_names_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("verify.toml");
    std::fs::write(
        &config,
        "[kafka]\nbootstrap_servers = \"localhost:1\"\n[postgres]\nurl = \"postgres://x@localhost:1/x\"\n",
    )
    .expect("config");
    let output = sluice_command()
        .args(["verify", "--config"])
        .arg(&config)
        .output()
        .expect("run sluice verify");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("verify.publication"), "{stderr}");
}
