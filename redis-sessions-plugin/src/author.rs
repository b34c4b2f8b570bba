//! The plugin author's side: safe traits to implement and safe views of what
//! the host lends.

use std::marker::PhantomData;

use crate::wire::{FOUND, RawBytes, RawRequest, RawSettings, RawSink};

/// Checks the text of a declared setting; the message must not repeat the
/// value (it may be a secret).
pub type Validator = fn(&str) -> Result<(), String>;

/// A plugin's view of the host's settings (values after INI interpolation).
pub struct PluginSettings<'a> {
    raw: RawSettings,
    _life: PhantomData<&'a ()>,
}

impl PluginSettings<'_> {
    /// Wraps settings the host passed to the call that is running now.
    pub(crate) fn new(raw: RawSettings) -> Self {
        Self {
            raw,
            _life: PhantomData,
        }
    }

    /// The value of setting `name`, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        let mut buf = Vec::new();
        // SAFETY: the host lent these settings for the call that made this
        // view, which is still running (the view cannot escape it); `name`
        // and `buf` outlive the call.
        let found = unsafe {
            (self.raw.get)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                RawSink::for_vec(&mut buf),
            )
        };
        (found == FOUND).then(|| String::from_utf8_lossy(&buf).into_owned())
    }
}

/// A plugin's view of the request (for [`PluginClientCallable`]).
pub struct PluginRequest<'a> {
    raw: RawRequest,
    _life: PhantomData<&'a ()>,
}

impl PluginRequest<'_> {
    /// Wraps a request the host passed to the call that is running now.
    pub(crate) fn new(raw: RawRequest) -> Self {
        Self {
            raw,
            _life: PhantomData,
        }
    }

    /// The request's host, without a port: the URI's authority, else the
    /// `Host` header. Empty when there is none.
    pub fn host(&self) -> &str {
        // SAFETY: the host keeps the string alive for the whole call, and
        // this view does not outlive it.
        let bytes = unsafe { self.raw.host.as_slice() };
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The value of header `name`, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut buf = Vec::new();
        // SAFETY: as for `host`; `name` and `buf` outlive the call.
        let found = unsafe {
            (self.raw.header)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                RawSink::for_vec(&mut buf),
            )
        };
        (found == FOUND).then(|| String::from_utf8_lossy(&buf).into_owned())
    }
}

/// A codec stage in a plugin: seals (for example, encrypts) values encoded by
/// the host's MessagePack codec, and opens them again.
///
/// Both methods get the Redis key and field the value lives under, so a
/// sealed value can be bound to its place.
pub trait PluginCodec: Send + Sync + Sized + 'static {
    /// Builds the codec from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// Seals `encoded` for `key`/`field`.
    ///
    /// # Errors
    ///
    /// A message (never containing the value).
    fn seal(&self, key: &str, field: &[u8], encoded: &[u8]) -> Result<Vec<u8>, String>;
    /// Opens `stored`, which must have been sealed for `key`/`field`.
    ///
    /// # Errors
    ///
    /// A message (never containing the value).
    fn open(&self, key: &str, field: &[u8], stored: &[u8]) -> Result<Vec<u8>, String>;
}

/// A client callable in a plugin: picks a Redis URL for each request; the
/// host keeps one shared client per URL.
pub trait PluginClientCallable: Send + Sync + Sized + 'static {
    /// Builds the callable from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// The Redis URL for this request.
    ///
    /// # Errors
    ///
    /// A message; the session access fails with it.
    fn select(&self, request: &PluginRequest<'_>) -> Result<String, String>;
}

/// An id generator in a plugin.
pub trait PluginIdGenerator: Send + Sync + Sized + 'static {
    /// Builds the generator from the settings.
    ///
    /// # Errors
    ///
    /// A message naming the setting that is missing or wrong.
    fn from_settings(settings: &PluginSettings<'_>) -> Result<Self, String>;
    /// A new, unpredictable session id.
    ///
    /// # Errors
    ///
    /// A message; the request fails with a 500.
    fn generate(&self) -> Result<String, String>;
}
