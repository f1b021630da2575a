//! The settings and mappings of the indices the sink creates, built from the events'
//! column metadata.
//!
//! | PostgreSQL type | field |
//! |---|---|
//! | `bool` | `boolean` |
//! | `int2`, `int4`, `int8`, `oid`, `xid`, `cid` | `long` |
//! | `float4`, `float8`, `numeric` | `double`, `ignore_malformed` |
//! | `date`, `timestamp`, `timestamptz` | `date`, `ignore_malformed` |
//! | `text`, `varchar`, `bpchar`, `name`, `citext`, `xml`, enums, other textual types | `text` with a `keyword` subfield (`ignore_above` 256) |
//! | `json`, `jsonb` | `object`, `enabled: false` |
//! | anything else (`uuid`, `inet`, `interval`, `bytea`, ...) | `keyword` (`ignore_above` 8191) |
//!
//! An array type maps as its element type (a search engine field holds any number of
//! values). A type the table above does not name (a domain, an enum, an extension type) is
//! mapped after the kind of its values in the event ([`v1::Value`]), and as `text` when
//! the event holds none and the type is user-defined (enums, mostly).
//!
//! Why these choices:
//!
//! * **`numeric` as `double`.** The document keeps PostgreSQL's exact text (`"12.50"`,
//!   see [`sluice_sink::json`]); the search engine coerces it to a double for range
//!   queries and sorting, while `_source` stays exact.
//! * **`ignore_malformed` on doubles and dates.** PostgreSQL holds values these field
//!   types refuse: `NaN` and the infinities, `infinity` timestamps, dates BC or after
//!   year 9999. Refusing the whole row for them would leave the store behind the source;
//!   with `ignore_malformed` the value stays in `_source` and is only left out of the
//!   index. `long` fields have no such values and do refuse a value they cannot parse,
//!   which surfaces a wrong mapping as a dead letter instead of hiding it.
//! * **`json`/`jsonb` not indexed.** Their shape is the application's and varies row by
//!   row; dynamic mapping of it would fail a row whenever two rows disagree on a field's
//!   type. Map chosen paths in the table's `mappings` if they must be searchable.
//! * **`keyword` with `ignore_above`.** Lucene refuses a term longer than 32766 bytes,
//!   which would refuse the row; 8191 characters of up to four bytes fit.
//! * **The default analyzer** is the standard tokenizer with `lowercase` and
//!   `asciifolding`, for every text field including ones mapped later: language-neutral,
//!   and `café` finds `cafe`. Typo-tolerant search is a query-time matter (a `match`
//!   query with `fuzziness: "AUTO"`), which plain tokens serve best (stemmed tokens
//!   would make edit distances surprising).
//! * **`dynamic: true`, `date_detection: false`.** A document field no mapping names
//!   (a column added after the index was created, before the sink maps it) is still
//!   indexed; a string never becomes a `date` because its first value looked like one.
//!   New columns are normally mapped from their type as soon as an event shows them
//!   (see the crate docs).
//! * **`sluice_version`** (`long`) holds each document's version, for truncates.

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};
use sluice_event::v1::{self, value::Kind};

use crate::config::{ElasticsearchConfig, TableIndex};

/// The document field that holds the row's version.
pub const VERSION_FIELD: &str = "sluice_version";

/// What the sink knows about a column when it maps it: its metadata and, if the batch
/// has one, a non-null value of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ColumnShape {
    pub(crate) name: String,
    pub(crate) field: FieldType,
}

/// The field types the sink maps columns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldType {
    Boolean,
    Long,
    Double,
    Date,
    Text,
    Object,
    Keyword,
}

impl ColumnShape {
    /// The shape of `column`, with `sample` a value of it if one is known.
    pub(crate) fn new(column: &v1::Column, sample: Option<&v1::Value>) -> ColumnShape {
        ColumnShape {
            name: column.name.clone(),
            field: field_type(column, sample),
        }
    }
}

fn field_type(column: &v1::Column, sample: Option<&v1::Value>) -> FieldType {
    let name = column.type_name.as_str();
    let element = name.strip_prefix('_').unwrap_or(name);
    by_type_name(element)
        .or_else(|| sample.and_then(|v| v.kind.as_ref()).and_then(by_kind))
        .unwrap_or(if column.type_schema == "pg_catalog" {
            FieldType::Keyword
        } else {
            FieldType::Text
        })
}

fn by_type_name(name: &str) -> Option<FieldType> {
    Some(match name {
        "bool" => FieldType::Boolean,
        "int2" | "int4" | "int8" | "oid" | "xid" | "cid" => FieldType::Long,
        "float4" | "float8" | "numeric" => FieldType::Double,
        "date" | "timestamp" | "timestamptz" => FieldType::Date,
        "text" | "varchar" | "bpchar" | "name" | "citext" | "xml" => FieldType::Text,
        "json" | "jsonb" => FieldType::Object,
        _ => return None,
    })
}

