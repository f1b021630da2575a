//! Which failures are worth retrying: the one place that decides.
//!
//! | failure | outcome |
//! |---|---|
//! | no connection, timeout, unreadable response | retry the batch |
//! | 408, 429, 5xx (whole request, or one bulk item) | retry the batch |
//! | 401, 403 (whole request) | stop: credentials or privileges are wrong |
//! | other 4xx (whole request) | stop: the request itself is wrong, retrying repeats it |
//! | bulk item 409 `version_conflict_engine_exception` | success: a newer version is stored |
//! | bulk item 404 on a delete | success: already gone (the tombstone is still versioned) |
//! | bulk item `index_not_found_exception` | retry the batch (the index is created again) |
//! | bulk item, other 4xx (`mapper_parsing_exception`...) | reject that record (dead letter) |
//!
//! Retrying a whole batch is safe because every write is versioned: what was applied
//! the first time is applied again as a no-op.

use elasticsearch::http::response::Response;
use serde_json::Value as Json;
use sluice_sink::SinkError;

/// What one bulk item's response means.
#[derive(Debug, PartialEq)]
pub(crate) enum ItemOutcome {
    /// Written (or deleted, or already gone).
    Applied,
    /// Refused as older than the stored version: nothing to do.
    Stale,
    /// The index does not exist (any more).
    IndexMissing,
    /// Worth retrying the batch.
    Retry(String),
    /// Refused for good; the reason is one sentence without row values.
    Reject(String),
}

/// The outcome of bulk item `item` (the object under its action name) for `action`
/// (`index` or `delete`) on `index`.
pub(crate) fn bulk_item(action: &str, index: &str, item: &Json) -> ItemOutcome {
    let status = item["status"].as_u64().unwrap_or(0);
    let error = &item["error"];
    let error_type = error["type"].as_str().unwrap_or("unknown error");
    match status {
        200..=299 => ItemOutcome::Applied,
        409 => ItemOutcome::Stale,
        404 if action == "delete" && error.is_null() => ItemOutcome::Applied,
        _ if error_type == "index_not_found_exception" => ItemOutcome::IndexMissing,
        408 | 429 | 500.. => ItemOutcome::Retry(format!(
            "a {action} in index {index} failed with status {status} ({error_type})"
        )),
        _ => ItemOutcome::Reject(rejection_reason(index, status, error)),
    }
}

/// One sentence for a dead letter: the index, the status, the error type, its cause's
/// type and, for a parse failure, the field, but never a value (the search engine's
/// `reason` text quotes the value, so it is not used whole).
fn rejection_reason(index: &str, status: u64, error: &Json) -> String {
    let error_type = error["type"].as_str().unwrap_or("unknown error");
    let cause = error["caused_by"]["type"]
        .as_str()
        .map(|t| format!(", caused by {t}"))
        .unwrap_or_default();
    let field = error["reason"]
        .as_str()
        .and_then(|reason| {
            let start = reason.find("failed to parse field [")? + "failed to parse field [".len();
            let end = reason[start..].find(']')?;
            Some(format!(" in field [{}]", &reason[start..start + end]))
        })
        .unwrap_or_default();
    format!(
        "index {index} refused the document with status {status} ({error_type}{cause}){field}: \
         make the index's mapping accept the row (tables.<table>.mappings, or a new index \
         through `sluice replay`) and replay this dead letter"
    )
}

/// The failure to send a request at all (connection refused, timeout, TLS, a body that
/// does not parse): always worth retrying.
pub(crate) fn transport(what: &str, error: &elasticsearch::Error) -> SinkError {
    let kind = if error.is_timeout() {
        "timed out"
    } else {
        "failed"
    };
    SinkError::Retryable(format!("{what} {kind}: {error}"))
}

