//! [`Inspect`] for Elasticsearch: a row's expected document is the `_source` the sink
//! indexes (the plan's own row JSON), read back with `_mget` and listed with a scroll
//! over `_id`s; `sluice_version` is bookkeeping and left out of the comparison.

use elasticsearch::{ClearScrollParts, MgetParts, ScrollParts, SearchParts};
use serde_json::{Map, Value as Json, json};
use sluice_sink::{Inspect, InspectError, Record, ScanPage, SinkError, TableName};

use crate::ElasticsearchSink;
use crate::mapping::VERSION_FIELD;
use crate::plan::{NewRow, new_row};
use crate::retry::{self, json_body};

/// Documents per scroll page.
const SCAN_PAGE: usize = 2000;

fn store_error(error: SinkError) -> InspectError {
    InspectError::Store(error.to_string())
}

impl ElasticsearchSink {
    fn index_of(&self, table: &TableName) -> Result<String, InspectError> {
        self.config
            .index_for(table)
            .map_err(|e| InspectError::Store(format!("the index name of {table}: {e}")))
    }
}

impl Inspect for ElasticsearchSink {
    type Stored = Map<String, Json>;

    fn kind(&self) -> &'static str {
        "elasticsearch"
    }

    fn checkable(&self, table: &TableName) -> Result<(), String> {
        self.config
            .index_for(table)
            .map(|_| ())
            .map_err(|e| format!("no index name: {e}"))
    }

    fn expected(&self, record: &Record) -> Result<Self::Stored, InspectError> {
        match new_row(record) {
            Ok(NewRow::Full(mut row)) => {
                row.remove(VERSION_FIELD);
                Ok(row)
            }
            Ok(NewRow::Partial(_)) => Err(InspectError::Row(
                "a row read from PostgreSQL has an unchanged TOAST value".into(),
            )),
            Err(e) => Err(InspectError::Row(e.to_string())),
        }
    }

    async fn fetch(
        &mut self,
        table: &TableName,
        keys: &[String],
    ) -> Result<Vec<Option<Self::Stored>>, InspectError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let index = self.index_of(table)?;
        let what = "reading documents back";
        let docs: Vec<Json> = keys
            .iter()
            .map(|id| json!({ "_index": index, "_id": id }))
            .collect();
        let response = self
            .client
            .mget(MgetParts::None)
            .body(json!({ "docs": docs }))
            .send()
            .await
            .map_err(|e| store_error(retry::transport(what, &e)))?;
        let (_, body) = json_body(what, response, &[]).await.map_err(store_error)?;
        let found = body["docs"].as_array().cloned().unwrap_or_default();
        if found.len() != keys.len() {
            return Err(InspectError::Store(format!(
                "{what}: asked for {} documents, got {}",
                keys.len(),
                found.len()
            )));
        }
        Ok(found
            .into_iter()
            .map(|mut doc| {
                // An error (the index does not exist) means no document either.
                if doc["found"].as_bool() != Some(true) {
                    return None;
                }
                let mut source = match doc["_source"].take() {
                    Json::Object(source) => source,
                    _ => Map::new(),
                };
                source.remove(VERSION_FIELD);
                Some(source)
            })
            .collect())
    }

    async fn scan(
        &mut self,
        table: &TableName,
        cursor: Option<String>,
    ) -> Result<ScanPage, InspectError> {
        let what = "listing document ids";
        let response = match &cursor {
            None => {
                let index = self.index_of(table)?;
                self.client
                    .search(SearchParts::Index(&[&index]))
                    .scroll("2m")
                    .body(json!({ "size": SCAN_PAGE, "_source": false, "sort": ["_doc"] }))
                    .send()
                    .await
            }
            Some(scroll_id) => {
                self.client
                    .scroll(ScrollParts::None)
                    .body(json!({ "scroll": "2m", "scroll_id": scroll_id }))
                    .send()
                    .await
            }
        }
        .map_err(|e| store_error(retry::transport(what, &e)))?;
        let (code, body) = json_body(what, response, &[404])
            .await
            .map_err(store_error)?;
        if code == 404 {
            return Ok(ScanPage::default());
        }
        let keys: Vec<String> = body["hits"]["hits"]
            .as_array()
            .map(|hits| {
                hits.iter()
                    .filter_map(|hit| hit["_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let scroll_id = body["_scroll_id"].as_str().map(str::to_owned);
        let next = if keys.is_empty() {
            None
        } else {
            scroll_id.clone()
        };
        if next.is_none()
            && let Some(scroll_id) = scroll_id
        {
            let _ = self
                .client
                .clear_scroll(ClearScrollParts::None)
                .body(json!({ "scroll_id": [scroll_id] }))
                .send()
                .await;
        }
        Ok(ScanPage { keys, next })
    }
}
