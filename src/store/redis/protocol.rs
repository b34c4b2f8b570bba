//! The write protocol: how loads, batches of writes and index operations
//! become Redis commands, one round trip each.
//!
//! Every write is exactly one command (`DEL`, or `EVALSHA` of a cached
//! script), so the replies of a pipeline map one to one onto the writes:
//! each write gets its own typed [`Written`], with no index arithmetic and
//! no cleanup round trip.
//!
//! # Why a script rather than `MULTI`
//!
//! An update must set its fields and the TTL only if the session still
//! exists, atomically: otherwise an update racing a delete leaves a
//! field-only hash behind, and a connection lost between two commands
//! leaves a key without TTL. It also tells a session that moved to a new id
//! (its old key holds the move's marker, [`MOVED_FIELD`](crate::store::MOVED_FIELD))
//! from one that ended, so that a write racing a login fails loudly. `MULTI`/`EXEC` makes commands atomic but cannot
//! make them conditional without `WATCH` (another round trip), so the best
//! it can do is `MULTI`, `HSET`, `EXPIRE`, `HEXISTS`, `EXEC`: fields written
//! to a deleted session linger (with a TTL) until they expire. The cached
//! script (`lua/update.lua`) checks existence with the `EXPIRE` it needs
//! anyway (`EXPIRE` answers 0 for a missing key) and writes nothing to a
//! deleted session.
//!
//! Measured with `python3 scripts/update-cpu.py 300000` (redis-server 7.0.15
//! on the shared 2-core test machine; 300 000 updates of 200 sessions, 64
//! in flight; Redis main-thread CPU from `INFO cpu`; ranges over 7 runs of
//! each, interleaved):
//!
//! | candidate | commands per update | Redis CPU µs per update |
//! |---|---:|---:|
//! | `EVALSHA` `update.lua` (→ `EXPIRE`, `HSET`) | 3 | 5.2 – 8.7 |
//!
//! (Measured before the script also checked for a move's marker and
//! weighed the change against `max_session_bytes`: it now runs `HEXISTS`
//! first, and for a change of user fields `HSTRLEN` per field and `HGET` of
//! the kept size, all inside the same round trip.)
//! | `MULTI`, `HSET`, `EXPIRE`, `HEXISTS`, `EXEC` | 5 | 3.3 – 5.2 |
//!
//! The script costs Redis about 1 – 4 µs more per update (entering Lua and
//! running each command through it is dearer than dispatching two more
//! plain commands), and we pay it: it is the only candidate that keeps the
//! guarantee exactly (nothing is ever written to a deleted session), the
//! only one within the budget of four commands per increment (`HGETALL` +
//! 3; `MULTI` needs at least `MULTI`, `HSET`, `EXPIRE`, `EXEC`, so 5 or 6),
//! and the application parses one reply per write instead of five. Reads,
//! the common case, run no script at all.

use std::sync::atomic::Ordering;

use futures_util::future::try_join_all;
use redis::{Cmd, RedisError, Value};

use super::client::{RedisClient, map_error};
use super::replies::{index_entries, session_fields, written};
use super::scripts::{LEGACY, Lua, lua, refuses_flags};
use crate::store::api::{IndexEntry, MAX_INDEX_TIME, MAX_LISTED, check_batch};
use crate::store::hash::RawWrite;
use crate::store::layout::Field;
use crate::store::{
    Append, Appended, Error, Increment, Incremented, Loaded, SessionStore, StoreFuture, Write,
    Written,
};

static CREATE: Lua = lua!("lua/create.lua");
static UPDATE: Lua = lua!("lua/update.lua");
static MOVE: Lua = lua!("lua/move.lua");
static INDEX: Lua = lua!("lua/index.lua");
static RETIRE: Lua = lua!("lua/retire.lua");

