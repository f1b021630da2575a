//! Decodes the protocol 4 captures from a private PostgreSQL 16.2
//! (`scripts/capture-fixtures-pg16.sh`, see `tests/fixtures/README.md`).
//!
//! The same WAL is rendered twice with `proto_version 4`: with `streaming = parallel`, where
//! pgoutput appends the abort LSN and time to Stream Abort, and with `streaming = on`, where it
//! does not. The abort fields are checked against what the server must have sent: the SQL
//! interface reports the abort LSN it passed to pgoutput as the row's `lsn` column, and the abort
//! falls between the surrounding transactions in both WAL position and time.

use crate::common::{FixtureMessage, decode_all, load, tags};
use sluice_pgoutput::{
    AbortInfo, DecodeError, Decoder, LogicalMessage, Lsn, MessageKind, PgTimestamp, Prepare,
    StreamAbort, StreamCommit,
};

const PARALLEL: &str = "stream_v4_parallel.hex";
const ON: &str = "stream_v4_on.hex";

/// In capture order: a streamed transaction whose subtransaction is rolled back to its savepoint
/// (A) before COMMIT (c); one that ROLLBACKs (A); one PREPAREd (p) then COMMIT PREPARED (K); one
/// PREPAREd then ROLLBACK PREPARED (r). Blocks are trimmed to their first three inserts.
const V4_TAGS: &str =
    "SRIIIESIIIESIIIESIIIEASRUUDEcSRIIIESIIIEASRIIIESIIIESIIIEpKSRIIIESIIIESIIIEpr";

/// The messages of one kind, with the row each came from.
fn rows_of<'a, T>(
    raw: &'a [FixtureMessage],
    messages: &'a [LogicalMessage],
    pick: impl Fn(&'a LogicalMessage) -> Option<&'a T>,
) -> Vec<(&'a FixtureMessage, &'a T)> {
    raw.iter()
        .zip(messages)
        .filter_map(|(row, message)| pick(message).map(|m| (row, m)))
        .collect()
}

fn stream_abort(message: &LogicalMessage) -> Option<&StreamAbort> {
    match message {
        LogicalMessage::StreamAbort(abort) => Some(abort),
        _ => None,
    }
}

fn stream_commit(message: &LogicalMessage) -> Option<&StreamCommit> {
    match message {
        LogicalMessage::StreamCommit(commit) => Some(commit),
        _ => None,
    }
}

fn stream_prepare(message: &LogicalMessage) -> Option<&Prepare> {
    match message {
        LogicalMessage::StreamPrepare(prepare) => Some(prepare),
        _ => None,
    }
}

#[test]
fn protocol_4_streamed_blocks_and_xids() {
    for file in [PARALLEL, ON] {
        let raw = load(file);
        let messages = decode_all(file, 4);
        assert_eq!(tags(&messages), V4_TAGS, "{file}");
        assert!(
            raw.windows(2).all(|pair| pair[0].lsn <= pair[1].lsn),
            "{file}: the SQL interface reports positions in WAL order"
        );

        let mut decoder = Decoder::new(4).expect("version");
        let mut started = Vec::new();
        for (row, message) in raw.iter().zip(&messages) {
            let in_stream_before = decoder.streaming_xid();
            decoder.decode(&row.data).expect("decodes");
            match message {
                LogicalMessage::StreamStart(start) => {
                    assert_eq!(start.xid, row.xid);
                    assert_eq!(start.first_segment, !started.contains(&start.xid));
                    started.push(start.xid);
                }
                LogicalMessage::StreamStop => assert!(in_stream_before.is_some()),
                LogicalMessage::StreamAbort(_)
                | LogicalMessage::StreamCommit(_)
                | LogicalMessage::StreamPrepare(_)
                | LogicalMessage::CommitPrepared(_)
                | LogicalMessage::RollbackPrepared(_) => assert_eq!(in_stream_before, None),
                change => {
                    let top = in_stream_before.expect("changes only inside streamed blocks");
                    assert_eq!(top, row.xid);
                    let xid = change.stream_xid().expect("streamed changes carry an xid");
                    assert!(xid >= top, "xid {xid} of a subtransaction of {top}");
                }
            }
        }
        started.dedup();
        assert_eq!(started.len(), 4, "{file}: four streamed transactions");
    }
}

