//! Reading a published table's current rows as `read` change events, outside the
//! replication stream: what `sluice verify` compares the stores against.
//!
//! ```text
//!  SELECT <published columns>, <key> FROM t WHERE key > last ORDER BY key LIMIT n   (text)
//!     │ sluice_pgoutput::typed_row (the decoder the stream uses)
//!     │ value::cell_to_event, replicate::key_of (the source's own event building)
//!     ▼
//!  RowEvent { Kafka key, ChangeEvent { op: read, columns, key, after } }
//! ```
//!
//! The rows go through the very conversion the snapshot and the stream use, so a row
//! read here is the event the source would publish for it; with the source's capture
//! filter ([`TableReader::with_filter`]), excluded columns are dropped and masked ones
//! masked as the source does.

use sluice_event::v1;
use sluice_pgoutput::{Column, ColumnValue, Relation, ReplicaIdentity, TupleData, typed_row};
use sluice_pgvalue::TypeRegistry;
use sluice_replication::{quote_identifier, quote_literal};
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryRow};

use crate::filter::{CaptureFilter, TablePlan};
use crate::replicate::{SourceError, key_of};
use crate::value::cell_to_event;

/// One row as the source would publish it.
#[derive(Debug, Clone)]
pub struct RowEvent {
    /// The Kafka key: the canonical key encoding.
    pub key: Vec<u8>,
    /// The `read` event.
    pub event: v1::ChangeEvent,
}

/// A published table, ready to be read in key order.
#[derive(Debug, Clone)]
pub struct TableReader {
    relation: Relation,
    /// The source's column rules for the table, when known and not the identity.
    plan: Option<TablePlan>,
    columns: Vec<v1::Column>,
    qualified: String,
    select_list: String,
    row_filter: Option<String>,
    /// The key columns in the order of the canonical key (table order): quoted, SQL type.
    key: Vec<(String, String)>,
}

impl TableReader {
    /// Describes `schema.table` as `publication` publishes it (column list, row filter).
    ///
    /// # Errors
    ///
    /// [`SourceError::Contract`] when the table is not published or has no primary key
    /// or replica identity index; [`SourceError::Postgres`] when a query fails.
    pub async fn describe(
        client: &Client,
        registry: &TypeRegistry,
        publication: &str,
        schema: &str,
        table: &str,
    ) -> Result<Self, SourceError> {
        let name = format!("{schema}.{table}");
        let published = client
            .query_opt(
                "SELECT attnames::text[], rowfilter, c.oid, c.relreplident::text \
                 FROM pg_publication_tables p \
                 JOIN pg_namespace n ON n.nspname = p.schemaname \
                 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename \
                 WHERE p.pubname = $1 AND p.schemaname = $2 AND p.tablename = $3",
                &[&publication, &schema, &table],
            )
            .await?
            .ok_or_else(|| {
                SourceError::Contract(format!("{name} is not in publication {publication}"))
            })?;
        let attnames: Vec<String> = published.get(0);
        let row_filter: Option<String> = published.get(1);
        let oid: u32 = published.get(2);
        let identity: String = published.get(3);
        // The key as events carry it: the primary key (also under REPLICA IDENTITY FULL,
        // see `replicate::State::key_by_primary_key`), else the replica identity index.
        let rows = client
            .query(
                "SELECT a.attname::text, a.atttypid, a.atttypmod, \
                   format_type(a.atttypid, a.atttypmod), \
                   EXISTS (SELECT 1 FROM (SELECT indkey FROM pg_index \
                       WHERE indrelid = $1 AND (indisprimary OR indisreplident) \
                       ORDER BY indisprimary DESC LIMIT 1) i \
                     WHERE a.attnum = ANY(i.indkey::int2[])) \
                 FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 \
                   AND NOT a.attisdropped AND a.attgenerated = '' \
                   AND a.attname::text = ANY($2) ORDER BY a.attnum",
                &[&oid, &attnames],
            )
            .await?;
        let mut columns = Vec::with_capacity(rows.len());
        let mut key = Vec::new();
        for row in &rows {
            let name: String = row.get(0);
            let is_key: bool = row.get(4);
            if is_key {
                key.push((quote_identifier(&name), row.get::<_, String>(3)));
            }
            columns.push(Column {
                name,
                type_oid: row.get(1),
                type_modifier: row.get(2),
                flags: if is_key { Column::KEY_FLAG } else { 0 },
            });
        }
        if key.is_empty() {
            return Err(SourceError::Contract(format!(
                "{name} has no primary key or replica identity index to compare rows by"
            )));
        }
        let relation = Relation {
            xid: None,
            id: oid,
            namespace: schema.to_owned(),
            name: table.to_owned(),
            replica_identity: match identity.as_str() {
                "f" => ReplicaIdentity::Full,
                "n" => ReplicaIdentity::Nothing,
                "i" => ReplicaIdentity::Index,
                _ => ReplicaIdentity::Default,
            },
            columns,
        };
        let event_columns = event_columns(&relation, registry);
        let mut select: Vec<String> = relation
            .columns
            .iter()
            .map(|c| quote_identifier(&c.name))
            .collect();
        // The key again as text (what the next chunk starts after), under names that
        // cannot make `ORDER BY <key column>` ambiguous.
        select.extend(
            key.iter()
                .enumerate()
                .map(|(n, (c, _))| format!("{c}::text AS \"sluice verify key {n}\"")),
        );
        Ok(TableReader {
            qualified: format!("{}.{}", quote_identifier(schema), quote_identifier(table)),
            select_list: select.join(", "),
            row_filter,
            key,
            columns: event_columns,
            relation,
            plan: None,
        })
    }