fn by_kind(kind: &Kind) -> Option<FieldType> {
    Some(match kind {
        Kind::Null(_) | Kind::UnchangedToast(_) => return None,
        Kind::Boolean(_) => FieldType::Boolean,
        Kind::Integer(_) | Kind::Oid(_) => FieldType::Long,
        Kind::Float8(_) | Kind::Float4(_) | Kind::Numeric(_) => FieldType::Double,
        Kind::Timestamptz(_) | Kind::Timestamp(_) | Kind::Date(_) => FieldType::Date,
        Kind::Text(_) => FieldType::Text,
        Kind::Json(_) | Kind::Jsonb(_) => FieldType::Object,
        Kind::Array(array) => {
            return array
                .elements
                .iter()
                .find_map(|e| e.kind.as_ref().and_then(by_kind));
        }
        _ => FieldType::Keyword,
    })
}

fn field_mapping(field: FieldType) -> Json {
    match field {
        FieldType::Boolean => json!({ "type": "boolean" }),
        FieldType::Long => json!({ "type": "long" }),
        FieldType::Double => json!({ "type": "double", "ignore_malformed": true }),
        FieldType::Date => json!({ "type": "date", "ignore_malformed": true }),
        FieldType::Text => json!({
            "type": "text",
            "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } }
        }),
        FieldType::Object => json!({ "type": "object", "enabled": false }),
        FieldType::Keyword => json!({ "type": "keyword", "ignore_above": 8191 }),
    }
}

/// The mappings of the given columns, each merged with what the table's configured
/// `mappings.properties` say about it.
pub(crate) fn column_properties<'a>(
    columns: impl IntoIterator<Item = &'a ColumnShape>,
    table: Option<&TableIndex>,
) -> Map<String, Json> {
    let configured = table
        .and_then(|t| t.mappings.as_ref())
        .and_then(|m| m.get("properties"));
    columns
        .into_iter()
        .map(|column| {
            let mut mapping = field_mapping(column.field);
            if let Some(overlay) = configured.and_then(|p| p.get(&column.name)) {
                merge(&mut mapping, overlay);
            }
            (column.name.clone(), mapping)
        })
        .collect()
}

/// The body of the index-creation request for a table with these columns.
pub(crate) fn create_index_body(
    columns: &[ColumnShape],
    config: &ElasticsearchConfig,
    table: Option<&TableIndex>,
) -> Json {
    let mut properties = Map::new();
    properties.insert(VERSION_FIELD.into(), json!({ "type": "long" }));
    properties.extend(column_properties(columns, None));
    let mut mappings = json!({
        "dynamic": true,
        "date_detection": false,
        "dynamic_templates": [
            // JSON numbers with a fraction would become `float` and lose precision.
            { "sluice_doubles": { "match_mapping_type": "double", "mapping": { "type": "double" } } }
        ],
        "properties": properties,
    });
    if let Some(overlay) = table.and_then(|t| t.mappings.as_ref()) {
        merge(&mut mappings, overlay);
    }
    json!({
        "settings": settings(config, table),
        "mappings": mappings,
    })
}

/// The index settings, flat (`index.number_of_shards`): the defaults, then the table's
/// configured settings over them.
fn settings(config: &ElasticsearchConfig, table: Option<&TableIndex>) -> Map<String, Json> {
    let mut settings = Map::new();
    settings.insert("index.number_of_shards".into(), json!(1));
    settings.insert("index.number_of_replicas".into(), json!(0));
    settings.insert("index.gc_deletes".into(), json!(config.gc_deletes));
    settings.insert(
        "index.analysis.analyzer.default.tokenizer".into(),
        json!("standard"),
    );
    settings.insert(
        "index.analysis.analyzer.default.filter".into(),
        json!(["lowercase", "asciifolding"]),
    );
    let Some(configured) = table.and_then(|t| t.settings.as_ref()) else {
        return settings;
    };
    let mut flat = Map::new();
    flatten("", configured, &mut flat);
    let flat: Map<String, Json> = flat
        .into_iter()
        .map(|(key, value)| match key.starts_with("index.") {
            true => (key, value),
            false => (format!("index.{key}"), value),
        })
        .collect();
    // A configured default analyzer replaces ours whole: merging their parameters would
    // mix two analyzer definitions.
    if flat
        .keys()
        .any(|k| k.starts_with("index.analysis.analyzer.default."))
    {
        settings.retain(|k, _| !k.starts_with("index.analysis.analyzer.default."));
    }
    settings.extend(flat);
    settings
}

