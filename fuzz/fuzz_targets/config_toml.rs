//! The host's configuration parser on arbitrary text: it accepts or refuses with an error, never
//! panics, and what it accepts has the documented shape.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(config) = zero_storage::Config::from_toml(text) {
        assert!(config.apps.timeout_secs >= 1, "timeout_secs = 0 must be refused");
        for namespace in config.quotas.namespaces.keys() {
            assert!(zero_storage_component::namespace::check_namespace(namespace).is_ok(), "{namespace:?}");
        }
    }
});
