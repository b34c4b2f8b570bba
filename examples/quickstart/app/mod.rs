//! The demo's routes: sign in with a name, a visit counter, flash messages
//! after POST-redirect-GET, CSRF-checked forms, and “Your sessions” with
//! “sign out this one” and “sign out all others”.
//!
//! Every POST checks the session's CSRF token first and answers a bad one
//! with a 403 page; every successful POST redirects, and its outcome is a
//! flash message shown once by the page it redirects to.

mod page;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use redis_sessions::{RedisSessionFactory, Session, session};
use serde::Deserialize;

use page::{Frame, Notice};

/// The longest name one can sign in with, in characters.
const NAME_MAX: usize = 40;
/// The longest message kept, in characters.
const MESSAGE_MAX: usize = 200;

#[derive(Clone)]
struct Demo {
    /// Where sessions are kept, for the footer (no secrets in it).
    store: Arc<str>,
}

/// The demo app on `factory`'s sessions.
pub fn router(factory: &RedisSessionFactory) -> Router {
    let demo = Demo {
        store: factory.store_description().into(),
    };
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/message", post(message))
        .route("/sessions", get(sessions))
        .route("/sessions/revoke", post(revoke))
        .route("/sessions/revoke-others", post(revoke_others))
        .route("/logout", post(logout))
        .with_state(demo)
        .layer(factory.layer())
}

type Page = Result<Response, session::Error>;

/// The current user, the notices to show and the CSRF token, read together
/// for one page.
struct Seen {
    user: Option<String>,
    notices: Vec<Notice>,
    csrf_token: String,
}

impl Seen {
    async fn read(session: &Session) -> Result<Self, session::Error> {
        Ok(Self {
            user: session.user().await?,
            notices: session.pop_flash("").await?,
            csrf_token: session.get_csrf_token().await?,
        })
    }

    fn frame<'a>(&'a self, demo: &'a Demo) -> Frame<'a> {
        Frame {
            user: self.user.as_deref(),
            csrf_token: &self.csrf_token,
            notices: &self.notices,
            store: &demo.store,
        }
    }
}

async fn home(State(demo): State<Demo>, session: Session) -> Page {
    let seen = Seen::read(&session).await?;
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(Html(page::home(&seen.frame(&demo), visits)).into_response())
}

async fn sessions(State(demo): State<Demo>, session: Session) -> Page {
    let seen = Seen::read(&session).await?;
    let Some(user) = seen.user.as_deref() else {
        notify(&session, Notice::problem("Sign in to see your sessions.")).await?;
        return Ok(Redirect::to("/").into_response());
    };
    let mut devices = session.user_sessions().await?;
    // This device first, then the most recently seen.
    devices.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.last_seen.cmp(&a.last_seen))
    });
    Ok(Html(page::sessions(&seen.frame(&demo), user, &devices)).into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

async fn login(
    State(demo): State<Demo>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Page {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return refused(&demo, &session).await;
    }
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        let text = format!("Pick a name of 1 to {NAME_MAX} characters.");
        notify(&session, Notice::problem(text)).await?;
        return Ok(Redirect::to("/").into_response());
    }
    if let Some(agent) = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        session.set_agent(agent).await?;
    }
    // Binding regenerates the session id (no fixation) and keeps the data.
    session.set_user(name).await?;
    // A token seen before signing in is of no use after it.
    session.new_csrf_token().await?;
    notify(&session, Notice::done(format!("Welcome, {name}."))).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
struct MessageForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    message: String,
}

async fn message(
    State(demo): State<Demo>,
    session: Session,
    Form(form): Form<MessageForm>,
) -> Page {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return refused(&demo, &session).await;
    }
    let text = form.message.trim();
    let notice = if text.is_empty() {
        Notice::problem("An empty message was not flashed.")
    } else {
        Notice::done(truncate(text, MESSAGE_MAX))
    };
    notify(&session, notice).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    tag: String,
}

async fn revoke(State(demo): State<Demo>, session: Session, Form(form): Form<RevokeForm>) -> Page {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return refused(&demo, &session).await;
    }
    let notice = if session.revoke(&form.tag).await? {
        Notice::done("That device is signed out.")
    } else {
        Notice::problem("That session had already ended.")
    };
    notify(&session, notice).await?;
    Ok(Redirect::to("/sessions").into_response())
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
}

async fn revoke_others(
    State(demo): State<Demo>,
    session: Session,
    Form(form): Form<TokenForm>,
) -> Page {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return refused(&demo, &session).await;
    }
    let notice = match session.revoke_others().await? {
        0 => Notice::problem("There were no other sessions."),
        1 => Notice::done("Signed out 1 other device."),
        n => Notice::done(format!("Signed out {n} other devices.")),
    };
    notify(&session, notice).await?;
    Ok(Redirect::to("/sessions").into_response())
}

async fn logout(State(demo): State<Demo>, session: Session, Form(form): Form<TokenForm>) -> Page {
    if !session.check_csrf_token(&form.csrf_token).await? {
        return refused(&demo, &session).await;
    }
    // Ends the session and drops it from the user's list.
    session.invalidate();
    // Written to a new, empty session: the old one is gone.
    notify(&session, Notice::done("You are signed out.")).await?;
    Ok(Redirect::to("/").into_response())
}

async fn notify(session: &Session, notice: Notice) -> Result<(), session::Error> {
    session.flash(notice, "", false).await
}

/// The 403 page for a request whose CSRF token does not match.
async fn refused(demo: &Demo, session: &Session) -> Page {
    let seen = Seen::read(session).await?;
    let html = page::refused(&seen.frame(demo));
    Ok((StatusCode::FORBIDDEN, Html(html)).into_response())
}

/// At most `max` characters of `text`.
fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
