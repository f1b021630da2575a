//! The fault-injection suite: a randomized workload across three tables streams through
//! `sluice source`, a Kafka broker of the test's own and all three sinks while faults are
//! injected at random moments; at the end `sluice verify` must find no drift anywhere.
//!
//! ```text
//!  workload ─▶ PostgreSQL ─▶ sluice source ─▶ PrivateKafka ─┬▶ sink elasticsearch ─▶ proxy ─▶ search engine
//!  inserts, updates, TOASTed      ▲               ▲         ├▶ sink redis ─────────▶ proxy ─▶ Redis
//!  values, deletes, key updates,  │               │         └▶ sink neo4j ─────────▶ proxy ─▶ Neo4j
//!  truncates, large transactions  SIGKILL,        stopped,           ▲                   ▲
//!                                 restarted       started again      SIGKILL, restarted  cut for a while
//! ```
//!
//! The faults come one at a time, a random 1.5 to 5 s apart, while the workload runs. The
//! first four are one of each kind (the source killed, a sink killed, a store cut off, the
//! broker restarted); the rest cycle through all eight faults in random order. The
//! workload spreads its changes over the gaps between faults and goes on until both the
//! faults and the changes are done. Then the pipeline drains and `sluice verify` compares
//! every table with every store.
//!
//! Sized by environment variables: `SLUICE_FAULTS` (faults, default 6),
//! `SLUICE_FAULTS_CHANGES` (row changes, about; default 5000) and `SLUICE_FAULTS_SEED`
//! (the random choices of the workload and the faults; random when unset, printed). The
//! seed fixes what is done, not when: a fault lands on whatever the pipeline is doing at
//! that moment. `just faults` runs the long form.

use std::fmt;

use elasticsearch::Elasticsearch;
use elasticsearch::http::transport::Transport;
use elasticsearch::indices::IndicesDeleteParts;
use neo4rs::{Graph, query};
use serde_json::Value as Json;
use sluice_sink::TableName;
use sluice_testkit::{PrivateKafka, TcpProxy};

use super::store_pipeline::{TABLE_DDL, start_sink, tail};
use super::verify::verify;
use super::*;

/// The sink kinds, each run as its own process behind its own proxy.
const KINDS: [&str; 3] = ["elasticsearch", "redis", "neo4j"];

/// The test's size and seed, from the environment.
struct Plan {
    seed: u64,
    faults: usize,
    changes: u64,
}

impl Plan {
    fn from_env() -> Plan {
        let number = |name: &str, default: u64| {
            std::env::var(name).map_or(default, |v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
            })
        };
        Plan {
            seed: number("SLUICE_FAULTS_SEED", fastrand::u64(..)),
            faults: usize::try_from(number("SLUICE_FAULTS", 6)).expect("SLUICE_FAULTS"),
            changes: number("SLUICE_FAULTS_CHANGES", 5_000),
        }
    }
}

/// One fault the test injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// `sluice source` SIGKILLed, restarted after a moment.
    KillSource,
    /// `sluice sink <kind>` SIGKILLed, restarted after a moment.
    KillSink(usize),
    /// The proxy in front of a store cut for a few seconds.
    CutStore(usize),
    /// The private Kafka broker stopped and started again.
    RestartKafka,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::KillSource => write!(f, "kill the source"),
            Fault::KillSink(i) => write!(f, "kill the {} sink", KINDS[*i]),
            Fault::CutStore(i) => write!(f, "cut {} off", KINDS[*i]),
            Fault::RestartKafka => write!(f, "restart the Kafka broker"),
        }
    }
}

/// `count` faults: one of each kind first, then shuffled rounds of all eight.
fn fault_schedule(rng: &mut fastrand::Rng, count: usize) -> Vec<Fault> {
    let mut first = vec![
        Fault::KillSource,
        Fault::KillSink(rng.usize(..KINDS.len())),
        Fault::CutStore(rng.usize(..KINDS.len())),
        Fault::RestartKafka,
    ];
    rng.shuffle(&mut first);
    let mut schedule = first;
    while schedule.len() < count {
        let mut round: Vec<Fault> = [Fault::KillSource, Fault::RestartKafka]
            .into_iter()
            .chain((0..KINDS.len()).flat_map(|i| [Fault::KillSink(i), Fault::CutStore(i)]))
            .collect();
        rng.shuffle(&mut round);
        schedule.extend(round);
    }
    schedule.truncate(count);
    schedule
}

