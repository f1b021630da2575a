//! The [`Sink`] implementation: the requests a [`Plan`] turns into.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use elasticsearch::auth::Credentials;
use elasticsearch::cluster::ClusterHealthParts;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesExistsParts, IndicesGetMappingParts, IndicesPutMappingParts,
    IndicesRefreshParts,
};
use elasticsearch::params::Conflicts;
use elasticsearch::{BulkParts, DeleteByQueryParts, Elasticsearch, MgetParts};
use serde_json::{Map, Value as Json, json};
use sluice_sink::{Applied, Record, Rejection, Sink, SinkError};

use sluice_sink::redact_url;

use crate::config::ElasticsearchConfig;
use crate::mapping::{self, ColumnShape, VERSION_FIELD};
use crate::observe;
use crate::plan::{self, Action, DocOp, IndexPlan, Step, TruncateOp};
use crate::retry::{self, ItemOutcome, json_body};

/// The most bytes the sink puts in one bulk request (the search engines' own limit is
/// 100 MB; a few MB per request is their documented sweet spot).
const MAX_BULK_BYTES: usize = 8 * 1024 * 1024;

/// Writes change events to Elasticsearch or OpenSearch: one index per table, one
/// document per row, every write versioned (see the [crate docs](crate)).
pub struct ElasticsearchSink {
    pub(crate) client: Elasticsearch,
    pub(crate) config: ElasticsearchConfig,
    /// Indices (or aliases) known to exist, with the fields their mappings name.
    indices: HashMap<String, HashSet<String>>,
}

impl std::fmt::Debug for ElasticsearchSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElasticsearchSink")
            .field("config", &self.config)
            .field("indices", &self.indices.len())
            .finish()
    }
}

impl ElasticsearchSink {
    /// A sink for `config`, without contacting the server (see [`connect`](Self::connect)).
    ///
    /// # Errors
    ///
    /// [`SinkError::Permanent`] naming the option when the configuration is invalid.
    pub fn new(config: ElasticsearchConfig) -> Result<Self, SinkError> {
        config.validate().map_err(|e| {
            SinkError::Permanent(format!("invalid Elasticsearch sink configuration: {e}"))
        })?;
        let invalid_url = |e: String| SinkError::Permanent(format!("url: {e}"));
        let mut url = url::Url::parse(&config.url).map_err(|e| invalid_url(e.to_string()))?;
        let credentials = match &config.username {
            Some(user) => Some((user.clone(), config.password.clone().unwrap_or_default())),
            None if !url.username().is_empty() => Some((
                decode(url.username()),
                url.password().map(decode).unwrap_or_default(),
            )),
            None => None,
        };
        // Credentials travel in the Authorization header, never in the URL (which errors
        // and logs may print).
        let _ = url.set_username("");
        let _ = url.set_password(None);
        // Request paths are joined to the URL: keep a path prefix (a proxy's) whole.
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(config.request_timeout);
        if let Some((user, password)) = credentials {
            transport = transport.auth(Credentials::Basic(user, password));
        }
        let transport = transport.build().map_err(|e| {
            SinkError::Permanent(format!(
                "cannot build an HTTP client for {}: {e}",
                redact_url(&config.url)
            ))
        })?;
        Ok(ElasticsearchSink {
            client: Elasticsearch::new(transport),
            config,
            indices: HashMap::new(),
        })
    }

    /// A sink for `config` whose server answered its health check.
    ///
    /// # Errors
    ///
    /// [`SinkError::Permanent`] for an invalid configuration or refused credentials,
    /// [`SinkError::Retryable`] when the server cannot be reached or is unhealthy.
    pub async fn connect(config: ElasticsearchConfig) -> Result<Self, SinkError> {
        let mut sink = ElasticsearchSink::new(config)?;
        sink.check().await?;
        Ok(sink)
    }

    /// The configuration.
    pub fn config(&self) -> &ElasticsearchConfig {
        &self.config
    }

