//! The server-side scripts that make every write conditional on versions, and what their
//! answers mean.
//!
//! Versions travel as decimal strings and are compared in Lua by length, then
//! lexicographically: exact for every `u64`, where Lua's numbers (doubles) are not above
//! 2^53.
//!
//! The write script reads, in one atomic step, the table's truncate floor, the row's
//! stored version (`_sluice_version` of a hash, or the first member of a JSON string) and
//! the row's tombstone, and writes only when the incoming version is not older than any
//! of them.

use std::sync::LazyLock;

use redis::Script;

/// The hash field (and JSON member) holding the version a row was written with.
pub const VERSION_FIELD: &str = "_sluice_version";

/// Lua shared by the scripts: `older(a, b)` is `a < b` for decimal strings without
/// leading zeros, and `row_version(key)` the version of the row stored at `key`:
/// `nil` when there is none, `false` plus a description when the key holds something
/// the sink did not write.
const PRELUDE: &str = r#"
local function older(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end
local function row_version(key)
  local kind = redis.call('TYPE', key).ok
  if kind == 'none' then return nil, kind end
  if kind == 'hash' then
    local v = redis.call('HGET', key, '_sluice_version')
    if v then return v, kind end
    return false, 'a hash without a _sluice_version field'
  end
  if kind == 'string' then
    local v = string.match(redis.call('GETRANGE', key, 0, 63), '^{"_sluice_version":(%d+)[,}]')
    if v then return v, kind end
    return false, 'a string that is not a JSON row with _sluice_version'
  end
  return false, 'a ' .. kind
end
"#;

/// One row's write. KEYS: row, tombstone, floor. ARGV: version, mode, ttl seconds (0:
/// none), tombstone ttl seconds, expected stored version (`json_merge` only; `-` for
/// none), then the mode's payload:
///
/// * `delete`: nothing; the row goes, the tombstone keeps the version.
/// * `hash`: field, value, field, value...: the whole row.
/// * `hash_partial`: the number of (field, value) pairs, the pairs, then fields to
///   remove (NULL now); columns not named keep their stored values.
/// * `json`: the document.
/// * `json_merge`: the document merged over the stored one read with the expected
///   version (nothing when there was none).
///
/// Answers `{code, detail}`: see [`Outcome`].
const WRITE: &str = r#"
local row, tomb, floor = KEYS[1], KEYS[2], KEYS[3]
local v, mode = ARGV[1], ARGV[2]
local ttl, tomb_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])

local f = redis.call('HGET', floor, 'floor')
if f and older(v, f) then return {0, 'truncated'} end

local stored, kind = row_version(row)
if stored == false then return {4, kind} end

if mode == 'json_merge' and (stored or '-') ~= ARGV[5] then return {3, 'changed'} end
if stored and older(v, stored) then return {0, 'newer stored'} end
if not stored then
  local t = redis.call('GET', tomb)
  if t and older(v, t) then return {0, 'deleted later'} end
end

local function forget()
  redis.call('SET', tomb, v, 'EX', tomb_ttl)
end

if mode == 'delete' then
  if stored then redis.call('DEL', row) end
  forget()
  return {1, ''}
end

if mode == 'hash' then
  redis.call('DEL', row)
  redis.call('HSET', row, '_sluice_version', v, unpack(ARGV, 6))
  if ttl > 0 then redis.call('EXPIRE', row, ttl) end
  redis.call('DEL', tomb)
  return {1, ''}
end

if mode == 'json' or (mode == 'json_merge' and stored) then
  if ttl > 0 then
    redis.call('SET', row, ARGV[6], 'EX', ttl)
  else
    redis.call('SET', row, ARGV[6])
  end
  redis.call('DEL', tomb)
  return {1, ''}
end

if mode == 'json_merge' or (mode == 'hash_partial' and not stored) then
  -- The row is not held: its unchanged values are unknown. Remember the version, so
  -- that an older full row arriving later is refused.
  forget()
  return {2, 'missing'}
end

