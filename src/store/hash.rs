//! A session as one hash: the translation between the
//! [`SessionStore`](super::SessionStore) trait's terms ([`Record`],
//! [`Change`], [`Write`]) and the storage layout's fields (see
//! `store::layout`), for the Redis and the embedded store. Custom stores
//! never see these fields.

use super::api::Write;
use super::layout::{
    AGENT_FIELD, BOUND_FIELD, CREATED_FIELD, Field, FieldName, REFRESHED_FIELD, TIMEOUT_FIELD,
    USER_FIELD, classify, created_value, read_created, read_number, user_field,
};
use super::record::{Change, Corrupt, Entry, Loaded, Meta, Record};

/// What a session's hash lacking its creation time is, where one is
/// expected.
const NO_CREATION_TIME: Corrupt = Corrupt("the creation time is missing");

/// Reads a session's hash, one field at a time, into a [`Record`]: its
/// metadata read, its user keys unescaped (in their own buffers).
pub(crate) struct Decoder {
    meta: Meta,
    /// The creation time, once read.
    created: Option<u64>,
    /// Whether the hash has a creation field at all (read or not): without
    /// one, it is no session of ours.
    has_created: bool,
    entries: Vec<Entry>,
    /// The first metadata field that did not read.
    problem: Option<&'static str>,
}

impl Decoder {
    /// A decoder for a hash of about `fields` fields.
    pub(crate) fn with_capacity(fields: usize) -> Self {
        Self {
            meta: Meta::default(),
            created: None,
            has_created: false,
            entries: Vec::with_capacity(fields),
            problem: None,
        }
    }

    /// Reads one field.
    pub(crate) fn push(&mut self, mut name: Vec<u8>, value: Vec<u8>) {
        match classify(&name) {
            FieldName::User(raw) => {
                if raw.len() < name.len() {
                    name.remove(0);
                }
                self.entries.push((name, value));
            }
            FieldName::Meta(field) => {
                self.has_created |= field == CREATED_FIELD;
                if let Err(problem) = read_meta(&mut self.meta, &mut self.created, field, value)
                    && self.problem.is_none()
                {
                    self.problem = Some(problem);
                }
            }
        }
    }

    /// The session: `None` if the hash has no creation time (no session of
    /// ours: absent, or a moved session's marker), `Some(Err)` naming what
    /// is wrong (never a value) if a metadata field does not read.
    pub(crate) fn finish(self) -> Loaded {
        if !self.has_created {
            return None;
        }
        Some(match (self.problem, self.created) {
            (Some(problem), _) => Err(Corrupt(problem)),
            (None, Some(created)) => {
                let mut meta = self.meta;
                meta.created = created;
                Ok(Record {
                    meta,
                    entries: self.entries,
                })
            }
            (None, None) => Err(NO_CREATION_TIME),
        })
    }
}

/// A session's whole hash as a [`Record`] (see [`Decoder`]); a hash
/// without a creation time is corrupt here.
#[cfg_attr(not(feature = "memory-store"), allow(dead_code))] // the embedded store's
pub(crate) fn decode(fields: Vec<Field>) -> Result<Record, Corrupt> {
    let mut decoder = Decoder::with_capacity(fields.len());
    for (name, value) in fields {
        decoder.push(name, value);
    }
    decoder.finish().unwrap_or(Err(NO_CREATION_TIME))
}

fn read_meta(
    meta: &mut Meta,
    created: &mut Option<u64>,
    field: &[u8],
    value: Vec<u8>,
) -> Result<(), &'static str> {
    let text =
        |value: Vec<u8>| String::from_utf8(value).map_err(|_| "a metadata field is not UTF-8");
    match field {
        CREATED_FIELD => {
            let (at, refreshed) =
                read_created(&value).ok_or("the creation time is not a number")?;
            *created = Some(at);
            meta.refreshed = meta.refreshed.max(refreshed.unwrap_or(0));
        }
        TIMEOUT_FIELD => {
            meta.timeout = Some(read_number(&value).ok_or("the session timeout is not a number")?);
        }
        REFRESHED_FIELD => {
            // Written by the first layout and by earlier versions: the
            // later time counts.
            let refreshed = read_number(&value).ok_or("the refresh time is not a number")?;
            meta.refreshed = meta.refreshed.max(refreshed);
        }
        USER_FIELD => meta.user = Some(text(value)?),
        AGENT_FIELD => meta.agent = Some(text(value)?),
        BOUND_FIELD => {
            meta.bound =
                read_number(&value).ok_or("the time the user was bound is not a number")?;
        }
        // Other metadata fields are left to newer versions.
        _ => {}
    }
    Ok(())
}

