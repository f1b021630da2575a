//! [`Inspect`] for Neo4j: what the sink writes for a row, read back and compared.
//!
//! ```text
//!  node table row ──▶ Node { node's properties, per foreign key: the keys it links to }
//!     fetch: UNWIND $keys ─ MATCH (n:Label {sluice_key}) ─ one pattern comprehension
//!            per configured foreign key, (n)-[:TYPE]->(m:TargetLabel) or <-[:TYPE]-
//!     scan:  nodes of the label with a sluice_version, by sluice_key
//!  join table row ──▶ Relationship { start node's key, end node's key, properties }
//!     fetch: UNWIND $keys ─ MATCH (a)-[r:TYPE {sluice_key}]->(b)
//!     scan:  relationships of the type with a sluice_key, by sluice_key
//! ```
//!
//! The expected form comes from the plan of a one-record batch (the sink's own planning:
//! properties turned into Bolt values by `params`, foreign-key targets by the same key
//! encoding), so a foreign-key relationship that is missing, points at another node or
//! is there twice makes the row stale, as does a join row's relationship between other
//! nodes or with other properties. Every fetch and scan is one statement.
//!
//! Bookkeeping is left out on both sides: `sluice_key` and `sluice_version` of nodes and
//! relationships, and placeholders (nodes without `sluice_version`), which are not rows:
//! a foreign key pointing at one is compared by its key like any other.

use std::collections::HashMap;

use neo4rs::{BoltMap, BoltType, Row, query};
use sluice_sink::{Inspect, InspectError, Record, ScanPage, TableName};

use crate::Neo4jSink;
use crate::config::{
    Direction, KEY_PROPERTY, Neo4jConfig, NodeTable, RelationshipTable, VERSION_PROPERTY, quote,
};
use crate::params::props;
use crate::plan::{Action, FkTarget, Step, plan};

/// Keys one scan page holds.
const SCAN_PAGE: i64 = 2000;

/// A row as Neo4j holds it, without the sink's bookkeeping: what `sluice verify`
/// compares.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRow {
    /// A node table's row: its node and its foreign keys' relationships.
    Node {
        /// The node's properties, without `sluice_key` and `sluice_version`.
        properties: BoltMap,
        /// One entry per configured foreign key of the table, in configuration order.
        foreign_keys: Vec<StoredForeignKey>,
    },
    /// A join table's row: one relationship, found by the `sluice_key` on it.
    Relationship {
        /// The start node's `sluice_key`; `None` when that node does not carry the
        /// `from` table's label (or has no key), which the sink never writes.
        from: Option<String>,
        /// The end node's `sluice_key`, likewise for the `to` table.
        to: Option<String>,
        /// The relationship's properties, without `sluice_key` and `sluice_version`.
        properties: BoltMap,
    },
}

/// The relationships one foreign key of a node table's row has in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForeignKey {
    /// The relationship type.
    pub rel_type: String,
    /// Which way the relationships point, seen from the row's node.
    pub direction: Direction,
    /// The `sluice_key`s of the target table's nodes the row's node is linked to by
    /// relationships of this type and direction, sorted: one for a foreign key that is
    /// set, none for a NULL one; more means duplicates. A target node without a key
    /// counts as the empty key.
    pub targets: Vec<String>,
}

/// How a table is kept in the graph.
enum Layout<'a> {
    Node(&'a NodeTable),
    Join(&'a RelationshipTable),
}

impl Neo4jSink {
    fn layout(&self, table: &TableName) -> Result<Layout<'_>, InspectError> {
        let name = table.to_string();
        if let Some(node) = self.config.nodes.get(&name) {
            Ok(Layout::Node(node))
        } else if let Some(rel) = self.config.relationships.get(&name) {
            Ok(Layout::Join(rel))
        } else {
            Err(InspectError::Store(format!(
                "{table} is not mapped to the graph"
            )))
        }
    }
}

/// The label of configured node table `table`, quoted.
fn label_of(config: &Neo4jConfig, table: &str) -> String {
    config
        .nodes
        .get(table)
        .map(|node| quote(&node.label))
        .unwrap_or_default()
}

fn store_error(what: &str, error: &dyn std::fmt::Display) -> InspectError {
    InspectError::Store(format!("{what}: {error}"))
}

