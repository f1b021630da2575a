//! Folding a batch into steps of store writes: the part of planning every store shares.
//!
//! ```text
//!  record ──▶ write(table, key, version, fold) ──▶ one op per (table, key) in the step
//!    │           older than the key's op ─▶ dropped     fold(earlier) fails ─▶ rejected
//!    └─▶ truncate(table, version, op) ──▶ ends the Write step; a Truncate step of its own,
//!                                         unless a copy of it is the table's last change
//! ```
//!
//! # Why one op per key, and why steps
//!
//! All records of one key come from one Kafka partition, in order, so folding them in
//! batch order gives the row's final state, and a store sends one write per row. A record
//! older than the op already folded for its key is dropped, as the store would refuse it
//! (records of one transaction share a version, and the later one wins, as in
//! PostgreSQL). How a later record folds into the earlier op (an unchanged-TOAST update
//! over the full row before it, say) is the store's business: its `fold` closure.
//!
//! A truncate removes what was written before it and none of what comes after, so it
//! cannot share a step with either: it ends the current Write step and the fold of each
//! key starts afresh after it. PostgreSQL's TRUNCATE is published once per partition, so
//! its copies arrive among a batch's records; a copy is dropped while nothing has been
//! written to its table since the first, which already removed everything it would.
//!
//! # Partial rows
//!
//! An update that leaves a TOASTed column unchanged does not carry its value. Document
//! stores ([`NewRow`]) take it from the event's old row (REPLICA IDENTITY FULL logs it),
//! else from the full row folded before it in the batch, else from the stored row, at
//! write time ([`Partial::complete`]).

use std::collections::HashMap;
use std::hash::Hash;

use serde_json::{Map, Value as Json};

use crate::json::{RowJsonError, row_to_json, value_to_json};
use crate::{Record, Rejection};

/// One step of a batch's plan; steps run in order.
#[derive(Debug, PartialEq)]
pub enum Step<W, Tr> {
    /// Row writes, at most one per (table, key): they may run in any order.
    Write(Vec<W>),
    /// A truncate of one table.
    Truncate(Tr),
}

/// Folds a batch's records, in batch order, into [`Step`]s of `W` row ops and `Tr`
/// truncates of tables named by `T`, and collects the records refused.
#[derive(Debug)]
pub struct BatchPlanner<T, W, Tr> {
    steps: Vec<Step<W, Tr>>,
    rejected: Vec<Rejection>,
    /// The current Write step.
    pending: Vec<W>,
    /// (table, key) to its op's position in `pending` and version.
    positions: HashMap<(T, String), (usize, u64)>,
    /// Table to the version truncated, while nothing has been written to it since.
    truncated: HashMap<T, u64>,
}

impl<T: Eq + Hash, W, Tr> Default for BatchPlanner<T, W, Tr> {
    fn default() -> Self {
        BatchPlanner {
            steps: Vec::new(),
            rejected: Vec::new(),
            pending: Vec::new(),
            positions: HashMap::new(),
            truncated: HashMap::new(),
        }
    }
}

impl<T: Eq + Hash, W, Tr> BatchPlanner<T, W, Tr> {
    /// Refuses record `index` of the batch, for `reason`.
    pub fn reject(&mut self, index: usize, reason: impl Into<String>) {
        self.rejected.push(Rejection {
            index,
            reason: reason.into(),
        });
    }

    /// Folds record `index`, a change of row `key` of `table` at `version`, into the
    /// current step. Unless it is older than the key's op, `fold` makes its op from the
    /// key's earlier one (`None`: the first of the step) or says why it is refused.
    /// Dropped or refused, it still ends the table's truncate (a later copy runs again).
    pub fn write(
        &mut self,
        index: usize,
        table: T,
        key: String,
        version: u64,
        fold: impl FnOnce(Option<&W>) -> Result<W, String>,
    ) {
        self.truncated.remove(&table);
        let position = (table, key);
        let earlier = self.positions.get(&position).copied();
        if earlier.is_some_and(|(_, done)| version < done) {
            return;
        }
        let op = match fold(earlier.map(|(p, _)| &self.pending[p])) {
            Ok(op) => op,
            Err(reason) => return self.reject(index, reason),
        };
        match earlier {
            Some((p, _)) => self.pending[p] = op,
            None => self.pending.push(op),
        }
        let p = earlier.map_or(self.pending.len() - 1, |(p, _)| p);
        self.positions.insert(position, (p, version));
    }