#[test]
fn stream_abort_carries_the_abort_lsn_and_time_with_streaming_parallel() {
    let raw = load(PARALLEL);
    let messages = decode_all(PARALLEL, 4);
    let aborts = rows_of(&raw, &messages, stream_abort);
    let [(commit_row, commit)] = rows_of(&raw, &messages, stream_commit)[..] else {
        panic!("one Stream Commit");
    };
    let prepares = rows_of(&raw, &messages, stream_prepare);
    let [(sub_row, sub), (full_row, full)] = aborts[..] else {
        panic!("two Stream Aborts, got {}", aborts.len());
    };
    let after_2020 = PgTimestamp::from_unix_micros(1_577_836_800_000_000).expect("2020-01-01");
    let now = PgTimestamp::now();

    let info = |abort: &StreamAbort| -> AbortInfo {
        abort
            .abort_info
            .expect("streaming = parallel sends the abort info")
    };
    for (row, abort) in [(sub_row, sub), (full_row, full)] {
        let AbortInfo {
            abort_lsn,
            abort_time,
        } = info(abort);
        assert_ne!(abort_lsn, Lsn(0));
        // pgoutput writes the abort LSN it is given, and the SQL interface reports that same
        // LSN (and the aborted (sub)transaction's xid) in the row: two independent renderings.
        assert_eq!(abort_lsn, row.lsn);
        assert_eq!(abort.subtransaction_xid, row.xid);
        assert!(
            raw[0].lsn < abort_lsn && abort_lsn < raw[raw.len() - 1].lsn,
            "inside the capture's WAL"
        );
        assert!(
            after_2020 < abort_time && abort_time <= now,
            "{abort_time:?}"
        );
    }

    // ROLLBACK TO SAVEPOINT of a streamed subtransaction, before its transaction commits.
    assert_eq!(sub.xid, commit.xid);
    assert_ne!(sub.subtransaction_xid, sub.xid);
    let sub_row_xids: Vec<_> = messages
        .iter()
        .filter_map(|m| match m {
            LogicalMessage::Insert(insert)
                if insert
                    .new_tuple
                    .get(1)
                    .and_then(|v| v.as_text())
                    .is_some_and(|v| v.starts_with("sub ")) =>
            {
                insert.xid
            }
            _ => None,
        })
        .collect();
    assert!(!sub_row_xids.is_empty(), "the subtransaction was streamed");
    assert!(sub_row_xids.iter().all(|&x| x == sub.subtransaction_xid));
    assert!(info(sub).abort_lsn < commit.commit_lsn);
    assert!(info(sub).abort_time <= commit.commit_time);
    // For a commit the SQL interface reports the end of the commit record.
    assert_eq!(commit_row.lsn, commit.end_lsn);

    // ROLLBACK of the whole next transaction, before the first prepared one.
    let (_, first_prepare) = prepares[0];
    assert_eq!(full.xid, full.subtransaction_xid);
    assert_ne!(full.xid, commit.xid);
    assert!(commit.end_lsn <= info(full).abort_lsn);
    assert!(info(full).abort_lsn < first_prepare.prepare_lsn);
    assert!(commit.commit_time <= info(full).abort_time);
    assert!(info(full).abort_time <= first_prepare.prepare_time);
}