/// The hash of a [`Record`]: its entries (keys escaped), then its
/// metadata.
pub(crate) fn encode(record: Record) -> Vec<Field> {
    let Record { meta, entries } = record;
    let mut fields: Vec<Field> = Vec::with_capacity(entries.len() + 5);
    fields.extend(
        entries
            .into_iter()
            .map(|(key, value)| (user_field(key), value)),
    );
    fields.push((
        CREATED_FIELD.to_vec(),
        created_value(meta.created, meta.refreshed),
    ));
    if let Some(timeout) = meta.timeout {
        fields.push(number_field(TIMEOUT_FIELD, timeout));
    }
    let bound = (meta.user.is_some() && meta.bound > 0).then_some(meta.bound);
    fields.extend(user_fields(meta.user, meta.agent, bound));
    fields
}

/// The fields of a binding: those of the user, the agent and the time it
/// was bound that are given.
fn user_fields(
    user: Option<String>,
    agent: Option<String>,
    bound: Option<u64>,
) -> impl Iterator<Item = Field> {
    let user = user.map(|user| (USER_FIELD.to_vec(), user.into_bytes()));
    let agent = agent.map(|agent| (AGENT_FIELD.to_vec(), agent.into_bytes()));
    let bound = bound.map(|bound| number_field(BOUND_FIELD, bound));
    user.into_iter().chain(agent).chain(bound)
}

fn number_field(name: &[u8], value: u64) -> Field {
    (name.to_vec(), value.to_string().into_bytes())
}

/// The fields a [`Change`] sets and deletes.
fn change_fields(change: Change) -> (Vec<Field>, Vec<Vec<u8>>) {
    let Change {
        set: entries,
        delete,
        times,
        timeout,
        user,
        agent,
        bound,
    } = change;
    let mut set: Vec<Field> = Vec::with_capacity(entries.len() + 4);
    set.extend(
        entries
            .into_iter()
            .map(|(key, value)| (user_field(key), value)),
    );
    if let Some(timeout) = timeout {
        set.push(number_field(TIMEOUT_FIELD, timeout));
    }
    set.extend(user_fields(user, agent, bound));
    if let Some((created, refreshed)) = times {
        set.push((CREATED_FIELD.to_vec(), created_value(created, refreshed)));
    }
    let delete = delete.into_iter().map(user_field).collect();
    (set, delete)
}

/// A [`Write`] in this layout's fields: what the Redis and the embedded
/// store apply.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum RawWrite {
    /// See [`Write::Create`].
    Create {
        key: String,
        fields: Vec<Field>,
        timeout: u64,
    },
    /// See [`Write::Update`]. `check_empty`: the update may leave no user
    /// field (it deletes some and sets none), so the store checks.
    Update {
        key: String,
        set: Vec<Field>,
        delete: Vec<Vec<u8>>,
        timeout: u64,
        max_bytes: u64,
        check_empty: bool,
    },
    /// See [`Write::Move`].
    Move {
        from: String,
        key: String,
        fields: Vec<Field>,
        timeout: u64,
    },
    /// See [`Write::Delete`].
    Delete { key: String },
    /// See [`Write::Retire`].
    Retire { key: String },
}

impl From<Write> for RawWrite {
    fn from(write: Write) -> Self {
        match write {
            Write::Create { key, session, ttl } => Self::Create {
                key,
                fields: encode(session),
                timeout: ttl,
            },
            Write::Update {
                key,
                change,
                ttl,
                max_bytes,
            } => {
                let check_empty = change.may_empty();
                let (set, delete) = change_fields(change);
                Self::Update {
                    key,
                    set,
                    delete,
                    timeout: ttl,
                    max_bytes,
                    check_empty,
                }
            }
            Write::Move {
                from,
                key,
                session,
                ttl,
            } => Self::Move {
                from,
                key,
                fields: encode(session),
                timeout: ttl,
            },
            Write::Delete { key } => Self::Delete { key },
            Write::Retire { key } => Self::Retire { key },
        }
    }
}