    /// Makes sure the index exists and maps every column the batch showed.
    async fn ensure_index(&mut self, plan: &IndexPlan) -> Result<(), SinkError> {
        if !self.indices.contains_key(&plan.index) {
            let fields = match self.index_exists(&plan.index).await? {
                true => None,
                false => self.create_index(plan).await?,
            };
            let fields = match fields {
                Some(fields) => fields,
                None => self.mapped_fields(plan).await?,
            };
            self.indices.insert(plan.index.clone(), fields);
        }
        let known = self.indices.get(&plan.index);
        let new: Vec<&ColumnShape> = plan
            .columns
            .iter()
            .filter(|c| known.is_some_and(|k| !k.contains(&c.name)))
            .collect();
        if !new.is_empty() {
            self.put_mapping(plan, &new).await?;
        }
        Ok(())
    }

    async fn index_exists(&self, index: &str) -> Result<bool, SinkError> {
        let what = format!("checking that index {index} exists");
        let response = self
            .client
            .indices()
            .exists(IndicesExistsParts::Index(&[index]))
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        let (code, _) = json_body(&what, response, &[404]).await?;
        Ok(code != 404)
    }

    /// Creates the index; the fields it maps, or `None` when another process created it
    /// first.
    async fn create_index(&self, plan: &IndexPlan) -> Result<Option<HashSet<String>>, SinkError> {
        let what = format!("creating index {} for table {}", plan.index, plan.table);
        let table = self.config.table(&plan.table);
        let body = mapping::create_index_body(&plan.columns, &self.config, table);
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(&plan.index))
            .body(body)
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        let (code, body) = json_body(&what, response, &[400]).await?;
        match (code, retry::error_type(&body)) {
            (400, Some("resource_already_exists_exception")) => Ok(None),
            (400, error_type) => Err(retry::status(&what, 400, error_type)),
            _ => {
                tracing::info!(index = %plan.index, table = %plan.table, "created index");
                let mut fields: HashSet<String> =
                    plan.columns.iter().map(|c| c.name.clone()).collect();
                fields.insert(VERSION_FIELD.into());
                Ok(Some(fields))
            }
        }
    }

    /// The fields an existing index maps; every column of the plan when the sink may not
    /// read the mapping (it then leaves new columns to dynamic mapping).
    async fn mapped_fields(&self, plan: &IndexPlan) -> Result<HashSet<String>, SinkError> {
        let what = format!("reading the mapping of index {}", plan.index);
        let response = self
            .client
            .indices()
            .get_mapping(IndicesGetMappingParts::Index(&[&plan.index]))
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        let (code, body) = json_body(&what, response, &[403]).await?;
        if code == 403 {
            tracing::warn!(index = %plan.index, "the sink may not read the index's mapping; new columns are mapped dynamically");
            return Ok(plan.columns.iter().map(|c| c.name.clone()).collect());
        }
        Ok(mapping::mapped_fields(&body))
    }

    /// Maps columns the index does not map yet (added by a schema change). A refusal (a
    /// field of that name mapped otherwise, a missing privilege) is logged and not tried
    /// again: documents still index, through dynamic mapping.
    async fn put_mapping(
        &mut self,
        plan: &IndexPlan,
        new: &[&ColumnShape],
    ) -> Result<(), SinkError> {
        let what = format!(
            "mapping new columns of table {} in index {}",
            plan.table, plan.index
        );
        let properties =
            mapping::column_properties(new.iter().copied(), self.config.table(&plan.table));
        let response = self
            .client
            .indices()
            .put_mapping(IndicesPutMappingParts::Index(&[&plan.index]))
            .body(json!({ "properties": properties }))
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        let (code, body) = json_body(&what, response, &[400, 403]).await?;
        if code == 400 || code == 403 {
            tracing::warn!(
                index = %plan.index,
                table = %plan.table,
                status = code,
                error_type = retry::error_type(&body).unwrap_or("unknown"),
                "the index refused the mapping of new columns; they are mapped dynamically"
            );
        }
        if let Some(known) = self.indices.get_mut(&plan.index) {
            known.extend(new.iter().map(|c| c.name.clone()));
        }
        Ok(())
    }

    /// Writes one step's documents.
    async fn write(
        &mut self,
        ops: Vec<DocOp>,
        rejected: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        let ops = self.complete_partials(ops, rejected).await?;
        let mut chunk = Vec::new();
        let mut bytes = 0;
        for op in ops {
            let (meta, line) = bulk_line(op);
            if !chunk.is_empty() && bytes + line.len() > MAX_BULK_BYTES {
                self.bulk(std::mem::take(&mut chunk), rejected).await?;
                bytes = 0;
            }
            bytes += line.len();
            chunk.push((meta, line));
        }
        if !chunk.is_empty() {
            self.bulk(chunk, rejected).await?;
        }
        Ok(())
    }

    /// Turns partial updates into full rows, from the stored documents (one `_mget`).
    async fn complete_partials(
        &mut self,
        ops: Vec<DocOp>,
        rejected: &mut Vec<Rejection>,
    ) -> Result<Vec<Ready>, SinkError> {
        let docs: Vec<Json> = ops
            .iter()
            .filter(|op| matches!(op.action, Action::Merge(_)))
            .map(|op| json!({ "_index": op.index, "_id": op.id }))
            .collect();
        let mut complete = Vec::with_capacity(ops.len());
        if docs.is_empty() {
            complete.extend(ops.into_iter().filter_map(ready));
            return Ok(complete);
        }
        let what = "reading the stored documents of partial updates";
        let response = self
            .client
            .mget(MgetParts::None)
            .body(json!({ "docs": docs }))
            .send()
            .await
            .map_err(|e| retry::transport(what, &e))?;
        let (_, body) = json_body(what, response, &[]).await?;
        let empty = Vec::new();
        let mut fetched = body["docs"].as_array().unwrap_or(&empty).iter();
        for op in ops {
            let Action::Merge(partial) = &op.action else {
                complete.extend(ready(op));
                continue;
            };
            let Some(doc) = fetched.next() else {
                return Err(SinkError::Retryable(format!(
                    "{what}: the response has fewer documents than asked for"
                )));
            };
            if !doc["error"].is_null() {
                let error_type = retry::error_type(doc).unwrap_or("unknown error");
                if error_type == "index_not_found_exception" {
                    self.indices.remove(&op.index);
                }
                return Err(SinkError::Retryable(format!(
                    "{what}: reading a document of index {} failed ({error_type})",
                    op.index
                )));
            }
            if doc["found"] != json!(true) {
                metrics::counter!(observe::PARTIAL_FETCHES_TOTAL, observe::OUTCOME => "missing")
                    .increment(1);
                rejected.push(Rejection {
                    index: op.record,
                    reason: format!(
                        "partial update (unchanged TOAST values) of a document index {} does not \
                         hold, so the unchanged values are unknown: `sluice verify` reports the \
                         row, and REPLICA IDENTITY FULL on the table avoids this",
                        op.index
                    ),
                });
                continue;
            }
            if doc["_version"]
                .as_i64()
                .is_some_and(|stored| stored > op.version)
            {
                // A newer version is stored: the update has nothing left to do.
                metrics::counter!(observe::PARTIAL_FETCHES_TOTAL, observe::OUTCOME => "newer_stored").increment(1);
                continue;
            }
            let stored = doc["_source"].as_object().cloned().unwrap_or_default();
            match partial.complete(&stored) {
                Ok(row) => {
                    metrics::counter!(observe::PARTIAL_FETCHES_TOTAL, observe::OUTCOME => "merged")
                        .increment(1);
                    complete.push(Ready {
                        index: op.index,
                        id: op.id,
                        version: op.version,
                        record: op.record,
                        row: Some(row),
                    });
                }
                Err(column) => rejected.push(Rejection {
                    index: op.record,
                    reason: format!(
                        "partial update (unchanged TOAST) of column {column:?}, which the stored \
                         document in index {} lacks, so its value is unknown",
                        op.index
                    ),
                }),
            }
        }
        Ok(complete)
    }

    async fn bulk(
        &mut self,
        chunk: Vec<(BulkMeta, String)>,
        rejected: &mut Vec<Rejection>,
    ) -> Result<(), SinkError> {
        let what = "the bulk request";
        let (metas, lines): (Vec<BulkMeta>, Vec<String>) = chunk.into_iter().unzip();
        metrics::counter!(observe::BULK_REQUESTS_TOTAL).increment(1);
        let response = self
            .client
            .bulk(BulkParts::None)
            .body(lines)
            .send()
            .await
            .map_err(|e| retry::transport(what, &e))?;
        let (_, body) = json_body(what, response, &[]).await?;
        if body["errors"] == json!(false) {
            return Ok(());
        }
        let items = body["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if items.len() != metas.len() {
            return Err(SinkError::Retryable(format!(
                "{what}: the response has {} items for {} operations",
                items.len(),
                metas.len()
            )));
        }
        let mut retry = None;
        let mut stale = 0;
        for (meta, item) in metas.iter().zip(items) {
            match retry::bulk_item(meta.action, &meta.index, &item[meta.action]) {
                ItemOutcome::Applied => {}
                ItemOutcome::Stale => stale += 1,
                ItemOutcome::IndexMissing => {
                    self.indices.remove(&meta.index);
                    retry.get_or_insert_with(|| {
                        format!(
                            "index {} does not exist (any more); it is created again",
                            meta.index
                        )
                    });
                }
                ItemOutcome::Retry(reason) => {
                    retry.get_or_insert(reason);
                }
                ItemOutcome::Reject(reason) => rejected.push(Rejection {
                    index: meta.record,
                    reason,
                }),
            }
        }
        metrics::counter!(observe::STALE_WRITES_TOTAL).increment(stale);
        match retry {
            Some(reason) => Err(SinkError::Retryable(reason)),
            None => Ok(()),
        }
    }

    /// Removes the index's documents whose version is below the truncate's: refresh (the
    /// query sees only refreshed documents), then a delete-by-query run as a task and
    /// waited for in steps, so a large index does not time the request out.
    async fn truncate(&mut self, op: &TruncateOp) -> Result<(), SinkError> {
        let what = format!("refreshing index {} before a truncate", op.index);
        let response = self
            .client
            .indices()
            .refresh(IndicesRefreshParts::Index(&[&op.index]))
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        if let Err(error) = json_body(&what, response, &[]).await {
            self.indices.remove(&op.index);
            return Err(error);
        }

        let what = format!("truncating index {}", op.index);
        let response = self
            .client
            .delete_by_query(DeleteByQueryParts::Index(&[&op.index]))
            .conflicts(Conflicts::Proceed)
            .refresh(true)
            .wait_for_completion(false)
            .body(json!({ "query": { "range": { VERSION_FIELD: { "lt": op.version } } } }))
            .send()
            .await
            .map_err(|e| retry::transport(&what, &e))?;
        let (_, body) = json_body(&what, response, &[]).await?;
        let Some(task) = body["task"].as_str() else {
            return Err(SinkError::Retryable(format!(
                "{what}: the response names no task"
            )));
        };

        // Each poll waits server-side for at most half the request timeout.
        let wait = format!(
            "{}ms",
            (self.config.request_timeout / 2)
                .max(Duration::from_secs(1))
                .as_millis()
        );
        let path = format!("_tasks/{task}");
        loop {
            let response = self
                .client
                .send(
                    Method::Get,
                    &path,
                    HeaderMap::new(),
                    Some(&[("wait_for_completion", "true"), ("timeout", wait.as_str())]),
                    None::<()>,
                    Some(self.config.request_timeout + Duration::from_secs(5)),
                )
                .await
                .map_err(|e| retry::transport(&what, &e))?;
            let (code, body) = json_body(&what, response, &[408, 500]).await?;
            let error_type = retry::error_type(&body);
            if code == 408 || error_type == Some("timeout_exception") {
                continue;
            }
            if code != 200 {
                return Err(retry::status(&what, code, error_type));
            }
            if body["completed"] != json!(true) {
                continue;
            }
            if !body["error"].is_null() {
                return Err(SinkError::Retryable(format!(
                    "{what}: the delete-by-query task failed ({})",
                    retry::error_type(&body["error"]).unwrap_or("unknown error")
                )));
            }
            let result = &body["response"];
            if let Some(failure) = result["failures"].as_array().and_then(|f| f.first()) {
                let cause = failure["cause"]["type"].as_str().unwrap_or("unknown error");
                return Err(SinkError::Retryable(format!(
                    "{what}: the delete-by-query failed for some documents ({cause})"
                )));
            }
            let deleted = result["deleted"].as_u64().unwrap_or(0);
            metrics::counter!(observe::TRUNCATED_DOCUMENTS_TOTAL).increment(deleted);
            tracing::info!(index = %op.index, version = op.version, deleted, "truncated index");
            return Ok(());
        }
    }
}

