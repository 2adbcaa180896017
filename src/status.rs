//! The status record a fleet backend needs, derived from the boot state.
//!
//! # Update states against two fleet backends
//!
//! | [`UpdateState`] | Nexigon `status` | Edgehog `OTAEvent.status` |
//! |---|---|---|
//! | `Idle` | `idle` | — (no event) |
//! | `Staged` | `installing`, then `rebooting` | `Downloading`, `Deploying`, `Deployed`, `Rebooting` |
//! | `Trial` | `committing` | `Rebooting` done, awaiting health check |
//! | `Confirmed` | `completed` | `Success` |
//! | `RolledBack` | `rollback` | `Error` / `Failure` with the rollback reason |
//! | `Failed` | `failed` | `Failure` (code from [`Status::last_reason`]) |
//!
//! [`Status::update_tag`] carries the backend's request id (an Edgehog
//! OTA request UUID fits its 36 bytes), so an agent that comes back after
//! the reboot can match the result to the request.

use crate::image::ImageError;
use crate::machine;
use crate::state::{BootState, Events, ImageState, Reason, Slot, UpdateState, UpdateTag};
use crate::version::Version;

/// What the firmware reports about its updates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "std", derive(serde::Serialize))]
pub struct Status {
    /// The slot the device runs from (or returns to at the next reset).
    pub running: Option<Slot>,
    /// Version of the running image.
    pub installed_version: Option<Version>,
    /// SHA-256 of the running image.
    #[cfg_attr(feature = "std", serde(serialize_with = "json::hex_opt"))]
    pub installed_digest: Option<[u8; 32]>,
    /// Version of the update being staged, pending or on trial.
    pub target_version: Option<Version>,
    /// Where the last update stands.
    pub update: UpdateState,
    /// Whether the running image is on trial (not confirmed yet).
    pub trial: bool,
    /// Trial boots left for the unconfirmed image.
    pub tries_left: u8,
    /// Updates that failed or were rolled back, ever.
    pub failure_count: u16,
    /// Why the last update failed or was rolled back.
    pub last_reason: Reason,
    /// The image check that failed, when `last_reason` is `ImageInvalid`.
    pub last_check_error: Option<ImageError>,
    /// Digest of the last rejected image.
    #[cfg_attr(feature = "std", serde(serialize_with = "json::hex_opt"))]
    pub rejected_digest: Option<[u8; 32]>,
    /// The opaque tag given to `stage`.
    #[cfg_attr(feature = "std", serde(serialize_with = "json::tag"))]
    pub update_tag: UpdateTag,
    /// The last boots that changed the state, oldest first.
    pub events: Events,
    /// Minimum security counter allowed to boot.
    pub min_security_counter: u32,
    /// Data schema epoch the data was migrated to.
    pub data_epoch: u16,
    /// Data schema epoch the running image expects; lower than
    /// `data_epoch` after a rollback past a migration.
    pub running_data_epoch: u16,
}

impl Status {
    /// The status of a boot state.
    pub fn from_state(st: &BootState) -> Self {
        let running = machine::running_slot(st);
        let run = running.map(|s| *st.slot(s));
        let target = machine::candidate(st)
            .or_else(|| {
                Slot::ALL
                    .into_iter()
                    .find(|&s| Some(s) != st.primary && st.slot(s).state == ImageState::Rejected)
            })
            .map(|s| st.slot(s).version);
        Status {
            running,
            installed_version: run.map(|i| i.version),
            installed_digest: run.map(|i| i.digest),
            target_version: match st.update {
                UpdateState::Idle => None,
                _ => target,
            },
            update: st.update,
            trial: machine::trial_slot(st).is_some(),
            tries_left: machine::candidate(st).map_or(0, |s| st.slot(s).state.tries()),
            failure_count: st.failure_count,
            last_reason: st.last_reason,
            last_check_error: ImageError::from_code(st.check_error),
            rejected_digest: st.rejected_digest,
            update_tag: st.update_tag,
            events: st.events,
            min_security_counter: st.min_security_counter,
            data_epoch: st.data_epoch,
            running_data_epoch: run.map_or(0, |i| i.data_epoch),
        }
    }

    /// Whether the data is ahead of what the running image expects: the
    /// firmware should restore its data backup.
    pub fn data_restore_needed(&self) -> bool {
        self.running.is_some() && self.data_epoch > self.running_data_epoch
    }

    /// The status as JSON, for a fleet agent.
    #[cfg(feature = "std")]
    pub fn to_json(&self) -> String {
        // Serializing plain data with derived impls cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// JSON forms a backend can read: digests as hex, the tag as text when it
/// is UTF-8 (a request UUID) and as hex otherwise.
#[cfg(feature = "std")]
mod json {
    use serde::Serializer;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn hex_opt<S: Serializer>(d: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&hex(d)),
            None => s.serialize_none(),
        }
    }

    pub fn tag<S: Serializer>(t: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match core::str::from_utf8(t) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_str(&format!("0x{}", hex(t))),
        }
    }
}
