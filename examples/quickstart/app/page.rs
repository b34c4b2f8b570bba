//! The demo's HTML: one layout, one stylesheet inlined in it, and the pages.
//! No external assets, no scripts; readable from a phone up.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use redis_sessions::session::UserSession;
use serde::{Deserialize, Serialize};

/// A flash message with its tone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub text: String,
    pub tone: Tone,
}

/// Whether a notice reports a success or a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tone {
    Done,
    Problem,
}

impl Notice {
    pub fn done(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            tone: Tone::Done,
        }
    }

    pub fn problem(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            tone: Tone::Problem,
        }
    }
}

/// What every page shows around its content.
pub struct Frame<'a> {
    pub user: Option<&'a str>,
    pub csrf_token: &'a str,
    pub notices: &'a [Notice],
    pub store: &'a str,
}

const CSS: &str = r#"
:root { color-scheme: light dark; --bg: #f5f6f8; --card: #fff; --text: #1d232b; --muted: #5d6673;
  --line: #dfe3e8; --accent: #c8281e; --accent-text: #fff; --ok: #1d7a46; --ok-bg: #e6f4ec;
  --bad: #a4261b; --bad-bg: #fbe9e7; }
@media (prefers-color-scheme: dark) { :root { --bg: #12151a; --card: #1b2027; --text: #e7eaee;
  --muted: #9aa4b1; --line: #2c333d; --ok: #7fd3a2; --ok-bg: #173326; --bad: #ff9f95; --bad-bg: #3a1c19; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--accent); }
.bar { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; justify-content: space-between;
  padding: .75rem max(1rem, calc((100% - 42rem) / 2)); background: var(--card); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; text-decoration: none; color: var(--text); }
.brand span { color: var(--accent); }
nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: center; }
nav a { text-decoration: none; font-weight: 500; }
nav .who { color: var(--muted); }
main { max-width: 44rem; margin: 1.25rem auto; padding: 0 1rem; display: grid; gap: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1.1rem 1.25rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
p { margin: .25rem 0 .75rem; }
.muted, .hint { color: var(--muted); }
.hint { font-size: .875rem; margin: .5rem 0 0; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; }
.row input[type=text] { flex: 1 1 12rem; }
input[type=text] { font: inherit; padding: .55rem .75rem; border: 1px solid var(--line); border-radius: .5rem;
  background: var(--bg); color: var(--text); min-width: 0; }
button, .button { font: inherit; font-weight: 600; padding: .55rem 1rem; border-radius: .5rem; border: 0;
  background: var(--accent); color: var(--accent-text); cursor: pointer; text-decoration: none; display: inline-block; }
button.quiet { background: transparent; color: var(--accent); border: 1px solid var(--line); }
button.link { background: none; color: var(--accent); padding: 0; font-weight: 500; }
form.inline { display: inline; margin: 0; }
.notices { list-style: none; margin: 0; padding: 0; display: grid; gap: .5rem; }
.notice { padding: .65rem 1rem; border-radius: .5rem; border: 1px solid; }
.notice.done { color: var(--ok); background: var(--ok-bg); }
.notice.problem { color: var(--bad); background: var(--bad-bg); }
.stat { display: flex; align-items: baseline; gap: .5rem; }
.stat strong { font-size: 2rem; color: var(--accent); }
.devices { list-style: none; margin: .5rem 0 1rem; padding: 0; }
.device { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between;
  padding: .8rem 0; border-top: 1px solid var(--line); }
.device:first-child { border-top: 0; }
.device .what { font-weight: 600; }
.device .meta { color: var(--muted); font-size: .875rem; }
.badge { font-size: .75rem; font-weight: 700; color: var(--ok); background: var(--ok-bg); padding: .1rem .5rem;
  border-radius: 1rem; margin-left: .35rem; vertical-align: middle; }
code { font-size: .85em; }
footer { max-width: 44rem; margin: 0 auto 2rem; padding: 0 1rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 30rem) { nav .who { display: none; } }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
"#;

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf_token" value="{}">"#,
        escape(token)
    )
}

/// The whole document: header with navigation, notices, `content`, footer.
/// `page` names the page in `main[data-page]` (the browser test keys on it).
fn layout(frame: &Frame<'_>, title: &str, page: &str, content: &str) -> String {
    let nav = match frame.user {
        Some(user) => format!(
            r#"<span class="who">Signed in as <strong>{user}</strong></span>
<a href="/">Home</a><a href="/sessions">Your sessions</a>
<form class="inline" method="post" action="/logout">{csrf}<button type="submit" class="link">Sign out</button></form>"#,
            user = escape(user),
            csrf = csrf_field(frame.csrf_token),
        ),
        None => r#"<span class="who">Not signed in</span>"#.to_owned(),
    };
    let mut notices = String::new();
    if !frame.notices.is_empty() {
        notices.push_str(r#"<ul class="notices" role="status">"#);
        for notice in frame.notices {
            let tone = match notice.tone {
                Tone::Done => "done",
                Tone::Problem => "problem",
            };
            let _ = write!(
                notices,
                r#"<li class="notice {tone}">{}</li>"#,
                escape(&notice.text)
            );
        }
        notices.push_str("</ul>");
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · redis-sessions demo</title>
<style>{CSS}</style>
</head>
<body>
<header class="bar"><a class="brand" href="/">redis-sessions <span>demo</span></a><nav>{nav}</nav></header>
<main data-page="{page}" data-user="{user}">
{notices}
{content}
</main>
<footer>Sessions are kept in {store}. Signed, HttpOnly cookie; the server holds the data.</footer>
</body>
</html>
"#,
        title = escape(title),
        user = escape(frame.user.unwrap_or("")),
        store = escape(frame.store),
    )
}

fn visits_card(visits: u64) -> String {
    format!(
        r#"<section class="card"><h2>This session</h2>
<p class="stat"><strong id="visits">{visits}</strong> visit{s} to this page</p>
<p class="hint">Counted in the session. It survives signing in: the session gets a new id, the data stays.</p></section>"#,
        s = if visits == 1 { "" } else { "s" },
    )
}

/// The start page: the sign-in form, or a greeting and the message form.
pub fn home(frame: &Frame<'_>, visits: u64) -> String {
    let csrf = csrf_field(frame.csrf_token);
    let content = match frame.user {
        None => format!(
            r#"<section class="card"><h1>Sign in</h1>
<p>Pick any name; there are no passwords in this demo. Sign in with the same name from a second browser to see both on “Your sessions”.</p>
<form id="sign-in" class="row" method="post" action="/login">{csrf}
<label class="sr" for="name">Your name</label>
<input type="text" id="name" name="name" required maxlength="40" placeholder="Your name" autocomplete="username" autofocus>
<button type="submit">Sign in</button></form></section>
{visits}"#,
            visits = visits_card(visits),
        ),
        Some(user) => format!(
            r#"<section class="card"><h1>Hello, {user}</h1>
<p>This browser is one of your devices. See them all, and sign any of them out, on <a href="/sessions">Your sessions</a>.</p></section>
{visits}
<section class="card"><h2>Leave a message</h2>
<p>It is stored as a flash message, shown once after the redirect, then gone.</p>
<form id="message" class="row" method="post" action="/message">{csrf}
<label class="sr" for="text">Message</label>
<input type="text" id="text" name="message" required maxlength="200" placeholder="Say something">
<button type="submit">Flash it</button></form>
<p class="hint">Every form carries a CSRF token bound to this session; a forged or stale one is refused.</p></section>"#,
            user = escape(user),
            visits = visits_card(visits),
        ),
    };
    layout(frame, "Home", "home", &content)
}

/// “Your sessions”: every device of the signed-in user.
pub fn sessions(frame: &Frame<'_>, user: &str, devices: &[UserSession]) -> String {
    let now = SystemTime::now();
    let csrf = csrf_field(frame.csrf_token);
    let mut items = String::new();
    for device in devices {
        let agent = device.agent.as_deref().unwrap_or("");
        let action = if device.current {
            format!(
                r#"<form method="post" action="/logout">{csrf}<button type="submit" class="quiet">Sign out</button></form>"#
            )
        } else {
            format!(
                r#"<form method="post" action="/sessions/revoke">{csrf}<input type="hidden" name="tag" value="{tag}"><button type="submit" class="quiet">Sign out this one</button></form>"#,
                tag = escape(&device.tag),
            )
        };
        let _ = write!(
            items,
            r#"<li class="device" data-tag="{tag}" data-current="{current}">
<div><span class="what" title="{agent}">{name}</span>{badge}
<div class="meta">Signed in <time datetime="{signed_in_iso}" title="{signed_in_iso}">{signed_in}</time> · last seen <time datetime="{seen_iso}" title="{seen_iso}">{seen}</time> · <code>{tag}</code></div></div>
{action}</li>"#,
            tag = escape(&device.tag),
            current = device.current,
            agent = escape(agent),
            name = escape(&device_name(agent)),
            badge = if device.current {
                r#"<span class="badge">This device</span>"#
            } else {
                ""
            },
            signed_in_iso = iso8601(device.signed_in),
            signed_in = ago(device.signed_in, now),
            seen_iso = iso8601(device.last_seen),
            seen = ago(device.last_seen, now),
        );
    }
    let others = if devices.iter().any(|d| !d.current) {
        format!(
            r#"<form id="revoke-others" method="post" action="/sessions/revoke-others">{csrf}<button type="submit">Sign out all others</button></form>"#
        )
    } else {
        r#"<p class="hint">Only this device is signed in. Sign in as the same name from another browser and reload.</p>"#.to_owned()
    };
    let content = format!(
        r#"<section class="card"><h1>Your sessions</h1>
<p>Everywhere <strong>{user}</strong> is signed in. A device you sign out finds itself signed out on its very next page load.</p>
<ul class="devices" data-count="{count}">{items}</ul>
{others}</section>"#,
        user = escape(user),
        count = devices.len(),
    );
    layout(frame, "Your sessions", "sessions", &content)
}

/// The page a request with a bad CSRF token gets (with a 403).
pub fn refused(frame: &Frame<'_>) -> String {
    let content = r#"<section class="card"><h1>Request refused</h1>
<p>This form's security token does not match your session, so nothing was changed. The form may be
from an earlier session (you signed in or out since), or another site tried to submit it for you.</p>
<p><a class="button" href="/">Back to the start page</a></p></section>"#;
    layout(frame, "Request refused", "refused", content)
}

/// “Chrome on Android” from a user agent string; the raw string goes in a
/// tooltip.
pub fn device_name(agent: &str) -> String {
    if agent.is_empty() {
        return "Unknown device".to_owned();
    }
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| agent.contains(needle))
    .map(|(_, name)| *name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

/// “just now”, “5 min ago”, “3 h ago”, “2 days ago”.
pub fn ago(then: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    match secs {
        0..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => match secs / 86400 {
            1 => "1 day ago".to_owned(),
            days => format!("{days} days ago"),
        },
    }
}

/// `2026-11-29T16:47:00Z`.
pub fn iso8601(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}
