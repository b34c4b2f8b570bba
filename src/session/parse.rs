//! Reading a stored session: its fields become entries and metadata, and
//! metadata that does not read, a key name that is not UTF-8 (with
//! `errors = strict`) or a value that does not open makes the whole session
//! corrupt. Values are decoded later, when a handler reads them
//! (`Session::value`).

use std::collections::BTreeMap;

use super::context::{Context, KeyErrors};
use super::state::{AGENT_FIELD, BOUND_FIELD, Loaded, USER_FIELD};
use crate::codec::FieldContext;
use crate::store::{
    self, CREATED_FIELD, Field, FieldName, REFRESHED_FIELD, TIMEOUT_FIELD, classify,
};

/// A stored session as its fields are read.
struct Parsed {
    pub(super) entries: BTreeMap<String, Vec<u8>>,
    pub(super) created: Option<u64>,
    pub(super) refreshed: u64,
    pub(super) timeout: Option<u64>,
    pub(super) user: Option<String>,
    pub(super) bound: u64,
    pub(super) agent: Option<String>,
}

/// Reads stored fields; `Err` names what is corrupt (never a value).
pub(super) fn parse(
    context: &Context,
    store_key: &str,
    fields: Vec<Field>,
) -> Result<Loaded, &'static str> {
    let mut parsed = Parsed {
        entries: BTreeMap::new(),
        created: None,
        refreshed: 0,
        timeout: None,
        user: None,
        bound: 0,
        agent: None,
    };
    for (name, value) in fields {
        match classify(&name) {
            FieldName::Meta(meta) => parse_meta(&mut parsed, meta, value)?,
            FieldName::User(raw) => {
                let escape = name.len() - raw.len();
                // The stored name, when the key differs from it (escaped, or
                // replaced for not being UTF-8): rare, so kept only then.
                let escaped = (escape > 0).then(|| name.clone());
                // The store's buffer becomes the key: one UTF-8 pass.
                let mut bytes = name;
                bytes.drain(..escape);
                let (user_key, stored_name) = match (String::from_utf8(bytes), context.key_errors) {
                    (Ok(key), _) => (key, escaped),
                    (Err(e), KeyErrors::Replace) => {
                        let key = String::from_utf8_lossy(e.as_bytes()).into_owned();
                        (key, Some(escaped.unwrap_or_else(|| e.into_bytes())))
                    }
                    (Err(_), KeyErrors::Ignore) => continue,
                    (Err(_), KeyErrors::Strict) => return Err("a key name is not UTF-8"),
                };
                // Opened now (a sealed value is bound to its place), decoded
                // and checked when a handler first reads it.
                let ctx = FieldContext {
                    key: store_key,
                    field: stored_name.as_deref().unwrap_or(user_key.as_bytes()),
                };
                let value = context
                    .deserialize
                    .open(&ctx, value)
                    .map_err(|_| "a value cannot be opened by the configured codec")?;
                parsed.entries.insert(user_key, value);
            }
        }
    }
    // Stores never return a session without it: not a session of ours.
    let created = parsed.created.ok_or("the creation time is missing")?;
    Ok(Loaded {
        entries: std::sync::Arc::new(parsed.entries),
        created,
        refreshed: parsed.refreshed,
        timeout: parsed.timeout,
        user: parsed.user,
        bound: parsed.bound,
        agent: parsed.agent,
    })
}

fn parse_meta(parsed: &mut Parsed, meta: &[u8], value: Vec<u8>) -> Result<(), &'static str> {
    let number = || {
        std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    };
    let text = || String::from_utf8(value.clone()).map_err(|_| "a metadata field is not UTF-8");
    if meta == CREATED_FIELD {
        let (created, refreshed) =
            store::read_created(&value).ok_or("the creation time is not a number")?;
        parsed.created = Some(created);
        parsed.refreshed = parsed.refreshed.max(refreshed.unwrap_or(0));
    } else if meta == TIMEOUT_FIELD {
        let timeout = number().ok_or("the session timeout is not a number")?;
        if timeout > store::MAX_TIMEOUT {
            return Err("the session timeout is beyond the maximum");
        }
        parsed.timeout = Some(timeout);
    } else if meta == REFRESHED_FIELD {
        // Written by the first layout and by earlier versions: the later
        // time counts.
        let refreshed = number().ok_or("the refresh time is not a number")?;
        parsed.refreshed = parsed.refreshed.max(refreshed);
    } else if meta == USER_FIELD {
        parsed.user = Some(text()?);
    } else if meta == AGENT_FIELD {
        parsed.agent = Some(text()?);
    } else if meta == BOUND_FIELD {
        parsed.bound = number().ok_or("the time the user was bound is not a number")?;
    }
    // Other metadata fields are left to newer versions.
    Ok(())
}