/// The write of an operation that needs no stored document; `None` for a merge.
fn ready(op: DocOp) -> Option<Ready> {
    let row = match op.action {
        Action::Index(row) => Some(row),
        Action::Delete => None,
        Action::Merge(_) => return None,
    };
    Some(Ready {
        index: op.index,
        id: op.id,
        version: op.version,
        record: op.record,
        row,
    })
}

/// A document write ready for the bulk request: a row to index, or a delete.
struct Ready {
    index: String,
    id: String,
    version: i64,
    record: usize,
    /// The row, without the version field; `None` for a delete.
    row: Option<Map<String, Json>>,
}

/// What the sink needs to read a bulk item's response.
struct BulkMeta {
    action: &'static str,
    index: String,
    record: usize,
}

/// The bulk lines of one write (action, and source for an index), without the final
/// newline.
fn bulk_line(write: Ready) -> (BulkMeta, String) {
    let action = match write.row {
        Some(_) => "index",
        None => "delete",
    };
    let header = json!({ action: {
        "_index": write.index,
        "_id": write.id,
        "version": write.version,
        "version_type": "external_gte",
    }});
    let line = match write.row {
        Some(mut row) => {
            row.insert(VERSION_FIELD.into(), json!(write.version));
            format!("{header}\n{}", Json::Object(row))
        }
        None => header.to_string(),
    };
    let meta = BulkMeta {
        action,
        index: write.index,
        record: write.record,
    };
    (meta, line)
}

/// A percent-encoded URL user or password, decoded.
fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

impl Sink for ElasticsearchSink {
    fn kind(&self) -> &'static str {
        "elasticsearch"
    }

    async fn apply(&mut self, batch: &[Record]) -> Result<Applied, SinkError> {
        let plan = plan::plan(batch, &self.config);
        let mut rejected = plan.rejected;
        for index in &plan.indices {
            self.ensure_index(index).await?;
        }
        for step in plan.steps {
            match step {
                Step::Write(ops) => self.write(ops, &mut rejected).await?,
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
        let what = "the health check";
        let response = self
            .client
            .cluster()
            .health(ClusterHealthParts::None)
            .send()
            .await
            .map_err(|e| retry::transport(what, &e))?;
        let (code, body) = json_body(what, response, &[403]).await?;
        if code == 403 {
            // A user without the monitor privilege: an answer is health enough.
            let response = self
                .client
                .ping()
                .send()
                .await
                .map_err(|e| retry::transport(what, &e))?;
            json_body(what, response, &[]).await?;
            return Ok(());
        }
        match body["status"].as_str() {
            Some("red") => Err(SinkError::Retryable(
                "the search engine's cluster health is red (some primary shards are not \
                 assigned)"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}
