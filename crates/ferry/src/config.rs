//! Configuration of secrets: where the master key comes from.
//!
//! `FERRY_MASTER_KEY` (64 hex characters) wins. Otherwise, on SQLite, a key file beside the
//! database (`<database file>.key`, mode 0600) is created on first start and read after. On
//! PostgreSQL the key must be configured, since every node must share it.
//! `FERRY_MASTER_KEY_PREVIOUS` (comma-separated) lists retired keys that may still open old
//! ciphertexts during a rotation.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ferry_core::{Keyring, MasterKey};

pub fn keyring_for(database_url: &str) -> Result<Keyring> {
    let previous = match std::env::var("FERRY_MASTER_KEY_PREVIOUS") {
        Ok(list) => list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| MasterKey::from_hex(s).map_err(anyhow::Error::msg))
            .collect::<Result<Vec<_>>>()
            .context("FERRY_MASTER_KEY_PREVIOUS")?,
        Err(_) => Vec::new(),
    };
    let current = match std::env::var("FERRY_MASTER_KEY") {
        Ok(hex) if !hex.trim().is_empty() => {
            MasterKey::from_hex(&hex).map_err(anyhow::Error::msg).context("FERRY_MASTER_KEY")?
        }
        _ => match sqlite_key_path(database_url) {
            Some(KeyPlace::File(path)) => {
                let (key, created) =
                    MasterKey::load_or_create(&path).with_context(|| format!("master key file {}", path.display()))?;
                if created {
                    tracing::warn!(path = %path.display(), "generated a new master key; back it up with the database");
                }
                key
            }
            Some(KeyPlace::Ephemeral) => MasterKey::generate(),
            None => bail!("set FERRY_MASTER_KEY (64 hex characters) to use PostgreSQL: every node must share one key"),
        },
    };
    Ok(Keyring::new(&current, &previous))
}

/// The key file of a SQLite database URL, if its key lives in one.
pub fn key_file(database_url: &str) -> Option<PathBuf> {
    match sqlite_key_path(database_url)? {
        KeyPlace::File(p) => Some(p),
        KeyPlace::Ephemeral => None,
    }
}

enum KeyPlace {
    File(PathBuf),
    Ephemeral,
}

fn sqlite_key_path(url: &str) -> Option<KeyPlace> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") || url.contains("mode=memory") {
        return Some(KeyPlace::Ephemeral);
    }
    Some(KeyPlace::File(PathBuf::from(format!("{path}.key"))))
}
