//! The [`Sink`] implementation: the transactions a [`Plan`](crate::plan::Plan) turns into.

use std::time::{Duration, Instant};

use neo4rs::{ConfigBuilder, Graph, Query, Txn};
use sluice_sink::{Applied, Record, Rejection, Sink, SinkError};

use crate::config::Neo4jConfig;
use crate::cypher::{self, REMOVE_LIMIT};
use crate::observe;
use crate::params;
use crate::plan::{self, Group, Kind, RowOp, Step, TruncateOp};
use crate::retry::{self, Failure};

/// The most rows one UNWIND statement carries: large enough to amortise a round trip,
/// small enough that a transaction stays far below the server's memory limits.
const MAX_ROWS: usize = 1_000;

/// How many times a schema statement is tried when it fails in a retryable way.
const SCHEMA_ATTEMPTS: u64 = 5;

/// How often, at most, expired tombstones are removed while the sink runs.
const MAX_EXPIRY_INTERVAL: Duration = Duration::from_secs(3600);

/// Writes change events to Neo4j: rows as labelled nodes, foreign keys and join tables
/// as relationships, every write guarded by version (see the [crate docs](crate)).
pub struct Neo4jSink {
    pub(crate) graph: Graph,
    pub(crate) config: Neo4jConfig,
    /// When tombstones were last expired.
    expired_at: Instant,
}

