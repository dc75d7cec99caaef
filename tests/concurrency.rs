//! Many processes on many threads writing one namespace keep usage exact.

use std::collections::BTreeMap;

use zero_storage::{Config, ProcessIdentity};
use zero_storage_tests::{backends, runtime_with};

#[test]
fn eight_threads_writing_one_namespace_keep_usage_exact() {
    for b in backends() {
        let (runtime, _) = runtime_with(b.backend.clone(), Config::default());
        let ops_per_thread = if b.name == "fs" { 60 } else { 400 };
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let runtime = runtime.clone();
                std::thread::spawn(move || {
                    let mut p = runtime.process(ProcessIdentity::new("shared").unwrap()).unwrap();
                    for i in 0..ops_per_thread {
                        // Keys overlap between threads so that writes race on the same entries.
                        let key = format!("k{}", (i * 7 + t) % 40);
                        match i % 5 {
                            4 => {
                                p.delete(&key).unwrap();
                            }
                            _ => p.set(&key, &vec![t as u8; (i * 13 + t) % 300], 0).unwrap(),
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer thread panicked");
        }
        let mut p = runtime.process(ProcessIdentity::new("shared").unwrap()).unwrap();
        let keys = p.list("", 1000, None).unwrap().keys;
        let stored: BTreeMap<String, usize> = keys.iter().map(|k| (k.clone(), p.get(k).unwrap().len())).collect();
        let recomputed: u64 = stored.iter().map(|(k, v)| (k.len() + v) as u64).sum();
        let quota = p.quota().unwrap();
        assert_eq!(quota.used_bytes, recomputed, "{}: usage equals the recomputed sum", b.name);
        assert_eq!(quota.key_count, stored.len() as u64, "{}", b.name);
    }
}
