//! Interim stand-in for the library's user binding (`Session::set_user`,
//! `user`, `set_agent`, `user_sessions`, `revoke`, `revoke_others`), with the
//! same shape, kept in this process only. It goes away once the library has
//! them: the app then calls the inherent methods.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::hash::RandomState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use redis_sessions::Session;
use redis_sessions::session::Error;

/// One live session of a user, as listed on “Your sessions”.
#[derive(Clone, Debug)]
pub struct UserSession {
    pub tag: String,
    pub created: SystemTime,
    pub last_seen: SystemTime,
    pub agent: Option<String>,
    pub current: bool,
}

struct Device {
    tag: String,
    created: SystemTime,
    last_seen: SystemTime,
    agent: Option<String>,
}

const USER: &str = "_demo_user";
const TAG: &str = "_demo_tag";
const AGENT: &str = "_demo_agent";

static DEVICES: LazyLock<Mutex<HashMap<String, Vec<Device>>>> = LazyLock::new(Default::default);
static NEXT: AtomicU64 = AtomicU64::new(0);

fn devices() -> MutexGuard<'static, HashMap<String, Vec<Device>>> {
    DEVICES.lock().unwrap_or_else(PoisonError::into_inner)
}

fn new_tag() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:012x}", RandomState::new().hash_one(n) >> 16)
}

/// The user API of a session (see the module docs).
pub trait UserApi {
    /// Binds the session to `user`, with a new id; the data stays.
    async fn set_user(&self, user: &str) -> Result<(), Error>;
    /// The bound user; a revoked session ends here and reads as signed out.
    async fn user(&self) -> Result<Option<String>, Error>;
    /// Records the user agent shown in listings.
    async fn set_agent(&self, agent: &str) -> Result<(), Error>;
    /// The live sessions of this session's user.
    async fn user_sessions(&self) -> Result<Vec<UserSession>, Error>;
    /// Ends another session of the same user; false if there is none.
    async fn revoke(&self, tag: &str) -> Result<bool, Error>;
    /// Ends every other session of the same user; how many ended.
    async fn revoke_others(&self) -> Result<usize, Error>;
}

impl UserApi for Session {
    async fn set_user(&self, user: &str) -> Result<(), Error> {
        unbind(self).await?;
        self.regenerate().await?;
        let tag = new_tag();
        let now = SystemTime::now();
        let agent = self.get::<String>(AGENT).await?;
        self.insert(USER, user).await?;
        self.insert(TAG, &tag).await?;
        devices().entry(user.to_owned()).or_default().push(Device {
            tag,
            created: now,
            last_seen: now,
            agent,
        });
        Ok(())
    }

    async fn user(&self) -> Result<Option<String>, Error> {
        let (Some(user), Some(tag)) = (
            self.get::<String>(USER).await?,
            self.get::<String>(TAG).await?,
        ) else {
            return Ok(None);
        };
        let alive = devices()
            .get_mut(&user)
            .and_then(|list| list.iter_mut().find(|d| d.tag == tag))
            .map(|device| device.last_seen = SystemTime::now())
            .is_some();
        if alive {
            Ok(Some(user))
        } else {
            self.invalidate();
            Ok(None)
        }
    }

    async fn set_agent(&self, agent: &str) -> Result<(), Error> {
        self.insert(AGENT, agent).await?;
        if let (Some(user), Some(tag)) = (
            self.get::<String>(USER).await?,
            self.get::<String>(TAG).await?,
        ) && let Some(device) = devices()
            .get_mut(&user)
            .and_then(|list| list.iter_mut().find(|d| d.tag == tag))
        {
            device.agent = Some(agent.to_owned());
        }
        Ok(())
    }

    async fn user_sessions(&self) -> Result<Vec<UserSession>, Error> {
        let Some(user) = self.user().await? else {
            return Ok(Vec::new());
        };
        let own = self.get::<String>(TAG).await?;
        Ok(devices()
            .get(&user)
            .map(|list| {
                list.iter()
                    .map(|d| UserSession {
                        tag: d.tag.clone(),
                        created: d.created,
                        last_seen: d.last_seen,
                        agent: d.agent.clone(),
                        current: own.as_deref() == Some(d.tag.as_str()),
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn revoke(&self, tag: &str) -> Result<bool, Error> {
        let Some(user) = self.user().await? else {
            return Ok(false);
        };
        let mut all = devices();
        let Some(list) = all.get_mut(&user) else {
            return Ok(false);
        };
        let before = list.len();
        list.retain(|d| d.tag != tag);
        Ok(list.len() < before)
    }

    async fn revoke_others(&self) -> Result<usize, Error> {
        let Some(user) = self.user().await? else {
            return Ok(0);
        };
        let own = self.get::<String>(TAG).await?;
        let mut all = devices();
        let Some(list) = all.get_mut(&user) else {
            return Ok(0);
        };
        let before = list.len();
        list.retain(|d| own.as_deref() == Some(d.tag.as_str()));
        Ok(before - list.len())
    }
}

/// Drops this session from its user's list (the library does this in
/// `invalidate`).
pub async fn unbind(session: &Session) -> Result<(), Error> {
    if let (Some(user), Some(tag)) = (
        session.get::<String>(USER).await?,
        session.get::<String>(TAG).await?,
    ) && let Some(list) = devices().get_mut(&user)
    {
        list.retain(|d| d.tag != tag);
    }
    Ok(())
}
