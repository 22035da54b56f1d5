//! Checks on free-text input shared by the use cases.

use crate::{Error, Result};

/// Rejects text PostgreSQL cannot store (NUL) and text longer than `max` bytes.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL characters"));
    }
    if value.len() > max {
        return Err(Error::invalid(field, format!("is longer than {max} bytes")));
    }
    Ok(())
}

pub(crate) fn opt_text(field: &'static str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| text(field, v, max))
}

/// A partner-defined `id`: 1–255 bytes, and not shaped like one of our GUIDs, since v20250224
/// paths tell the two apart by the prefix.
pub(crate) fn partner_id(field: &'static str, value: &str, guid_prefix: &str) -> Result<()> {
    text(field, value, 255)?;
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.starts_with(guid_prefix) {
        return Err(Error::invalid(field, format!("must not start with `{guid_prefix}`, which marks a guid")));
    }
    Ok(())
}

pub(crate) const ID_MAX: usize = 255;
pub(crate) const METADATA_MAX: usize = 64 * 1024;
