//! Prefixed, time-sortable identifiers (`inq_01J…`) for every model.
//!
//! A generated id is its prefix plus the 26-character Crockford base32 form of a UUIDv7, so ids
//! sort by creation time as plain strings and cursor pagination can order by id.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by letters and digits)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Encodes 128 bits as 26 Crockford base32 characters (most significant first, so order is kept).
pub fn encode_base32_128(value: u128) -> String {
    let mut out = [0u8; 26];
    for (index, slot) in out.iter_mut().enumerate() {
        let shift = 125 - 5 * index as i32;
        let digit = if shift >= 0 {
            (value >> shift) & 0x1f
        } else {
            (value << 3) & 0x1f
        };
        *slot = CROCKFORD[digit as usize];
    }
    out.iter().map(|&b| b as char).collect()
}

/// A fresh time-sortable suffix: UUIDv7 in Crockford base32.
#[cfg(not(target_arch = "wasm32"))]
pub fn new_suffix() -> String {
    encode_base32_128(uuid::Uuid::now_v7().as_u128())
}

/// The bits of a UUIDv7 after its 48-bit millisecond timestamp.
const AFTER_MILLIS: u32 = 80;

/// A suffix that carries `unix_millis` as its time: a UUIDv7 of that millisecond in Crockford
/// base32, so that records whose id carries their creation time can be found by time through the
/// id's index ([`suffix_bound`]). After the time come 42 bits of a counter of this process (from a
/// random start) and 32 random bits: ids made in one millisecond sort in the order they were made,
/// even while other threads make ids for other times.
#[cfg(not(target_arch = "wasm32"))]
pub fn suffix_at(unix_millis: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static MADE: AtomicU64 = AtomicU64::new(0);
    let random = uuid::Uuid::new_v4().as_u128();
    let start = *START.get_or_init(|| (random >> 64) as u64 & ((1 << 40) - 1));
    let count =
        u128::from(start.wrapping_add(MADE.fetch_add(1, Ordering::Relaxed)) & ((1 << 42) - 1));
    let value = (u128::from(unix_millis & ((1 << 48) - 1)) << AFTER_MILLIS)
        | (0x7 << 76) // version 7
        | ((count >> 30) << 64) // rand_a: the counter's high 12 bits
        | (0b10 << 62) // the RFC 9562 variant
        | ((count & ((1 << 30) - 1)) << 32) // the counter's low 30 bits
        | (random & 0xffff_ffff);
    encode_base32_128(value)
}

/// The smallest suffix that [`suffix_at`] can make for `unix_millis` (every suffix made for a
/// later millisecond sorts after it, every one for an earlier millisecond before it).
pub fn suffix_bound(unix_millis: u64) -> String {
    encode_base32_128(u128::from(unix_millis & ((1 << 48) - 1)) << AFTER_MILLIS)
}

fn valid_suffix(suffix: &str) -> bool {
    !suffix.is_empty()
        && suffix.len() <= 64
        && suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id's prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, unique and ordered after every id made before it.
            #[cfg(not(target_arch = "wasm32"))]
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, new_suffix()))
            }

            /// A new id that carries `unix_millis` as its time (see [`suffix_at`]); unique, and
            /// ordered after every id made before it for the same millisecond.
            #[cfg(not(target_arch = "wasm32"))]
            pub fn at_millis(unix_millis: u64) -> Self {
                Self(format!("{}{}", $prefix, suffix_at(unix_millis)))
            }

            /// Parses an id, refusing other prefixes and characters.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                match value.strip_prefix($prefix) {
                    Some(suffix) if valid_suffix(suffix) => Ok(Self(value.to_owned())),
                    _ => Err(InvalidId { kind: $kind, prefix: $prefix, value: value.chars().take(80).collect() }),
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse(value)
            }
        }
    };
}

