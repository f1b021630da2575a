//! `sluice status` against the real pipeline: a source and a Redis sink stream one table;
//! status reports the slot streaming and caught up, the snapshot done and the sink's
//! group at lag 0 (exit 0); with the sink stopped and more rows written, the group's lag
//! above 0 with no member (exit 1); a missing slot set through the environment (exit 1),
//! an unknown key (exit 2) and an unreachable PostgreSQL (exit 3).

use serde_json::Value as Json;

use super::store_pipeline::{TABLE_DDL, start_sink, tail};
use super::*;

/// Runs `sluice status --format <format>` on `config` with `env`: its exit code, its
/// stdout parsed as JSON (`Null` for text or nothing), and stdout and stderr for failure
/// messages.
fn status(config: &Path, format: &str, env: &[(&str, &str)]) -> (i32, Json, String) {
    let mut command = sluice_command();
    command
        .args(["status", "--format", format, "--config"])
        .arg(config);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run sluice status");
    json_outcome(&output)
}

/// Polls status until `done` accepts a report, at most `within`; returns that report.
async fn status_until(
    config: &Path,
    within: Duration,
    what: &str,
    logs: &[&Path],
    done: impl Fn(i32, &Json) -> bool,
) -> Json {
    let deadline = Instant::now() + within;
    loop {
        let (code, report, output) = status(config, "json", &[]);
        assert!(
            code == 0 || code == 1,
            "status could not tell (exit {code}):\n{output}"
        );
        if done(code, &report) {
            return report;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {within:?}; last status (exit {code}):\n{output}\n{}",
            logs.iter().map(|l| tail(l)).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The report's entry for `group`.
fn group<'a>(report: &'a Json, group: &str) -> &'a Json {
    report["kafka"]["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["group"] == group))
        .unwrap_or(&Json::Null)
}

/// The conditions of the report's `attention` entries.
fn conditions(report: &Json) -> Vec<String> {
    report["attention"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|a| a["condition"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn current_wal_lsn(h: &Harness) -> u64 {
    lsn(&h
        .pg
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("lsn")
        .get::<_, String>(0))
}

#[tokio::test]
async fn status_reports_a_caught_up_pipeline_then_a_stopped_sinks_growing_lag() {
    let h = Harness::new("status", TABLE_DDL).await;
    let t = h.name.clone();
    let redis_url = address(Server::Redis).await.expect("redis");
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'row ' || i, NULL FROM generate_series(1, 100) AS i"
    ))
    .await
    .expect("rows for the snapshot");
    let (source, pid) = h.start(None).await;

    let group_id = format!("{t}-redis");
    let sink_config = format!(
        "[kafka]\nbootstrap_servers = {:?}\n\
         [sink]\ntopic_prefix = \"{t}\"\ngroup_id = \"{group_id}\"\n\
         batch_max_wait_ms = 100\ntopic_refresh_seconds = 1\n\
         [metrics]\nenabled = false\n\
         [redis]\nurl = {redis_url:?}\nkey_prefix = \"{t}\"\n",
        h.bootstrap
    );
    let sink_path = h.dir.path().join("redis.toml");
    std::fs::write(&sink_path, &sink_config).expect("sink config");
    let sink_log = h.dir.path().join("redis.log");
    let sink = start_sink("redis", &sink_path, &sink_log);
    let config = h.dir.path().join("status.toml");
    std::fs::write(
        &config,
        format!(
            "{sink_config}[postgres]\nurl = {:?}\n\
             [verify]\npublication = \"{t}_pub\"\nslot = \"{}\"\n\
             [verify.groups]\nredis = \"{group_id}\"\n",
            h.url,
            h.slot()
        ),
    )
    .expect("status config");
    let source_log = h.log_path();
    let logs = [source_log.as_path(), sink_log.as_path()];

    // Streamed rows after the snapshot's: the sink catches up with both.
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'row ' || i, NULL FROM generate_series(101, 150) AS i"
    ))
    .await
    .expect("streamed rows");
    let written = current_wal_lsn(&h).await;
    let report = status_until(
        &config,
        Duration::from_secs(120),
        "the source and the sink caught up",
        &logs,
        |code, report| {
            let slot = &report["postgres"]["slots"][0];
            let group = group(report, &group_id);
            code == 0
                && slot["confirmed_flush_lsn"]
                    .as_str()
                    .is_some_and(|c| lsn(c) >= written)
                && report["snapshots"][0]["done"] == true
                && group["members"].as_u64() >= Some(1)
                && group["lag"] == 0
                && group["partitions"].as_array().is_some_and(|p| {
                    p.iter()
                        .map(|p| p["end"].as_i64().unwrap_or(0))
                        .sum::<i64>()
                        >= 150
                })
        },
    )
    .await;
    eprintln!("caught up: {report:#}");
    assert_eq!(report["healthy"], true);
    assert_eq!(conditions(&report), Vec::<String>::new());
    let pg = &report["postgres"];
    assert_eq!(pg["configured_slot"], h.slot());
    assert_eq!(pg["slots"].as_array().map(Vec::len), Some(1), "{pg}");
    let slot = &pg["slots"][0];
    assert_eq!(slot["name"], h.slot());
    assert_eq!(slot["active"], true);
    assert_eq!(slot["active_pid"], pid);
    assert_eq!(slot["wal_status"], "reserved");
    // Behind and held are the server's position minus the slot's, as reported.
    let wal = lsn(pg["wal_lsn"].as_str().expect("wal_lsn"));
    let confirmed = lsn(slot["confirmed_flush_lsn"].as_str().expect("confirmed"));
    let restart = lsn(slot["restart_lsn"].as_str().expect("restart"));
    assert_eq!(
        slot["behind_bytes"].as_i64(),
        Some((wal - confirmed) as i64)
    );
    assert_eq!(
        slot["wal_held_bytes"].as_i64(),
        Some((wal - restart) as i64)
    );
    // Confirmed past everything this test wrote: behind by others' writes at most, which
    // a busy shared server keeps below a WAL segment while the source confirms every 0.5 s.
    assert!(
        slot["behind_bytes"]
            .as_i64()
            .is_some_and(|b| (0..16 << 20).contains(&b)),
        "{slot}"
    );
    assert_eq!(
        pg["publication"],
        serde_json::json!({ "name": format!("{t}_pub"), "tables": [format!("public.{t}")] })
    );
    let snapshot = &report["snapshots"][0];
    assert_eq!(snapshot["slot"], h.slot());
    assert_eq!(snapshot["rows"], 100, "{snapshot}");
    assert_eq!(
        snapshot["tables"],
        serde_json::json!([{ "table": format!("public.{t}"), "done": true, "rows": 100 }])
    );
    let kafka = &report["kafka"];
    assert_eq!(
        kafka["topics"],
        serde_json::json!([{ "topic": h.topic(), "partitions": 3, "records": 150 }])
    );
    let caught_up = group(&report, &group_id);
    assert_eq!(caught_up["store"], "redis");
    assert_eq!(caught_up["state"], "Stable");
    let partitions = caught_up["partitions"].as_array().expect("partitions");
    assert_eq!(partitions.len(), 3);
    for p in partitions {
        assert_eq!(p["topic"], h.topic());
        assert_eq!(p["lag"], 0, "{p}");
        // A partition with records has a commit at its end.
        if p["end"].as_i64() > Some(0) {
            assert_eq!(p["committed"], p["end"], "{p}");
        }
    }
    assert_eq!(
        kafka["dead_letters"],
        serde_json::json!([{
            "store": "redis",
            "topic": format!("{t}.sluice-dead-letter.redis"),
            "records": 0
        }])
    );

    // The sink stops; the rows written meanwhile are lag nobody consumes.
    assert!(terminate(sink).success(), "{}", tail(&sink_log));
    h.pg.batch_execute(&format!(
        "INSERT INTO {t} SELECT i, 'row ' || i, NULL FROM generate_series(151, 180) AS i"
    ))
    .await
    .expect("rows while the sink is down");
    let report = status_until(
        &config,
        Duration::from_secs(60),
        "the stopped sink's group shows 30 records of lag and no member",
        &logs,
        |code, report| code == 1 && group(report, &group_id)["lag"] == 30,
    )
    .await;
    assert_eq!(report["healthy"], false);
    assert_eq!(conditions(&report), ["group_stalled"], "{report:#}");
    assert_eq!(report["attention"][0]["subject"], group_id.as_str());
    let stalled = group(&report, &group_id);
    assert_eq!(stalled["members"], 0, "{stalled}");
    assert_eq!(report["postgres"]["slots"][0]["active"], true);
    let (code, _, text) = status(&config, "text", &[]);
    assert_eq!(code, 1, "{text}");
    eprintln!("sluice status, the sink stopped:\n{text}");
    assert!(
        text.contains(&format!(
            "group_stalled: group {group_id} (redis sink) has no active member and is 30 records behind"
        )),
        "{text}"
    );

    // The environment overrides the file, as for every command: a slot that does not
    // exist needs attention.
    let missing = format!("{t}_nope");
    let (code, report, output) = status(&config, "json", &[("SLUICE_VERIFY__SLOT", &missing)]);
    assert_eq!(code, 1, "{output}");
    assert!(
        conditions(&report).contains(&"slot_missing".to_owned()),
        "{output}"
    );
    assert_eq!(report["postgres"]["slots"], serde_json::json!([]));

    // A key status does not know is a config error naming it, before any connection.
    let bad = h.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&config)
            .expect("config")
            .replace("[verify]\n", "[verify]\nslots = \"x\"\n"),
    )
    .expect("bad config");
    let (code, _, output) = status(&bad, "text", &[]);
    assert_eq!(code, 2, "{output}");
    assert!(
        output.contains("verify.slots: unknown field `slots`"),
        "{output}"
    );

    // PostgreSQL unreachable: nothing is known.
    let (code, _, output) = status(
        &config,
        "json",
        &[(
            "SLUICE_POSTGRES__URL",
            "postgres://sluice:sluice@127.0.0.1:1/sluice?connect_timeout=5",
        )],
    );
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("connecting to PostgreSQL"), "{output}");

    assert!(terminate(source).success(), "{}", h.log_tail());
    let mut redis = redis::Client::open(redis_url.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    crate::unlink_matching(&mut redis, &format!("{t}:*")).await;
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &h.bootstrap)
        .create()
        .expect("admin");
    let _ = admin
        .delete_topics(
            &[
                &format!("{t}.sluice-dead-letter.redis"),
                &format!("{t}.sluice-snapshots"),
            ],
            &AdminOptions::new(),
        )
        .await;
    h.clean_up().await;
}
