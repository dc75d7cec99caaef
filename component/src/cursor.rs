//! List cursors: an opaque string that names the last key of a page.
//!
//! A cursor is `c` followed by the lowercase hex of the key's bytes. It carries no position in
//! the backend, so it stays valid across inserts and deletes: the next page resumes strictly
//! after the key it names. Guests may send anything, so decoding checks every byte.

use crate::error::{Error, Result};
use crate::limits::MAX_KEY_BYTES;

const TAG: char = 'c';

/// Encodes the cursor that resumes after `last_key`.
pub fn encode(last_key: &str) -> String {
    let mut cursor = String::with_capacity(1 + 2 * last_key.len());
    cursor.push(TAG);
    for byte in last_key.bytes() {
        cursor.push(char::from_digit((byte >> 4) as u32, 16).unwrap_or('0'));
        cursor.push(char::from_digit((byte & 0xf) as u32, 16).unwrap_or('0'));
    }
    cursor
}

/// Decodes a cursor into the key it resumes after, rejecting anything `encode` cannot produce.
pub fn decode(cursor: &str) -> Result<String> {
    let malformed =
        || Error::InvalidArgument("the cursor is malformed; pass back a next-cursor from list unchanged".into());
    let hex = cursor.strip_prefix(TAG).ok_or_else(malformed)?.as_bytes();
    if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * MAX_KEY_BYTES {
        return Err(malformed());
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let bytes = hex
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(malformed)?;
    String::from_utf8(bytes).map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_any_key() {
        for key in ["a", "hello/world", "ключ", "😀", &"z".repeat(256), "\0"] {
            assert_eq!(decode(&encode(key)).as_deref(), Ok(key));
        }
    }

    #[test]
    fn garbage_cursors_are_invalid_arguments() {
        let too_long = format!("c{}", "61".repeat(257));
        for cursor in ["", "c", "x61", "c6", "c6G", "cZZ", "cff", "C61", "c61 ", too_long.as_str()] {
            assert!(matches!(decode(cursor), Err(Error::InvalidArgument(_))), "{cursor:?}");
        }
    }
}