prefixed_id!(
    /// An inquiry: one attempt of one individual to verify their identity.
    InquiryId, "inq_", "inquiry"
);
prefixed_id!(
    /// An inquiry template (configuration authored in a TOML file).
    TemplateId, "itmpl_", "inquiry template"
);
prefixed_id!(
    /// One content version of a template; derived from the template's content.
    TemplateVersionId, "itmplv_", "inquiry template version"
);
prefixed_id!(
    /// One run of one check family on what the individual provided.
    VerificationId, "ver_", "verification"
);
prefixed_id!(
    /// A document provided by the individual (e.g. a government ID photo).
    DocumentId, "doc_", "document"
);
prefixed_id!(
    /// An account in the organization's own system.
    AccountId, "act_", "account"
);
prefixed_id!(
    /// An immutable record of a status change.
    EventId, "evt_", "event"
);
prefixed_id!(
    /// An endpoint of the organization subscribed to events.
    WebhookId, "wbh_", "webhook"
);
prefixed_id!(
    /// One attempt to deliver one event to one webhook.
    WebhookAttemptId, "wha_", "webhook attempt"
);
prefixed_id!(
    /// An API key of the organization (the key's secret is separate and only hashed).
    ApiKeyId, "key_", "API key"
);
prefixed_id!(
    /// The individual's session on one inquiry (its token is separate and secret).
    SessionId, "ses_", "session"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_their_prefix_and_parse_back() {
        let id = InquiryId::new();
        assert!(id.as_str().starts_with("inq_"));
        assert_eq!(id.as_str().len(), 4 + 26);
        assert_eq!(InquiryId::parse(id.as_str()), Ok(id));
    }

    #[test]
    fn ids_made_for_a_time_carry_it_and_sort_by_it() {
        let at = 1_795_809_051_580;
        // Interleaved with ids for other times, as concurrent requests make them.
        let ids: Vec<InquiryId> = (0..200)
            .map(|n| {
                InquiryId::at_millis(at + 7 * (n % 3));
                InquiryId::at_millis(at)
            })
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(
            ids, sorted,
            "made within one millisecond, in the order made"
        );
        let before = format!("inq_{}", suffix_bound(at));
        let after = format!("inq_{}", suffix_bound(at + 1));
        for id in &ids {
            assert!(before.as_str() <= id.as_str() && id.as_str() < after.as_str());
            let uuid = uuid::Uuid::from_u128(decode(&id.as_str()[4..]));
            assert_eq!(uuid.get_version_num(), 7);
            let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
            assert_eq!(seconds * 1000 + u64::from(nanos) / 1_000_000, at);
        }
        // An earlier time (another clock) still gives an id of that time.
        let earlier = InquiryId::at_millis(at - 60_000);
        assert!(earlier.as_str() < before.as_str());
    }

    /// Crockford base32 (26 characters) back to 128 bits.
    fn decode(suffix: &str) -> u128 {
        suffix.bytes().fold(0u128, |value, c| {
            let digit = CROCKFORD.iter().position(|&d| d == c).unwrap() as u128;
            (value << 5) | digit
        })
    }

    #[test]
    fn ids_sort_by_creation_time() {
        let ids: Vec<InquiryId> = (0..200).map(|_| InquiryId::new()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn wrong_prefixes_and_characters_are_refused() {
        assert!(InquiryId::parse("ver_01ABC").is_err());
        assert!(InquiryId::parse("inq_").is_err());
        assert!(InquiryId::parse("inq_abc def").is_err());
        assert!(InquiryId::parse("inq_<script>").is_err());
        assert!(TemplateId::parse("itmpl_basic_kyc").is_ok());
    }

    #[test]
    fn base32_keeps_numeric_order() {
        let values = [0u128, 1, 31, 32, u64::MAX as u128, u128::MAX - 1, u128::MAX];
        for pair in values.windows(2) {
            assert!(encode_base32_128(pair[0]) < encode_base32_128(pair[1]));
        }
    }
}
