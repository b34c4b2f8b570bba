//! Our Lua scripts as Redis runs them: each one's source, its cached hash,
//! and the same script without its flags line for Redis 6.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use redis::{RedisError, Script};

/// One of our Lua scripts: its source and its (lazily hashed) cache
/// entries.
///
/// Every script starts with the flags line `#!lua` (Redis 7 and later): it
/// declares a script that writes, so a Redis over `maxmemory` refuses it
/// before its first command runs (`-OOM`), where a script without flags is
/// stopped only at its first write and lets the writes after it through.
/// Redis 6 does not know flags and refuses to compile that line: the first
/// script it refuses so switches this process to the same scripts without
/// it (see `LEGACY`); Redis 6 then checks memory at each script's
/// first write only.
pub(super) struct Lua {
    /// The source, flags line included.
    pub(super) source: &'static str,
    pub(super) script: LazyLock<Script>,
    /// The script without its flags line, for Redis 6.
    pub(super) legacy: LazyLock<Script>,
}

impl Lua {
    /// The source without its flags line.
    fn legacy_source(&self) -> &'static str {
        self.source
            .split_once('\n')
            .map_or(self.source, |(_, body)| body)
    }

    /// The script's hash and source, flagged or (on Redis 6) not.
    pub(super) fn pick(&self) -> (&Script, &'static str) {
        if LEGACY.load(Ordering::Relaxed) {
            (&self.legacy, self.legacy_source())
        } else {
            (&self.script, self.source)
        }
    }
}

/// Declares a [`Lua`] script from a file of `lua/`.
/// Several files make one script, in order (shared checks first); the
/// first starts with the flags line.
macro_rules! lua {
    ($($file:literal),+) => {
        Lua {
            source: concat!($(include_str!($file)),+),
            script: ::std::sync::LazyLock::new(|| {
                ::redis::Script::new(concat!($(include_str!($file)),+))
            }),
            legacy: ::std::sync::LazyLock::new(|| {
                let source = concat!($(include_str!($file)),+);
                ::redis::Script::new(source.split_once('\n').map_or(source, |(_, body)| body))
            }),
        }
    };
}
pub(super) use lua;

/// Set once a server refused the flags line (Redis 6): scripts are sent
/// without it from then on, by the whole process.
pub(super) static LEGACY: AtomicBool = AtomicBool::new(false);

/// True for the error of a server that cannot compile the flags line.
pub(super) fn refuses_flags(e: &RedisError) -> bool {
    let text = e.to_string();
    text.contains("Error compiling script") && text.contains("'#'")
}
