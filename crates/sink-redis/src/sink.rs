//! The [`Sink`] implementation: the commands a [`Plan`](crate::plan::Plan) turns into.

use std::collections::HashMap;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Cmd, RedisError, RedisResult, Value};
use serde_json::{Map, Value as Json};
use sluice_sink::{Applied, Record, Rejection, Sink, SinkError, TableName};

use sluice_sink::redact_url;

use crate::config::{Format, RedisConfig};
use crate::layout;
use crate::observe;
use crate::plan::{self, Action, KeyOp, Plan, Step, Target, TruncateOp};
use crate::retry::{self, Class};
use crate::script::{
    self, MARK_SWEPT_SCRIPT, Outcome, RAISE_FLOOR_SCRIPT, SWEEP_SCRIPT, VERSION_FIELD,
    WRITE_SCRIPT, evalsha,
};

/// The most commands in one pipeline.
const MAX_PIPELINE_COMMANDS: usize = 1000;
/// The most argument bytes in one pipeline (a few MB keeps one round trip well inside
/// the request timeout and Redis' client output buffers).
const MAX_PIPELINE_BYTES: usize = 8 * 1024 * 1024;
/// How many keys one SCAN step of a truncate asks for.
const SCAN_COUNT: usize = 1000;
/// How often a batch reads stored JSON rows again when another writer changed them
/// between the read and the guarded write of a merge.
const MAX_MERGE_ROUNDS: usize = 5;

/// Writes change events to Redis: one key per row, every write guarded by its version
/// in a server-side script (see the [crate docs](crate)).
pub struct RedisSink {
    client: redis::Client,
    pub(crate) config: RedisConfig,
    /// The connection, with the scripts loaded; `None` after a failure, so the next
    /// request connects again.
    connection: Option<MultiplexedConnection>,
}

impl std::fmt::Debug for RedisSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSink")
            .field("config", &self.config)
            .field("connected", &self.connection.is_some())
            .finish()
    }
}

/// A stored JSON row a merge starts from.
enum Base {
    /// No row at the key.
    Missing,
    /// The row, without its version, and the version as the write script reads it.
    Row {
        version: String,
        row: Map<String, Json>,
    },
    /// Something else is at the key (why, for a rejection).
    Unusable(String),
}

impl RedisSink {
    /// A sink for `config`, without contacting the server (see [`connect`](Self::connect)).
    ///
    /// # Errors
    ///
    /// [`SinkError::Permanent`] naming the option when the configuration is invalid.
    pub fn new(config: RedisConfig) -> Result<Self, SinkError> {
        config
            .validate()
            .map_err(|e| SinkError::Permanent(format!("invalid Redis sink configuration: {e}")))?;
        let client = redis::Client::open(config.url.as_str()).map_err(|e| {
            SinkError::Permanent(format!(
                "invalid Redis sink configuration: redis.url {}: {e}",
                redact_url(&config.url)
            ))
        })?;
        Ok(RedisSink {
            client,
            config,
            connection: None,
        })
    }

