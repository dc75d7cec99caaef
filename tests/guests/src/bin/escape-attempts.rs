//! A hostile app that tries to reach outside its namespace: path-like keys, NUL bytes, forged
//! cursors, other namespaces' names in keys, prefixes and `open`. Every attempt must either
//! stay inside `app:NAME` (a key is just bytes there) or be refused with the right error. The app
//! leaves the keys it stored behind for the host to inspect, and exits non-zero on any surprise.

use zero_storage_test_guests::zero;

use zero::storage::store;
use zero::storage::types::Error;

use zero_storage_test_guests::check;

/// Keys that look like paths, other namespaces or control bytes: all plain keys in our namespace.
const ODD_KEYS: [&str; 10] = [
    "../../etc/passwd",
    "/etc/passwd",
    "..",
    "a\0b",
    "\0",
    "app:victim/secret",
    "user:victim:secret",
    "system",
    "C:\\Windows\\win.ini",
    "%2e%2e%2fetc",
];

fn main() {
    let me = format!("app:{}", std::env::var("ZERO_STORAGE_APP").unwrap_or_default());
    for key in ODD_KEYS {
        check!(store::set(key, key.as_bytes(), 0).is_ok());
        check!(store::get(key) == Ok(key.as_bytes().to_vec()));
    }
    // The victim's keys are not visible under any spelling.
    check!(store::get("secret") == Err(Error::NotFound));
    check!(store::list("secret", 10, None).map(|page| page.keys) == Ok(vec![]));
    // Our listing holds exactly our keys, NUL bytes and all.
    let mut mine: Vec<String> = ODD_KEYS.iter().map(|k| k.to_string()).collect();
    mine.sort();
    check!(store::list("", 100, None).map(|page| page.keys) == Ok(mine.clone()));

    // Forged cursors: malformed ones are refused; well-formed ones only move within our keys.
    for cursor in ["", "c", "c2e2e2f", "cZZ", "cff", "../../etc/passwd", "c00", "c❤", &format!("c{}", "61".repeat(300))]
    {
        let outcome = store::list("", 10, Some(cursor));
        check!(matches!(outcome, Err(Error::InvalidArgument(_))) || outcome.is_ok());
        if let Ok(page) = outcome {
            check!(page.keys.iter().all(|key| mine.contains(key)));
        }
    }
    check!(matches!(store::list("", 10, Some("bogus")), Err(Error::InvalidArgument(_))));
    // A cursor naming a victim's key is just a position in our own key space.
    let after = store::list("", 100, Some("c736563726574")).expect("cursor after `secret`");
    check!(after.keys.iter().all(|key| key.as_str() > "secret" && mine.contains(key)));

    // Other namespaces, by every spelling: refused before anything is read.
    for other in ["system", "app:victim", "user:victim", "app:victim/../hostile", "app:../victim", "app:", "user:", ""]
    {
        let outcome = store::open(other).map(|bucket| bucket.name());
        check!(matches!(outcome, Err(Error::PermissionDenied) | Err(Error::InvalidArgument(_))));
    }
    for malformed in ["app:victim\0", "app:vic tim", "app:victim:x", "APP:victim", "app:.victim"] {
        check!(matches!(store::open(malformed).map(|b| b.name()), Err(Error::InvalidArgument(_))));
    }
    // Our own namespace by name is still ours.
    check!(store::open(&me).map(|bucket| bucket.name()) == Ok(me.clone()));

    // Out-of-range arguments are refused, not clamped into something else.
    check!(store::set(&"k".repeat(257), b"", 0) == Err(Error::KeyTooLong));
    check!(store::list(&"p".repeat(257), 1, None).map(|page| page.keys) == Err(Error::KeyTooLong));
    check!(matches!(store::set("ttl", b"", u64::MAX), Err(Error::InvalidArgument(_))));
    check!(store::list("", u32::MAX, None).is_ok_and(|page| page.keys.len() <= 1000));
    let quota = store::quota().expect("quota");
    check!(quota.namespace == me && quota.key_count == ODD_KEYS.len() as u64);
    println!("escape-attempts: every attempt stayed inside {me}");
}
