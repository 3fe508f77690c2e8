//! API keys: a recognisable prefix, random body and checksum; only a hash is stored.
//!
//! A key looks like `verity_` + 30 random base62 characters + a 6-character base62 CRC-32 of
//! everything before it. The checksum lets the server (and secret scanners) reject a mistyped or
//! made-up key without a database lookup; the lookup is by SHA-256, compared in constant time.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Every Verity API key starts with this.
pub const API_KEY_PREFIX: &str = "verity_";
const BODY_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_fixed(mut value: u64, len: usize) -> String {
    let mut out = vec![b'0'; len];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn checksum(prefix_and_body: &str) -> String {
    base62_fixed(
        u64::from(crc32fast::hash(prefix_and_body.as_bytes())),
        CHECKSUM_LEN,
    )
}

/// A new random key.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let body: String = (0..BODY_LEN)
        .map(|_| BASE62[rng.random_range(0..62)] as char)
        .collect();
    let head = format!("{API_KEY_PREFIX}{body}");
    let sum = checksum(&head);
    format!("{head}{sum}")
}

/// True when `key` has the shape of a Verity key and its checksum matches.
pub fn is_well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix(API_KEY_PREFIX) else {
        return false;
    };
    if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, sum) = key.split_at(API_KEY_PREFIX.len() + BODY_LEN);
    checksum(head).as_bytes().ct_eq(sum.as_bytes()).into()
}

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two stored hashes in constant time.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What a list shows of a key: its prefix and the first characters of its body.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_unique() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(API_KEY_PREFIX));
        assert_eq!(a.len(), API_KEY_PREFIX.len() + BODY_LEN + CHECKSUM_LEN);
        assert!(is_well_formed(&a));
        assert!(is_well_formed(&b));
    }

    #[test]
    fn typos_and_made_up_keys_fail_the_checksum() {
        let key = generate();
        let mut chars: Vec<char> = key.chars().collect();
        let i = API_KEY_PREFIX.len() + 3;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed("verity_"));
        assert!(!is_well_formed("sk_live_123"));
        assert!(!is_well_formed(&format!("{key}x")));
    }

    #[test]
    fn hashes_are_stable_and_compared_exactly() {
        let key = generate();
        assert_eq!(hash(&key), hash(&key));
        assert!(hashes_match(&hash(&key), &hash(&key)));
        assert!(!hashes_match(&hash(&key), &hash(&generate())));
        assert_eq!(display_prefix(&key).len(), API_KEY_PREFIX.len() + 6);
    }
}
