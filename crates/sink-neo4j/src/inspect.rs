//! [`Inspect`] for Neo4j: a row of a node table is expected as the node's properties the
//! sink sets (the plan of a one-record batch, turned into Bolt values by `params`), read
//! back with one `UNWIND ... OPTIONAL MATCH` per chunk and listed by `sluice_key` order.
//! Placeholders (nodes without `sluice_version`) are not rows; `sluice_key` and
//! `sluice_version` are bookkeeping and left out of the comparison.
//!
//! Only node tables are checked: join tables' relationships and foreign-key
//! relationships are not compared yet.

use std::collections::HashMap;

use neo4rs::{BoltMap, BoltType, query};
use sluice_sink::{Inspect, InspectError, Record, ScanPage, TableName};

use crate::Neo4jSink;
use crate::config::{KEY_PROPERTY, VERSION_PROPERTY, quote};
use crate::params::props;
use crate::plan::{Action, Step, plan};

/// Keys one scan page holds.
const SCAN_PAGE: i64 = 2000;

impl Neo4jSink {
    fn label_of(&self, table: &TableName) -> Result<String, InspectError> {
        self.config
            .nodes
            .get(&table.to_string())
            .map(|node| quote(&node.label))
            .ok_or_else(|| InspectError::Store(format!("{table} is not a node table")))
    }
}

fn store_error(what: &str, error: &neo4rs::Error) -> InspectError {
    InspectError::Store(format!("{what}: {error}"))
}

/// A node's properties without the sink's bookkeeping.
fn without_bookkeeping(value: BoltType) -> BoltMap {
    let BoltType::Map(mut map) = value else {
        return BoltMap::new();
    };
    map.value.remove(KEY_PROPERTY);
    map.value.remove(VERSION_PROPERTY);
    map
}

impl Inspect for Neo4jSink {
    type Stored = BoltMap;

    fn kind(&self) -> &'static str {
        "neo4j"
    }

    fn checkable(&self, table: &TableName) -> Result<(), String> {
        if self.config.nodes.contains_key(&table.to_string()) {
            Ok(())
        } else if self.config.relationships.contains_key(&table.to_string()) {
            Err("a join table: its relationships are not compared yet".into())
        } else {
            Err("not mapped to nodes ([neo4j.nodes])".into())
        }
    }

    fn expected(&self, record: &Record) -> Result<Self::Stored, InspectError> {
        let planned = plan(std::slice::from_ref(record), &self.config);
        if let Some(rejection) = planned.rejected.first() {
            return Err(InspectError::Row(rejection.reason.clone()));
        }
        planned
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Write(groups) => Some(groups),
                Step::Truncate(_) => None,
            })
            .flatten()
            .flat_map(|group| &group.ops)
            .find_map(|op| match &op.action {
                Action::Node(node) => Some(without_bookkeeping(props(&node.props, true))),
                _ => None,
            })
            .ok_or_else(|| InspectError::Row("the sink writes no node for this row".into()))
    }

    async fn fetch(
        &mut self,
        table: &TableName,
        keys: &[String],
    ) -> Result<Vec<Option<Self::Stored>>, InspectError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let label = self.label_of(table)?;
        let what = "reading nodes back";
        let statement = format!(
            "UNWIND $keys AS k MATCH (n:{label} {{{KEY_PROPERTY}: k}}) \
             WHERE n.{VERSION_PROPERTY} IS NOT NULL RETURN k, properties(n) AS p"
        );
        let mut stream = self
            .graph
            .execute(query(&statement).param("keys", keys.to_vec()))
            .await
            .map_err(|e| store_error(what, &e))?;
        let mut found: HashMap<String, BoltMap> = HashMap::with_capacity(keys.len());
        while let Some(row) = stream.next().await.map_err(|e| store_error(what, &e))? {
            let key: String = row
                .get("k")
                .map_err(|e| InspectError::Store(format!("{what}: {e}")))?;
            let properties: BoltType = row
                .get("p")
                .map_err(|e| InspectError::Store(format!("{what}: {e}")))?;
            found.insert(key, without_bookkeeping(properties));
        }
        Ok(keys.iter().map(|key| found.remove(key)).collect())
    }

    async fn scan(
        &mut self,
        table: &TableName,
        cursor: Option<String>,
    ) -> Result<ScanPage, InspectError> {
        let label = self.label_of(table)?;
        let what = "listing nodes";
        let statement = format!(
            "MATCH (n:{label}) WHERE n.{VERSION_PROPERTY} IS NOT NULL \
               AND ($after IS NULL OR n.{KEY_PROPERTY} > $after) \
             RETURN n.{KEY_PROPERTY} AS k ORDER BY k LIMIT $limit"
        );
        let after = match &cursor {
            Some(after) => BoltType::from(after.as_str()),
            None => BoltType::Null(neo4rs::BoltNull),
        };
        let mut stream = self
            .graph
            .execute(
                query(&statement)
                    .param("after", after)
                    .param("limit", SCAN_PAGE),
            )
            .await
            .map_err(|e| store_error(what, &e))?;
        let mut keys = Vec::new();
        while let Some(row) = stream.next().await.map_err(|e| store_error(what, &e))? {
            if let Ok(key) = row.get::<String>("k") {
                keys.push(key);
            }
        }
        let next = (keys.len() as i64 == SCAN_PAGE)
            .then(|| keys.last().cloned())
            .flatten();
        Ok(ScanPage { keys, next })
    }
}