/// Properties without the sink's bookkeeping.
fn without_bookkeeping(value: BoltType) -> BoltMap {
    let BoltType::Map(mut map) = value else {
        return BoltMap::new();
    };
    map.value.remove(KEY_PROPERTY);
    map.value.remove(VERSION_PROPERTY);
    map
}

/// Reads a node table's rows: properties, then per foreign key the list of target keys
/// (`fks`, a list of lists in configuration order).
fn node_fetch(config: &Neo4jConfig, node: &NodeTable) -> String {
    let label = quote(&node.label);
    let fks: Vec<String> = node
        .relationships
        .iter()
        .map(|fk| {
            let rel_type = quote(&fk.rel_type);
            let target = label_of(config, &fk.target);
            let (left, right) = match fk.direction {
                Direction::Outgoing => ("-", "->"),
                Direction::Incoming => ("<-", "-"),
            };
            // The sink's own match (`cypher::foreign_key`): relationships of the type to
            // nodes of the target's label, without a key (join-table relationships have
            // one).
            format!(
                "[(n){left}[r:{rel_type}]{right}(m:{target}) WHERE r.{KEY_PROPERTY} IS NULL \
                  | m.{KEY_PROPERTY}]"
            )
        })
        .collect();
    format!(
        "UNWIND $keys AS k MATCH (n:{label} {{{KEY_PROPERTY}: k}}) \
         WHERE n.{VERSION_PROPERTY} IS NOT NULL \
         RETURN k, properties(n) AS p, [{fks}] AS fks",
        fks = fks.join(", ")
    )
}

/// Reads a join table's rows by the key on their relationships.
fn relationship_fetch(config: &Neo4jConfig, rel: &RelationshipTable) -> String {
    let rel_type = quote(&rel.rel_type);
    let from = label_of(config, &rel.from.table);
    let to = label_of(config, &rel.to.table);
    format!(
        "UNWIND $keys AS k MATCH (a)-[r:{rel_type} {{{KEY_PROPERTY}: k}}]->(b) \
         RETURN k, properties(r) AS p, \
           CASE WHEN a:{from} THEN a.{KEY_PROPERTY} END AS from_key, \
           CASE WHEN b:{to} THEN b.{KEY_PROPERTY} END AS to_key"
    )
}

/// One row of [`node_fetch`].
fn node_row(row: &Row, node: &NodeTable, what: &str) -> Result<StoredRow, InspectError> {
    let properties: BoltType = row.get("p").map_err(|e| store_error(what, &e))?;
    let fks: BoltType = row.get("fks").map_err(|e| store_error(what, &e))?;
    let BoltType::List(lists) = fks else {
        return Err(store_error(what, &"the foreign keys are not a list"));
    };
    if lists.len() != node.relationships.len() {
        return Err(store_error(what, &"one list per foreign key expected"));
    }
    let foreign_keys = node
        .relationships
        .iter()
        .zip(lists.value)
        .map(|(fk, found)| {
            let mut targets: Vec<String> = match found {
                BoltType::List(keys) => keys
                    .value
                    .into_iter()
                    .map(|key| match key {
                        BoltType::String(key) => key.value,
                        _ => String::new(),
                    })
                    .collect(),
                _ => Vec::new(),
            };
            targets.sort();
            StoredForeignKey {
                rel_type: fk.rel_type.clone(),
                direction: fk.direction,
                targets,
            }
        })
        .collect();
    Ok(StoredRow::Node {
        properties: without_bookkeeping(properties),
        foreign_keys,
    })
}

/// One row of [`relationship_fetch`].
fn relationship_row(row: &Row, what: &str) -> Result<StoredRow, InspectError> {
    let properties: BoltType = row.get("p").map_err(|e| store_error(what, &e))?;
    Ok(StoredRow::Relationship {
        from: row.get("from_key").map_err(|e| store_error(what, &e))?,
        to: row.get("to_key").map_err(|e| store_error(what, &e))?,
        properties: without_bookkeeping(properties),
    })
}

impl Inspect for Neo4jSink {
    type Stored = StoredRow;