/// Sessions in Redis, through a [`RedisClient`].
///
/// ```no_run
/// use redis_sessions::{RedisClient, RedisOptions, RedisStore};
///
/// let options = RedisOptions { url: Some("redis://127.0.0.1:6379/0".into()), ..Default::default() };
/// let store = RedisStore::new(RedisClient::open(&options)?);
/// # Ok::<(), redis_sessions::store::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RedisStore {
    client: RedisClient,
    pipeline_per_key: bool,
}

/// The reply slot of one write: Redis's answer, or its error.
type Reply = Result<Value, RedisError>;

impl RedisStore {
    /// A store over `client`.
    pub fn new(client: RedisClient) -> Self {
        Self {
            client,
            pipeline_per_key: false,
        }
    }

    /// Sends the writes of each session key in a pipeline of their own
    /// (all at once, so still one round trip) instead of one pipeline for
    /// the whole batch: for a connection that cannot route one pipeline to
    /// several Cluster nodes (a plain redis-rs cluster connection refuses a
    /// pipeline that spans slots). The Cluster connection of
    /// [`RedisClient`] splits pipelines by slot itself and does not need
    /// it. Default: `false` (one pipeline).
    pub fn pipeline_per_key(mut self, yes: bool) -> Self {
        self.pipeline_per_key = yes;
        self
    }

    /// The client this store talks through.
    pub fn client(&self) -> &RedisClient {
        &self.client
    }

    async fn load_fields(&self, key: &str) -> Result<Loaded, Error> {
        let mut conn = self.client.connection()?;
        let mut cmd = sized_cmd("HGETALL", 1, key.len());
        cmd.arg(key);
        let reply: Value = self.client.bounded(cmd.query_async(&mut conn)).await?;
        session_fields(reply)
    }