#[test]
fn stream_abort_has_no_abort_info_with_streaming_on() {
    let parallel_raw = load(PARALLEL);
    let on_raw = load(ON);
    let parallel = decode_all(PARALLEL, 4);
    let on = decode_all(ON, 4);
    assert_eq!(on_raw.len(), parallel_raw.len());
    for (index, ((p_row, p), (o_row, o))) in parallel_raw
        .iter()
        .zip(&parallel)
        .zip(on_raw.iter().zip(&on))
        .enumerate()
    {
        assert_eq!(
            (p_row.lsn, p_row.xid),
            (o_row.lsn, o_row.xid),
            "row {index}"
        );
        match (p, o) {
            (LogicalMessage::StreamAbort(p), LogicalMessage::StreamAbort(o)) => {
                assert_eq!(o.abort_info, None, "row {index}");
                assert_eq!(
                    StreamAbort {
                        abort_info: None,
                        ..*p
                    },
                    *o
                );
                // The same 9 bytes; `parallel` appends the 16 of the abort LSN and time.
                assert_eq!((p_row.data.len(), o_row.data.len()), (25, 9));
                assert_eq!(p_row.data[..9], o_row.data[..]);
            }
            _ => {
                assert_eq!(p_row.data, o_row.data, "row {index}");
                assert_eq!(p, o, "row {index}");
            }
        }
    }
}

/// A protocol 3 decoder does not know the abort info: a 25-byte Stream Abort is refused as
/// trailing bytes (not silently truncated), the state is unchanged, and everything else decodes
/// as with protocol 4. The `streaming = on` rendering decodes entirely.
#[test]
fn protocol_3_decoder_refuses_the_protocol_4_abort() {
    let v4 = decode_all(PARALLEL, 4);
    let mut decoder = Decoder::new(3).expect("version");
    let mut refused = 0;
    for (index, (row, expected)) in load(PARALLEL).iter().zip(&v4).enumerate() {
        let before = decoder.clone();
        match decoder.decode(&row.data) {
            Ok(message) => assert_eq!(&message, expected, "message {index}"),
            Err(error) => {
                assert_eq!(
                    error,
                    DecodeError::TrailingBytes {
                        kind: MessageKind::StreamAbort,
                        offset: 9,
                        remaining: 16
                    },
                    "message {index}"
                );
                assert_eq!(decoder, before, "a failed decode changed the state");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 2);

    assert_eq!(decode_all(ON, 3), decode_all(ON, 4));
}

#[test]
fn protocol_4_stream_prepare() {
    let raw = load(PARALLEL);
    let messages = decode_all(PARALLEL, 4);
    let prepare_at: Vec<usize> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| stream_prepare(m).map(|_| i))
        .collect();
    let [commit_at, rollback_at] = prepare_at[..] else {
        panic!("two Stream Prepares");
    };
    for at in [commit_at, rollback_at] {
        let prepare = stream_prepare(&messages[at]).expect("stream prepare");
        let start = messages[..at]
            .iter()
            .rev()
            .find_map(|m| match m {
                LogicalMessage::StreamStart(s) => Some(s),
                _ => None,
            })
            .expect("stream start");
        assert_eq!(prepare.xid, start.xid);
        assert_eq!(raw[at].xid, prepare.xid);
        assert_eq!(prepare.flags, 0);
        assert!(prepare.prepare_lsn < prepare.end_lsn);
    }

    let prepare = stream_prepare(&messages[commit_at]).expect("stream prepare");
    assert_eq!(prepare.gid, "fx-v4-commit");
    let LogicalMessage::CommitPrepared(commit) = &messages[commit_at + 1] else {
        panic!("commit prepared")
    };
    assert_eq!(
        (commit.xid, commit.gid.as_str()),
        (prepare.xid, "fx-v4-commit")
    );
    assert!(commit.commit_lsn >= prepare.end_lsn);
    assert!(commit.commit_time >= prepare.prepare_time);

    let prepare = stream_prepare(&messages[rollback_at]).expect("stream prepare");
    assert_eq!(prepare.gid, "fx-v4-rollback");
    let LogicalMessage::RollbackPrepared(rollback) = &messages[rollback_at + 1] else {
        panic!("rollback prepared")
    };
    assert_eq!(
        (rollback.xid, rollback.gid.as_str()),
        (prepare.xid, "fx-v4-rollback")
    );
    assert_eq!(rollback.prepare_end_lsn, prepare.end_lsn);
    assert_eq!(rollback.prepare_time, prepare.prepare_time);
    assert!(rollback.rollback_end_lsn > rollback.prepare_end_lsn);
    assert!(rollback.rollback_time >= rollback.prepare_time);
}
