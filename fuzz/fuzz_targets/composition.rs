//! The host's composition check on crafted compositions: arbitrary bytes choose sections to add
//! to a genuine composition (core modules, storage copies, impostors, instantiations with
//! privileged instances, exports, aliases, bundles), and the check must accept exactly those
//! the model calls sealed. The model and the property are `tests/src/composition.rs`, shared
//! with the property test in `tests/compositions.rs`.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/src/composition.rs"]
#[allow(dead_code)]
mod composition;

use composition::{Genuine, check, decode, minimal_app};

static GENUINE: OnceLock<Genuine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let genuine = GENUINE.get_or_init(|| Genuine::of(&minimal_app()));
    let (base, ops) = decode(data);
    check(genuine, base, &ops);
});