    async fn write_all(&self, writes: Vec<Write>) -> Result<Vec<Written>, Error> {
        check_batch(&writes)?;
        let writes: Vec<RawWrite> = writes.into_iter().map(RawWrite::from).collect();
        // One write (the usual batch) is one wave: no need to sort.
        let waves = if writes.len() == 1 {
            Vec::new()
        } else {
            waves(&writes)
        };
        let replies = match waves.as_slice() {
            [] if writes.len() == 1 => self.run(&writes, &[0]).await?,
            [] => Vec::new(),
            [all] => self.run(&writes, all).await?,
            _ => {
                // A key named twice: one round trip per repeat, so that a
                // replayed script can never run after a later write to its
                // key.
                let mut slots: Vec<Option<Reply>> = (0..writes.len()).map(|_| None).collect();
                for wave in &waves {
                    for (&i, reply) in wave.iter().zip(self.run(&writes, wave).await?) {
                        slots[i] = Some(reply);
                    }
                }
                slots
                    .into_iter()
                    .map(|slot| {
                        slot.ok_or(Error::UnexpectedReply {
                            to: "a batch of session writes",
                            expected: "one reply per write",
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let timeout = self.client.timeout();
        writes
            .iter()
            .zip(replies)
            .map(|(write, reply)| written(write, reply.map_err(|e| map_error(e, timeout))?))
            .collect()
    }

    /// Sends `writes[i]` for each `i` in `which` (at most one per key) and
    /// returns their replies in that order, replaying any write that found
    /// its script missing.
    async fn run(&self, writes: &[RawWrite], which: &[usize]) -> Result<Vec<Reply>, Error> {
        let mut replies = self.send(writes, which, Invoke::Cached).await?;
        let noscript: Vec<usize> = replies
            .iter()
            .enumerate()
            .filter(|(_, reply)| matches!(reply, Err(e) if is_noscript(e)))
            .map(|(at, _)| at)
            .collect();
        if !noscript.is_empty() {
            // Redis restarted, failed over or flushed its scripts: those
            // writes did not run. Replay exactly those, with the script's
            // source (`EVAL`, which also caches it again on that node).
            let again: Vec<usize> = noscript.iter().map(|&at| which[at]).collect();
            let mut replayed = self.send(writes, &again, Invoke::Source).await?;
            if replayed
                .iter()
                .any(|reply| matches!(reply, Err(e) if refuses_flags(e)))
            {
                // Redis 6: the same writes, without the flags line.
                LEGACY.store(true, Ordering::Relaxed);
                replayed = self.send(writes, &again, Invoke::Source).await?;
            }
            for (at, reply) in noscript.into_iter().zip(replayed) {
                replies[at] = reply;
            }
        }
        Ok(replies)
    }

    /// Sends `writes[i]` for each `i` in `which` and returns their replies,
    /// in the order of `which`: one pipeline, or one per key (all at once).
    async fn send(
        &self,
        writes: &[RawWrite],
        which: &[usize],
        invoke: Invoke,
    ) -> Result<Vec<Reply>, Error> {
        if !self.pipeline_per_key {
            return self.pipeline(writes, which, invoke).await;
        }
        let groups = group_by_key(writes, which);
        let sent = try_join_all(
            groups
                .iter()
                .map(|group| self.pipeline(writes, group, invoke)),
        )
        .await?;
        let mut slots: Vec<Option<Reply>> = (0..writes.len()).map(|_| None).collect();
        for (group, replies) in groups.iter().zip(sent) {
            for (&i, reply) in group.iter().zip(replies) {
                slots[i] = Some(reply);
            }
        }
        which
            .iter()
            .map(|&i| {
                slots[i].take().ok_or(Error::UnexpectedReply {
                    to: "a pipeline of session writes",
                    expected: "one reply per write",
                })
            })
            .collect()
    }

    /// One pipeline of `writes[i]` for each `i` in `which`: its replies, in
    /// that order.
    async fn pipeline(
        &self,
        writes: &[RawWrite],
        which: &[usize],
        invoke: Invoke,
    ) -> Result<Vec<Reply>, Error> {
        let mut conn = self.client.connection()?;
        if let [i] = which {
            // A pipeline of one costs more than the command alone.
            let cmd = command(&writes[*i], invoke);
            let timeout = self.client.timeout();
            let reply = match tokio::time::timeout(timeout, cmd.query_async(&mut conn)).await {
                Err(_) => return Err(Error::Timeout(timeout)),
                Ok(Err(e)) if is_noscript(&e) || refuses_flags(&e) => Err(e),
                Ok(reply) => Ok(reply.map_err(|e| map_error(e, timeout))?),
            };
            return Ok(vec![reply]);
        }
        let mut pipe = redis::pipe();
        for &i in which {
            pipe.add_command(command(&writes[i], invoke));
        }
        let replies: Vec<Reply> = self
            .client
            .bounded(pipe.ignore_errors().query_async(&mut conn))
            .await?;
        if replies.len() != which.len() {
            return Err(Error::UnexpectedReply {
                to: "a pipeline of session writes",
                expected: "one reply per write",
            });
        }
        Ok(replies)
    }

    /// Runs the index script on `index_key` with `args`.
    /// Runs the index script on the two keys of the index `index_key`
    /// (see `lua/index.lua`): a sorted set and a hash, tagged to share a
    /// Cluster slot.
    async fn index(&self, index_key: &str, args: &[&[u8]]) -> Result<Value, Error> {
        let (zset, hash) = (format!("{{{index_key}}}:z"), format!("{{{index_key}}}:h"));
        timed("index", async {
            let reply = self.script_keys(&INDEX, &[&zset, &hash], args).await;
            self.client.explained(reply).await
        })
        .await
    }

    /// Runs `lua` on `key` with `args` (`EVALSHA`), loading it once if
    /// Redis does not know it (`EVAL`).
    pub(super) async fn script(
        &self,
        lua: &Lua,
        key: &str,
        args: &[&[u8]],
    ) -> Result<Value, Error> {
        self.script_keys(lua, &[key], args).await
    }

    /// [`script`](Self::script) on several keys (of one slot).
    async fn script_keys(&self, lua: &Lua, keys: &[&str], args: &[&[u8]]) -> Result<Value, Error> {
        let mut conn = self.client.connection()?;
        let bytes = args.iter().map(|a| a.len()).sum();
        let call = |invoke| {
            let mut cmd = script_call_keys(lua, keys, invoke, args.len(), bytes);
            for arg in args {
                cmd.arg(*arg);
            }
            cmd
        };
        let reply: Result<Value, RedisError> = match tokio::time::timeout(
            self.client.timeout(),
            call(Invoke::Cached).query_async(&mut conn),
        )
        .await
        {
            Ok(reply) => reply,
            Err(_) => return Err(Error::Timeout(self.client.timeout())),
        };
        let reply = match reply {
            Err(e) if is_noscript(&e) => tokio::time::timeout(
                self.client.timeout(),
                call(Invoke::Source).query_async(&mut conn),
            )
            .await
            .map_err(|_| Error::Timeout(self.client.timeout()))?,
            other => other,
        };
        match reply {
            Err(e) if refuses_flags(&e) => {
                // Redis 6: the same script, without the flags line.
                LEGACY.store(true, Ordering::Relaxed);
                self.client
                    .bounded(call(Invoke::Source).query_async(&mut conn))
                    .await
            }
            other => other.map_err(|e| map_error(e, self.client.timeout())),
        }
    }
}

/// Runs a store call, timing it for the metrics (without the `metrics`
/// feature, the call alone: no clock is read).
async fn timed<T>(
    op: &'static str,
    call: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    #[cfg(feature = "metrics")]
    {
        let started = std::time::Instant::now();
        let result = call.await;
        crate::metrics::store_call(
            op,
            started.elapsed(),
            result.as_ref().err().map(Error::kind),
        );
        result
    }
    #[cfg(not(feature = "metrics"))]
    {
        let _ = op;
        call.await
    }
}

fn is_noscript(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// The batch in waves that name each key at most once, in batch order: the
/// n-th write to a key goes in wave n.
fn waves(writes: &[RawWrite]) -> Vec<Vec<usize>> {
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        let repeats = writes[..i]
            .iter()
            .filter(|w| w.key() == write.key())
            .count();
        match waves.get_mut(repeats) {
            Some(wave) => wave.push(i),
            None => waves.push(vec![i]),
        }
    }
    waves
}

/// Positions in `which`, grouped by the key of their write, each group in
/// batch order (so writes to one key keep their order).
fn group_by_key(writes: &[RawWrite], which: &[usize]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in which {
        let key = writes[i].key();
        match groups.iter_mut().find(|g| writes[g[0]].key() == key) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

/// The one command of a write.
fn command(write: &RawWrite, invoke: Invoke) -> Cmd {
    match write {
        RawWrite::Delete { key } => {
            let mut cmd = sized_cmd("DEL", 1, key.len());
            cmd.arg(key);
            cmd
        }
        RawWrite::Retire { key } => script_call(&RETIRE, key, invoke, 0, 0),
        RawWrite::Create {
            key,
            fields,
            timeout,
        } => {
            let (args, bytes) = field_sizes(fields);
            let mut cmd = script_call(&CREATE, key, invoke, 1 + args, NUMBER + bytes);
            cmd.arg(timeout);
            for (name, value) in fields {
                cmd.arg(name).arg(value);
            }
            cmd
        }
        RawWrite::Move {
            from,
            key,
            fields,
            timeout,
        } => {
            let (args, bytes) = field_sizes(fields);
            let mut cmd = script_call_keys(&MOVE, &[from, key], invoke, 1 + args, NUMBER + bytes);
            cmd.arg(timeout);
            for (name, value) in fields {
                cmd.arg(name).arg(value);
            }
            cmd
        }
        RawWrite::Update {
            key,
            set,
            delete,
            timeout,
            max_bytes,
            check_empty,
        } => {
            let (args, bytes) = field_sizes(set);
            let deleted: usize = delete.iter().map(Vec::len).sum();
            let mut cmd = script_call(
                &UPDATE,
                key,
                invoke,
                4 + args + delete.len(),
                4 * NUMBER + bytes + deleted,
            );
            cmd.arg(timeout)
                .arg(set.len())
                .arg(u8::from(*check_empty))
                .arg(max_bytes);
            for (name, value) in set {
                cmd.arg(name).arg(value);
            }
            for name in delete {
                cmd.arg(name);
            }
            cmd
        }
    }
}

/// How a script is called.
#[derive(Debug, Clone, Copy)]
enum Invoke {
    /// `EVALSHA`: by its hash, from the server's script cache.
    Cached,
    /// `EVAL`: with its source, when the server answered `NOSCRIPT`.
    Source,
}

/// Room for a decimal number argument (a `u64` has at most 20 digits).
const NUMBER: usize = 20;

/// A command `name` with room for `args` more arguments of `bytes` bytes in
/// all, so that adding them never grows its buffers.
fn sized_cmd(name: &str, args: usize, bytes: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(1 + args, name.len() + bytes);
    cmd.arg(name);
    cmd
}

/// How many arguments, and how many bytes, `fields` adds to a command.
fn field_sizes(fields: &[Field]) -> (usize, usize) {
    let bytes = fields.iter().map(|(n, v)| n.len() + v.len()).sum();
    (2 * fields.len(), bytes)
}

/// The call of `lua` on `key`, with room for `args` more arguments of
/// `bytes` bytes in all.
fn script_call(lua: &Lua, key: &str, invoke: Invoke, args: usize, bytes: usize) -> Cmd {
    script_call_keys(lua, &[key], invoke, args, bytes)
}

/// The call of `lua` on `keys`, arguments to follow.
fn script_call_keys(lua: &Lua, keys: &[&str], invoke: Invoke, args: usize, bytes: usize) -> Cmd {
    let (cached, source) = lua.pick();
    let (name, script) = match invoke {
        Invoke::Cached => ("EVALSHA", cached.get_hash()),
        Invoke::Source => ("EVAL", source),
    };
    let key_bytes: usize = keys.iter().map(|k| k.len()).sum();
    let mut cmd = sized_cmd(
        name,
        2 + keys.len() + args,
        script.len() + 1 + key_bytes + bytes,
    );
    cmd.arg(script).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    cmd
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Loaded> {
        Box::pin(timed("load", async move {
            self.client.explained(self.load_fields(key).await).await
        }))
    }

    fn moves_atomically(&self) -> bool {
        // A move touches two keys: one script only where both live on one
        // server.
        !self.client().is_cluster()
    }

    fn write(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<Written>> {
        Box::pin(timed("write", async move {
            self.client.explained(self.write_all(writes).await).await
        }))
    }

    fn increment<'a>(&'a self, op: &'a Increment) -> StoreFuture<'a, Option<Incremented>> {
        Box::pin(timed("increment", async move {
            self.client.explained(self.increment_field(op).await).await
        }))
    }

    fn append<'a>(&'a self, op: &'a Append) -> StoreFuture<'a, Option<Appended>> {
        Box::pin(timed("append", async move {
            self.client.explained(self.append_field(op).await).await
        }))
    }

    fn index_put(
        &self,
        index_key: &str,
        entry: IndexEntry,
        cap: usize,
    ) -> StoreFuture<'_, Vec<String>> {
        let index_key = index_key.to_owned();
        Box::pin(async move {
            let entry = entry.checked()?;
            let (expires, created, seen, cap) = (
                entry.expires.to_string(),
                entry.created.to_string(),
                entry.last_seen.to_string(),
                cap.to_string(),
            );
            let args: [&[u8]; 7] = [
                b"put",
                entry.member.as_bytes(),
                expires.as_bytes(),
                created.as_bytes(),
                seen.as_bytes(),
                entry.agent.as_deref().unwrap_or("").as_bytes(),
                cap.as_bytes(),
            ];
            let unexpected = Error::UnexpectedReply {
                to: "an index put",
                expected: "an array of the members revoked",
            };
            match self.index(&index_key, &args).await? {
                Value::Array(revoked) => revoked
                    .into_iter()
                    .map(|member| match member {
                        Value::BulkString(bytes) => {
                            String::from_utf8(bytes).map_err(|_| unexpected.clone())
                        }
                        _ => Err(unexpected.clone()),
                    })
                    .collect(),
                _ => Err(unexpected),
            }
        })
    }

    fn index_list<'a>(&'a self, index_key: &'a str, now: u64) -> StoreFuture<'a, Vec<IndexEntry>> {
        Box::pin(async move {
            let now = now.min(MAX_INDEX_TIME).to_string();
            let limit = MAX_LISTED.to_string();
            let args: [&[u8]; 3] = [b"list", now.as_bytes(), limit.as_bytes()];
            index_entries(self.index(index_key, &args).await?)
        })
    }

    fn index_remove<'a>(
        &'a self,
        index_key: &'a str,
        members: &'a [String],
        until: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if until > MAX_INDEX_TIME {
                return Err(Error::BadIndexEntry(
                    "`until` is above 2^53 - 1 unix seconds",
                ));
            }
            if members.is_empty() {
                return Ok(());
            }
            let until = until.to_string();
            let mut args: Vec<&[u8]> = vec![b"remove", until.as_bytes()];
            args.extend(members.iter().map(|m| m.as_bytes()));
            match self.index(index_key, &args).await? {
                Value::Int(1) => Ok(()),
                _ => Err(Error::UnexpectedReply {
                    to: "an index remove",
                    expected: "1",
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::replies::index_entry;
    use super::*;
    use crate::store::layout::CREATED_FIELD;
    use crate::store::{Change, Meta, Record};
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Cases per property: 64 in CI, `PROPTEST_CASES` for long runs.
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(64)
    }

    /// Any reply Redis (or something posing as Redis) could send.
    fn reply() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            Just(Value::Okay),
            any::<i64>().prop_map(Value::Int),
            (-2i64..4).prop_map(Value::Int),
            vec(any::<u8>(), 0..24).prop_map(Value::BulkString),
            entry_text().prop_map(Value::BulkString),
            Just(Value::BulkString(CREATED_FIELD.to_vec())),
            any::<String>().prop_map(Value::SimpleString),
            any::<f64>().prop_map(Value::Double),
            any::<bool>().prop_map(Value::Boolean),
        ];
        leaf.prop_recursive(3, 48, 8, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..10).prop_map(Value::Array),
                vec((inner.clone(), inner.clone()), 0..5).prop_map(Value::Map),
                vec(inner, 0..4).prop_map(Value::Set),
            ]
        })
    }

    /// Bytes that look like index entries, some of them well formed.
    fn entry_text() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                4 => b'0'..=b'9',
                2 => Just(b' '),
                1 => Just(b'-'),
                1 => any::<u8>(),
            ],
            0..40,
        )
    }

    fn any_write() -> impl Strategy<Value = RawWrite> {
        prop_oneof![
            Just(Write::delete("k")),
            Just(Write::create("k", Record::default(), 1)),
            Just(Write::update("k", Change::default(), 1)),
        ]
        .prop_map(RawWrite::from)
    }

    /// The entry text `index.lua` writes.
    fn lua_text(entry: &IndexEntry) -> String {
        let mut text = format!("{} {} {}", entry.expires, entry.created, entry.last_seen);
        if let Some(agent) = &entry.agent {
            text.push(' ');
            text.push_str(agent);
        }
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_load_reply_gives_fields_or_a_typed_error(reply in reply()) {
            match session_fields(reply) {
                Ok(_) => {}
                Err(e) => prop_assert!(matches!(e, Error::UnexpectedReply { .. }), "{}", e),
            }
        }

        #[test]
        fn any_index_reply_gives_entries_or_a_typed_error(reply in reply()) {
            if let Err(e) = index_entries(reply) {
                prop_assert!(matches!(e, Error::UnexpectedReply { .. }), "{}", e);
            }
        }

        #[test]
        fn any_reply_to_a_write_is_typed(write in any_write(), reply in reply()) {
            let is_int = matches!(reply, Value::Int(_));
            match written(&write, reply) {
                Ok(_) => prop_assert!(is_int),
                Err(e) => prop_assert!(matches!(e, Error::UnexpectedReply { .. }), "{}", e),
            }
        }

        #[test]
        fn index_entries_read_back_what_the_script_writes(
            member in "[A-Za-z0-9_:-]{1,50}",
            expires in 0..=MAX_INDEX_TIME,
            created in 0..=MAX_INDEX_TIME,
            last_seen in 0..=MAX_INDEX_TIME,
            agent in proptest::option::of("\\PC{1,40}"),
        ) {
            let entry = IndexEntry { member, expires, created, last_seen, agent }
                .checked()
                .unwrap();
            let text = lua_text(&entry);
            let read = index_entry(entry.member.clone().into_bytes(), text.as_bytes()).unwrap();
            prop_assert_eq!(read, entry);
        }
    }

    #[test]
    fn odd_replies_are_named_without_quoting_them() {
        let secret = Value::Array(vec![Value::BulkString(b"session-data".to_vec())]);
        let e = session_fields(secret).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the session store sent an unexpected reply to a session load: expected field/value pairs of strings"
        );
        assert!(!format!("{e:?}").contains("session-data"));
        assert!(matches!(
            index_entry(b"m".to_vec(), b"12 x 3"),
            Err(Error::UnexpectedReply { .. })
        ));
        assert!(matches!(
            index_entry(b"m".to_vec(), b"99999999999999999999999 1 1"),
            Err(Error::UnexpectedReply { .. })
        ));
    }

    #[test]
    fn replies_of_both_protocol_versions_load() {
        let resp2 = Value::Array(vec![
            Value::BulkString(CREATED_FIELD.to_vec()),
            Value::BulkString(b"1".to_vec()),
        ]);
        let resp3 = Value::Map(vec![(
            Value::BulkString(CREATED_FIELD.to_vec()),
            Value::BulkString(b"1".to_vec()),
        )]);
        let expected = Some(Ok(Record::new(Meta::new(1, 0), vec![])));
        assert_eq!(session_fields(resp2).unwrap(), expected);
        assert_eq!(session_fields(resp3).unwrap(), expected);
        assert_eq!(session_fields(Value::Array(vec![])).unwrap(), None);
        // A creation field that does not read: a corrupt session, not none.
        let corrupt = Value::Array(vec![
            Value::BulkString(CREATED_FIELD.to_vec()),
            Value::BulkString(b"yesterday".to_vec()),
        ]);
        assert_eq!(
            session_fields(corrupt).unwrap(),
            Some(Err(crate::store::Corrupt(
                "the creation time is not a number"
            )))
        );
        // A hash without one (a moved session's marker) is none.
        let marker = Value::Array(vec![
            Value::BulkString(b"\0m".to_vec()),
            Value::BulkString(b"1".to_vec()),
        ]);
        assert_eq!(session_fields(marker).unwrap(), None);
    }

    #[test]
    fn writes_to_one_key_stay_together_and_in_order() {
        let writes = [
            Write::delete("a"),
            Write::delete("b"),
            Write::update("a", Change::default(), 1),
            Write::delete("c"),
            Write::delete("b"),
        ]
        .map(RawWrite::from);
        assert_eq!(
            group_by_key(&writes, &[0, 1, 2, 3, 4]),
            [vec![0, 2], vec![1, 4], vec![3]]
        );
        assert_eq!(group_by_key(&writes, &[2, 4]), [vec![2], vec![4]]);
        assert_eq!(waves(&writes), [vec![0, 1, 3], vec![2, 4]]);
        assert_eq!(waves(&writes[..2]), [vec![0, 1]]);
        assert!(waves(&[]).is_empty());
    }
}
