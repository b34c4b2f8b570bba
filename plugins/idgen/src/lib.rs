//! A redis-sessions plugin: the id generator `idgen.sortable` makes ids that
//! sort by creation time (handy when reading logs) and still carry at least
//! 128 random bits: 12 hex digits of milliseconds since the epoch, then
//! `redis.sessions.idgen.random_bytes` random bytes in hex (default 20,
//! allowed 16 to 64).

use std::time::{SystemTime, UNIX_EPOCH};

use redis_sessions_plugin::{PluginIdGenerator, PluginSettings, Registrar};

/// The setting holding the number of random bytes.
pub const RANDOM_BYTES_SETTING: &str = "redis.sessions.idgen.random_bytes";

/// Time-ordered ids.
pub struct Sortable {
    random_bytes: usize,
}

impl Sortable {
    /// Makes an id at `millis` with `random`.
    pub fn format(millis: u64, random: &[u8]) -> String {
        let mut id = format!("{:012x}", millis & 0xffff_ffff_ffff);
        for b in random {
            id.push_str(&format!("{b:02x}"));
        }
        id
    }
}

/// Parses the number of random bytes.
fn parse_random_bytes(text: &str) -> Result<usize, String> {
    text.trim()
        .parse()
        .ok()
        .filter(|n| (16..=64).contains(n))
        .ok_or_else(|| "expected a number from 16 to 64, e.g. 20".to_owned())
}

impl PluginIdGenerator for Sortable {
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String> {
        let random_bytes = match settings.get(RANDOM_BYTES_SETTING) {
            None => 20,
            Some(text) => parse_random_bytes(&text)
                .map_err(|e| format!("{RANDOM_BYTES_SETTING} = {text:?}: {e}"))?,
        };
        Ok(Self { random_bytes })
    }

    fn generate(&self) -> Result<String, String> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis() as u64;
        let mut random = vec![0u8; self.random_bytes];
        getrandom::fill(&mut random).map_err(|e| format!("no random bytes: {e}"))?;
        Ok(Self::format(millis, &random))
    }
}

fn includeme(registrar: &mut Registrar<'_>) -> Result<(), String> {
    registrar.declare_validated_setting(RANDOM_BYTES_SETTING, false, |v| {
        parse_random_bytes(v).map(drop)
    })?;
    registrar.id_generator::<Sortable>("idgen.sortable")
}

redis_sessions_plugin::export_plugin!(includeme);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time() {
        let early = Sortable::format(1_000, &[0xff; 16]);
        let late = Sortable::format(1_001, &[0x00; 16]);
        assert!(early < late);
        assert_eq!(early.len(), 12 + 32);
    }
}
