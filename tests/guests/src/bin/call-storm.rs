//! A hostile app that calls storage as fast as it can: `call-storm N` makes N calls (a mix of
//! writes, reads and existence checks on a handful of keys) and exits 0 if every call behaved.

use zero_storage_test_guests::zero;

use zero::storage::store;

fn main() {
    let calls: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let mut failures = 0u64;
    for i in 0..calls {
        let key = format!("storm/{}", i % 16);
        let ok = match i % 100 {
            0 => store::set(&key, &i.to_le_bytes(), 0).is_ok(),
            1..=9 => store::get(&key).is_ok() || store::exists(&key) == Ok(false),
            _ => store::exists(&key).is_ok(),
        };
        failures += u64::from(!ok);
    }
    let _ = store::set("storm/done", calls.to_string().as_bytes(), 0);
    if failures > 0 {
        eprintln!("call-storm: {failures} of {calls} calls failed");
        std::process::exit(2);
    }
    println!("call-storm: {calls} calls");
}
