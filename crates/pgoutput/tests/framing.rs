//! The replication protocol frames captured from a real walsender (`walsender_v1.hex`, see
//! `scripts/capture-walsender.py`): XLogData and keepalives as a client receives them, and
//! the standby status update the server accepted.

use crate::common::load_walsender;
use sluice_pgoutput::{
    Decoder, LogicalMessage, Lsn, PgTimestamp, PrimaryKeepalive, ReplicationMessage,
    StandbyStatusUpdate, XLogData,
};

#[test]
fn walsender_frames_decode() {
    let payloads = load_walsender("walsender_v1.hex");
    let mut decoder = Decoder::new(1).expect("version");
    let mut xlog_frames: Vec<(XLogData, LogicalMessage)> = Vec::new();
    let mut keepalives: Vec<PrimaryKeepalive> = Vec::new();
    let mut status_update = None;
    for payload in &payloads {
        if !payload.from_server {
            status_update = Some((payload.data.clone(), keepalives.len()));
            continue;
        }
        match ReplicationMessage::parse(payload.data.clone()).expect("server payload") {
            ReplicationMessage::XLogData(xlog) => {
                let message = decoder.decode(&xlog.data).expect("pgoutput message");
                xlog_frames.push((xlog, message));
            }
            ReplicationMessage::PrimaryKeepalive(keepalive) => keepalives.push(keepalive),
        }
    }

    let kinds: String = xlog_frames
        .iter()
        .map(|(_, m)| char::from(m.kind().tag()))
        .collect();
    assert_eq!(kinds, "BRIC");
    let (begin_frame, LogicalMessage::Begin(begin)) = &xlog_frames[0] else {
        panic!("begin")
    };
    let (relation_frame, LogicalMessage::Relation(relation)) = &xlog_frames[1] else {
        panic!("relation")
    };
    let (commit_frame, LogicalMessage::Commit(commit)) = &xlog_frames[3] else {
        panic!("commit")
    };
    assert_eq!(relation.name, "append_only");
    assert!(!begin_frame.wal_start.is_invalid() && begin_frame.wal_start <= begin.final_lsn);
    // pgoutput writes Relation messages with no WAL position: wal_start and wal_end are 0/0.
    assert_eq!(
        (relation_frame.wal_start, relation_frame.wal_end),
        (Lsn::INVALID, Lsn::INVALID)
    );
    // The Commit's frame starts at the transaction's end LSN.
    assert_eq!(commit_frame.wal_start, commit.end_lsn);
    for (frame, _) in &xlog_frames {
        assert!(frame.server_clock.0 > 0 && frame.server_clock.to_system_time().is_some());
    }

    // The server answers a status update that requests a reply with a keepalive.
    let (update_bytes, keepalives_before) = status_update.expect("client status update");
    let update = StandbyStatusUpdate::parse(&update_bytes).expect("status update");
    assert_eq!(
        (update.written, update.flushed, update.applied),
        (commit.end_lsn, commit.end_lsn, commit.end_lsn)
    );
    assert!(update.reply_requested);
    assert_eq!(
        keepalives.len(),
        keepalives_before + 1,
        "one keepalive answers the update"
    );
    let answer = keepalives.last().expect("answer");
    assert!(answer.wal_end >= commit.end_lsn);
    assert!(
        keepalives
            .windows(2)
            .all(|pair| pair[0].server_clock <= pair[1].server_clock)
    );
    assert!(keepalives.iter().all(|k| !k.reply_requested));
}

/// The bytes the server accepted (the capture script checked that the slot's
/// confirmed_flush_lsn moved to the LSN they confirm) are exactly what the encoder produces
/// for "everything up to the transaction's end LSN, please reply".
#[test]
fn standby_status_update_matches_what_the_server_accepted() {
    let payloads = load_walsender("walsender_v1.hex");
    let mut decoder = Decoder::new(1).expect("version");
    let commit_end = payloads
        .iter()
        .filter(|p| p.from_server)
        .find_map(
            |p| match ReplicationMessage::parse(p.data.clone()).expect("server payload") {
                ReplicationMessage::XLogData(xlog) => {
                    match decoder.decode(&xlog.data).expect("message") {
                        LogicalMessage::Commit(commit) => Some(commit.end_lsn),
                        _ => None,
                    }
                }
                ReplicationMessage::PrimaryKeepalive(_) => None,
            },
        )
        .expect("commit");
    let accepted = &payloads
        .iter()
        .find(|p| !p.from_server)
        .expect("client payload")
        .data;
    // The clock is the only field not known in advance: take it from the bytes (offset 25).
    let clock = i64::from_be_bytes(accepted[25..33].try_into().expect("8 bytes"));
    let update = StandbyStatusUpdate {
        written: commit_end,
        flushed: commit_end,
        applied: commit_end,
        client_clock: PgTimestamp(clock),
        reply_requested: true,
    };
    assert_eq!(&update.encode(), accepted);
}