if mode == 'hash_partial' then
  if kind ~= 'hash' then return {4, 'a JSON row, but the table is stored as hashes'} end
  local n = tonumber(ARGV[6])
  local set = {'_sluice_version', v}
  for i = 7, 6 + 2 * n do set[#set + 1] = ARGV[i] end
  redis.call('HSET', row, unpack(set))
  if #ARGV > 6 + 2 * n then redis.call('HDEL', row, unpack(ARGV, 7 + 2 * n)) end
  if ttl > 0 then redis.call('EXPIRE', row, ttl) end
  return {1, ''}
end

return redis.error_reply('ERR sluice: unknown write mode ' .. mode)
"#;

/// Raises a table's truncate floor. KEYS: floor. ARGV: version. Answers the version the
/// table was last swept at (or nil).
const RAISE_FLOOR: &str = r#"
local f = redis.call('HGET', KEYS[1], 'floor')
if not f or older(f, ARGV[1]) then redis.call('HSET', KEYS[1], 'floor', ARGV[1]) end
return redis.call('HGET', KEYS[1], 'swept')
"#;

/// Removes the rows among KEYS whose version is below ARGV[1] (keys that do not hold a
/// row the sink wrote are left alone). Answers how many it removed.
const SWEEP: &str = r#"
local removed = 0
for _, key in ipairs(KEYS) do
  local v = row_version(key)
  if v and older(v, ARGV[1]) then
    redis.call('UNLINK', key)
    removed = removed + 1
  end
end
return removed
"#;

/// Notes that the table was swept at ARGV[1]. KEYS: floor.
const MARK_SWEPT: &str = r#"
local s = redis.call('HGET', KEYS[1], 'swept')
if not s or older(s, ARGV[1]) then redis.call('HSET', KEYS[1], 'swept', ARGV[1]) end
return 1
"#;

/// The write script.
pub(crate) static WRITE_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(WRITE));
/// The floor-raising script.
pub(crate) static RAISE_FLOOR_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| with_prelude(RAISE_FLOOR));
/// The sweeping script.
pub(crate) static SWEEP_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(SWEEP));
/// The script marking a completed sweep.
pub(crate) static MARK_SWEPT_SCRIPT: LazyLock<Script> = LazyLock::new(|| with_prelude(MARK_SWEPT));

/// Every script, to load after connecting.
pub(crate) fn all() -> [&'static Script; 4] {
    [
        &WRITE_SCRIPT,
        &RAISE_FLOOR_SCRIPT,
        &SWEEP_SCRIPT,
        &MARK_SWEPT_SCRIPT,
    ]
}

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}{body}"))
}

/// An `EVALSHA` of `script` (loaded beforehand; see [`all`]).
pub(crate) fn evalsha(script: &Script, keys: &[&str], args: &[&[u8]]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(keys.len()).arg(keys);
    for arg in args {
        cmd.arg(*arg);
    }
    cmd
}

/// What the write script did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Written.
    Applied,
    /// Not written: the row, its tombstone or the truncate floor is newer.
    Stale,
    /// A partial update of a row Redis does not hold; its version was remembered.
    Missing,
    /// A merge read an older stored row than is there now: read again.
    Changed,
    /// The key holds something the sink did not write (described).
    Foreign(String),
}

impl Outcome {
    /// Reads the script's `{code, detail}` answer.
    pub(crate) fn from_reply(value: &redis::Value) -> Option<Outcome> {
        let redis::Value::Array(items) = value else {
            return None;
        };
        let code = match items.first()? {
            redis::Value::Int(code) => *code,
            _ => return None,
        };
        let detail = match items.get(1) {
            Some(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        };
        Some(match code {
            1 => Outcome::Applied,
            0 => Outcome::Stale,
            2 => Outcome::Missing,
            3 => Outcome::Changed,
            4 => Outcome::Foreign(detail),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    #[test]
    fn replies_are_read() {
        let reply = |code: i64, detail: &str| {
            Value::Array(vec![
                Value::Int(code),
                Value::BulkString(detail.as_bytes().to_vec()),
            ])
        };
        assert_eq!(Outcome::from_reply(&reply(1, "")), Some(Outcome::Applied));
        assert_eq!(
            Outcome::from_reply(&reply(0, "truncated")),
            Some(Outcome::Stale)
        );
        assert_eq!(Outcome::from_reply(&reply(2, "")), Some(Outcome::Missing));
        assert_eq!(Outcome::from_reply(&reply(3, "")), Some(Outcome::Changed));
        assert_eq!(
            Outcome::from_reply(&reply(4, "a list")),
            Some(Outcome::Foreign("a list".into()))
        );
        assert_eq!(Outcome::from_reply(&reply(9, "")), None);
        assert_eq!(Outcome::from_reply(&Value::Nil), None);
    }

    #[test]
    fn scripts_differ() {
        let hashes: std::collections::HashSet<&str> = all().iter().map(|s| s.get_hash()).collect();
        assert_eq!(hashes.len(), 4);
    }
}
