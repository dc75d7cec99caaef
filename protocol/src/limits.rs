//! The frame cap, computed from the storage limits so that it moves when they do.

use zero_storage_component::limits::{
    MAX_BATCH_KEYS, MAX_BATCH_VALUE_BYTES, MAX_KEY_BYTES, MAX_READ_VALUE_BYTES, MAX_VALUE_BYTES,
};
use zero_storage_component::namespace::{MAX_NAME_BYTES, USER_PREFIX};

/// The most roles a `STORAGE_CLAIM` may name: a claim is small, and each role is checked on
/// every namespace decision.
pub const MAX_CLAIM_ROLES: usize = 16;

/// The most namespaces one `STORAGE_EXPORT_FILE` may name; an empty list exports every
/// namespace that holds data, however many.
pub const MAX_EXPORT_NAMESPACES: usize = 1000;

/// The bytes of a frame header: `tag: u32 LE`, then `payload length: u32 LE`.
pub const HEADER_LEN: usize = 8;

/// The longest payload a frame may declare: the largest valid request, `STORAGE_TRANSACT` at
/// every limit (33,823,507 bytes, just over 32 MiB). A longer declared length is refused from
/// the header alone, before the payload is read, so a peer cannot make the other side buffer
/// more than this. Every answer is smaller, so the same cap bounds both directions.
///
/// The sum, each part an upper bound of its postcard encoding:
/// - `namespace: Some(..)`: 71 = option byte 1 + length varint 1 + `user:` and a 64-byte NAME.
/// - two list lengths of up to 1000 elements: 2 × 2 varint bytes.
/// - each of the at most 1000 preconditions and writes, without its value: at most 269 =
///   variant 1 + key length varint 2 + key 256 + the largest tail (a `VersionIs` version,
///   a 10-byte varint; a `Set` has value length 3 + `ttl_secs` 5 = 8).
/// - the values written: at most 16 MiB (`MAX_BATCH_VALUE_BYTES`).
/// - the values `ValueEquals` preconditions compare: at most 16 MiB (`MAX_READ_VALUE_BYTES`),
///   since a precondition only holds if its value equals the stored one, and the stored
///   values compared are capped at 16 MiB. (Only a transaction naming one key twice, or one
///   that cannot succeed, carries more; it must be split or dropped.)
///
/// `STORAGE_SET_MANY` at its limits needs 17,038,294 bytes, `STORAGE_SET` 1,048,842 and
/// `STORAGE_SET_IN` 1,048,913; the largest answer, a `STORAGE_GET_MANY` of 16 MiB, 16,778,267.
pub const MAX_FRAME_PAYLOAD: usize = NAMESPACE_FIELD
    + 2 * varint_len(MAX_BATCH_KEYS as u64)
    + MAX_BATCH_KEYS * MAX_ELEMENT_WITHOUT_VALUE
    + MAX_BATCH_VALUE_BYTES
    + MAX_READ_VALUE_BYTES;

/// `namespace: Option<String>` holding the longest namespace name, `user:NAME`.
const NAMESPACE_FIELD: usize =
    1 + varint_len((USER_PREFIX.len() + MAX_NAME_BYTES) as u64) + USER_PREFIX.len() + MAX_NAME_BYTES;

/// A transaction element (precondition or write) without its value bytes.
const MAX_ELEMENT_WITHOUT_VALUE: usize = {
    let key = 1 + varint_len(MAX_KEY_BYTES as u64) + MAX_KEY_BYTES;
    let version_tail = varint_len(u64::MAX);
    let set_tail = varint_len(MAX_VALUE_BYTES as u64) + varint_len(u32::MAX as u64);
    key + if version_tail > set_tail { version_tail } else { set_tail }
};

/// The bytes of `value` as a postcard (LEB128) varint.
const fn varint_len(mut value: u64) -> usize {
    let mut bytes = 1;
    while value >= 0x80 {
        value >>= 7;
        bytes += 1;
    }
    bytes
}

// The cap must fit the header's `u32` length field.
const _: () = assert!(MAX_FRAME_PAYLOAD <= u32::MAX as usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths_match_postcard() {
        for value in [0, 1, 127, 128, 16_383, 16_384, 1 << 20, u32::MAX as u64, u64::MAX] {
            assert_eq!(varint_len(value), postcard::to_allocvec(&value).unwrap().len(), "{value}");
        }
    }

    #[test]
    fn frame_cap_is_just_over_thirty_two_mebibytes() {
        assert_eq!(NAMESPACE_FIELD, 71);
        assert_eq!(MAX_ELEMENT_WITHOUT_VALUE, 269);
        assert_eq!(MAX_FRAME_PAYLOAD, 33_823_507);
    }
}
