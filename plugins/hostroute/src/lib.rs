//! A redis-sessions plugin: the client callable `hostroute.by_host` picks the
//! Redis server for each request from its host (the manual's "choose from
//! multiple Redis instances").
//!
//! ```ini
//! redis.sessions.client_callable = hostroute.by_host
//! redis.sessions.hostroute.map =
//!     shop.example.com   redis://10.0.0.1:6379/0
//!     admin.example.com  redis://10.0.0.2:6379/0
//! # optional: for hosts not in the map (otherwise they get an error)
//! redis.sessions.hostroute.default = redis://10.0.0.3:6379/0
//! ```
//!
//! The host keeps one shared connection per URL. The plugin can be loaded by
//! naming `hostroute.by_host`, or included explicitly (`pyramid.includes =
//! hostroute`), which checks its settings at start-up: each is validated
//! with its file and line, and a set-up that routes no host is refused.

use std::collections::HashMap;

use redis_sessions_plugin::{PluginClientCallable, PluginRequest, PluginSettings, Registrar};

/// The setting holding `host url` lines.
pub const MAP_SETTING: &str = "redis.sessions.hostroute.map";
/// The setting holding the URL for other hosts.
pub const DEFAULT_SETTING: &str = "redis.sessions.hostroute.default";

/// Host → Redis URL.
pub struct ByHost {
    routes: HashMap<String, String>,
    default: Option<String>,
}

/// Checks the URL for other hosts.
pub fn check_default(url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.is_empty() || url.contains("://") {
        Ok(())
    } else {
        Err("expected a Redis URL, e.g. redis://127.0.0.1:6379/0".into())
    }
}

/// Parses `host url` lines.
pub fn parse_map(text: &str) -> Result<HashMap<String, String>, String> {
    let mut routes = HashMap::new();
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(host), Some(url), None) => {
                if routes
                    .insert(host.to_ascii_lowercase(), url.to_owned())
                    .is_some()
                {
                    return Err(format!("entry {}: host {host} is mapped twice", i + 1));
                }
            }
            _ => {
                return Err(format!(
                    "entry {}: expected `host url`, e.g. shop.example.com redis://127.0.0.1:6379/0",
                    i + 1
                ));
            }
        }
    }
    Ok(routes)
}

impl PluginClientCallable for ByHost {
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String> {
        let map = settings
            .get(MAP_SETTING)
            .ok_or_else(|| format!("{MAP_SETTING} is not set: expected `host url` lines"))?;
        let routes = parse_map(&map).map_err(|e| format!("{MAP_SETTING}: {e}"))?;
        let default = settings
            .get(DEFAULT_SETTING)
            .filter(|d| !d.trim().is_empty());
        if routes.is_empty() && default.is_none() {
            return Err(format!(
                "{MAP_SETTING} maps no host and {DEFAULT_SETTING} is not set"
            ));
        }
        Ok(Self { routes, default })
    }

    fn select(&self, request: &PluginRequest<'_>) -> Result<String, String> {
        let host = request.host().to_ascii_lowercase();
        self.routes
            .get(&host)
            .or(self.default.as_ref())
            .cloned()
            .ok_or_else(|| format!("no Redis server for host {host:?}: add it to {MAP_SETTING} or set {DEFAULT_SETTING}"))
    }
}

/// Declares the settings (each checked on its own by the host's
/// configuration check, with file and line), registers `hostroute.by_host`,
/// and checks what no single setting can: that some host is routed.
fn includeme(registrar: &mut Registrar<'_>) -> Result<(), String> {
    registrar.declare_validated_setting(MAP_SETTING, false, |v| parse_map(v).map(drop))?;
    registrar.declare_validated_setting(DEFAULT_SETTING, false, check_default)?;
    registrar.client_callable::<ByHost>("hostroute.by_host")?;
    let set = |name| {
        registrar
            .setting(name)
            .is_some_and(|v| !v.trim().is_empty())
    };
    if !set(MAP_SETTING) && !set(DEFAULT_SETTING) {
        return Err(format!(
            "hostroute routes no host: set {MAP_SETTING} (`host url` lines) or {DEFAULT_SETTING}"
        ));
    }
    Ok(())
}

redis_sessions_plugin::export_plugin!(includeme);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_parse_and_reject_bad_lines() {
        let routes = parse_map("\n a.test redis://a/0\nB.test  redis://b/1\n").unwrap();
        assert_eq!(routes["a.test"], "redis://a/0");
        assert_eq!(routes["b.test"], "redis://b/1");
        assert!(parse_map("a.test").unwrap_err().contains("entry 1"));
        assert!(
            parse_map("a.test x\na.test y")
                .unwrap_err()
                .contains("mapped twice")
        );
    }
}
