//! A well-behaved app that checks every `zero:storage/store` operation from inside a guest,
//! including the errors, and exits non-zero with a message on the first surprise.
//! Run it with user `alice`; it leaves `tour/kept` = `yes` behind in its own namespace.

use zero_storage_test_guests::zero;

use zero::storage::store;
use zero::storage::types::Error;

use zero_storage_test_guests::check;

fn main() {
    let app = std::env::var("ZERO_STORAGE_APP").unwrap_or_default();
    let user = std::env::var("ZERO_STORAGE_USER").unwrap_or_default();

    // Own namespace: the basic operations.
    check!(store::set("tour/a", b"1", 0).is_ok());
    check!(store::set("tour/b", &[0u8, 255, 7], 0).is_ok());
    check!(store::get("tour/b") == Ok(vec![0, 255, 7]));
    check!(store::exists("tour/a") == Ok(true));
    check!(store::delete("tour/a") == Ok(true));
    check!(store::delete("tour/a") == Ok(false));
    check!(store::get("tour/a") == Err(Error::NotFound));
    check!(store::set("tour/kept", b"yes", 0).is_ok());

    // Limits at the boundary.
    check!(store::set(&"k".repeat(256), b"", 0).is_ok());
    check!(store::set(&"k".repeat(257), b"", 0) == Err(Error::KeyTooLong));
    check!(store::set("", b"", 0).map_err(|e| matches!(e, Error::InvalidArgument(_))) == Err(true));
    check!(store::set("big", &vec![0; (1 << 20) + 1], 0) == Err(Error::ValueTooLarge));
    check!(store::delete(&"k".repeat(256)) == Ok(true));

    // Listing with a cursor.
    let first = store::list("tour/", 1, None).expect("list");
    check!(first.keys == ["tour/b"]);
    let second = store::list("tour/", 1, first.next_cursor.as_deref()).expect("list");
    check!(second.keys == ["tour/kept"] && second.next_cursor.is_none());
    check!(matches!(store::list("", 10, Some("bogus")), Err(Error::InvalidArgument(_))));

    // Quota of the own namespace.
    let quota = store::quota().expect("quota");
    check!(quota.namespace == format!("app:{app}"));
    check!(quota.key_count == 2 && quota.used_bytes == (6 + 3) + (9 + 3));

    // The user namespace is open to us; other namespaces are not, whether or not they exist.
    let mine = store::open(&format!("user:{user}")).expect("open own user namespace");
    check!(mine.name() == format!("user:{user}"));
    check!(mine.set("from-app", b"hi", 0).is_ok());
    check!(mine.get("from-app") == Ok(b"hi".to_vec()));
    check!(store::get("from-app") == Err(Error::NotFound));
    for other in ["system", "app:victim", "user:mallory", "app:nobody-here"] {
        check!(store::open(other).err() == Some(Error::PermissionDenied));
    }
    check!(matches!(store::open("app:../victim").err(), Some(Error::InvalidArgument(_))));
    println!("store-tour: all checks passed");
}
