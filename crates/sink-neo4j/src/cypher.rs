//! The Cypher the sink sends: one text per (table, kind), built from the configuration,
//! with the rows as a `$rows` list-of-maps parameter for `UNWIND`. Labels and types are
//! backtick-quoted ([`quote`]); every value is a parameter.
//!
//! Every query handles its rows one at a time inside `CALL { ... }`, so a row sees the
//! writes of the rows before it (two rows of one query may share a placeholder node).
//!
//! Row maps:
//!
//! | query | row |
//! |---|---|
//! | node upsert | `{key, version, full, props, fks: [{keep, target}]}` |
//! | relationship upsert | `{key, version, full, props, from, to}` |
//! | delete | `{key, version}` |

use crate::config::{
    Direction, ForeignKey, KEY_PROPERTY, Neo4jConfig, NodeTable, RelationshipTable,
    TOMBSTONE_LABEL, TRUNCATE_FLOOR_LABEL, VERSION_PROPERTY, quote,
};

/// How many nodes or relationships one truncate or expiry transaction removes.
pub(crate) const REMOVE_LIMIT: i64 = 10_000;

/// The schema statements the sink needs, each run on its own: uniqueness of every
/// label's `sluice_key` (which is also the index identity lookups use), indexes on
/// `sluice_version` for truncates, and the tombstone and truncate-floor constraints.
pub(crate) fn schema(config: &Neo4jConfig) -> Vec<String> {
    let mut statements = vec![
        format!(
            "CREATE CONSTRAINT IF NOT EXISTS FOR (t:{TOMBSTONE_LABEL}) \
             REQUIRE (t.sluice_table, t.{KEY_PROPERTY}) IS UNIQUE"
        ),
        format!("CREATE INDEX IF NOT EXISTS FOR (t:{TOMBSTONE_LABEL}) ON (t.sluice_deleted_at)"),
        format!(
            "CREATE CONSTRAINT IF NOT EXISTS FOR (f:{TRUNCATE_FLOOR_LABEL}) \
             REQUIRE f.sluice_table IS UNIQUE"
        ),
    ];
    for node in config.nodes.values() {
        let label = quote(&node.label);
        statements.push(format!(
            "CREATE CONSTRAINT IF NOT EXISTS FOR (n:{label}) REQUIRE n.{KEY_PROPERTY} IS UNIQUE"
        ));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.{VERSION_PROPERTY})"
        ));
    }
    for rel in config.relationships.values() {
        let rel_type = quote(&rel.rel_type);
        statements.push(format!(
            "CREATE CONSTRAINT IF NOT EXISTS FOR ()-[r:{rel_type}]-() \
             REQUIRE r.{KEY_PROPERTY} IS UNIQUE"
        ));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS FOR ()-[r:{rel_type}]-() ON (r.{VERSION_PROPERTY})"
        ));
    }
    statements
}

/// Writes of `SET x = row.props` (a full row: properties not in it are removed) or
/// `SET x += row.props` (a partial row: only its properties change; `null` removes).
fn set_props(var: &str) -> String {
    format!(
        "FOREACH (_ IN CASE WHEN row.full THEN [1] ELSE [] END | SET {var} = row.props) \
         FOREACH (_ IN CASE WHEN row.full THEN [] ELSE [1] END | SET {var} += row.props) \
         SET {var}.{KEY_PROPERTY} = row.key, {var}.{VERSION_PROPERTY} = row.version"
    )
}

/// Deletes the placeholders in list `ends` that nothing references any more: nodes
/// with a key and no version, which exist only because a relationship pointed at them.
fn delete_orphans(ends: &str) -> String {
    format!(
        "CALL {{ WITH {ends} UNWIND {ends} AS m WITH DISTINCT m \
           WHERE m.{KEY_PROPERTY} IS NOT NULL AND m.{VERSION_PROPERTY} IS NULL \
             AND NOT EXISTS {{ (m)--() }} \
           DELETE m }}"
    )
}

/// Removes node `n` as of version `cut`: its relationships older than `cut` go; when
/// newer ones remain (written by rows changed after the removal, which can only point
/// at a re-created row), `n` stays as a placeholder for that row, else it is deleted.
/// Placeholders at the other ends left without relationships are deleted.
fn remove_node() -> String {
    format!(
        "CALL {{ WITH n, cut \
           OPTIONAL MATCH (n)-[r]-(m) WHERE coalesce(r.{VERSION_PROPERTY}, -1) < cut \
           WITH n, collect(DISTINCT r) AS rels, \
                collect(DISTINCT CASE WHEN m <> n THEN m END) AS ends \
           FOREACH (r IN rels | DELETE r) \
           WITH n, ends, EXISTS {{ (n)--() }} AS referenced \
           FOREACH (_ IN CASE WHEN referenced THEN [1] ELSE [] END | \
             SET n = {{{KEY_PROPERTY}: n.{KEY_PROPERTY}}}) \
           FOREACH (_ IN CASE WHEN referenced THEN [] ELSE [1] END | DELETE n) \
           WITH ends {orphans} }}",
        orphans = delete_orphans("ends"),
    )
}

