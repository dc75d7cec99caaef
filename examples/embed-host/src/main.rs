//! Embedding Zero Storage in your own host: one runtime, several processes on several threads,
//! each confined to its own namespaces, all sharing one durable data directory.
//!
//! Run it with `cargo run --release -p embed-host -- [DATA_DIR]` (default `zero-data-embed`).

use std::path::PathBuf;

use zero_storage::{ProcessIdentity, RuntimeBuilder, StorageError};

fn main() -> anyhow::Result<()> {
    let data = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "zero-data-embed".into()));
    let runtime = RuntimeBuilder::new().fs(&data)?.build()?;

    // Each process gets its own storage instance; the runtime is shared between threads.
    let workers: Vec<_> = ["billing", "search", "mail"]
        .into_iter()
        .map(|app| {
            let runtime = runtime.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut process = runtime.process(ProcessIdentity::new(app)?)?;
                for i in 0..100 {
                    process.set(&format!("job/{i:03}"), format!("{app} job {i}").as_bytes(), 0)?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker thread panicked")?;
    }

    // A process for user alice may use `user:alice`, but not another app's namespace.
    let mut mail = runtime.process(ProcessIdentity::new("mail")?.with_user("alice")?)?;
    mail.bucket("user:alice")?.set("signature", b"-- Alice", 0)?;
    match mail.bucket("app:billing").map(|_| ()) {
        Err(zero_storage::Error::Storage(StorageError::PermissionDenied)) => println!("mail cannot open app:billing"),
        other => anyhow::bail!("expected permission-denied, got {other:?}"),
    }

    // An administrator (a system process) sees every namespace.
    let mut admin = runtime.process(ProcessIdentity::system("admin")?)?;
    for namespace in runtime.backend().namespaces()? {
        let quota = admin.bucket(&namespace)?.quota()?;
        println!(
            "{:<12} {:>8} of {:>9} bytes, {:>3} keys",
            quota.namespace, quota.used_bytes, quota.quota_bytes, quota.key_count
        );
    }
    Ok(())
}
