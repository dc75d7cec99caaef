//! The benchmark guest: loops over `wasi:keyvalue` operations (see `wit/bench.wit`).

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "zero:bench/bench-guest", generate_all });
}

use bindings::exports::zero::bench::ops::Guest;
use bindings::wasi::keyvalue0_2_0_draft::store;

struct Bench;

thread_local! {
    static BUCKET: store::Bucket = store::open("").expect("open the default bucket");
    static KEYS: Vec<String> = (0..100).map(|i| format!("key-{i:012}")).collect();
    /// The sets made so far, stamped into each value set so that every set changes stored data.
    static SETS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Guest for Bench {
    fn run(op: u8, count: u32, value_size: u32) -> u64 {
        let mut value = vec![7u8; value_size as usize];
        let mut checksum = 0u64;
        BUCKET.with(|bucket| {
            KEYS.with(|keys| {
                for i in 0..count as usize {
                    let key = &keys[i % keys.len()];
                    checksum += match op {
                        0 => {
                            let stamp = SETS.replace(SETS.get() + 1).to_le_bytes();
                            let len = stamp.len().min(value.len());
                            value[..len].copy_from_slice(&stamp[..len]);
                            bucket.set(key, &value).map(|()| 1)
                        }
                        1 => bucket.get(key).map(|v| v.map_or(0, |v| v.len() as u64)),
                        2 => bucket.exists(key).map(u64::from),
                        3 => bucket.delete(key).map(|()| 1),
                        _ => bucket.list_keys(None).map(|page| page.keys.len() as u64),
                    }
                    .expect("storage operation failed");
                }
            })
        });
        checksum
    }
}

// The export glue is generated `unsafe` code, like the bindings.
#[allow(unsafe_code)]
mod export {
    use super::Bench;
    crate::bindings::export!(Bench with_types_in crate::bindings);
}
