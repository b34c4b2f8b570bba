//! Reading a stored session: its entries become the request's, and a key
//! name that is not UTF-8 (with `errors = strict`) or a value that does not
//! open makes the whole session corrupt (as metadata that does not read,
//! found by the store, does). Values are decoded later, when a handler reads them
//! (`Session::value`).

use std::collections::BTreeMap;

use super::context::{Context, KeyErrors};
use super::state::Loaded;
use crate::codec::FieldContext;
use crate::store::{self, Corrupt, Record};

/// Reads a stored session's entries: each key as UTF-8 (as `errors` says),
/// each value opened by the codec (a sealed value is bound to its place).
/// `Err` names what is corrupt (never a value).
pub(super) fn parse(context: &Context, store_key: &str, record: Record) -> Result<Loaded, Corrupt> {
    let Record {
        meta,
        entries: stored,
    } = record;
    // Whatever the store: a timeout no write would accept is no session's.
    if meta
        .timeout
        .is_some_and(|timeout| timeout > store::MAX_TIMEOUT)
    {
        return Err(Corrupt("the session timeout is beyond the maximum"));
    }
    let mut entries = BTreeMap::new();
    for (name, value) in stored {
        // The store's buffer becomes the key: one UTF-8 pass.
        let (key, raw) = match (String::from_utf8(name), context.key_errors) {
            (Ok(key), _) => (key, None),
            (Err(e), KeyErrors::Replace) => (
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                Some(e.into_bytes()),
            ),
            (Err(_), KeyErrors::Ignore) => continue,
            (Err(_), KeyErrors::Strict) => return Err(Corrupt("a key name is not UTF-8")),
        };
        // Opened now (a sealed value is bound to its stored name), decoded
        // and checked when a handler first reads it.
        let name = store::stored_name(raw.as_deref().unwrap_or(key.as_bytes()));
        let ctx = FieldContext {
            key: store_key,
            field: &name,
        };
        let value = context
            .deserialize
            .open(&ctx, value)
            .map_err(|_| Corrupt("a value cannot be opened by the configured codec"))?;
        entries.insert(key, value);
    }
    Ok(Loaded {
        entries: std::sync::Arc::new(entries),
        meta,
    })
}