/// Keeps or creates the tombstone of a deleted row (`row`), never lowering its version.
fn tombstone() -> String {
    format!(
        "MERGE (t:{TOMBSTONE_LABEL} {{sluice_table: $table, {KEY_PROPERTY}: row.key}}) \
         SET t.{VERSION_PROPERTY} = CASE WHEN coalesce(t.{VERSION_PROPERTY}, -1) > row.version \
               THEN t.{VERSION_PROPERTY} ELSE row.version END, \
             t.sluice_deleted_at = timestamp()"
    )
}

/// `WITH coalesce(floor.version, -1) AS <name>`-style reads of truncate floors.
fn floors(tables: &[(&str, &str)]) -> String {
    let matches: String = tables
        .iter()
        .enumerate()
        .map(|(n, (_, param))| {
            format!("OPTIONAL MATCH (f{n}:{TRUNCATE_FLOOR_LABEL} {{sluice_table: ${param}}}) ")
        })
        .collect();
    let names: Vec<String> = tables
        .iter()
        .enumerate()
        .map(|(n, (name, _))| format!("coalesce(f{n}.{VERSION_PROPERTY}, -1) AS {name}"))
        .collect();
    format!("{matches}WITH {}", names.join(", "))
}

/// Writes node table rows; parameters `$table`, `$fk_tables` (the target table of each
/// foreign key) and `$rows`.
pub(crate) fn node_upsert(config: &Neo4jConfig, node: &NodeTable) -> String {
    let label = quote(&node.label);
    let fk_floor_names: Vec<String> = (0..node.relationships.len())
        .map(|i| format!("fk_floor{i}"))
        .collect();
    let mut floor_tables: Vec<(&str, String)> = vec![("floor", "table".into())];
    floor_tables.extend(
        fk_floor_names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), format!("fk_tables[{i}]"))),
    );
    let floor_refs: Vec<(&str, &str)> = floor_tables
        .iter()
        .map(|(name, param)| (*name, param.as_str()))
        .collect();
    let carried = if fk_floor_names.is_empty() {
        String::new()
    } else {
        format!(", {}", fk_floor_names.join(", "))
    };
    let fk_blocks: String = node
        .relationships
        .iter()
        .enumerate()
        .map(|(i, fk)| {
            let target = config
                .nodes
                .get(&fk.target)
                .map(|t| quote(&t.label))
                .unwrap_or_default();
            foreign_key(i, fk, &target, &carried)
        })
        .collect();
    format!(
        "{floors} \
         UNWIND $rows AS row \
         CALL {{ WITH row, floor{carried} \
           WITH row{carried} WHERE row.version >= floor \
           OPTIONAL MATCH (t:{TOMBSTONE_LABEL} {{sluice_table: $table, {KEY_PROPERTY}: row.key}}) \
           WITH row, t{carried} WHERE t IS NULL OR t.{VERSION_PROPERTY} <= row.version \
           MERGE (n:{label} {{{KEY_PROPERTY}: row.key}}) \
           WITH row, t, n{carried} WHERE coalesce(n.{VERSION_PROPERTY}, -1) <= row.version \
           FOREACH (x IN CASE WHEN t IS NULL THEN [] ELSE [t] END | DELETE x) \
           {set} \
           WITH row, n{carried} \
           {fk_blocks} \
           RETURN count(*) AS written \
         }} \
         RETURN sum(written) AS written",
        floors = floors(&floor_refs),
        set = set_props("n"),
    )
}

/// Moves foreign key `i`'s relationship of node `n` to its target (`row.fks[i]`).
fn foreign_key(i: usize, fk: &ForeignKey, label: &str, carried: &str) -> String {
    let target = quote(&fk.rel_type);
    let (left, right) = match fk.direction {
        Direction::Outgoing => ("-", "->"),
        Direction::Incoming => ("<-", "-"),
    };
    format!(
        "CALL {{ WITH row, n \
           WITH row, n, row.fks[{i}] AS fk WHERE NOT fk.keep \
           OPTIONAL MATCH (n){left}[r:{target}]{right}(m:{label}) \
           WHERE r.{KEY_PROPERTY} IS NULL AND (fk.target IS NULL OR m.{KEY_PROPERTY} <> fk.target) \
           WITH collect(DISTINCT r) AS rels, collect(DISTINCT m) AS ends \
           FOREACH (r IN rels | DELETE r) \
           WITH ends {orphans} }} \
         CALL {{ WITH row, n{carried} \
           WITH row, n, row.fks[{i}] AS fk, fk_floor{i} AS fk_floor \
           WHERE NOT fk.keep AND fk.target IS NOT NULL AND row.version >= fk_floor \
           OPTIONAL MATCH (tt:{TOMBSTONE_LABEL} {{sluice_table: $fk_tables[{i}], {KEY_PROPERTY}: fk.target}}) \
           WITH row, n, fk WHERE tt IS NULL OR tt.{VERSION_PROPERTY} <= row.version \
           MERGE (m:{label} {{{KEY_PROPERTY}: fk.target}}) \
           MERGE (n){left}[r:{target}]{right}(m) \
           SET r.{VERSION_PROPERTY} = row.version }} ",
        orphans = delete_orphans("ends"),
    )
}