    /// A sink for `config` whose server answered a `PING`.
    ///
    /// # Errors
    ///
    /// [`SinkError::Permanent`] for an invalid configuration or refused credentials,
    /// [`SinkError::Retryable`] when the server cannot be reached (or is loading).
    pub async fn connect(config: RedisConfig) -> Result<Self, SinkError> {
        let mut sink = RedisSink::new(config)?;
        sink.check().await?;
        Ok(sink)
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The key of a row of `table` from its key columns' texts; see
    /// [`RedisConfig::key_for`].
    pub fn key_for<S: AsRef<str>>(&self, table: &TableName, key_texts: &[Option<S>]) -> String {
        self.config.key_for(table, key_texts)
    }

    /// The connection, made (and the scripts loaded) if there is none.
    pub(crate) async fn connection(&mut self) -> Result<MultiplexedConnection, SinkError> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let what = format!("connecting to Redis at {}", redact_url(&self.config.url));
        let timeout = Some(self.config.request_timeout());
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout);
        let mut connection = self
            .client
            .get_multiplexed_async_connection_with_config(&settings)
            .await
            .map_err(|e| retry::error(&what, &e))?;
        for script in script::all() {
            script
                .load_async(&mut connection)
                .await
                .map_err(|e| retry::error("loading the sink's scripts", &e))?;
        }
        tracing::debug!(url = %redact_url(&self.config.url), "connected to Redis");
        self.connection = Some(connection.clone());
        Ok(connection)
    }

    /// The error for a failed request; the next request connects again.
    pub(crate) fn failed(&mut self, what: &str, error: &RedisError) -> SinkError {
        self.connection = None;
        retry::error(what, error)
    }

    /// Sends `commands` in pipelines and returns each one's answer, in order. Commands
    /// answering `NOSCRIPT` (the server lost its scripts: restarted, `SCRIPT FLUSH`) are
    /// sent again once the scripts are loaded again.
    async fn pipeline(
        &mut self,
        commands: Vec<(Cmd, usize)>,
    ) -> Result<Vec<RedisResult<Value>>, SinkError> {
        let mut results = Vec::with_capacity(commands.len());
        let mut chunk: Vec<Cmd> = Vec::new();
        let mut bytes = 0;
        let mut commands = commands.into_iter().peekable();
        while let Some((cmd, size)) = commands.next() {
            chunk.push(cmd);
            bytes += size;
            let full = chunk.len() >= MAX_PIPELINE_COMMANDS
                || commands
                    .peek()
                    .is_some_and(|(_, next)| bytes + next > MAX_PIPELINE_BYTES);
            if full || commands.peek().is_none() {
                results.extend(self.send_chunk(std::mem::take(&mut chunk)).await?);
                bytes = 0;
            }
        }
        Ok(results)
    }

    async fn send_chunk(&mut self, chunk: Vec<Cmd>) -> Result<Vec<RedisResult<Value>>, SinkError> {
        let what = "the write pipeline";
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for cmd in chunk {
            pipe.add_command(cmd);
        }
        for attempt in 0..2 {
            let mut connection = self.connection().await?;
            metrics::counter!(observe::PIPELINES_TOTAL).increment(1);
            let results: Vec<RedisResult<Value>> = match pipe.query_async(&mut connection).await {
                Ok(results) => results,
                Err(error) => return Err(self.failed(what, &error)),
            };
            let lost_scripts = results.iter().any(|r| {
                r.as_ref().is_err_and(|e| {
                    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
                })
            });
            if !lost_scripts || attempt == 1 {
                return Ok(results);
            }
            // Every write is guarded, so sending the commands that did run again is harmless.
            tracing::warn!(
                "Redis lost the sink's scripts (restarted, or SCRIPT FLUSH); loading them again"
            );
            self.connection = None;
        }
        Err(SinkError::Retryable(format!(
            "{what}: Redis keeps losing the sink's scripts"
        )))
    }

    /// Writes one step's rows.
    async fn write(
        &mut self,
        targets: &[Target],
        ops: Vec<KeyOp>,
        rejected: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        let mut pending = ops;
        for _ in 0..MAX_MERGE_ROUNDS {
            let bases = self.merge_bases(targets, &pending).await?;
            let mut commands = Vec::with_capacity(pending.len());
            let mut sent = Vec::with_capacity(pending.len());
            for (n, op) in pending.iter().enumerate() {
                let target = &targets[op.target];
                match self.command(target, op, bases.get(&n)) {
                    Ok(Some(command)) => {
                        commands.push(command);
                        sent.push(n);
                    }
                    Ok(None) => {}
                    Err(reason) => rejected.push(Rejection {
                        index: op.record,
                        reason,
                    }),
                }
            }
            let results = self.pipeline(commands).await?;
            let mut changed = Vec::new();
            let mut stale = 0;
            for (n, result) in sent.into_iter().zip(results) {
                let op = &pending[n];
                let target = &targets[op.target];
                let reply = match result {
                    Ok(reply) => reply,
                    Err(error) if retry::classify(&error) == Class::Reject => {
                        rejected.push(Rejection {
                            index: op.record,
                            reason: format!(
                                "Redis refused the write of this row of table {} ({}): a key \
                                 the sink uses for it holds another type; delete that key, \
                                 then replay this dead letter",
                                target.table,
                                error.code().unwrap_or("error")
                            ),
                        });
                        continue;
                    }
                    Err(error) => return Err(self.failed("a write of the pipeline", &error)),
                };
                if op.action == Action::Invalidate {
                    metrics::counter!(observe::INVALIDATIONS_TOTAL).increment(1);
                    continue;
                }
                let Some(outcome) = Outcome::from_reply(&reply) else {
                    return Err(SinkError::Retryable(format!(
                        "the write script answered {reply:?}, which the sink does not understand"
                    )));
                };
                let merge = matches!(op.action, Action::Merge(_));
                match outcome {
                    Outcome::Applied if merge => {
                        metrics::counter!(observe::PARTIAL_UPDATES_TOTAL, observe::OUTCOME => "merged").increment(1);
                    }
                    Outcome::Applied => {}
                    Outcome::Stale => stale += 1,
                    Outcome::Changed => changed.push(n),
                    Outcome::Missing => {
                        metrics::counter!(observe::PARTIAL_UPDATES_TOTAL, observe::OUTCOME => "missing").increment(1);
                        if target.settings.ttl_seconds.is_none() {
                            rejected.push(Rejection {
                                index: op.record,
                                reason: format!(
                                    "partial update (unchanged TOAST values) of a row of table {} \
                                     that Redis does not hold, so the unchanged values are \
                                     unknown: `sluice verify` reports the row, and REPLICA \
                                     IDENTITY FULL on the table avoids this",
                                    target.table
                                ),
                            });
                        }
                    }
                    Outcome::Foreign(what) => rejected.push(Rejection {
                        index: op.record,
                        reason: format!(
                            "the Redis key of this row of table {} holds {what}, not a row the \
                             sink wrote: delete or rename that key (or change the key prefix), \
                             then replay this dead letter",
                            target.table
                        ),
                    }),
                }
            }
            metrics::counter!(observe::STALE_WRITES_TOTAL).increment(stale);
            if changed.is_empty() {
                return Ok(());
            }
            pending = changed.into_iter().map(|n| pending[n].clone()).collect();
        }
        Err(SinkError::Retryable(
            "rows kept changing between reading them and writing partial updates onto them \
             (another process writes the same keys?)"
                .into(),
        ))
    }

    /// The stored rows JSON merges start from, by position in `ops` (one pipeline).
    async fn merge_bases(
        &mut self,
        targets: &[Target],
        ops: &[KeyOp],
    ) -> Result<HashMap<usize, Base>, SinkError> {
        let merges: Vec<usize> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| {
                matches!(op.action, Action::Merge(_))
                    && targets[op.target].settings.format == Format::Json
            })
            .map(|(n, _)| n)
            .collect();
        if merges.is_empty() {
            return Ok(HashMap::new());
        }
        let commands = merges
            .iter()
            .map(|&n| {
                let mut cmd = redis::cmd("GET");
                cmd.arg(&ops[n].key);
                (cmd, ops[n].key.len())
            })
            .collect();
        let results = self.pipeline(commands).await?;
        let mut bases = HashMap::with_capacity(merges.len());
        for (n, result) in merges.into_iter().zip(results) {
            let base = match result {
                Ok(Value::Nil) => Base::Missing,
                Ok(Value::BulkString(bytes)) => parse_stored_json(&bytes),
                Ok(_) => Base::Unusable("an unexpected reply to GET".into()),
                Err(error) if retry::classify(&error) == Class::Reject => {
                    Base::Unusable("a value that is not a string".into())
                }
                Err(error) => {
                    return Err(self.failed("reading stored rows for partial updates", &error));
                }
            };
            bases.insert(n, base);
        }
        Ok(bases)
    }

    /// The command for one op (with its size in bytes, roughly), `None` when there is
    /// nothing to send, or why the op's record is rejected.
    fn command(
        &self,
        target: &Target,
        op: &KeyOp,
        base: Option<&Base>,
    ) -> Result<Option<(Cmd, usize)>, String> {
        let keys = [
            op.key.as_str(),
            op.tombstone.as_str(),
            target.floor.as_str(),
        ];
        let version = op.version.to_string();
        let ttl = target.settings.ttl_seconds.unwrap_or(0).to_string();
        let tombstone_ttl = self.config.tombstone_ttl_seconds.to_string();
        let write = |mode: &str, expected: &str, payload: &[&[u8]]| {
            let mut args: Vec<&[u8]> = vec![
                version.as_bytes(),
                mode.as_bytes(),
                ttl.as_bytes(),
                tombstone_ttl.as_bytes(),
                expected.as_bytes(),
            ];
            args.extend_from_slice(payload);
            let size = keys.iter().map(|k| k.len()).sum::<usize>()
                + args.iter().map(|a| a.len()).sum::<usize>();
            Some((evalsha(&WRITE_SCRIPT, &keys, &args), size))
        };
        let format = target.settings.format;
        Ok(match (&op.action, format) {
            (Action::Invalidate, _) => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(&op.key);
                Some((cmd, op.key.len()))
            }
            (Action::Delete, _) => write("delete", "-", &[]),
            (Action::Put(row), Format::Hash) => {
                let pairs = hash_pairs(row);
                let payload: Vec<&[u8]> = pairs
                    .iter()
                    .flat_map(|(field, value)| [field.as_bytes(), value.as_bytes()])
                    .collect();
                write("hash", "-", &payload)
            }
            (Action::Put(row), Format::Json) => {
                let doc = json_document(&version, row);
                write("json", "-", &[doc.as_bytes()])
            }
            (Action::Merge(partial), Format::Hash) => {
                let pairs = hash_pairs(&partial.known);
                let count = pairs.len().to_string();
                let mut payload: Vec<&[u8]> = vec![count.as_bytes()];
                payload.extend(
                    pairs
                        .iter()
                        .flat_map(|(field, value)| [field.as_bytes(), value.as_bytes()]),
                );
                payload.extend(
                    partial
                        .known
                        .iter()
                        .filter(|(_, value)| value.is_null())
                        .map(|(field, _)| field.as_bytes()),
                );
                write("hash_partial", "-", &payload)
            }
            (Action::Merge(partial), Format::Json) => match base {
                None | Some(Base::Missing) => write("json_merge", "-", &[]),
                Some(Base::Unusable(what)) => {
                    return Err(format!(
                        "the Redis key of this row of table {} holds {what}, not a JSON row the \
                         sink wrote: delete or rename that key, then replay this dead letter",
                        target.table
                    ));
                }
                Some(Base::Row {
                    version: stored,
                    row,
                }) => {
                    if stored
                        .parse::<u64>()
                        .is_ok_and(|stored| stored > op.version)
                    {
                        // A newer row is stored: the update has nothing left to do.
                        metrics::counter!(observe::STALE_WRITES_TOTAL).increment(1);
                        return Ok(None);
                    }
                    let merged = partial.complete(row).map_err(|column| {
                        format!(
                            "partial update (unchanged TOAST) of column {column:?}, which the \
                             stored row of table {} lacks, so its value is unknown",
                            target.table
                        )
                    })?;
                    let doc = json_document(&version, &merged);
                    write("json_merge", stored, &[doc.as_bytes()])
                }
            },
        })
    }

    /// Removes the table's rows whose version is below the truncate's: raise the floor
    /// (from now on the write script refuses older rows), then SCAN the table's keys and
    /// remove the older rows, a page at a time, each page in one guarded script call.
    async fn truncate(&mut self, target: &Target, op: &TruncateOp) -> Result<(), SinkError> {
        let what = format!("truncating table {}", target.table);
        let version = op.version.to_string();
        let mut connection = self.connection().await?;
        let swept: Option<String> = match RAISE_FLOOR_SCRIPT
            .key(&target.floor)
            .arg(&version)
            .invoke_async(&mut connection)
            .await
        {
            Ok(swept) => swept,
            Err(error) => return Err(self.failed(&what, &error)),
        };
        if swept
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|swept| swept >= op.version)
        {
            // Another copy of this truncate (or a later one) already swept the table, and
            // the floor keeps older rows out since.
            tracing::debug!(table = %target.table, version = op.version, "truncate already applied");
            return Ok(());
        }

        let pattern = layout::scan_pattern(&target.prefix);
        let mut cursor: u64 = 0;
        let mut removed: u64 = 0;
        loop {
            let page: RedisResult<(u64, Vec<Vec<u8>>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(&mut connection)
                .await;
            let (next, keys) = match page {
                Ok(page) => page,
                Err(error) => return Err(self.failed(&what, &error)),
            };
            let rows: Vec<Vec<u8>> = keys
                .into_iter()
                .filter(|key| !layout::is_bookkeeping(&target.prefix, key))
                .collect();
            if !rows.is_empty() {
                let result: RedisResult<u64> = if target.settings.invalidate_only {
                    redis::cmd("UNLINK")
                        .arg(&rows)
                        .query_async(&mut connection)
                        .await
                } else {
                    let mut invocation = SWEEP_SCRIPT.prepare_invoke();
                    for key in &rows {
                        invocation.key(key.as_slice());
                    }
                    invocation.arg(&version).invoke_async(&mut connection).await
                };
                match result {
                    Ok(n) => removed += n,
                    Err(error) => return Err(self.failed(&what, &error)),
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        let marked: RedisResult<i64> = MARK_SWEPT_SCRIPT
            .key(&target.floor)
            .arg(&version)
            .invoke_async(&mut connection)
            .await;
        if let Err(error) = marked {
            return Err(self.failed(&what, &error));
        }
        metrics::counter!(observe::TRUNCATED_KEYS_TOTAL).increment(removed);
        tracing::info!(table = %target.table, version = op.version, removed, "truncated table");
        Ok(())
    }
}

/// A row as hash fields: one per non-NULL column, text as itself, anything else as its
/// JSON text.
pub(crate) fn hash_pairs(row: &Map<String, Json>) -> Vec<(&str, String)> {
    row.iter()
        .filter_map(|(field, value)| {
            let text = match value {
                Json::Null => return None,
                Json::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some((field.as_str(), text))
        })
        .collect()
}

/// A row as a JSON document with the version as its first member (where the write
/// script finds it without parsing the document).
fn json_document(version: &str, row: &Map<String, Json>) -> String {
    let body = Json::Object(row.clone()).to_string();
    let rest = body.strip_prefix('{').unwrap_or(&body);
    let separator = if rest == "}" { "" } else { "," };
    format!("{{\"{VERSION_FIELD}\":{version}{separator}{rest}")
}

/// A stored JSON row: its version as the write script reads it, and its columns.
fn parse_stored_json(bytes: &[u8]) -> Base {
    let prefix = format!("{{\"{VERSION_FIELD}\":");
    let version: String = bytes
        .strip_prefix(prefix.as_bytes())
        .map(|rest| {
            rest.iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|&b| char::from(b))
                .collect()
        })
        .unwrap_or_default();
    match serde_json::from_slice::<Map<String, Json>>(bytes) {
        Ok(mut row) if !version.is_empty() => {
            row.remove(VERSION_FIELD);
            Base::Row { version, row }
        }
        _ => Base::Unusable("a string that is not a JSON row with _sluice_version".into()),
    }
}

impl Sink for RedisSink {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn apply(&mut self, batch: &[Record]) -> Result<Applied, SinkError> {
        let Plan {
            targets,
            steps,
            mut rejected,
        } = plan::plan(batch, &self.config);
        for step in steps {
            match step {
                Step::Write(ops) => self.write(&targets, ops, &mut rejected).await?,
                Step::Truncate(op) => self.truncate(&targets[op.target], &op).await?,
            }
        }
        rejected.sort_by_key(|r| r.index);
        rejected.dedup_by_key(|r| r.index);
        tracing::debug!(
            records = batch.len(),
            rejected = rejected.len(),
            "applied batch"
        );
        Ok(Applied { rejected })
    }

    async fn check(&mut self) -> Result<(), SinkError> {
        let mut connection = self.connection().await?;
        let pong: RedisResult<String> = redis::cmd("PING").query_async(&mut connection).await;
        match pong {
            Ok(_) => Ok(()),
            Err(error) => Err(self.failed("the health check (PING)", &error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_documents_start_with_the_version() {
        let row = json!({ "id": 1, "name": "a" }).as_object().unwrap().clone();
        let doc = json_document("42", &row);
        assert!(doc.starts_with(r#"{"_sluice_version":42,"#), "{doc}");
        let parsed: Json = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            parsed,
            json!({ "_sluice_version": 42, "id": 1, "name": "a" })
        );
        assert_eq!(json_document("7", &Map::new()), r#"{"_sluice_version":7}"#);
        let Base::Row { version, row: back } = parse_stored_json(doc.as_bytes()) else {
            panic!("not a row");
        };
        assert_eq!(version, "42");
        assert_eq!(back, row);
        assert!(matches!(
            parse_stored_json(b"{\"id\":1}"),
            Base::Unusable(_)
        ));
        assert!(matches!(parse_stored_json(b"plain"), Base::Unusable(_)));
    }

    #[test]
    fn hash_fields_are_texts_and_nulls_are_left_out() {
        let row = json!({ "id": 1, "name": "a", "gone": null, "ok": true, "tags": ["x"] });
        let pairs = hash_pairs(row.as_object().unwrap());
        assert_eq!(
            pairs,
            [
                ("id", "1".to_owned()),
                ("name", "a".to_owned()),
                ("ok", "true".to_owned()),
                ("tags", r#"["x"]"#.to_owned()),
            ]
        );
    }
}