    /// Plans a truncate of `table` at `version` as `op`, unless a copy of it already is
    /// the table's last change in the plan.
    pub fn truncate(&mut self, table: T, version: u64, op: Tr) {
        if self
            .truncated
            .get(&table)
            .is_some_and(|&done| done >= version)
        {
            return;
        }
        self.flush();
        self.truncated.insert(table, version);
        self.steps.push(Step::Truncate(op));
    }

    /// The steps, in order, and the records refused.
    pub fn finish(mut self) -> (Vec<Step<W, Tr>>, Vec<Rejection>) {
        self.flush();
        (self.steps, self.rejected)
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.positions.clear();
            self.steps
                .push(Step::Write(std::mem::take(&mut self.pending)));
        }
    }
}

/// The new row of a create, read or update, as far as the event tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum NewRow {
    /// Every column's value.
    Full(Map<String, Json>),
    /// Some columns' values are only in the store.
    Partial(Partial),
}

/// The columns updates with unchanged TOAST values know (`null` for SQL NULL), and the
/// columns the row has.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// Values of the columns the updates sent.
    pub known: Map<String, Json>,
    /// The row's columns, in order (of the last update).
    pub columns: Vec<String>,
}

/// What the op folded before a record holds for its key, for [`NewRow::after`].
#[derive(Debug, Clone, Copy)]
pub enum Earlier<'a> {
    /// Nothing: the first change of the key in the step (or one keeping no row).
    Nothing,
    /// A full row.
    Full(&'a Map<String, Json>),
    /// A partial row.
    Partial(&'a Partial),
    /// A delete.
    Deleted,
}

impl Partial {
    /// The full row: known columns, the others from `stored`. `Err(column)` names a column
    /// that is in neither.
    pub fn complete(&self, stored: &Map<String, Json>) -> Result<Map<String, Json>, String> {
        self.columns
            .iter()
            .map(|name| {
                let value = self.known.get(name).or_else(|| stored.get(name));
                value
                    .map(|v| (name.clone(), v.clone()))
                    .ok_or_else(|| name.clone())
            })
            .collect()
    }
}

impl NewRow {
    /// This row folded over the `earlier` op of its key: a partial row is completed by a
    /// full one and adds to a partial one. `Err` says why it cannot be.
    pub fn after(self, earlier: Earlier<'_>) -> Result<NewRow, String> {
        let NewRow::Partial(partial) = self else {
            return Ok(self);
        };
        Ok(match earlier {
            Earlier::Full(base) => NewRow::Full(partial.complete(base).map_err(|column| {
                format!(
                    "partial update (unchanged TOAST) of column {column:?}, which the row \
                     written before it in the batch lacks"
                )
            })?),
            Earlier::Partial(previous) => {
                let mut known = previous.known.clone();
                known.extend(partial.known);
                NewRow::Partial(Partial {
                    known,
                    columns: partial.columns,
                })
            }
            Earlier::Deleted => {
                return Err(
                    "partial update (unchanged TOAST) of a row deleted earlier in the \
                            batch: its unchanged values are unknown"
                        .into(),
                );
            }
            Earlier::Nothing => NewRow::Partial(partial),
        })
    }
}

/// The record's new row. An unchanged TOAST value is taken from the old row when the
/// event has one (REPLICA IDENTITY FULL logs the whole old row, TOASTed values
/// included); otherwise the row is partial.
///
/// # Errors
///
/// [`RowJsonError`] naming the first column whose value has no JSON form.
pub fn new_row(record: &Record) -> Result<NewRow, RowJsonError> {
    let mut row = row_to_json(record.after().into_iter().flatten())?;
    let mut partial = false;
    if record.is_partial() {
        let before = record.event.before.as_ref().map(|r| r.values.as_slice());
        for (n, cell) in record.after().into_iter().flatten().enumerate() {
            if !cell.value.is_unchanged_toast() {
                continue;
            }
            // The old row's value when it has a readable one, else the stored row's.
            match before
                .and_then(|values| values.get(n))
                .filter(|old| !old.is_unchanged_toast())
                .and_then(|old| value_to_json(old).ok())
            {
                Some(old) => {
                    row.insert(cell.column.name.clone(), old);
                }
                None => partial = true,
            }
        }
    }
    if !partial {
        return Ok(NewRow::Full(row));
    }
    let columns = record.event.columns.iter().map(|c| c.name.clone());
    Ok(NewRow::Partial(Partial {
        known: row,
        columns: columns.collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A planner whose ops list the records folded into them, and whose truncates are
    /// their version.
    type Planner = BatchPlanner<&'static str, Vec<usize>, u64>;

    /// Folds record `i`, a change of `key` of `table` at `version`.
    fn add(planner: &mut Planner, i: usize, table: &'static str, key: &str, version: u64) {
        planner.write(i, table, key.into(), version, |earlier| {
            Ok([earlier.map_or(&[][..], Vec::as_slice), &[i]].concat())
        });
    }

    #[test]
    fn records_of_one_key_fold_into_one_op_and_older_ones_are_dropped() {
        let mut planner = Planner::default();
        add(&mut planner, 0, "t", "a", 10);
        add(&mut planner, 1, "t", "b", 10);
        add(&mut planner, 2, "t", "a", 20);
        add(&mut planner, 3, "t", "a", 15); // older than what is folded: dropped
        add(&mut planner, 4, "t", "a", 20); // the same transaction: folded
        add(&mut planner, 5, "u", "a", 5); // another table's row
        planner.write(6, "t", "b".into(), 30, |_| Err("refused".into()));
        let (steps, rejected) = planner.finish();
        assert_eq!(steps, [Step::Write(vec![vec![0, 2, 4], vec![1], vec![5]])]);
        assert_eq!(
            (rejected[0].index, rejected[0].reason.as_str()),
            (6, "refused")
        );
    }

    #[test]
    fn a_truncate_splits_the_writes_and_its_copies_run_once() {
        let mut planner = Planner::default();
        add(&mut planner, 0, "t", "a", 10);
        planner.truncate("t", 15, 15);
        // Copies from the other partitions, nothing written to the table since: dropped.
        planner.truncate("t", 15, 15);
        planner.truncate("t", 15, 15);
        add(&mut planner, 3, "t", "a", 20);
        // After a write, a copy truncates again (the store keeps the newer write).
        planner.truncate("t", 15, 15);
        planner.truncate("u", 15, 15);
        let (steps, _) = planner.finish();
        use Step::{Truncate, Write};
        assert_eq!(
            steps,
            [
                Write(vec![vec![0]]),
                Truncate(15),
                Write(vec![vec![3]]),
                Truncate(15),
                Truncate(15)
            ]
        );
    }

    #[test]
    fn a_partial_row_completes_from_a_full_one_and_adds_to_a_partial_one() {
        let object = |value: Json| value.as_object().cloned().unwrap_or_default();
        let partial = |known: Json| Partial {
            known: object(known),
            columns: vec!["id".into(), "body".into()],
        };
        let full = object(json!({ "id": 1, "body": "stored" }));
        let new = || NewRow::Partial(partial(json!({ "id": 2 })));
        let completed = NewRow::Full(object(json!({ "id": 2, "body": "stored" })));
        assert_eq!(new().after(Earlier::Full(&full)), Ok(completed));
        assert!(new().after(Earlier::Full(&object(json!({})))).is_err());
        let earlier = partial(json!({ "body": null }));
        let merged = NewRow::Partial(partial(json!({ "id": 2, "body": null })));
        assert_eq!(new().after(Earlier::Partial(&earlier)), Ok(merged));
        assert!(new().after(Earlier::Deleted).is_err());
        assert_eq!(new().after(Earlier::Nothing), Ok(new()));
        assert_eq!(partial(json!({})).complete(&full), Ok(full));
        assert_eq!(partial(json!({})).complete(&Map::new()), Err("id".into()));
    }
}
