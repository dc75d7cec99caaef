//! A hostile app that never returns.

use zero_storage_test_guests::zero;

fn main() {
    let _ = zero::storage::store::set("started", b"yes", 0);
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