fn flatten(prefix: &str, value: &Json, out: &mut Map<String, Json>) {
    match value {
        Json::Object(object) => {
            for (key, value) in object {
                let key = match prefix {
                    "" => key.clone(),
                    _ => format!("{prefix}.{key}"),
                };
                flatten(&key, value, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

/// Merges `overlay` into `base`: objects key by key, recursively; any other value
/// replaces.
pub(crate) fn merge(base: &mut Json, overlay: &Json) {
    match (base, overlay) {
        (Json::Object(base), Json::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// The field names a `GET <index>/_mapping` response maps at the top level, over every
/// index it names (an alias may name several).
pub(crate) fn mapped_fields(response: &Json) -> HashSet<String> {
    response
        .as_object()
        .into_iter()
        .flat_map(|indices| indices.values())
        .filter_map(|index| index["mappings"]["properties"].as_object())
        .flat_map(|properties| properties.keys().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str, type_schema: &str) -> v1::Column {
        v1::Column {
            name: name.into(),
            type_name: type_name.into(),
            type_schema: type_schema.into(),
            ..v1::Column::default()
        }
    }

    #[test]
    fn columns_map_by_type() {
        let cases = [
            ("bool", FieldType::Boolean),
            ("int8", FieldType::Long),
            ("oid", FieldType::Long),
            ("numeric", FieldType::Double),
            ("float4", FieldType::Double),
            ("timestamptz", FieldType::Date),
            ("date", FieldType::Date),
            ("varchar", FieldType::Text),
            ("citext", FieldType::Text),
            ("_text", FieldType::Text),
            ("_int4", FieldType::Long),
            ("jsonb", FieldType::Object),
            ("uuid", FieldType::Keyword),
            ("inet", FieldType::Keyword),
            ("bytea", FieldType::Keyword),
        ];
        for (type_name, field) in cases {
            let shape = ColumnShape::new(&column("c", type_name, "pg_catalog"), None);
            assert_eq!(shape.field, field, "{type_name}");
        }
    }

    #[test]
    fn unknown_types_map_by_their_values_or_as_text() {
        let mood = column("mood", "mood", "public");
        assert_eq!(ColumnShape::new(&mood, None).field, FieldType::Text);
        let positive = column("n", "positive_int", "public");
        let value = v1::Value::from(5i64);
        assert_eq!(
            ColumnShape::new(&positive, Some(&value)).field,
            FieldType::Long
        );
        let null = v1::Value::null();
        assert_eq!(
            ColumnShape::new(&positive, Some(&null)).field,
            FieldType::Text
        );
        let point = column("p", "point", "pg_catalog");
        assert_eq!(ColumnShape::new(&point, None).field, FieldType::Keyword);
    }

    #[test]
    fn configured_settings_and_mappings_merge_over_the_defaults() {
        let config = ElasticsearchConfig::new("http://localhost:9200");
        let table = TableIndex {
            index: None,
            settings: Some(json!({ "index": { "number_of_shards": 3 }, "refresh_interval": "5s" })),
            mappings: Some(json!({
                "properties": { "name": { "analyzer": "english" } },
                "dynamic": false
            })),
        };
        let columns = [ColumnShape {
            name: "name".into(),
            field: FieldType::Text,
        }];
        let body = create_index_body(&columns, &config, Some(&table));
        let settings = &body["settings"];
        assert_eq!(settings["index.number_of_shards"], json!(3));
        assert_eq!(settings["index.number_of_replicas"], json!(0));
        assert_eq!(settings["index.refresh_interval"], json!("5s"));
        assert_eq!(settings["index.gc_deletes"], json!("1d"));
        let mappings = &body["mappings"];
        assert_eq!(mappings["dynamic"], json!(false));
        assert_eq!(mappings["properties"]["name"]["type"], json!("text"));
        assert_eq!(mappings["properties"]["name"]["analyzer"], json!("english"));
        assert_eq!(mappings["properties"][VERSION_FIELD]["type"], json!("long"));

        let added = column_properties(&columns, Some(&table));
        assert_eq!(added["name"]["analyzer"], json!("english"));
    }

    #[test]
    fn a_configured_default_analyzer_replaces_ours() {
        let config = ElasticsearchConfig::new("http://localhost:9200");
        let table = TableIndex {
            settings: Some(
                json!({ "analysis": { "analyzer": { "default": { "type": "english" } } } }),
            ),
            ..TableIndex::default()
        };
        let body = create_index_body(&[], &config, Some(&table));
        let settings = body["settings"].as_object().unwrap();
        assert_eq!(
            settings["index.analysis.analyzer.default.type"],
            json!("english")
        );
        assert!(!settings.contains_key("index.analysis.analyzer.default.tokenizer"));
    }

    #[test]
    fn mapped_fields_are_read_from_every_index() {
        let response = json!({
            "a": { "mappings": { "properties": { "x": {}, "y": {} } } },
            "b": { "mappings": { "properties": { "z": {} } } },
        });
        let fields = mapped_fields(&response);
        assert_eq!(fields.len(), 3);
    }
}