    /// Rows as the source captures them under `filter`: excluded columns dropped, masked
    /// ones masked.
    ///
    /// # Errors
    ///
    /// [`SourceError::Filter`] when the filter's rules do not fit the table (a key column
    /// excluded or masked), as the source itself would stop on.
    pub fn with_filter(
        mut self,
        filter: &CaptureFilter,
        registry: &TypeRegistry,
    ) -> Result<Self, SourceError> {
        let plan = filter.plan(&self.relation)?;
        if !plan.is_identity() {
            self.columns = event_columns(plan.relation(), registry);
            self.plan = Some(plan);
        }
        Ok(self)
    }

    /// Up to `limit` rows after the key `after` (key texts, as returned last time), in
    /// key order, and the last row's key texts.
    ///
    /// # Errors
    ///
    /// [`SourceError`] when the query fails or a value cannot be decoded.
    pub async fn chunk(
        &self,
        client: &Client,
        registry: &TypeRegistry,
        after: Option<&[String]>,
        limit: usize,
    ) -> Result<(Vec<RowEvent>, Option<Vec<String>>), SourceError> {
        let sql = keyset_query(
            &self.select_list,
            &self.qualified,
            self.row_filter.as_deref(),
            &self.key,
            after,
            limit,
        );
        self.read(client, registry, &sql).await
    }

    /// The rows with these keys (key texts of the canonical key, `None` for NULL) that
    /// exist and pass the publication's row filter.
    ///
    /// # Errors
    ///
    /// [`SourceError`] when the query fails or a value cannot be decoded.
    pub async fn by_keys(
        &self,
        client: &Client,
        registry: &TypeRegistry,
        keys: &[Vec<Option<String>>],
    ) -> Result<Vec<RowEvent>, SourceError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&[Option<String>]> = keys
            .iter()
            .filter(|texts| texts.len() == self.key.len())
            .map(Vec::as_slice)
            .collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = keys_query(
            &self.select_list,
            &self.qualified,
            self.row_filter.as_deref(),
            &self.key,
            &keys,
        );
        Ok(self.read(client, registry, &sql).await?.0)
    }

    async fn read(
        &self,
        client: &Client,
        registry: &TypeRegistry,
        sql: &str,
    ) -> Result<(Vec<RowEvent>, Option<Vec<String>>), SourceError> {
        let width = self.relation.columns.len();
        let mut rows = Vec::new();
        let mut last = None;
        for message in client.simple_query(sql).await? {
            let SimpleQueryMessage::Row(row) = message else {
                continue;
            };
            let tuple = text_tuple(&row, width);
            let mut cells = typed_row(&self.relation, &tuple, registry)?;
            let published = match &self.plan {
                Some(plan) => {
                    plan.apply(&mut cells);
                    plan.relation()
                }
                None => &self.relation,
            };
            let event_key = key_of(published, &cells);
            let key = event_key.encode().map_err(|e| {
                SourceError::Contract(format!(
                    "{}.{}: {e}",
                    self.relation.namespace, self.relation.name
                ))
            })?;
            let event = v1::ChangeEvent {
                op: v1::Op::Read as i32,
                source: Some(v1::Source {
                    schema: self.relation.namespace.clone(),
                    table: self.relation.name.clone(),
                    relation_id: self.relation.id,
                    snapshot: true,
                    ..Default::default()
                }),
                key: Some(event_key),
                after: Some(v1::Row {
                    values: cells.iter().map(cell_to_event).collect(),
                }),
                columns: self.columns.clone(),
                ..Default::default()
            };
            last = Some(
                (width..width + self.key.len())
                    .map(|i| row.get(i).unwrap_or_default().to_owned())
                    .collect(),
            );
            rows.push(RowEvent { key, event });
        }
        Ok((rows, last))
    }
}

