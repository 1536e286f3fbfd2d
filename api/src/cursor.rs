//! Sealed page cursors: the store's cursor (which may name a workflow of another group: the
//! last item the store scanned) is encrypted and authenticated with ChaCha20-Poly1305 before
//! it leaves the API, so a caller can neither read it nor forge or alter one — anything the
//! API did not seal is a 400, on every store.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Environment variable holding the cursor key material on Lambda (all instances of one
/// deployment must share it, so a page 2 may be served by another instance); the template
/// fills it from a generated Secrets Manager secret.
pub const CURSOR_KEY_ENV: &str = "HITL_CURSOR_KEY";

/// Seals and opens cursors with one key.
#[derive(Clone)]
pub struct CursorSeal {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for CursorSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorSeal(..)")
    }
}

impl CursorSeal {
    /// A key derived from `material` (SHA-256 of it).
    pub fn from_material(material: &[u8]) -> Self {
        let key: [u8; 32] = Sha256::digest(material).into();
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// A fresh random key (one process: `hitl serve`, tests).
    pub fn random() -> Self {
        let mut material = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut material);
        Self::from_material(&material)
    }

    /// `HITL_CURSOR_KEY` when set, else a random key (then cursors work only on the instance
    /// that issued them).
    pub fn from_env() -> Self {
        match std::env::var(CURSOR_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::from_material(v.trim().as_bytes()),
            _ => Self::random(),
        }
    }

    /// The opaque cursor for a store cursor.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The store cursor inside `cursor`, or `None` when this API did not seal it (forged,
    /// altered, truncated, or sealed with another key).
    pub fn open(&self, cursor: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, sealed) = bytes.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), sealed).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_cursors_open_and_anything_else_does_not() {
        let seal = CursorSeal::from_material(b"k");
        let cursor = seal.seal("2026-03-02T09:00:00Z|wf-of-another-group");
        assert!(!cursor.contains("wf-of"), "opaque");
        assert_eq!(
            seal.open(&cursor).as_deref(),
            Some("2026-03-02T09:00:00Z|wf-of-another-group")
        );
        let mut altered = cursor.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(seal.open(&String::from_utf8(altered).unwrap()), None);
        assert_eq!(CursorSeal::from_material(b"other").open(&cursor), None);
        for forged in ["", "x", "MjAyNi0wMy0wMnx3Zi0x", "!!!"] {
            assert_eq!(seal.open(forged), None, "{forged:?}");
        }
    }
}
