//! Secrets: the master key, credential sealing (ChaCha20-Poly1305), the keyed duplicate
//! fingerprint (HMAC-SHA256) and API keys (random, stored as SHA-256).
//!
//! Two keys are derived from the master key with HKDF, one to encrypt and one to fingerprint,
//! so neither use can leak anything about the other. Every ciphertext is stored with the id of
//! its key; keys named as previous stay able to open old ciphertexts while new ones use the
//! current key.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 bytes from which every other key is derived. Its `Debug` shows only the key id.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Result<Self, String> {
        let bytes = hex::decode(s.trim()).map_err(|_| "the master key must be 64 hex characters".to_owned())?;
        let k: [u8; 32] =
            bytes.try_into().map_err(|_| "the master key must be 64 hex characters (32 bytes)".to_owned())?;
        Ok(Self(k))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a fresh key.
    pub fn load_or_create(path: &Path) -> io::Result<(Self, bool)> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                let key = Self::generate();
                file.write_all(key.to_hex().as_bytes())?;
                file.sync_all()?;
                Ok((key, true))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path)?;
                let key = Self::from_hex(&text)
                    .map_err(|m| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {m}", path.display())))?;
                Ok((key, false))
            }
            Err(e) => Err(e),
        }
    }

    /// A short public name for this key, stored beside each ciphertext.
    pub fn key_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"ferry key id v1");
        h.update(self.0);
        hex::encode(&h.finalize()[..8])
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({})", self.key_id())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no key with id `{0}` is configured")]
    UnknownKey(String),
    #[error("the sealed value is malformed or was tampered with")]
    Corrupt,
}

struct DerivedKeys {
    id: String,
    cipher: ChaCha20Poly1305,
    fingerprint_key: [u8; 32],
}

impl DerivedKeys {
    fn derive(master: &MasterKey) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"ferry"), &master.0);
        let mut enc = [0u8; 32];
        let mut fp = [0u8; 32];
        // Infallible for 32-byte outputs of SHA-256 HKDF.
        let _ = hk.expand(b"ferry credentials encryption v1", &mut enc);
        let _ = hk.expand(b"ferry credentials fingerprint v1", &mut fp);
        Self { id: master.key_id(), cipher: ChaCha20Poly1305::new(Key::from_slice(&enc)), fingerprint_key: fp }
    }
}

/// The current key and any previous ones still needed to open old ciphertexts.
pub struct Keyring {
    current: DerivedKeys,
    previous: Vec<DerivedKeys>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("current", &self.current.id).finish_non_exhaustive()
    }
}

impl Keyring {
    pub fn new(current: &MasterKey, previous: &[MasterKey]) -> Self {
        Self { current: DerivedKeys::derive(current), previous: previous.iter().map(DerivedKeys::derive).collect() }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext` bound to `context` (the owning row's guid), returning the key id
    /// and base64 of nonce || ciphertext.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> (String, String) {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        (self.current.id.clone(), STANDARD.encode(out))
    }

    pub fn open(&self, key_id: &str, sealed: &str, context: &[u8]) -> Result<Vec<u8>, SecretError> {
        let keys = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        let bytes = STANDARD.decode(sealed).map_err(|_| SecretError::Corrupt)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::Corrupt);
        }
        let (nonce, ct) = bytes.split_at(12);
        keys.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context })
            .map_err(|_| SecretError::Corrupt)
    }

    /// Whether keys other than the current one are configured (a rotation is under way).
    pub fn has_previous(&self) -> bool {
        !self.previous.is_empty()
    }

    /// Whether `key_id` is the current key or a configured previous one.
    pub fn knows(&self, key_id: &str) -> bool {
        std::iter::once(&self.current).chain(&self.previous).any(|k| k.id == key_id)
    }

    /// HMAC-SHA256 under the fingerprint key over length-prefixed `parts`, as hex.
    pub fn fingerprint(&self, parts: &[&[u8]]) -> String {
        fingerprint_with(&self.current, parts)
    }

    /// The fingerprints of `parts` under each previous key (values fingerprinted before a
    /// rotation that has not reached them yet).
    pub fn previous_fingerprints(&self, parts: &[&[u8]]) -> Vec<String> {
        self.previous.iter().map(|k| fingerprint_with(k, parts)).collect()
    }
}

fn fingerprint_with(keys: &DerivedKeys, parts: &[&[u8]]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&keys.fingerprint_key) {
        Ok(m) => m,
        Err(_) => return String::new(), // unreachable: HMAC takes keys of any length
    };
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// A freshly generated API key; shown once, stored only as its hash.
pub struct ApiKey(String);

impl ApiKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(hex::encode(k))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 as hex: right for random 256-bit keys, and cheap enough to run per request.
    pub fn hash(key: &str) -> String {
        hex::encode(Sha256::digest(key.as_bytes()))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_rotation() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let (id, sealed) = Keyring::new(&old, &[]).seal(b"MBR-1", b"hunter2");
        assert!(!sealed.contains("hunter2"));
        let rotated = Keyring::new(&new, std::slice::from_ref(&old));
        assert_eq!(rotated.open(&id, &sealed, b"MBR-1").ok(), Some(b"hunter2".to_vec()));
        assert!(rotated.open(&id, &sealed, b"MBR-2").is_err(), "bound to its row");
        assert!(Keyring::new(&new, &[]).open(&id, &sealed, b"MBR-1").is_err());
    }

    #[test]
    fn fingerprints_are_keyed_and_unambiguous() {
        let a = Keyring::new(&MasterKey::generate(), &[]);
        let b = Keyring::new(&MasterKey::generate(), &[]);
        assert_eq!(a.fingerprint(&[b"ab", b"c"]), a.fingerprint(&[b"ab", b"c"]));
        assert_ne!(a.fingerprint(&[b"ab", b"c"]), a.fingerprint(&[b"a", b"bc"]));
        assert_ne!(a.fingerprint(&[b"x"]), b.fingerprint(&[b"x"]));
        assert!(format!("{:?}", MasterKey::generate()).starts_with("MasterKey("));
    }
}
