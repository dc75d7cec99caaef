//! `MAX_FRAME_PAYLOAD` is the largest valid request: the largest requests the storage limits
//! allow fit under it, the largest transaction only just, and every answer fits too.

use zero_storage_component::limits::{MAX_BATCH_KEYS, MAX_BATCH_VALUE_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use zero_storage_protocol::*;

fn longest_namespace() -> Option<String> {
    Some(format!("user:{}", "u".repeat(64)))
}

fn key(n: usize) -> String {
    format!("{n:0>width$}", width = MAX_KEY_BYTES)
}

fn payload_len(request: Request) -> usize {
    request.to_frame().expect("the request fits in a frame").payload().len()
}

#[test]
fn the_largest_transaction_fits_within_a_few_hundred_bytes_of_the_cap() {
    let values = MAX_BATCH_VALUE_BYTES / MAX_VALUE_BYTES;
    let preconditions = (0..values)
        .map(|n| Precondition::ValueEquals(key(n), vec![1; MAX_VALUE_BYTES]))
        .chain((2 * values..MAX_BATCH_KEYS).map(|n| Precondition::VersionIs(key(n), u64::MAX)))
        .collect();
    let writes = (values..2 * values)
        .map(|n| Write::Set { key: key(n), value: vec![2; MAX_VALUE_BYTES], ttl_secs: u32::MAX })
        .collect();
    let length = payload_len(Request::Transact(StorageTransactRequest {
        namespace: longest_namespace(),
        preconditions,
        writes,
    }));
    assert!(length <= MAX_FRAME_PAYLOAD);
    assert!(
        MAX_FRAME_PAYLOAD - length < 200,
        "the cap is {} bytes above the largest transaction",
        MAX_FRAME_PAYLOAD - length
    );
}

#[test]
fn the_largest_batch_write_fits_under_the_cap() {
    // 16 MiB over 1000 values: 216 of 16,778 bytes and 784 of 16,777.
    let (per_value, longer) = (MAX_BATCH_VALUE_BYTES / MAX_BATCH_KEYS, MAX_BATCH_VALUE_BYTES % MAX_BATCH_KEYS);
    let entries = (0..MAX_BATCH_KEYS).map(|n| (key(n), vec![3; per_value + usize::from(n < longer)])).collect();
    let length = payload_len(Request::SetMany(StorageSetManyRequest {
        namespace: longest_namespace(),
        entries,
        ttl_secs: u32::MAX,
    }));
    assert_eq!(length, 17_038_294);
}

#[test]
fn the_largest_single_write_fits_under_the_cap() {
    // Key length 2 + key 256 + value length 3 + value 1 MiB + ttl_secs 5.
    let set = StorageSetRequest { key: key(0), value: vec![4; MAX_VALUE_BYTES], ttl_secs: u32::MAX };
    assert_eq!(payload_len(Request::Set(set)), 1_048_842);
    let set_in = StorageSetInRequest {
        namespace: longest_namespace(),
        key: key(0),
        value: vec![4; MAX_VALUE_BYTES],
        ttl_secs: u32::MAX,
    };
    assert_eq!(payload_len(Request::SetIn(set_in)), 1_048_913);
}

#[test]
fn the_largest_answer_fits_under_the_cap() {
    let values = vec![Some(vec![5; MAX_VALUE_BYTES]); MAX_BATCH_VALUE_BYTES / MAX_VALUE_BYTES];
    let answer = Response::GetMany(StorageGetManyResponse {
        result: Ok(values.into_iter().chain(std::iter::repeat_n(None, MAX_BATCH_KEYS - 16)).collect()),
    });
    assert_eq!(answer.to_frame().unwrap().payload().len(), 16_778_267);
    let page = Response::List(StorageListResponse { keys: (0..1000).map(key).collect(), next_cursor: Some(key(0)) });
    assert!(page.to_frame().unwrap().payload().len() < 300_000);
}

#[test]
fn a_request_over_the_cap_cannot_be_encoded() {
    let entries = (0..40).map(|n| (key(n), vec![0; MAX_VALUE_BYTES])).collect();
    let request = Request::SetMany(StorageSetManyRequest { namespace: None, entries, ttl_secs: 0 });
    let error = request.to_frame().unwrap_err();
    assert_eq!(error.tag, MSG_STORAGE_SET_MANY);
    assert!(error.length > MAX_FRAME_PAYLOAD as u64);
}
