//! A guest written against the WASI key-value standard (0.2.0-draft2, as upstream main and Spin
//! use it), exercising every function. Exits non-zero with a message on the first surprise.
//! Expects to run as an app with user `alice` and an app quota of 10 MiB.

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "test:guests/kv-draft2", generate_all });
}
use bindings::wasi::keyvalue0_2_0_draft2::{atomics, batch, store};

use zero_storage_test_guests::check;

fn other(result: Result<impl Sized, store::Error>) -> String {
    match result {
        Err(store::Error::Other(message)) => message,
        _ => String::from("<not an other(..) error>"),
    }
}

fn main() {
    let bucket = store::open("").expect("open own namespace");
    let same = store::open("default").expect("open default");
    check!(matches!(store::open("app:victim"), Err(store::Error::AccessDenied)));
    check!(matches!(store::open("not a namespace"), Err(store::Error::AccessDenied)));
    let user = store::open("user:alice").expect("open the user's namespace");

    // store
    check!(bucket.get("missing").ok() == Some(None));
    bucket.set("k", b"v").expect("set");
    check!(same.get("k").ok() == Some(Some(b"v".to_vec())));
    check!(bucket.exists("k").ok() == Some(true));
    bucket.delete("k").expect("delete");
    bucket.delete("k").expect("delete of a missing key is fine");
    check!(bucket.exists("k").ok() == Some(false));
    check!(other(bucket.set(&"k".repeat(257), b"")).contains("key too long"));
    check!(other(bucket.set("big", &vec![0; 11 << 20])).contains("value too large"));
    user.set("k", b"user").expect("set in user namespace");
    check!(bucket.get("k").ok() == Some(None));

    // list-keys pages through everything, in order, once.
    for i in 0..250 {
        bucket.set(&format!("item/{i:03}"), b"x").expect("set item");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor.as_deref()).expect("list-keys");
        seen.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..250).map(|i| format!("item/{i:03}")).collect();
    check!(seen == expected);
    check!(bucket.list_keys(Some("garbage")).is_err());

    // atomics: increment
    check!(atomics::increment(&bucket, "n", 5).ok() == Some(5));
    check!(atomics::increment(&bucket, "n", -8).ok() == Some(-3));
    check!(bucket.get("n").ok() == Some(Some(b"-3".to_vec())));
    bucket.set("text", b"abc").expect("set text");
    check!(other(atomics::increment(&bucket, "text", 1)).contains("not a decimal integer"));
    bucket.set("max", i64::MAX.to_string().as_bytes()).expect("set max");
    check!(other(atomics::increment(&bucket, "max", 1)).contains("overflow"));

    // atomics: compare-and-swap
    let cas = atomics::Cas::new(&bucket, "c").expect("cas on a missing key");
    check!(cas.current().ok() == Some(None));
    check!(atomics::swap(cas, b"1").is_ok());
    let cas = atomics::Cas::new(&bucket, "c").expect("cas");
    check!(cas.current().ok() == Some(Some(b"1".to_vec())));
    bucket.set("c", b"2").expect("someone else writes");
    match atomics::swap(cas, b"3") {
        Err(atomics::CasError::CasFailed(fresh)) => {
            check!(fresh.current().ok() == Some(Some(b"2".to_vec())));
            check!(atomics::swap(fresh, b"3").is_ok());
        }
        _ => check!(false),
    }
    let cas = atomics::Cas::new(&bucket, "c").expect("cas");
    bucket.delete("c").expect("delete");
    check!(matches!(atomics::swap(cas, b"4"), Err(atomics::CasError::CasFailed(_))));
    check!(bucket.get("c").ok() == Some(None));

    // batch
    let pairs = vec![("b1".to_string(), b"1".to_vec()), ("b2".to_string(), b"2".to_vec())];
    batch::set_many(&bucket, &pairs).expect("set-many");
    let keys = vec!["b1".to_string(), "nope".to_string(), "b2".to_string()];
    let got = batch::get_many(&bucket, &keys).expect("get-many");
    check!(
        got == vec![
            ("b1".to_string(), Some(b"1".to_vec())),
            ("nope".to_string(), None),
            ("b2".to_string(), Some(b"2".to_vec()))
        ]
    );
    batch::delete_many(&bucket, &keys).expect("delete-many");
    check!(bucket.exists("b1").ok() == Some(false) && bucket.exists("b2").ok() == Some(false));
    // All or nothing: one bad key refuses the whole batch.
    let bad = vec![("ok".to_string(), b"1".to_vec()), ("k".repeat(300), b"2".to_vec())];
    check!(batch::set_many(&bucket, &bad).is_err());
    check!(bucket.exists("ok").ok() == Some(false));
    // One call reads at most 16 MiB of values (a key named twice counts twice): exactly the cap
    // is answered, one value more is refused with a message that says to split the call.
    bucket.set("mib", &vec![9; 1 << 20]).expect("set 1 MiB");
    let at_cap = vec!["mib".to_string(); 16];
    check!(batch::get_many(&bucket, &at_cap).map(|got| got.len()).ok() == Some(16));
    let over_cap = vec!["mib".to_string(); 17];
    check!(
        matches!(batch::get_many(&bucket, &over_cap), Err(store::Error::Other(why)) if why.contains("smaller batches"))
    );
    bucket.delete("mib").expect("delete the 1 MiB value");
    println!("kv-draft2: all checks passed");
}