/// A relation's columns as events describe them (the `columns` field), types named
/// through `registry`.
pub(crate) fn event_columns(relation: &Relation, registry: &TypeRegistry) -> Vec<v1::Column> {
    relation
        .columns
        .iter()
        .map(|c| v1::Column {
            name: c.name.clone(),
            type_oid: c.type_oid,
            type_name: registry
                .type_name(c.type_oid)
                .unwrap_or_default()
                .to_owned(),
            type_schema: String::new(),
            type_modifier: c.type_modifier,
            key: c.is_key(),
            nullable: None,
        })
        .collect()
}

/// The query of one key chunk (keyset pagination): the rows after the key `after`
/// (texts, cast to the key columns' types) in key order, at most `limit`, honouring the
/// publication's row filter. The snapshot reads its chunks with it too.
pub(crate) fn keyset_query(
    select_list: &str,
    qualified: &str,
    row_filter: Option<&str>,
    key: &[(String, String)],
    after: Option<&[String]>,
    limit: usize,
) -> String {
    let mut conditions: Vec<String> = row_filter.iter().map(|f| format!("({f})")).collect();
    if let Some(after) = after {
        let columns: Vec<&str> = key.iter().map(|(c, _)| c.as_str()).collect();
        let values: Vec<String> = key
            .iter()
            .zip(after)
            .map(|((_, sql_type), value)| format!("{}::{sql_type}", quote_literal(value)))
            .collect();
        conditions.push(format!(
            "({}) > ({})",
            columns.join(", "),
            values.join(", ")
        ));
    }
    let order: Vec<&str> = key.iter().map(|(c, _)| c.as_str()).collect();
    format!(
        "SELECT {select_list} FROM {qualified}{} ORDER BY {} LIMIT {limit}",
        where_clause(&conditions),
        order.join(", "),
    )
}

pub(crate) fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    }
}

/// The rows with these keys (texts, cast to the key columns' types; each as many as
/// `key`), honouring the publication's row filter.
pub(crate) fn keys_query(
    select_list: &str,
    qualified: &str,
    row_filter: Option<&str>,
    key: &[(String, String)],
    keys: &[&[Option<String>]],
) -> String {
    let columns: Vec<&str> = key.iter().map(|(c, _)| c.as_str()).collect();
    let tuples: Vec<String> = keys
        .iter()
        .map(|texts| {
            let values: Vec<String> = key
                .iter()
                .zip(texts.iter())
                .map(|((_, sql_type), text)| match text {
                    Some(text) => format!("{}::{sql_type}", quote_literal(text)),
                    None => format!("NULL::{sql_type}"),
                })
                .collect();
            format!("({})", values.join(", "))
        })
        .collect();
    let mut conditions: Vec<String> = row_filter.iter().map(|f| format!("({f})")).collect();
    conditions.push(format!(
        "({}) IN ({})",
        columns.join(", "),
        tuples.join(", ")
    ));
    format!(
        "SELECT {select_list} FROM {qualified}{}",
        where_clause(&conditions)
    )
}

/// A row of a simple-query result as the text tuple pgoutput would send: its first
/// `width` columns.
pub(crate) fn text_tuple(row: &SimpleQueryRow, width: usize) -> TupleData {
    TupleData::from_columns((0..width).map(|i| match row.get(i) {
        Some(text) => ColumnValue::Text(text.as_bytes()),
        None => ColumnValue::Null,
    }))
}
