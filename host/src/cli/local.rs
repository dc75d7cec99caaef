//! Opening the backend in this process: the runtime that `run`, `serve` and, when no service
//! answers, the storage commands use.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use zero_storage::backend::FsBackend;
use zero_storage::{Config, Runtime, RuntimeBuilder};

use super::{BackendKind, Global};

/// The runtime on the backend the global options name, with the configuration file's quotas and
/// limits.
pub(super) fn runtime(global: &Global) -> anyhow::Result<Runtime> {
    let config = config(global)?;
    // One command runs one or two processes: reserving a pool would cost more than it saves.
    let builder = RuntimeBuilder::new().config(config).instance_pool(None);
    let builder = match global.backend {
        // Wait for the lock: short commands run in parallel on one directory take turns.
        BackendKind::Fs => {
            builder.backend(Arc::new(FsBackend::open_waiting(&global.data, Duration::from_secs(global.lock_wait))?))
        }
        BackendKind::Memory => builder,
        BackendKind::Etcd => builder.backend(etcd_backend(global)?),
    };
    builder.build().context("cannot start the storage runtime")
}

/// The configuration file's settings, or the defaults without one.
pub(super) fn config(global: &Global) -> anyhow::Result<Config> {
    Ok(match &global.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    })
}

#[cfg(feature = "etcd")]
fn etcd_backend(global: &Global) -> anyhow::Result<Arc<dyn zero_storage::backend::Backend>> {
    use zero_storage::backend::{EtcdBackend, EtcdOptions};
    let mut options = EtcdOptions::new(EtcdOptions::parse_endpoints(&global.etcd_endpoints));
    options.prefix = global.etcd_prefix.clone();
    if let Some(user) = &global.etcd_user {
        let password = std::env::var("ZERO_STORAGE_ETCD_PASSWORD")
            .context("--etcd-user needs the password in the environment variable ZERO_STORAGE_ETCD_PASSWORD")?;
        options.user = Some((user.clone(), password));
    }
    let read =
        |path: &std::path::PathBuf| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    if let Some(ca) = &global.etcd_ca {
        let client_pem = match (&global.etcd_cert, &global.etcd_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            _ => None,
        };
        options.tls = Some(zero_storage::backend::EtcdTls { ca_pem: read(ca)?, client_pem });
    } else if global.etcd_cert.is_some() {
        bail!("--etcd-cert needs --etcd-ca, the CA that signed the etcd members' certificates");
    }
    Ok(Arc::new(EtcdBackend::connect(options)?))
}

#[cfg(not(feature = "etcd"))]
fn etcd_backend(_: &Global) -> anyhow::Result<Arc<dyn zero_storage::backend::Backend>> {
    bail!(
        "this zero-storage was built without the etcd backend: build it with \
         `cargo build --release -p zero-storage --features etcd` (needs protoc: apt-get install protobuf-compiler)"
    )
}
