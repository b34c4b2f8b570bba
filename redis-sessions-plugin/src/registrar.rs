//! What a plugin's includeme gets: the [`Registrar`], and the entry that
//! runs the includeme behind the boundary.

use crate::author::{
    PluginClientCallable, PluginCodec, PluginIdGenerator, PluginSettings, Validator,
};
use crate::trampolines::{
    guarded, make_client_callable, make_codec, make_id_generator, validate_call, validator_ctx,
};
use crate::wire::{OK, RawBytes, RawRegistrar, RawValidator};

/// What a plugin's includeme gets: registers names, declares the plugin's
/// settings, and reads settings.
pub struct Registrar<'a> {
    raw: &'a RawRegistrar,
}

impl<'a> Registrar<'a> {
    /// Wraps the registrar the host passed to the includeme that is running.
    pub(crate) fn new(raw: &'a RawRegistrar) -> Self {
        Self { raw }
    }

    fn status(code: i32, what: &str) -> Result<(), String> {
        if code == OK {
            Ok(())
        } else {
            Err(format!("the host refused {what}"))
        }
    }

    /// The value of setting `name`, if set.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.settings().get(name)
    }

    /// The settings, e.g. to hand to a parser shared with `from_settings`.
    pub fn settings(&self) -> PluginSettings<'_> {
        PluginSettings::new(self.raw.settings)
    }

    /// Registers codec `T` under the dotted `name` (for `serialize` and
    /// `deserialize`).
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn codec<T: PluginCodec>(&mut self, name: &str) -> Result<(), String> {
        // SAFETY: the registrar is the host's, lent for the running includeme;
        // `name` outlives the call.
        let code = unsafe {
            (self.raw.codec)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                make_codec::<T>,
            )
        };
        Self::status(code, name)
    }

    /// Registers client callable `T` under the dotted `name`.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn client_callable<T: PluginClientCallable>(&mut self, name: &str) -> Result<(), String> {
        // SAFETY: as in `codec`.
        let code = unsafe {
            (self.raw.client_callable)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                make_client_callable::<T>,
            )
        };
        Self::status(code, name)
    }

    /// Registers id generator `T` under the dotted `name`.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn id_generator<T: PluginIdGenerator>(&mut self, name: &str) -> Result<(), String> {
        // SAFETY: as in `codec`.
        let code = unsafe {
            (self.raw.id_generator)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                make_id_generator::<T>,
            )
        };
        Self::status(code, name)
    }

    /// Declares a setting `redis.sessions.<pkg>.<key>` this plugin reads, so
    /// that it is not reported as unknown; `secret` settings are masked in
    /// output and their values never appear in messages.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn declare_setting(&mut self, name: &str, secret: bool) -> Result<(), String> {
        self.declare(
            name,
            secret,
            RawValidator {
                ctx: std::ptr::null(),
                validate: None,
            },
        )
    }

    /// Declares a setting like [`Registrar::declare_setting`], with a
    /// validator: the host's configuration check reports its message with the
    /// file and line of the setting.
    ///
    /// # Errors
    ///
    /// When the host refuses the name.
    pub fn declare_validated_setting(
        &mut self,
        name: &str,
        secret: bool,
        validator: Validator,
    ) -> Result<(), String> {
        self.declare(
            name,
            secret,
            RawValidator {
                ctx: validator_ctx(validator),
                validate: Some(validate_call),
            },
        )
    }

    fn declare(&mut self, name: &str, secret: bool, validator: RawValidator) -> Result<(), String> {
        // SAFETY: as in `codec`.
        let code = unsafe {
            (self.raw.declare_setting)(
                self.raw.ctx,
                RawBytes::new(name.as_bytes()),
                u8::from(secret),
                validator,
            )
        };
        Self::status(code, name)
    }
}

/// Runs a plugin's includeme behind the boundary (used by
/// [`export_plugin!`](crate::export_plugin)).
///
/// # Safety
///
/// `raw` must point at a live `RawRegistrar` made by the host, valid for the
/// whole call.
#[doc(hidden)]
pub unsafe fn __includeme(
    raw: *const RawRegistrar,
    includeme: fn(&mut Registrar<'_>) -> Result<(), String>,
) -> i32 {
    // SAFETY: guaranteed by the caller.
    let raw = unsafe { &*raw };
    // SAFETY: the registrar's error sink is lent for this call.
    unsafe { guarded(raw.error, || includeme(&mut Registrar::new(raw))) }
}
