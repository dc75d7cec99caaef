//! A guest written against the WASI key-value standard (0.2.0-draft, as wasmtime's host uses
//! it), exercising every function. Exits non-zero with a message on the first surprise.
//! Expects to run as an app with user `alice`.

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: ["../../wit", "wit"], world: "test:guests/kv-draft", generate_all });
}
use bindings::wasi::keyvalue0_2_0_draft::{atomics, batch, store};

use zero_storage_test_guests::check;

fn main() {
    let bucket = store::open("").expect("open own namespace");
    check!(matches!(store::open("user:bob"), Err(store::Error::AccessDenied)));
    let user = store::open("user:alice").expect("open the user's namespace");

    // store
    check!(bucket.get("missing").ok() == Some(None));
    bucket.set("k", b"v").expect("set");
    check!(bucket.get("k").ok() == Some(Some(b"v".to_vec())));
    check!(bucket.exists("k").ok() == Some(true));
    bucket.delete("k").expect("delete");
    check!(bucket.exists("k").ok() == Some(false));
    check!(matches!(bucket.set("", b""), Err(store::Error::Other(_))));
    user.set("mine", b"1").expect("set in user namespace");
    check!(bucket.exists("mine").ok() == Some(false));

    // list-keys with numeric cursors pages through everything, in order, once.
    for i in 0..230 {
        bucket.set(&format!("item/{i:03}"), b"x").expect("set item");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = bucket.list_keys(cursor).expect("list-keys");
        seen.extend(page.keys);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..230).map(|i| format!("item/{i:03}")).collect();
    check!(seen == expected);
    check!(bucket.list_keys(Some(987_654)).is_err());

    // atomics
    check!(atomics::increment(&bucket, "n", 2).ok() == Some(2));
    check!(atomics::increment(&bucket, "n", 40).ok() == Some(42));
    check!(bucket.get("n").ok() == Some(Some(b"42".to_vec())));
    bucket.set("text", b"abc").expect("set text");
    check!(atomics::increment(&bucket, "text", 1).is_err());
    check!(atomics::increment(&bucket, "n", u64::MAX).is_err());
    check!(bucket.get("n").ok() == Some(Some(b"42".to_vec())));

    // batch
    let pairs = vec![("b1".to_string(), b"1".to_vec()), ("b2".to_string(), b"2".to_vec())];
    batch::set_many(&bucket, &pairs).expect("set-many");
    let keys = vec!["b1".to_string(), "nope".to_string(), "b2".to_string()];
    let got = batch::get_many(&bucket, &keys).expect("get-many");
    check!(got == vec![Some(("b1".to_string(), b"1".to_vec())), None, Some(("b2".to_string(), b"2".to_vec()))]);
    batch::delete_many(&bucket, &keys).expect("delete-many");
    check!(bucket.exists("b2").ok() == Some(false));
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
    println!("kv-draft: all checks passed");
}
