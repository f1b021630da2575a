//! Redis: a hash written through a server-side script that keeps the newest version, the
//! mechanism the Redis sink relies on, and read back.

use redis::AsyncCommands;
use sluice_testkit::{Server, address, unique_name};

/// Writes the field only when the version is at least the stored one.
const SET_IF_NEWER: &str = r"
local stored = tonumber(redis.call('HGET', KEYS[1], '_version') or '-1')
if tonumber(ARGV[1]) >= stored then
  redis.call('HSET', KEYS[1], '_version', ARGV[1], 'name', ARGV[2])
  return 1
end
return 0
";

#[tokio::test]
async fn versioned_script_keeps_the_newest_write() {
    let url = address(Server::Redis).await.expect("redis address");
    let client = redis::Client::open(url).expect("redis client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");
    let key = format!("{}:product:1", unique_name("smoke"));
    let script = redis::Script::new(SET_IF_NEWER);

    let applied: i32 = script
        .key(&key)
        .arg(20)
        .arg("kettle")
        .invoke_async(&mut conn)
        .await
        .expect("first write");
    assert_eq!(applied, 1);
    let applied: i32 = script
        .key(&key)
        .arg(10)
        .arg("older kettle")
        .invoke_async(&mut conn)
        .await
        .expect("stale write");
    assert_eq!(applied, 0, "an older version must not overwrite");

    let name: String = conn.hget(&key, "name").await.expect("HGET");
    assert_eq!(name, "kettle");
    let _: () = conn.del(&key).await.expect("DEL");
}