impl std::fmt::Debug for Neo4jSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jSink")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Neo4jSink {
    /// A sink for `config` whose server answered, with the constraints and indexes the
    /// sink relies on created and expired tombstones removed.
    ///
    /// # Errors
    ///
    /// [`SinkError::Permanent`] for an invalid configuration, refused credentials or a
    /// schema statement the server refuses; [`SinkError::Retryable`] when the server
    /// cannot be reached.
    pub async fn connect(config: Neo4jConfig) -> Result<Self, SinkError> {
        config
            .validate()
            .map_err(|e| SinkError::Permanent(format!("invalid Neo4j sink configuration: {e}")))?;
        let mut builder = ConfigBuilder::new()
            .uri(config.url.as_str())
            .user(config.user.as_str())
            .password(config.password.as_str())
            .connection_timeout(config.request_timeout())
            .max_connections(4);
        if let Some(database) = &config.database {
            builder = builder.db(database.as_str());
        }
        let connect = |e: neo4rs::Error| {
            retry::classify(&format!("connecting to {}", config.url), &e).into_sink_error()
        };
        let graph = Graph::connect(builder.build().map_err(connect)?).map_err(connect)?;
        let mut sink = Neo4jSink {
            graph,
            config,
            expired_at: Instant::now(),
        };
        sink.check().await?;
        for statement in cypher::schema(&sink.config) {
            sink.create_schema(statement).await?;
        }
        sink.expire_tombstones().await?;
        tracing::info!(url = %sink.config.url, "connected to Neo4j");
        Ok(sink)
    }

    /// Runs one schema statement (`CREATE ... IF NOT EXISTS`). Sinks starting together
    /// race on the same statements: a deadlock is tried again a few times, and "an
    /// equivalent rule already exists" (the other sink won) is success.
    async fn create_schema(&self, statement: String) -> Result<(), SinkError> {
        let what = "creating the sink's constraints and indexes";
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.run(what, Query::new(statement.clone())).await {
                Ok(()) => return Ok(()),
                Err(Failure::Refused(code)) if code.ends_with("AlreadyExists") => return Ok(()),
                Err(Failure::Retry(_)) if attempt < SCHEMA_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                Err(Failure::Refused(code)) => {
                    return Err(SinkError::Permanent(format!(
                        "{what}: Neo4j refused `{statement}` with {code}: an index or \
                         constraint on the same label and property may already exist in \
                         another form; drop it, or choose another label"
                    )));
                }
                Err(other) => return Err(other.into_sink_error()),
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Neo4jConfig {
        &self.config
    }

    /// Runs `work` in one transaction, committed, within the request timeout.
    async fn transaction<T, F>(&self, what: &str, work: F) -> Result<T, Failure>
    where
        F: AsyncFnOnce(&mut Txn) -> Result<T, neo4rs::Error>,
    {
        let attempt = async {
            let mut txn = self.graph.start_txn().await?;
            let value = work(&mut txn).await?;
            txn.commit().await?;
            Ok(value)
        };
        match tokio::time::timeout(self.config.request_timeout(), attempt).await {
            Ok(result) => result.map_err(|e| retry::classify(what, &e)),
            Err(_) => Err(Failure::Retry(format!(
                "{what} timed out after {} s (neo4j.request_timeout_seconds)",
                self.config.request_timeout_seconds
            ))),
        }
    }

    /// Runs one statement in its own transaction.
    async fn run(&self, what: &str, query: Query) -> Result<(), Failure> {
        self.transaction(what, async move |txn: &mut Txn| {
            txn.run(query).await?;
            Ok(())
        })
        .await
    }

    /// Runs one statement returning one row with an integer column `column`.
    async fn count(&self, what: &str, query: Query, column: &str) -> Result<i64, Failure> {
        self.transaction(what, async move |txn: &mut Txn| {
            let mut stream = txn.execute(query).await?;
            let mut count = 0;
            while let Some(row) = stream.next(txn.handle()).await? {
                count += row.get::<i64>(column).unwrap_or(0);
            }
            Ok(count)
        })
        .await
    }

    /// Runs a removal statement until it removes nothing; the total removed.
    async fn remove_all(&self, what: &str, query: impl Fn() -> Query) -> Result<i64, SinkError> {
        let mut total = 0;
        loop {
            let removed = self
                .count(what, query().param("limit", REMOVE_LIMIT), "removed")
                .await
                .map_err(Failure::into_sink_error)?;
            total += removed;
            if removed == 0 {
                return Ok(total);
            }
        }
    }

    async fn expire_tombstones(&mut self) -> Result<(), SinkError> {
        let ttl_ms = i64::try_from(self.config.tombstone_ttl().as_millis()).unwrap_or(i64::MAX);
        let text = cypher::expire_tombstones();
        let removed = self
            .remove_all("removing expired tombstones", || {
                Query::new(text.clone()).param("ttl_ms", ttl_ms)
            })
            .await?;
        if removed > 0 {
            metrics::counter!(observe::EXPIRED_TOMBSTONES_TOTAL).increment(removed.unsigned_abs());
            tracing::debug!(removed, "removed expired tombstones");
        }
        self.expired_at = Instant::now();
        Ok(())
    }

    /// Expires tombstones when a quarter of their time to live (at most an hour) has
    /// passed since the last time.
    async fn expire_tombstones_lazily(&mut self) -> Result<(), SinkError> {
        let interval = (self.config.tombstone_ttl() / 4).min(MAX_EXPIRY_INTERVAL);
        if self.expired_at.elapsed() >= interval {
            self.expire_tombstones().await?;
        }
        Ok(())
    }

    /// The statement of a group, with the parameters every row shares.
    fn group_statement(&self, group: &Group) -> Query {
        let table = group.table.as_str();
        let text = match (
            self.config.nodes.get(table),
            self.config.relationships.get(table),
            group.kind,
        ) {
            (Some(node), _, Kind::Upsert) => cypher::node_upsert(&self.config, node),
            (Some(node), _, Kind::Delete) => cypher::node_delete(node),
            (None, Some(rel), Kind::Upsert) => cypher::relationship_upsert(&self.config, rel),
            (None, Some(rel), Kind::Delete) => cypher::relationship_delete(rel),
            // The planner only groups configured tables.
            (None, None, _) => String::new(),
        };
        let mut query = Query::new(text).param("table", table);
        if let Some(node) = self.config.nodes.get(table) {
            let targets: Vec<String> = node
                .relationships
                .iter()
                .map(|fk| fk.target.clone())
                .collect();
            query = query.param("fk_tables", targets);
        }
        if let Some(rel) = self.config.relationships.get(table) {
            query = query
                .param("from_table", rel.from.table.as_str())
                .param("to_table", rel.to.table.as_str());
        }
        query
    }

    /// Writes one group, in statements of at most [`MAX_ROWS`] rows. A statement the
    /// server refuses for its data is re-run row by row to find the rows at fault, which
    /// are rejected; the others are written.
    async fn write_group(
        &self,
        group: &Group,
        rejected: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        let statement = self.group_statement(group);
        let kind = match group.kind {
            Kind::Upsert => "writing",
            Kind::Delete => "deleting",
        };
        let what = format!("{kind} rows of table {}", group.table);
        for chunk in group.ops.chunks(MAX_ROWS) {
            metrics::counter!(observe::STATEMENTS_TOTAL).increment(1);
            let query = statement.clone().param("rows", params::rows(chunk));
            match self.run(&what, query).await {
                Ok(()) => {}
                Err(Failure::Refused(code)) if chunk.len() > 1 => {
                    tracing::debug!(table = %group.table, code, "statement refused; writing its rows one by one");
                    for op in chunk {
                        self.write_one(&what, &statement, group, op, rejected)
                            .await?;
                    }
                }
                Err(Failure::Refused(code)) => rejected.push(rejection(group, &chunk[0], &code)),
                Err(other) => return Err(other.into_sink_error()),
            }
        }
        Ok(())
    }

    async fn write_one(
        &self,
        what: &str,
        statement: &Query,
        group: &Group,
        op: &RowOp,
        rejected: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        metrics::counter!(observe::STATEMENTS_TOTAL).increment(1);
        let query = statement
            .clone()
            .param("rows", params::rows(std::iter::once(op)));
        match self.run(what, query).await {
            Ok(()) => Ok(()),
            Err(Failure::Refused(code)) => {
                rejected.push(rejection(group, op, &code));
                Ok(())
            }
            Err(other) => Err(other.into_sink_error()),
        }
    }

    /// Raises the table's truncate floor, then removes what is older than the truncate,
    /// [`REMOVE_LIMIT`] at a time, each batch its own transaction.
    async fn truncate(&self, op: &TruncateOp) -> Result<(), SinkError> {
        let what = format!("truncating table {}", op.table);
        self.run(
            &what,
            Query::new(cypher::raise_floor())
                .param("table", op.table.as_str())
                .param("version", op.version),
        )
        .await
        .map_err(Failure::into_sink_error)?;
        let version = op.version;
        let mut removed = 0;
        if let Some(node) = self.config.nodes.get(&op.table) {
            let text = cypher::truncate_nodes(node);
            removed += self
                .remove_all(&what, || Query::new(text.clone()).param("version", version))
                .await?;
            let text = cypher::truncate_placeholders(node);
            removed += self.remove_all(&what, || Query::new(text.clone())).await?;
        } else if let Some(rel) = self.config.relationships.get(&op.table) {
            let text = cypher::truncate_relationships(rel);
            removed += self
                .remove_all(&what, || Query::new(text.clone()).param("version", version))
                .await?;
        }
        metrics::counter!(observe::TRUNCATED_TOTAL).increment(removed.unsigned_abs());
        tracing::info!(table = %op.table, version, removed, "applied truncate");
        Ok(())
    }
}

/// The rejection of the record behind `op`: the table and the Neo4j status code, never a
/// value.
fn rejection(group: &Group, op: &RowOp, code: &str) -> Rejection {
    metrics::counter!(observe::REJECTED_TOTAL).increment(1);
    let kind = match group.kind {
        Kind::Upsert => "write",
        Kind::Delete => "delete",
    };
    Rejection {
        index: op.record,
        reason: format!(
            "Neo4j refused the {kind} of a row of table {} with {code}: a value it cannot \
             store or index (an indexed key longer than about 8 kB, say) or a constraint of \
             the database; fix the row or the database and replay this dead letter",
            group.table
        ),
    }
}

impl Sink for Neo4jSink {
    fn kind(&self) -> &'static str {
        "neo4j"
    }

    async fn apply(&mut self, batch: &[Record]) -> Result<Applied, SinkError> {
        let plan = plan::plan(batch, &self.config);
        let mut rejected = plan.rejected;
        self.expire_tombstones_lazily().await?;
        for step in plan.steps {
            match step {
                Step::Write(groups) => {
                    for group in &groups {
                        self.write_group(group, &mut rejected).await?;
                    }
                }
                Step::Truncate(op) => self.truncate(&op).await?,
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
        self.count(
            "the health check",
            Query::new("RETURN 1 AS one".into()),
            "one",
        )
        .await
        .map(|_| ())
        .map_err(Failure::into_sink_error)
    }
}