/// Deletes node table rows; parameters `$table`, `$rows`.
pub(crate) fn node_delete(node: &NodeTable) -> String {
    let label = quote(&node.label);
    format!(
        "UNWIND $rows AS row \
         CALL {{ WITH row \
           OPTIONAL MATCH (n:{label} {{{KEY_PROPERTY}: row.key}}) \
           WITH row, n WHERE n IS NULL OR coalesce(n.{VERSION_PROPERTY}, -1) <= row.version \
           {tombstone} \
           WITH row, n WHERE n IS NOT NULL \
           WITH n, row.version + 1 AS cut \
           {remove} \
           RETURN count(*) AS deleted \
         }} \
         RETURN sum(deleted) AS deleted",
        tombstone = tombstone(),
        remove = remove_node(),
    )
}

/// Removes the relationships in list `olds` and the placeholders they leave alone.
fn remove_relationships(olds: &str, condition: &str) -> String {
    format!(
        "CALL {{ WITH row, {olds} \
           UNWIND {olds} AS old \
           WITH row, old, startNode(old) AS a, endNode(old) AS b WHERE {condition} \
           WITH collect(old) AS gone, collect(DISTINCT a) + collect(DISTINCT b) AS ends \
           FOREACH (r IN gone | DELETE r) \
           WITH ends {orphans} }}",
        orphans = delete_orphans("ends"),
    )
}

/// Writes join table rows; parameters `$table`, `$from_table`, `$to_table`, `$rows`.
pub(crate) fn relationship_upsert(config: &Neo4jConfig, rel: &RelationshipTable) -> String {
    let rel_type = quote(&rel.rel_type);
    let label_of = |table: &str| {
        config
            .nodes
            .get(table)
            .map(|n| quote(&n.label))
            .unwrap_or_default()
    };
    let from = label_of(&rel.from.table);
    let to = label_of(&rel.to.table);
    format!(
        "{floors} \
         UNWIND $rows AS row \
         CALL {{ WITH row, floor, from_floor, to_floor \
           WITH row, from_floor, to_floor WHERE row.version >= floor \
           OPTIONAL MATCH (t:{TOMBSTONE_LABEL} {{sluice_table: $table, {KEY_PROPERTY}: row.key}}) \
           WITH row, from_floor, to_floor, t WHERE t IS NULL OR t.{VERSION_PROPERTY} <= row.version \
           OPTIONAL MATCH ()-[old:{rel_type} {{{KEY_PROPERTY}: row.key}}]->() \
           WITH row, from_floor, to_floor, t, collect(old) AS olds \
           WHERE all(o IN olds WHERE coalesce(o.{VERSION_PROPERTY}, -1) <= row.version) \
           FOREACH (x IN CASE WHEN t IS NULL THEN [] ELSE [t] END | DELETE x) \
           WITH row, from_floor, to_floor, olds \
           {moved} \
           WITH row, from_floor, to_floor \
           WHERE row.from IS NOT NULL AND row.to IS NOT NULL \
             AND row.version >= from_floor AND row.version >= to_floor \
           OPTIONAL MATCH (ta:{TOMBSTONE_LABEL} {{sluice_table: $from_table, {KEY_PROPERTY}: row.from}}) \
           OPTIONAL MATCH (tb:{TOMBSTONE_LABEL} {{sluice_table: $to_table, {KEY_PROPERTY}: row.to}}) \
           WITH row WHERE (ta IS NULL OR ta.{VERSION_PROPERTY} <= row.version) \
             AND (tb IS NULL OR tb.{VERSION_PROPERTY} <= row.version) \
           MERGE (a:{from} {{{KEY_PROPERTY}: row.from}}) \
           MERGE (b:{to} {{{KEY_PROPERTY}: row.to}}) \
           MERGE (a)-[r:{rel_type} {{{KEY_PROPERTY}: row.key}}]->(b) \
           {set} \
           RETURN count(*) AS written \
         }} \
         RETURN sum(written) AS written",
        floors = floors(&[
            ("floor", "table"),
            ("from_floor", "from_table"),
            ("to_floor", "to_table")
        ]),
        moved = remove_relationships(
            "olds",
            &format!(
                "row.from IS NULL OR row.to IS NULL OR a.{KEY_PROPERTY} <> row.from \
                 OR b.{KEY_PROPERTY} <> row.to"
            ),
        ),
        set = set_props("r"),
    )
}

