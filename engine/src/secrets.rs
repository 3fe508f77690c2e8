//! Sealing secrets at rest: values the server must read back (webhook signing secrets) are
//! encrypted with a data key that lives outside the database (`<data dir>/data.key`).

use anyhow::Context;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::path::Path;

const SEALED_PREFIX: &str = "xc1:";
const NONCE_LEN: usize = 24;

/// The key that seals secrets stored in the database.
#[derive(Clone)]
pub struct DataKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// Reads the key file, creating it (readable by the owner only) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<DataKey> {
        let encoded = match std::fs::read_to_string(path) {
            Ok(encoded) => encoded,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                let encoded = base64::engine::general_purpose::STANDARD.encode(key);
                write_private(path, &encoded)
                    .with_context(|| format!("creating the data key {}", path.display()))?;
                encoded
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("reading the data key {}", path.display()))
            }
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .filter(|key| key.len() == 32)
            .with_context(|| {
                format!("the data key {} is not 32 bytes of base64", path.display())
            })?;
        Ok(DataKey::from_bytes(&key))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(key: &[u8]) -> DataKey {
        DataKey {
            cipher: XChaCha20Poly1305::new_from_slice(key).expect("32-byte key"),
        }
    }

    /// Encrypts `plaintext` with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("encryption with a valid key does not fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        )
    }

    /// Decrypts what [`DataKey::seal`] produced; fails on tampering or another key.
    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|body| base64::engine::general_purpose::STANDARD.decode(body).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .context("a sealed secret is malformed")?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .ok()
            .context("a sealed secret does not open with this data key")?;
        String::from_utf8(plaintext).context("a sealed secret is not text")
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = DataKey::load_or_create(&dir.path().join("data.key")).unwrap();
        let sealed = key.seal("whsec_abc");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, key.seal("whsec_abc"), "nonces are fresh");
        assert_eq!(key.open(&sealed).unwrap(), "whsec_abc");
        let again = DataKey::load_or_create(&dir.path().join("data.key")).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "whsec_abc");
        let other = DataKey::from_bytes(&[7u8; 32]);
        assert!(other.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(key.open(&tampered).is_err() || tampered == sealed);
    }
}