    fn kind(&self) -> &'static str {
        "neo4j"
    }

    fn checkable(&self, table: &TableName) -> Result<(), String> {
        let name = table.to_string();
        if self.config.nodes.contains_key(&name) || self.config.relationships.contains_key(&name) {
            Ok(())
        } else {
            Err("not mapped to the graph ([neo4j.nodes] or [neo4j.relationships])".into())
        }
    }

    fn expected(&self, record: &Record) -> Result<Self::Stored, InspectError> {
        let planned = plan(std::slice::from_ref(record), &self.config);
        if let Some(rejection) = planned.rejected.first() {
            return Err(InspectError::Row(rejection.reason.clone()));
        }
        let table = record.table().to_string();
        let action = planned
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Write(groups) => Some(groups),
                Step::Truncate(_) => None,
            })
            .flatten()
            .flat_map(|group| &group.ops)
            .map(|op| &op.action)
            .find(|action| !matches!(action, Action::Delete));
        match action {
            Some(Action::Node(row)) => {
                let node = self.config.nodes.get(&table).ok_or_else(|| {
                    InspectError::Row(format!("table {table} is not a node table"))
                })?;
                let foreign_keys = node
                    .relationships
                    .iter()
                    .zip(&row.fks)
                    .map(|(fk, target)| match target {
                        FkTarget::Set(target) => Ok(StoredForeignKey {
                            rel_type: fk.rel_type.clone(),
                            direction: fk.direction,
                            targets: target.iter().cloned().collect(),
                        }),
                        FkTarget::Keep => Err(InspectError::Row(format!(
                            "a column of foreign key {:?} is an unchanged TOAST value: its \
                             target is unknown",
                            fk.rel_type
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(StoredRow::Node {
                    properties: without_bookkeeping(props(&row.props, true)),
                    foreign_keys,
                })
            }
            Some(Action::Relationship(row)) => match (&row.from, &row.to) {
                (Some(from), Some(to)) => Ok(StoredRow::Relationship {
                    from: Some(from.clone()),
                    to: Some(to.clone()),
                    properties: without_bookkeeping(props(&row.props, true)),
                }),
                _ => Err(InspectError::NotStored(
                    "an endpoint column is NULL: the sink writes no relationship for this row"
                        .into(),
                )),
            },
            Some(Action::Delete) | None => Err(InspectError::Row(
                "the sink writes nothing for this row".into(),
            )),
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
        let layout = self.layout(table)?;
        let (statement, what) = match layout {
            Layout::Node(node) => (node_fetch(&self.config, node), "reading nodes back"),
            Layout::Join(rel) => (
                relationship_fetch(&self.config, rel),
                "reading relationships back",
            ),
        };
        let mut stream = self
            .graph
            .execute(query(&statement).param("keys", keys.to_vec()))
            .await
            .map_err(|e| store_error(what, &e))?;
        let mut found: HashMap<String, StoredRow> = HashMap::with_capacity(keys.len());
        while let Some(row) = stream.next().await.map_err(|e| store_error(what, &e))? {
            let key: String = row.get("k").map_err(|e| store_error(what, &e))?;
            let stored = match layout {
                Layout::Node(node) => node_row(&row, node, what)?,
                Layout::Join(_) => relationship_row(&row, what)?,
            };
            found.insert(key, stored);
        }
        Ok(keys.iter().map(|key| found.remove(key)).collect())
    }

    async fn scan(
        &mut self,
        table: &TableName,
        cursor: Option<String>,
    ) -> Result<ScanPage, InspectError> {
        // Keys are never empty, so "" starts the scan; `>` on the key alone lets the
        // constraint's index both find the page's start and order it.
        let (statement, what) = match self.layout(table)? {
            Layout::Node(node) => (
                format!(
                    "MATCH (n:{label}) WHERE n.{KEY_PROPERTY} > $after \
                       AND n.{VERSION_PROPERTY} IS NOT NULL \
                     RETURN n.{KEY_PROPERTY} AS k ORDER BY k LIMIT $limit",
                    label = quote(&node.label)
                ),
                "listing nodes",
            ),
            Layout::Join(rel) => (
                format!(
                    "MATCH ()-[r:{rel_type}]->() WHERE r.{KEY_PROPERTY} > $after \
                     RETURN r.{KEY_PROPERTY} AS k ORDER BY k LIMIT $limit",
                    rel_type = quote(&rel.rel_type)
                ),
                "listing relationships",
            ),
        };
        let mut stream = self
            .graph
            .execute(
                query(&statement)
                    .param("after", cursor.unwrap_or_default())
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
