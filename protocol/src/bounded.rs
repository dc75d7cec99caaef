//! Lists in requests, decoded keeping at most one element more than the storage accepts.
//!
//! A list's length prefix is the sender's word, and each element may be one byte on the wire
//! but 24 or more in memory (an empty `String`): decoded in full, a 32 MiB frame of empty keys
//! would take about a gigabyte. Past the bound the remaining elements are still read (so the
//! payload is checked to its end), one at a time, and dropped. The list that is kept is longer
//! than any the storage accepts, so the request still gets the storage's own typed error
//! (`InvalidArgument`, "a batch may name at most 1000 keys; split it"), as it would have with
//! the whole list.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use zero_storage_component::limits::MAX_BATCH_KEYS;

use crate::limits::{MAX_CLAIM_ROLES, MAX_EXPORT_NAMESPACES};

/// A batch's keys, entries, preconditions or writes: at most `MAX_BATCH_KEYS + 1` kept.
pub(crate) fn batch<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
    at_most(deserializer, MAX_BATCH_KEYS + 1)
}

/// A claim's roles: at most `MAX_CLAIM_ROLES + 1` kept.
pub(crate) fn roles<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    at_most(deserializer, MAX_CLAIM_ROLES + 1)
}

/// An export's namespaces: at most `MAX_EXPORT_NAMESPACES + 1` kept.
pub(crate) fn export_namespaces<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    at_most(deserializer, MAX_EXPORT_NAMESPACES + 1)
}

/// A sequence of which at most `keep` elements are kept.
pub(crate) fn at_most<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
    keep: usize,
) -> Result<Vec<T>, D::Error> {
    deserializer.deserialize_seq(AtMost { keep, element: PhantomData })
}

struct AtMost<T> {
    keep: usize,
    element: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for AtMost<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        // The claimed length is not trusted for the allocation either.
        let mut kept = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.keep));
        while let Some(element) = seq.next_element::<T>()? {
            if kept.len() < self.keep {
                kept.push(element);
            }
        }
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use crate::messages::*;

    #[test]
    fn a_batch_of_a_million_empty_keys_decodes_to_one_more_than_the_storage_accepts() {
        let keys = vec![String::new(); 1_000_000];
        let request = StorageGetManyRequest { namespace: None, keys };
        let payload = postcard::to_allocvec(&request).unwrap();
        let decoded: StorageGetManyRequest = postcard::from_bytes(&payload).unwrap();
        assert_eq!(decoded.keys.len(), zero_storage_component::limits::MAX_BATCH_KEYS + 1);
    }

    #[test]
    fn lists_within_the_bound_decode_whole_and_a_cut_list_is_still_malformed() {
        let keys: Vec<String> = (0..1000).map(|n| format!("k{n}")).collect();
        let request = StorageDeleteManyRequest { namespace: None, keys: keys.clone() };
        let payload = postcard::to_allocvec(&request).unwrap();
        assert_eq!(postcard::from_bytes::<StorageDeleteManyRequest>(&payload).unwrap().keys, keys);
        // Elements past the bound are still read: a payload cut there does not decode.
        let many = StorageDeleteManyRequest { namespace: None, keys: vec!["k".into(); 1500] };
        let payload = postcard::to_allocvec(&many).unwrap();
        assert!(postcard::from_bytes::<StorageDeleteManyRequest>(&payload[..payload.len() - 1]).is_err());
    }

    #[test]
    fn an_export_keeps_at_most_one_namespace_more_than_the_service_accepts() {
        let request = StorageExportFileRequest { path: "/d".into(), namespaces: vec![String::new(); 100_000] };
        let decoded: StorageExportFileRequest =
            postcard::from_bytes(&postcard::to_allocvec(&request).unwrap()).unwrap();
        assert_eq!(decoded.namespaces.len(), crate::limits::MAX_EXPORT_NAMESPACES + 1);
    }

    #[test]
    fn a_claim_keeps_at_most_one_role_more_than_the_service_accepts() {
        let claim = StorageClaimRequest { name: "a".into(), roles: vec!["r".into(); 10_000], user: None };
        let decoded: StorageClaimRequest = postcard::from_bytes(&postcard::to_allocvec(&claim).unwrap()).unwrap();
        assert_eq!(decoded.roles.len(), crate::limits::MAX_CLAIM_ROLES + 1);
    }
}
