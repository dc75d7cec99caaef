//! A hostile app that hands storage a 100 MiB value. Storage must refuse it (`value-too-large`)
//! without storing anything; the app then exits 0. Any other outcome exits non-zero.

use zero_storage_test_guests::zero;

use zero::storage::store;
use zero::storage::types::Error;

fn main() {
    let _ = store::set("started", b"yes", 0);
    let huge = vec![0x5a_u8; 100 << 20];
    let outcome = store::set("huge", &huge, 0);
    drop(huge);
    if outcome != Err(Error::ValueTooLarge) {
        eprintln!("huge-value: expected value-too-large, got {outcome:?}");
        std::process::exit(2);
    }
    let batch = vec![("huge".to_string(), vec![0x5a_u8; 20 << 20])];
    let outcome = store::set_many(&batch, 0);
    if !matches!(outcome, Err(Error::InvalidArgument(_)) | Err(Error::ValueTooLarge)) {
        eprintln!("huge-value: expected a refused batch, got {outcome:?}");
        std::process::exit(3);
    }
    if store::exists("huge") != Ok(false) {
        eprintln!("huge-value: the refused value was stored");
        std::process::exit(4);
    }
    println!("huge-value: refused as expected");
}