/// The error for a whole request that answered `status`, with the server's error type
/// if its body had one.
pub(crate) fn status(what: &str, status: u16, error_type: Option<&str>) -> SinkError {
    let detail = error_type.map(|t| format!(" ({t})")).unwrap_or_default();
    match status {
        401 => SinkError::Permanent(format!(
            "{what} was refused with 401{detail}: the search engine does not accept the \
             sink's credentials; check the username and password"
        )),
        403 => SinkError::Permanent(format!(
            "{what} was refused with 403{detail}: the sink's user lacks a privilege; grant \
             it create_index, write, read and manage (mappings) on the sink's indices"
        )),
        408 | 429 | 500.. => {
            SinkError::Retryable(format!("{what} failed with status {status}{detail}"))
        }
        _ => SinkError::Permanent(format!(
            "{what} was refused with status {status}{detail}; retrying would send the same \
             request, so the sink stops: check the sink's configuration (index names, \
             settings, mappings)"
        )),
    }
}

/// Reads a response's JSON body (`null` when it has none, as a HEAD response, or is
/// not JSON, as a proxy's error page), or turns the response into the error it stands
/// for. `accept` lists statuses besides 2xx whose body the caller interprets itself.
pub(crate) async fn json_body(
    what: &str,
    response: Response,
    accept: &[u16],
) -> Result<(u16, Json), SinkError> {
    let code = response.status_code().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport(what, &error))?;
    let body: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    if (200..300).contains(&code) || accept.contains(&code) {
        Ok((code, body))
    } else {
        Err(status(what, code, error_type(&body)))
    }
}

/// The `error.type` of an error response body.
pub(crate) fn error_type(body: &Json) -> Option<&str> {
    body["error"]["type"].as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bulk_items_are_classified() {
        let ok = json!({ "status": 201, "result": "created" });
        assert_eq!(bulk_item("index", "i", &ok), ItemOutcome::Applied);
        let conflict =
            json!({ "status": 409, "error": { "type": "version_conflict_engine_exception" } });
        assert_eq!(bulk_item("index", "i", &conflict), ItemOutcome::Stale);
        assert_eq!(bulk_item("delete", "i", &conflict), ItemOutcome::Stale);
        let gone = json!({ "status": 404, "result": "not_found" });
        assert_eq!(bulk_item("delete", "i", &gone), ItemOutcome::Applied);
        let missing = json!({ "status": 404, "error": { "type": "index_not_found_exception" } });
        assert_eq!(
            bulk_item("delete", "i", &missing),
            ItemOutcome::IndexMissing
        );
        assert_eq!(bulk_item("index", "i", &missing), ItemOutcome::IndexMissing);
        let busy = json!({ "status": 429, "error": { "type": "es_rejected_execution_exception" } });
        assert!(matches!(
            bulk_item("index", "i", &busy),
            ItemOutcome::Retry(_)
        ));
        let broken = json!({ "status": 503, "error": { "type": "unavailable_shards_exception" } });
        assert!(matches!(
            bulk_item("index", "i", &broken),
            ItemOutcome::Retry(_)
        ));
    }

    #[test]
    fn a_rejection_names_the_error_and_field_but_not_the_value() {
        let item = json!({ "status": 400, "error": {
            "type": "mapper_parsing_exception",
            "reason": "failed to parse field [n] of type [long] in document with id '[\"2\"]'. Preview of field's value: 'secret'",
            "caused_by": { "type": "illegal_argument_exception", "reason": "For input string: \"secret\"" }
        }});
        let ItemOutcome::Reject(reason) = bulk_item("index", "sluice-public-t", &item) else {
            panic!("not a rejection");
        };
        assert!(reason.contains("mapper_parsing_exception"), "{reason}");
        assert!(reason.contains("illegal_argument_exception"), "{reason}");
        assert!(reason.contains("field [n]"), "{reason}");
        assert!(reason.contains("sluice-public-t"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
    }

    #[test]
    fn whole_request_statuses_are_classified() {
        assert!(matches!(status("x", 401, None), SinkError::Permanent(_)));
        assert!(matches!(status("x", 403, None), SinkError::Permanent(_)));
        assert!(matches!(status("x", 400, None), SinkError::Permanent(_)));
        assert!(matches!(status("x", 413, None), SinkError::Permanent(_)));
        assert!(matches!(status("x", 429, None), SinkError::Retryable(_)));
        assert!(matches!(status("x", 408, None), SinkError::Retryable(_)));
        assert!(matches!(status("x", 502, None), SinkError::Retryable(_)));
    }
}
