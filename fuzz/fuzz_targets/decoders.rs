//! Every decoder of untrusted input in the storage logic: list cursors (from guests), namespace
//! names (from guests and config files), keys and prefixes, and the stored records a damaged
//! backend could hand back. None may panic; whatever a decoder accepts must round-trip.

#![no_main]

use libfuzzer_sys::fuzz_target;
use zero_storage_component::layout::{self, Meta, Usage};
use zero_storage_component::{Error, cursor, limits, namespace};

fuzz_target!(|data: &[u8]| {
    // Stored records: corrupt bytes are `backend-error`, never a panic.
    if let Ok(meta) = Meta::decode(data) {
        assert_eq!(Meta::decode(&meta.encode()), Ok(meta));
    }
    if let Ok(usage) = Usage::decode(data) {
        assert_eq!(usage.encode(), data);
    }
    if let Ok((at, key)) = layout::parse_expiry_key(data) {
        assert_eq!(layout::expiry_key(at, key), data);
    }
    let _ = layout::key_of_meta(data);
    let _ = layout::decode_expiry_value(data);

    let Ok(text) = std::str::from_utf8(data) else { return };
    // Cursors: only what `encode` produces is accepted, so decoding then encoding gives it back.
    match cursor::decode(text) {
        Ok(key) => {
            assert_eq!(cursor::encode(&key), text);
            assert!(!key.is_empty() && key.len() <= limits::MAX_KEY_BYTES);
        }
        Err(error) => assert!(matches!(error, Error::InvalidArgument(_))),
    }
    assert_eq!(
        cursor::decode(&cursor::encode(text)).ok().as_deref(),
        (!text.is_empty() && text.len() <= 256).then_some(text)
    );
    // Namespace names: accepted ones are `system`, `app:NAME` or `user:NAME` with a NAME that can
    // never hold a `:`, so no two (namespace, key) pairs can be confused.
    if namespace::check_namespace(text).is_ok() {
        let name = text.strip_prefix("app:").or_else(|| text.strip_prefix("user:"));
        assert!(text == "system" || name.is_some_and(|n| !n.is_empty() && !n.contains(':') && !n.starts_with('.')));
    }
    // Keys and prefixes: the checks agree with the documented limits.
    assert_eq!(limits::check_key(text).is_ok(), !text.is_empty() && text.len() <= limits::MAX_KEY_BYTES);
    assert_eq!(limits::check_prefix(text).is_ok(), text.len() <= limits::MAX_KEY_BYTES);
    let (start, end) = layout::meta_range(text.as_bytes(), None);
    assert!(start <= layout::meta_key(text.as_bytes()) && layout::meta_key(text.as_bytes()) < end);
});
