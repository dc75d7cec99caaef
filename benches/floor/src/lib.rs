//! The floor storage component: serves `wasi:keyvalue/store@0.2.0-draft` with no rules at all,
//! turning every call into one call of the host's `zero:floor/map` (see `wit/floor.wit`).
//!
//! It has no limits, no namespaces and no validation, so a benchmark of an app talking to it
//! times only what any design with a separate storage component must pay: the calls between the
//! components and the copies of keys and values they make.

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "zero:floor/floor", generate_all });
}

use bindings::exports::wasi::keyvalue0_2_0_draft::store::{self, Error, KeyResponse};
use bindings::zero::floor::map;

/// The most keys one `list-keys` page holds. The floor hands out no cursors, so a map with more
/// keys than this lists only its first page.
const PAGE: u32 = 1000;

struct Floor;

/// The one bucket: every name opens the host's single map.
struct Bucket;

impl store::Guest for Floor {
    type Bucket = Bucket;

    fn open(_identifier: String) -> Result<store::Bucket, Error> {
        Ok(store::Bucket::new(Bucket))
    }
}

impl store::GuestBucket for Bucket {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, Error> {
        Ok(map::get(&key))
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), Error> {
        map::set(&key, &value);
        Ok(())
    }

    fn delete(&self, key: String) -> Result<(), Error> {
        map::delete(&key);
        Ok(())
    }

    fn exists(&self, key: String) -> Result<bool, Error> {
        Ok(map::exists(&key))
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<KeyResponse, Error> {
        // The floor never returns a cursor, so any cursor a caller passes is not one of ours.
        if cursor.is_some() {
            return Err(Error::Other("this store lists one page and hands out no cursors".into()));
        }
        Ok(KeyResponse { keys: map::keys(PAGE), cursor: None })
    }
}

// The export glue is generated `unsafe` code, like the bindings.
#[allow(unsafe_code)]
mod export {
    use super::Floor;
    crate::bindings::export!(Floor with_types_in crate::bindings);
}