impl RawWrite {
    /// The session key this write touches (see [`Write::key`]).
    pub(crate) fn key(&self) -> &str {
        match self {
            Self::Create { key, .. }
            | Self::Move { key, .. }
            | Self::Update { key, .. }
            | Self::Delete { key }
            | Self::Retire { key } => key,
        }
    }
}

impl std::fmt::Debug for RawWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys and values are secrets of a kind: show only their shape.
        match self {
            Self::Create { fields, .. } => write!(f, "Create({} fields)", fields.len()),
            Self::Update { set, delete, .. } => {
                write!(f, "Update({} set, {} deleted)", set.len(), delete.len())
            }
            Self::Move { fields, .. } => write!(f, "Move({} fields)", fields.len()),
            Self::Delete { .. } => f.write_str("Delete"),
            Self::Retire { .. } => f.write_str("Retire"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut fields: Vec<Field>) -> Vec<Field> {
        fields.sort();
        fields
    }

    #[test]
    fn records_read_back_as_they_were_written() {
        let meta = Meta::new(17, 42)
            .with_timeout(60)
            .with_user("alice", Some("agent"), 20);
        let entries = vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"\0c".to_vec(), b"looks like metadata".to_vec()),
            (b"\0".to_vec(), b"".to_vec()),
        ];
        let record = Record::new(meta, entries);
        let fields = encode(record.clone());
        assert!(fields.contains(&(b"\0\0c".to_vec(), b"looks like metadata".to_vec())));
        assert!(fields.contains(&(CREATED_FIELD.to_vec(), b"17 42".to_vec())));
        let mut back = decode(fields).unwrap();
        back.entries.sort();
        let mut expected = record;
        expected.entries.sort();
        assert_eq!(back, expected);
    }

    #[test]
    fn a_change_sets_only_what_it_names() {
        let change = Change::entries(
            vec![(b"\0x".to_vec(), b"1".to_vec())],
            vec![b"\0y".to_vec()],
        );
        let (set, delete) = change_fields(change.clone());
        assert_eq!(set, [(b"\0\0x".to_vec(), b"1".to_vec())]);
        assert_eq!(delete, [b"\0\0y".to_vec()]);
        let (set, _) = change_fields(change.with_refresh(5, 9).with_timeout(0));
        assert_eq!(
            sorted(set),
            [
                (b"\0\0x".to_vec(), b"1".to_vec()),
                (CREATED_FIELD.to_vec(), b"5 9".to_vec()),
                (TIMEOUT_FIELD.to_vec(), b"0".to_vec()),
            ]
        );
    }

    #[test]
    fn metadata_that_does_not_read_makes_the_session_corrupt() {
        let created = (CREATED_FIELD.to_vec(), b"1 2".to_vec());
        for (bad, what) in [
            (
                (CREATED_FIELD.to_vec(), b"yesterday".to_vec()),
                "the creation time is not a number",
            ),
            (
                (TIMEOUT_FIELD.to_vec(), b"-1".to_vec()),
                "the session timeout is not a number",
            ),
            (
                (REFRESHED_FIELD.to_vec(), b"x".to_vec()),
                "the refresh time is not a number",
            ),
            (
                (USER_FIELD.to_vec(), b"\xff".to_vec()),
                "a metadata field is not UTF-8",
            ),
            (
                (BOUND_FIELD.to_vec(), b"".to_vec()),
                "the time the user was bound is not a number",
            ),
        ] {
            let fields = if bad.0 == CREATED_FIELD {
                vec![bad]
            } else {
                vec![created.clone(), bad]
            };
            assert_eq!(decode(fields), Err(Corrupt(what)));
        }
        assert_eq!(
            decode(vec![(b"a".to_vec(), b"1".to_vec())]),
            Err(Corrupt("the creation time is missing"))
        );
        // A metadata field of a newer version is left alone.
        let newer = vec![created, (b"\0n".to_vec(), b"?".to_vec())];
        assert_eq!(decode(newer).unwrap().meta, Meta::new(1, 2));
    }
}
