//! Size limits and the checks that enforce them on every guest-supplied value.

use crate::error::{Error, Result};

/// The longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 256;
/// The largest value, in bytes (1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The page size `list` uses when asked for a limit of 0.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page `list` returns; larger limits are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The most keys one batch or transaction may name (reads and writes together).
pub const MAX_BATCH_KEYS: usize = 1000;
/// The most value bytes one batch or transaction may write. What one call may read is capped
/// the same way, by [`MAX_READ_VALUE_BYTES`].
pub const MAX_BATCH_VALUE_BYTES: usize = 16 << 20;
/// The most stored value bytes one call may read: what one `get-many` returns (a key named
/// twice counts twice), and the values one `transact` compares for its `value-equals`
/// preconditions. 1000 keys of 1 MiB would otherwise build a 1000 MiB answer inside the
/// storage instance, which shares the app's memory limit. The write-side twin is
/// [`MAX_BATCH_VALUE_BYTES`].
pub const MAX_READ_VALUE_BYTES: usize = 16 << 20;

/// Checks that `key` is a valid key: 1 to [`MAX_KEY_BYTES`] bytes.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("the key is empty; keys are 1 to 256 bytes".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLong);
    }
    Ok(())
}

/// Checks that `value` is at most [`MAX_VALUE_BYTES`] long.
pub fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::ValueTooLarge);
    }
    Ok(())
}

/// Checks a list prefix: empty is allowed, longer than a key is not.
pub fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLong);
    }
    Ok(())
}

/// Counts the stored value bytes one call reads, and refuses the call as soon as they would
/// pass [`MAX_READ_VALUE_BYTES`], so an answer over the cap is never assembled.
#[derive(Debug, Default)]
pub struct ReadBudget {
    read: usize,
}

impl ReadBudget {
    /// Counts `bytes` more; fails with `invalid-argument` if the total would pass the cap.
    pub fn take(&mut self, bytes: usize) -> Result<()> {
        match self.read.checked_add(bytes) {
            Some(total) if total <= MAX_READ_VALUE_BYTES => {
                self.read = total;
                Ok(())
            }
            _ => Err(Error::InvalidArgument(format!(
                "one call may read at most {MAX_READ_VALUE_BYTES} value bytes; split it into smaller batches"
            ))),
        }
    }
}

/// The page size for a guest-supplied `limit`: 0 means the default, and the guest's value is
/// clamped to [`MAX_PAGE_SIZE`] so one call's work stays bounded.
pub fn page_size(limit: u32) -> usize {
    match limit {
        0 => DEFAULT_PAGE_SIZE as usize,
        n => n.min(MAX_PAGE_SIZE) as usize,
    }
}

/// The expiry time in milliseconds for an entry set at `now_ms` with `ttl_secs`, or `None` for
/// no expiry (`ttl_secs` = 0). A time to live too large to represent is an error, never a wrap.
pub fn expiry_ms(now_ms: u64, ttl_secs: u64) -> Result<Option<u64>> {
    if ttl_secs == 0 {
        return Ok(None);
    }
    ttl_secs
        .checked_mul(1000)
        .and_then(|ttl_ms| now_ms.checked_add(ttl_ms))
        .map(Some)
        .ok_or_else(|| Error::InvalidArgument(format!("ttl-secs {ttl_secs} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_of_256_bytes_is_accepted_and_257_is_too_long() {
        assert_eq!(check_key(&"k".repeat(256)), Ok(()));
        assert_eq!(check_key(&"k".repeat(257)), Err(Error::KeyTooLong));
    }

    #[test]
    fn empty_key_is_an_invalid_argument() {
        assert!(matches!(check_key(""), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn value_of_one_mebibyte_is_accepted_and_one_more_byte_is_too_large() {
        assert_eq!(check_value(&vec![0; MAX_VALUE_BYTES]), Ok(()));
        assert_eq!(check_value(&vec![0; MAX_VALUE_BYTES + 1]), Err(Error::ValueTooLarge));
    }

    #[test]
    fn read_budget_takes_exactly_the_cap_and_refuses_one_byte_more() {
        let mut budget = ReadBudget::default();
        assert_eq!(budget.take(MAX_READ_VALUE_BYTES - 1), Ok(()));
        assert_eq!(budget.take(1), Ok(()));
        assert!(matches!(budget.take(1), Err(Error::InvalidArgument(why)) if why.contains("smaller batches")));
        assert!(matches!(ReadBudget::default().take(usize::MAX), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn page_size_zero_means_default_and_huge_limits_are_clamped() {
        assert_eq!(page_size(0), 100);
        assert_eq!(page_size(1), 1);
        assert_eq!(page_size(1000), 1000);
        assert_eq!(page_size(u32::MAX), 1000);
    }

    #[test]
    fn ttl_zero_never_expires_and_huge_ttl_is_rejected_not_wrapped() {
        assert_eq!(expiry_ms(5, 0), Ok(None));
        assert_eq!(expiry_ms(5, 2), Ok(Some(2005)));
        assert!(matches!(expiry_ms(5, u64::MAX), Err(Error::InvalidArgument(_))));
        assert!(matches!(expiry_ms(u64::MAX - 10, 1), Err(Error::InvalidArgument(_))));
    }
}
