//! A hostile app that allocates without bound.

use zero_storage_test_guests::zero;

fn main() {
    let _ = zero::storage::store::set("started", b"yes", 0);
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1; 16 << 20]);
        std::hint::black_box(&hoard);
    }
}
