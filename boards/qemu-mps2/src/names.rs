//! Short names for the library's types, printed without `core::fmt`.

use abboot::error::Error;
use abboot::handoff::HandoffError;
use abboot::image::ImageError;
use abboot::machine::Refusal;
use abboot::state::{BootKind, ImageState, Reason, Slot, UpdateState};

use crate::sh::Line;

/// `A`, `B` or `none`.
pub fn slot(s: Option<Slot>) -> &'static str {
    match s {
        Some(Slot::A) => "A",
        Some(Slot::B) => "B",
        None => "none",
    }
}

/// The kind of a boot.
pub fn kind(k: BootKind) -> &'static str {
    match k {
        BootKind::None => "None",
        BootKind::Normal => "Normal",
        BootKind::Trial => "Trial",
        BootKind::Rollback => "Rollback",
        BootKind::Fallback => "Fallback",
        BootKind::Fresh => "Fresh",
        BootKind::Recovery => "Recovery",
    }
}

/// Appends a reason (`App(n)` for the firmware's codes).
pub fn reason(l: &mut Line, r: Reason) -> &mut Line {
    match r {
        Reason::None => l.s("None"),
        Reason::TriesExhausted => l.s("TriesExhausted"),
        Reason::ImageInvalid => l.s("ImageInvalid"),
        Reason::Aborted => l.s("Aborted"),
        Reason::Downgrade => l.s("Downgrade"),
        Reason::PrimaryCorrupt => l.s("PrimaryCorrupt"),
        Reason::KnownBad => l.s("KnownBad"),
        Reason::App(c) => l.s("App(").u(c as u32).s(")"),
    }
}

/// Where an update stands.
pub fn update(u: UpdateState) -> &'static str {
    match u {
        UpdateState::Idle => "Idle",
        UpdateState::Staged => "Staged",
        UpdateState::Trial => "Trial",
        UpdateState::Confirmed => "Confirmed",
        UpdateState::RolledBack => "RolledBack",
        UpdateState::Failed => "Failed",
    }
}

/// A slot's image state.
pub fn image_state(s: ImageState) -> &'static str {
    match s {
        ImageState::Empty => "Empty",
        ImageState::Pending { .. } => "Pending",
        ImageState::Trial { .. } => "Trial",
        ImageState::Confirmed => "Confirmed",
        ImageState::Rejected => "Rejected",
    }
}

/// Why an image check failed.
pub fn image_error(e: ImageError) -> &'static str {
    match e {
        ImageError::Flash => "Flash",
        ImageError::Blank => "Blank",
        ImageError::BadMagic => "BadMagic",
        ImageError::UnsupportedFormat => "UnsupportedFormat",
        ImageError::BadHeaderLength => "BadHeaderLength",
        ImageError::TooLarge => "TooLarge",
        ImageError::BadField => "BadField",
        ImageError::UnknownKey => "UnknownKey",
        ImageError::BadSignature => "BadSignature",
        ImageError::DigestMismatch => "DigestMismatch",
        ImageError::WrongLoadAddress => "WrongLoadAddress",
        ImageError::WrongHardware => "WrongHardware",
        ImageError::Truncated => "Truncated",
        ImageError::BadEntry => "BadEntry",
    }
}

/// Why a call was refused.
pub fn refusal(r: Refusal) -> &'static str {
    match r {
        Refusal::NoTrial => "NoTrial",
        Refusal::AlreadyConfirmed => "AlreadyConfirmed",
        Refusal::TrialInProgress => "TrialInProgress",
        Refusal::TargetRunning => "TargetRunning",
        Refusal::NotStaging => "NotStaging",
        Refusal::NothingToAbort => "NothingToAbort",
        Refusal::InvalidTries => "InvalidTries",
        Refusal::TagTooLong => "TagTooLong",
        Refusal::KnownBad => "KnownBad",
        Refusal::Downgrade => "Downgrade",
        Refusal::SecurityCounter => "SecurityCounter",
        Refusal::AlreadyInstalled => "AlreadyInstalled",
        Refusal::OutOfSlot => "OutOfSlot",
        Refusal::Misaligned => "Misaligned",
        Refusal::RunningSlotUnknown => "RunningSlotUnknown",
        Refusal::NotOnTrial => "NotOnTrial",
        Refusal::InvalidReason => "InvalidReason",
    }
}

/// Why there is no hand-off.
pub fn handoff_error(e: HandoffError) -> &'static str {
    match e {
        HandoffError::Absent => "Absent",
        HandoffError::Format => "Format",
        HandoffError::BadCrc => "BadCrc",
        HandoffError::BadField => "BadField",
    }
}

/// Appends an error as `Kind(detail)`.
pub fn error(l: &mut Line, e: Error) -> &mut Line {
    match e {
        Error::MetadataFlash(_) => l.s("MetadataFlash"),
        Error::MetadataVerify => l.s("MetadataVerify"),
        Error::MetadataUnreadable => l.s("MetadataUnreadable"),
        Error::MetadataForeign => l.s("MetadataForeign"),
        Error::MetadataEraseValue => l.s("MetadataEraseValue"),
        Error::SlotFlash(_) => l.s("SlotFlash"),
        Error::Image(i) => l.s("Image(").s(image_error(i)).s(")"),
        Error::Refused(r) => l.s("Refused(").s(refusal(r)).s(")"),
        Error::Layout(_) => l.s("Layout"),
    }
}