/// Deletes join table rows; parameters `$table`, `$rows`.
pub(crate) fn relationship_delete(rel: &RelationshipTable) -> String {
    let rel_type = quote(&rel.rel_type);
    format!(
        "UNWIND $rows AS row \
         CALL {{ WITH row \
           OPTIONAL MATCH ()-[old:{rel_type} {{{KEY_PROPERTY}: row.key}}]->() \
           WITH row, collect(old) AS olds \
           WHERE all(o IN olds WHERE coalesce(o.{VERSION_PROPERTY}, -1) <= row.version) \
           {tombstone} \
           WITH row, olds \
           {remove} \
           RETURN count(*) AS deleted \
         }} \
         RETURN sum(deleted) AS deleted",
        tombstone = tombstone(),
        remove = remove_relationships("olds", "true"),
    )
}

/// Raises a table's truncate floor to `$version`; parameters `$table`, `$version`.
pub(crate) fn raise_floor() -> String {
    format!(
        "MERGE (f:{TRUNCATE_FLOOR_LABEL} {{sluice_table: $table}}) \
         SET f.{VERSION_PROPERTY} = CASE WHEN coalesce(f.{VERSION_PROPERTY}, -1) > $version \
               THEN f.{VERSION_PROPERTY} ELSE $version END"
    )
}

/// Removes up to `$limit` nodes of a label older than `$version`; returns `removed`.
pub(crate) fn truncate_nodes(node: &NodeTable) -> String {
    let label = quote(&node.label);
    format!(
        "MATCH (n:{label}) WHERE n.{VERSION_PROPERTY} < $version \
         WITH n LIMIT $limit \
         WITH n, $version AS cut \
         {remove} \
         RETURN count(*) AS removed",
        remove = remove_node(),
    )
}

/// Removes up to `$limit` placeholders of a label that nothing references; returns
/// `removed`.
pub(crate) fn truncate_placeholders(node: &NodeTable) -> String {
    let label = quote(&node.label);
    format!(
        "MATCH (n:{label}) WHERE n.{VERSION_PROPERTY} IS NULL AND NOT EXISTS {{ (n)--() }} \
         WITH n LIMIT $limit \
         DELETE n \
         RETURN count(*) AS removed"
    )
}

/// Removes up to `$limit` relationships of a join table older than `$version`; returns
/// `removed`.
pub(crate) fn truncate_relationships(rel: &RelationshipTable) -> String {
    let rel_type = quote(&rel.rel_type);
    format!(
        "MATCH ()-[r:{rel_type}]->() \
         WHERE r.{KEY_PROPERTY} IS NOT NULL AND r.{VERSION_PROPERTY} < $version \
         WITH r LIMIT $limit \
         WITH collect(r) AS rels, collect(DISTINCT startNode(r)) + collect(DISTINCT endNode(r)) AS ends \
         FOREACH (r IN rels | DELETE r) \
         WITH size(rels) AS removed, ends \
         {orphans} \
         RETURN removed",
        orphans = delete_orphans("ends"),
    )
}

/// Removes up to `$limit` tombstones older than `$ttl_ms` milliseconds by the server's
/// clock (the one that stamped them); returns `removed`.
pub(crate) fn expire_tombstones() -> String {
    format!(
        "MATCH (t:{TOMBSTONE_LABEL}) WHERE t.sluice_deleted_at < timestamp() - $ttl_ms \
         WITH t LIMIT $limit DELETE t RETURN count(*) AS removed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_key_blocks_get_their_target_labels() {
        let config: Neo4jConfig = toml::from_str(
            r#"
            url = "bolt://localhost"
            [nodes."s.users"]
            label = "User"
            [nodes."s.teams"]
            label = "Team"
            [nodes."s.members"]
            label = "Member"
            [[nodes."s.members".relationships]]
            columns = ["user_id"]
            target = "s.users"
            type = "IS"
            [[nodes."s.members".relationships]]
            columns = ["team_id"]
            target = "s.teams"
            type = "IN"
            direction = "incoming"
            "#,
        )
        .unwrap();
        let text = node_upsert(&config, &config.nodes["s.members"]);
        assert!(text.contains("(n)-[r:`IS`]->(m:`User`)"), "{text}");
        assert!(
            text.contains("MERGE (m:`User` {sluice_key: fk.target})"),
            "{text}"
        );
        assert!(text.contains("(n)<-[r:`IN`]-(m:`Team`)"), "{text}");
        assert!(
            text.contains("MERGE (m:`Team` {sluice_key: fk.target})"),
            "{text}"
        );
    }
}