/// Row changes the workload made, by kind.
#[derive(Default, Debug, Clone, Copy)]
struct Changes {
    inserts: u64,
    updates: u64,
    /// Updates that set a new TOASTed value (the others leave it unchanged).
    toast_updates: u64,
    deletes: u64,
    key_updates: u64,
    /// Rows removed by truncates (not counted in `total`).
    truncated_rows: u64,
    truncates: u64,
    large_transactions: u64,
    transactions: u64,
}

impl Changes {
    /// Row changes (a truncate counts once).
    fn total(&self) -> u64 {
        self.inserts + self.updates + self.deletes + self.key_updates + self.truncates
    }
}

/// The workload's tables: `id` int8 key, `name` text, `big` a TOASTable text. The third
/// has REPLICA IDENTITY FULL.
fn tables(h: &Harness) -> [String; 3] {
    [
        h.name.clone(),
        format!("{}_b", h.name),
        format!("{}_full", h.name),
    ]
}

/// A value large and random enough to be stored out of line (TOASTed).
const TOASTED: &str = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))";

/// The live keys of one table, as the workload (its only writer) knows them.
struct Table {
    name: String,
    /// REPLICA IDENTITY FULL.
    full: bool,
    live: Vec<i64>,
    next_id: i64,
}

impl Table {
    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The workload: transactions of 1 to 8 random statements over the three tables, now and
/// then a truncate or a large transaction, spread so that `plan.changes` are made in
/// `faults + 1` equal parts, one part while each gap between faults (and after the last)
/// lasts; it goes on until the faults are done and the changes are made.
async fn workload(
    url: String,
    names: [String; 3],
    plan: (u64, u64, usize),
    faults_done: Arc<AtomicU64>,
    changes: Arc<std::sync::Mutex<Changes>>,
) {
    let (seed, target, faults) = plan;
    let (mut pg, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut tables: Vec<Table> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| Table {
            name,
            full: i == 2,
            live: Vec::new(),
            next_id: 0,
        })
        .collect();
    let large = (target / 10).clamp(200, 5_000);
    let mut made = Changes::default();
    loop {
        let done = faults_done.load(Ordering::SeqCst);
        let faults_over = done >= faults as u64;
        if made.total() >= target && faults_over {
            break;
        }
        let allowed = target * (done + 1) / (faults as u64 + 1);
        if made.total() >= allowed && !faults_over {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let tx = pg.transaction().await.expect("begin");
        let force_large = made.large_transactions == 0 && made.total() >= target / 2;
        let force_truncate = made.truncates == 0 && made.total() >= target / 3;
        if force_large || rng.f64() < 1.0 / large as f64 {
            // A large transaction: `large` new rows and half as many updates.
            let t = &mut tables[rng.usize(..3)];
            let first = t.next_id + 1;
            t.next_id += large as i64;
            let n = tx
                .execute(
                    &format!(
                        "INSERT INTO {} SELECT i, 'bulk ' || i, NULL FROM generate_series($1::int8, $2::int8) AS i",
                        t.name
                    ),
                    &[&first, &t.next_id],
                )
                .await
                .expect("large insert");
            t.live.extend(first..=t.next_id);
            made.inserts += n;
            let n = tx
                .execute(
                    &format!(
                        "UPDATE {} SET name = 'bulk update ' || id WHERE id % 2 = 0 AND id >= $1",
                        t.name
                    ),
                    &[&first],
                )
                .await
                .expect("large update");
            made.updates += n;
            made.large_transactions += 1;
        } else if force_truncate || rng.f64() < 0.000_2 {
            let t = &mut tables[rng.usize(..3)];
            tx.batch_execute(&format!("TRUNCATE {}", t.name))
                .await
                .expect("truncate");
            made.truncated_rows += t.live.len() as u64;
            t.live.clear();
            made.truncates += 1;
        } else {
            for _ in 0..rng.usize(1..=8) {
                statement(&tx, &mut rng, &mut tables[..], &mut made).await;
            }
        }
        tx.commit().await.expect("commit");
        made.transactions += 1;
        *changes.lock().unwrap() = made;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One random statement changing one row.
async fn statement(
    tx: &tokio_postgres::Transaction<'_>,
    rng: &mut fastrand::Rng,
    tables: &mut [Table],
    made: &mut Changes,
) {
    let t = &mut tables[rng.usize(..tables.len())];
    let name = t.name.clone();
    let roll = rng.u32(..100);
    if t.live.is_empty() || roll < 35 {
        let id = t.new_id();
        let big = if rng.u32(..10) == 0 { TOASTED } else { "NULL" };
        made.inserts += tx
            .execute(
                &format!("INSERT INTO {name} VALUES ($1, $2, {big})"),
                &[&id, &format!("new {}", rng.u32(..))],
            )
            .await
            .expect("insert");
        t.live.push(id);
        return;
    }
    let index = rng.usize(..t.live.len());
    let id = t.live[index];
    match roll {
        35..=69 => {
            // Most updates leave `big` (TOASTed or not) unchanged.
            let big = match rng.u32(..10) {
                0..=1 => {
                    made.toast_updates += 1;
                    TOASTED
                }
                2 => "NULL",
                _ => "big",
            };
            made.updates += tx
                .execute(
                    &format!("UPDATE {name} SET name = $1, big = {big} WHERE id = $2"),
                    &[&format!("updated {}", rng.u32(..)), &id],
                )
                .await
                .expect("update");
        }
        70..=87 => {
            made.deletes += tx
                .execute(&format!("DELETE FROM {name} WHERE id = $1"), &[&id])
                .await
                .expect("delete");
            t.live.swap_remove(index);
        }
        _ => {
            // Under REPLICA IDENTITY DEFAULT, PostgreSQL logs neither the old nor the new
            // value of a TOASTed column a key change leaves alone, so no store can get it
            // (Elasticsearch and Redis reject the new key's row, Neo4j creates it without
            // the column; verify reports it). Such key updates carry the value along as a
            // new one; under FULL they leave it alone, and the source takes it from the
            // old row.
            let new = t.new_id();
            let big = if t.full { "big" } else { "big || ''" };
            made.key_updates += tx
                .execute(
                    &format!(
                        "UPDATE {name} SET id = $1, name = 'moved from ' || id, big = {big} \
                         WHERE id = $2"
                    ),
                    &[&new, &id],
                )
                .await
                .expect("key update");
            t.live[index] = new;
        }
    }
}

/// A sink process, its config and log, and the proxy it reaches its store through.
struct Sink {
    kind: &'static str,
    config: PathBuf,
    log: PathBuf,
    proxy: TcpProxy,
    running: Option<Running>,
}

impl Sink {
    fn start(&mut self) {
        self.running = Some(start_sink(self.kind, &self.config, &self.log));
    }
}

/// The stores' addresses and the names the test's tables get in them.
struct Stores {
    search_url: String,
    index_prefix: String,
    redis_url: String,
    neo4j_url: String,
    tables: [String; 3],
}

impl Stores {
    async fn new(h: &Harness) -> Stores {
        Stores {
            search_url: address(Server::Search).await.expect("search engine"),
            index_prefix: h.name.replace('_', "-"),
            redis_url: address(Server::Redis).await.expect("redis"),
            neo4j_url: address(Server::Neo4j).await.expect("neo4j"),
            tables: tables(h),
        }
    }

    fn upstream(&self, kind: &str) -> String {
        let url = match kind {
            "elasticsearch" => &self.search_url,
            "redis" => &self.redis_url,
            _ => &self.neo4j_url,
        };
        url.split("://")
            .last()
            .expect("url")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The config section of `kind`, the store at `url`.
    fn section(&self, kind: &str, url: &str) -> String {
        match kind {
            "elasticsearch" => format!(
                "[elasticsearch]\nurl = {url:?}\nindex_prefix = {:?}\nrequest_timeout_seconds = 5\n",
                self.index_prefix
            ),
            "redis" => format!(
                "[redis]\nurl = {url:?}\nkey_prefix = {:?}\nrequest_timeout_seconds = 5\n",
                self.tables[0]
            ),
            _ => {
                let mut section = format!("[neo4j]\nurl = {url:?}\nrequest_timeout_seconds = 5\n");
                for table in &self.tables {
                    section.push_str(&format!(
                        "[neo4j.nodes.\"public.{table}\"]\nlabel = \"{}\"\n",
                        self.label(table)
                    ));
                }
                section
            }
        }
    }

    fn label(&self, table: &str) -> String {
        format!("Fault_{table}")
    }

    /// Every index, key and node the sinks and verify left.
    async fn clean_up(&self) {
        let search =
            Elasticsearch::new(Transport::single_node(&self.search_url).expect("transport"));
        for table in &self.tables {
            let index = sluice_sink_elasticsearch::default_index_name(
                &self.index_prefix,
                &TableName {
                    schema: "public".into(),
                    table: table.clone(),
                },
            )
            .expect("index name");
            let _ = search
                .indices()
                .delete(IndicesDeleteParts::Index(&[&index]))
                .send()
                .await;
        }
        let mut redis = redis::Client::open(self.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        crate::unlink_matching(&mut redis, &format!("{}:*", self.tables[0])).await;
        let graph = Graph::new(self.neo4j_url.as_str(), "neo4j", "").expect("connect over Bolt");
        for table in &self.tables {
            let _ = graph
                .run(query(&format!(
                    "MATCH (n:{}) CALL {{ WITH n DETACH DELETE n }} IN TRANSACTIONS OF 5000 ROWS",
                    self.label(table)
                )))
                .await;
            let _ = graph
                .run(query(&format!(
                    "MATCH (n:{}) DETACH DELETE n",
                    self.label(table)
                )))
                .await;
            let _ = graph
                .run(
                    query(
                        "MATCH (t) WHERE (t:SluiceTombstone OR t:SluiceTruncateFloor) \
                         AND t.sluice_table = $table DELETE t",
                    )
                    .param("table", format!("public.{table}")),
                )
                .await;
        }
    }
}

/// Fails the test if a process ended by itself: every fault is one the pipeline must ride
/// out, so an exit is a finding.
fn assert_alive(source: &mut Running, sinks: &mut [Sink], h: &Harness) {
    if let Some(status) = source.0.try_wait().expect("try_wait") {
        panic!("the source exited by itself ({status}):\n{}", h.log_tail());
    }
    for sink in sinks {
        if let Some(running) = sink.running.as_mut()
            && let Some(status) = running.0.try_wait().expect("try_wait")
        {
            panic!(
                "the {} sink exited by itself ({status}):\n{}",
                sink.kind,
                tail(&sink.log)
            );
        }
    }
}

/// A random pause of `low..high` milliseconds.
async fn pause(rng: &mut fastrand::Rng, low: u64, high: u64) {
    tokio::time::sleep(Duration::from_millis(rng.u64(low..high))).await;
}

/// Runs `sluice verify` off the runtime's threads (the proxies must keep forwarding).
async fn run_verify(config: &Path) -> (i32, Json, String) {
    let config = config.to_owned();
    tokio::task::spawn_blocking(move || verify(&config, &["--settle-seconds", "120"]))
        .await
        .expect("verify")
}

/// What a verify report found, per store and table, for the test's output.
fn drift_summary(report: &Json) -> String {
    let Some(results) = report["results"].as_array() else {
        return "no report".into();
    };
    results
        .iter()
        .map(|r| {
            format!(
                "  {} in {}: {} rows checked, {} missing {}, {} extra {}, {} stale {}, {} rechecked{}",
                r["table"].as_str().unwrap_or("?"),
                r["store"].as_str().unwrap_or("?"),
                r["rows_checked"],
                r["missing"],
                r["missing_keys"],
                r["extra"],
                r["extra_keys"],
                r["stale"],
                r["stale_keys"],
                r["rechecked"],
                r["skipped"]
                    .as_str()
                    .map(|s| format!(", skipped: {s}"))
                    .unwrap_or_default(),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults() {
    let plan = Plan::from_env();
    eprintln!(
        "faults: seed {} (SLUICE_FAULTS_SEED), {} faults (SLUICE_FAULTS), about {} changes \
         (SLUICE_FAULTS_CHANGES)",
        plan.seed, plan.faults, plan.changes
    );
    let began = Instant::now();
    let mut rng = fastrand::Rng::with_seed(plan.seed ^ 0x5eed_fa17);
    let schedule = fault_schedule(&mut rng, plan.faults);

    // The source and the sinks talk to a broker of the test's own, so that restarting it
    // touches no other test.
    let mut kafka = PrivateKafka::start().await.expect("a private Kafka broker");
    let mut h = Harness::new("faults", TABLE_DDL).await;
    let names = tables(&h);
    for table in &names[1..] {
        h.pg.batch_execute(&format!(
            "CREATE TABLE {table} {TABLE_DDL}; ALTER PUBLICATION {}_pub ADD TABLE {table};",
            h.name
        ))
        .await
        .expect("create a table");
    }
    h.pg.batch_execute(&format!("ALTER TABLE {} REPLICA IDENTITY FULL", names[2]))
        .await
        .expect("replica identity full");
    let source_config = h.dir.path().join("sluice.toml");
    let text = std::fs::read_to_string(&source_config).expect("source config");
    h.bootstrap = kafka.bootstrap();
    std::fs::write(
        &source_config,
        text.replace(
            &format!(
                "bootstrap_servers = {:?}",
                address(Server::Kafka).await.expect("kafka")
            ),
            &format!("bootstrap_servers = {:?}", h.bootstrap),
        ),
    )
    .expect("source config");
    let (mut source, mut source_pid) = h.start(None).await;

    let stores = Stores::new(&h).await;
    let t = h.name.clone();
    let sink_base = format!(
        // A killed sink's partitions go to its successor after 10 s, not librdkafka's 45.
        "[kafka]\nbootstrap_servers = {:?}\n[kafka.consumer]\n\"session.timeout.ms\" = 10000\n\
         [sink]\ntopic_prefix = \"{t}\"\n\
         batch_max_wait_ms = 100\nretry_initial_ms = 100\nretry_max_seconds = 1\n\
         topic_refresh_seconds = 1\n{{group}}\n[metrics]\nenabled = false\n",
        h.bootstrap
    );
    let mut sinks = Vec::new();
    for kind in KINDS {
        let proxy = TcpProxy::start(&stores.upstream(kind))
            .await
            .expect("proxy");
        let scheme = match kind {
            "elasticsearch" => "http",
            "redis" => "redis",
            _ => "bolt",
        };
        let config = h.dir.path().join(format!("{kind}.toml"));
        std::fs::write(
            &config,
            format!(
                "{}{}",
                sink_base.replace("{group}", &format!("group_id = \"{t}-{kind}\"")),
                stores.section(kind, &format!("{scheme}://{}", proxy.address()))
            ),
        )
        .expect("sink config");
        let mut sink = Sink {
            kind,
            config,
            log: h.dir.path().join(format!("{kind}.log")),
            proxy,
            running: None,
        };
        sink.start();
        sinks.push(sink);
    }
    let verify_config = h.dir.path().join("verify.toml");
    std::fs::write(
        &verify_config,
        format!(
            "{}{}{}{}\n[postgres]\nurl = {:?}\n[verify]\npublication = \"{t}_pub\"\nslot = \"{}\"\n\
             chunk_rows = 1000\n[verify.groups]\nelasticsearch = \"{t}-elasticsearch\"\n\
             redis = \"{t}-redis\"\nneo4j = \"{t}-neo4j\"\n",
            sink_base.replace("{group}", ""),
            stores.section("elasticsearch", &stores.search_url),
            stores.section("redis", &stores.redis_url),
            stores.section("neo4j", &stores.neo4j_url),
            h.url,
            h.slot()
        ),
    )
    .expect("verify config");

    // The workload, and the faults while it runs.
    let faults_done = Arc::new(AtomicU64::new(0));
    let changes = Arc::new(std::sync::Mutex::new(Changes::default()));
    let writer = tokio::spawn(workload(
        h.url.clone(),
        names.clone(),
        (plan.seed, plan.changes, plan.faults),
        faults_done.clone(),
        changes.clone(),
    ));
    let started = Instant::now();
    let mut injected = Vec::new();
    for fault in &schedule {
        pause(&mut rng, 1_500, 5_000).await;
        assert_alive(&mut source, &mut sinks, &h);
        let at = started.elapsed();
        let detail = match *fault {
            Fault::KillSource => {
                drop(source); // SIGKILL
                pause(&mut rng, 0, 2_000).await;
                (source, source_pid) = h.start(Some(source_pid)).await;
                String::new()
            }
            Fault::KillSink(i) => {
                sinks[i].running = None; // SIGKILL
                pause(&mut rng, 0, 2_000).await;
                sinks[i].start();
                String::new()
            }
            Fault::CutStore(i) => {
                sinks[i].proxy.cut();
                let outage = rng.u64(2_000..6_000);
                tokio::time::sleep(Duration::from_millis(outage)).await;
                sinks[i].proxy.restore();
                format!(" for {:.1} s", outage as f64 / 1e3)
            }
            Fault::RestartKafka => {
                kafka.stop().await.expect("stop the broker");
                let down = started.elapsed() - at;
                pause(&mut rng, 500, 3_000).await;
                kafka.start_again().await.expect("start the broker again");
                format!(
                    " (stopping took {:.1} s, down for {:.1} s)",
                    down.as_secs_f64(),
                    (started.elapsed() - at - down).as_secs_f64()
                )
            }
        };
        let made = changes.lock().unwrap().total();
        eprintln!(
            "faults: at {:>6.1} s, {made:>6} changes made: {fault}{detail}",
            at.as_secs_f64()
        );
        injected.push((at, *fault));
        faults_done.fetch_add(1, Ordering::SeqCst);
    }
    writer.await.expect("the workload");
    let made = *changes.lock().unwrap();
    let workload_took = started.elapsed();
    eprintln!(
        "faults: workload done in {:.1} s: {} changes in {} transactions: {} inserts, \
         {} updates ({} setting a TOASTed value), {} deletes, {} primary-key updates, \
         {} truncates ({} rows), {} large transactions",
        workload_took.as_secs_f64(),
        made.total(),
        made.transactions,
        made.inserts,
        made.updates,
        made.toast_updates,
        made.deletes,
        made.key_updates,
        made.truncates,
        made.truncated_rows,
        made.large_transactions
    );
    assert_alive(&mut source, &mut sinks, &h);

    // Drained and compared: verify waits for the slot and the sinks' groups itself; a run
    // that could not finish or still saw keys in flight is repeated, drift that stays is
    // the finding.
    let end = lsn(&h
        .pg
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get::<_, String>(0));
    let deadline = Instant::now() + Duration::from_secs(600);
    while h.confirmed_flush_lsn().await < end {
        assert!(
            Instant::now() < deadline,
            "the source did not confirm the workload's end within 600 s:\n{}",
            h.log_tail()
        );
        assert_alive(&mut source, &mut sinks, &h);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "faults: the source confirmed the workload's end after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut attempt = 0;
    let verdict = loop {
        attempt += 1;
        let (code, report, output) = run_verify(&verify_config).await;
        eprintln!(
            "faults: verify run {attempt} after {:.1} s: exit {code}, drift {}\n{}",
            started.elapsed().as_secs_f64(),
            report["drift"],
            drift_summary(&report)
        );
        if code == 0 && report["drift"] == false {
            break Ok(());
        }
        if code != 1 && code != 3 {
            break Err(format!("verify failed (exit {code}):\n{output}"));
        }
        if attempt >= 3 || Instant::now() >= deadline {
            break Err(format!(
                "drift after every fault was over and the pipeline drained (seed {}):\n{output}\n{}",
                plan.seed,
                sinks
                    .iter()
                    .map(|s| format!("{}:\n{}", s.kind, tail(&s.log)))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        assert_alive(&mut source, &mut sinks, &h);
    };

    // Clean up before the verdict, so that a failure leaves nothing behind either.
    for sink in &mut sinks {
        let running = sink.running.take().expect("running");
        assert!(terminate(running).success(), "{}", tail(&sink.log));
    }
    assert!(terminate(source).success());
    for table in &names[1..] {
        h.pg.batch_execute(&format!("DROP TABLE {table}"))
            .await
            .expect("drop a table");
    }
    stores.clean_up().await;
    h.clean_up().await;
    drop(kafka);

    if let Err(failure) = verdict {
        panic!("{failure}");
    }
    eprintln!(
        "faults: seed {}, {} faults, {} changes, no drift in {} stores; {:.1} s in all",
        plan.seed,
        injected.len(),
        made.total(),
        KINDS.len(),
        began.elapsed().as_secs_f64()
    );
}
