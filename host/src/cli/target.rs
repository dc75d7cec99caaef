//! Where the storage commands go: a process of this command's own runtime, or a running Storage
//! Service. Both act as the system process `zero-storage-cli` and report the same errors, so the
//! commands are written once, over [`Target`], and print the same either way.
//!
//! The choice (README, "Command line"):
//! 1. `--connect SOCKET` (or `ZERO_STORAGE_CONNECT`): that service, or a clear error; never the
//!    backend directly, since the caller asked for the service.
//! 2. Backend `fs` (the default), and a service answers on `<data>/zero-storage.sock`: that
//!    service. It holds the data directory's lock for as long as it runs, so opening the
//!    directory here would only wait for it and fail.
//! 3. Otherwise the backend, opened here. `memory` and `etcd` always take this way: a `memory`
//!    command is its own throwaway store, which a service's memory must not stand in for, and
//!    etcd is already shared by every process that opens it, with no lock to wait for.

use std::path::{Path, PathBuf};

use anyhow::Context;
use zero_storage::protocol::{self as wire, ClientError, DumpFileError, ServiceClient};
use zero_storage::{Bucket, ListPage, Process, ProcessIdentity, QuotaInfo, Runtime};

use super::{BackendKind, Global, local};

/// The identity the CLI acts as, here and through a service.
const CLI_PROCESS_NAME: &str = "zero-storage-cli";

/// The role that makes the CLI a system process, which may use every namespace.
const SYSTEM_ROLE: &str = "system";

/// Where this command's storage calls go.
pub(super) enum Target {
    /// The backend, opened in this process.
    Local {
        /// The CLI's system process, boxed so that the enum is not ten times the size of its
        /// other variant. Declared first so that it is dropped first.
        process: Box<Process>,
        /// Kept for the namespace list, and because the runtime (its epoch ticker, which
        /// bounds each storage call) must outlive the process that runs on it.
        runtime: Runtime,
    },
    /// A Storage Service, which holds the backend.
    Service(Service),
}

/// A connection to a Storage Service that has accepted the CLI's system identity.
pub(super) struct Service {
    client: ServiceClient,
    /// Named in errors about the connection.
    socket: PathBuf,
}

/// One namespace of a [`Target`], as [`Target::open`] checked it.
pub(super) enum TargetBucket<'t> {
    /// A bucket of the local process.
    Local(Bucket<'t>),
    /// A namespace the service is asked about in every request.
    Service {
        /// The connection.
        service: &'t mut Service,
        /// The namespace, a well-formed name.
        namespace: String,
    },
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum TargetError {
    /// The storage refused or failed. A service's storage errors are turned back into the
    /// host's, so they read exactly as they do when the backend is opened here.
    #[error(transparent)]
    Storage(#[from] zero_storage::Error),
    /// The service refused or failed an export or import: its text is the dump library's
    /// message, as it reads when the backend is opened here.
    #[error("{0}")]
    Dump(DumpFileError),
    /// The service could not be reached, refused the connection, or broke the protocol.
    #[error("{error} (storage service at {}); check that `zero-storage serve` still runs", socket.display())]
    Service {
        /// What went wrong.
        error: ClientError,
        /// The service's socket.
        socket: PathBuf,
    },
}

impl TargetError {
    /// Whether this is the storage error `not-found` (a `get` of a key with no live entry).
    pub(super) fn is_not_found(&self) -> bool {
        matches!(self, TargetError::Storage(error) if error.is_not_found())
    }
}

impl Target {
    /// Where the storage commands of this invocation go; see the module documentation.
    pub(super) fn choose(global: &Global) -> anyhow::Result<Target> {
        if let Some((socket, client)) = service(global)? {
            return Service::claim(client, &socket).map(Target::Service);
        }
        let runtime = local::runtime(global)?;
        let process = Box::new(runtime.process(ProcessIdentity::system(CLI_PROCESS_NAME)?)?);
        Ok(Target::Local { process, runtime })
    }

    /// Opens `namespace`, checking its name: the CLI is a system process, so a well-formed
    /// name is all it takes.
    pub(super) fn open(&mut self, namespace: &str) -> Result<TargetBucket<'_>, TargetError> {
        match self {
            Target::Local { process, .. } => Ok(TargetBucket::Local(process.bucket(namespace)?)),
            Target::Service(service) => {
                // The same check the storage component makes when it opens a namespace, so a
                // malformed name fails here with the same message, before any request.
                zero_storage_component::namespace::check_namespace(namespace).map_err(zero_storage::Error::from)?;
                Ok(TargetBucket::Service { service, namespace: namespace.to_owned() })
            }
        }
    }

    /// Every namespace that holds data, in ascending order.
    pub(super) fn namespaces(&mut self) -> Result<Vec<String>, TargetError> {
        match self {
            Target::Local { runtime, .. } => Ok(runtime.backend().namespaces().map_err(zero_storage::Error::from)?),
            Target::Service(service) => {
                let mut names = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    // 0: the service's default page size.
                    let page = service.call(|client| client.namespaces(0, cursor.as_deref()))?;
                    names.extend(page.namespaces);
                    cursor = page.next_cursor;
                    if cursor.is_none() {
                        return Ok(names);
                    }
                }
            }
        }
    }

    /// Reclaims the expired entries of `namespace`; returns how many were removed.
    pub(super) fn sweep(&mut self, namespace: &str) -> Result<u64, TargetError> {
        match self {
            Target::Local { process, .. } => Ok(process.sweep(namespace)?),
            Target::Service(service) => service.call(|client| client.sweep(Some(namespace))),
        }
    }
}

/// The Storage Service this invocation uses, by the rules of the module documentation: its
/// socket and a fresh connection to it, or `None` to open the backend here.
pub(super) fn service(global: &Global) -> anyhow::Result<Option<(PathBuf, ServiceClient)>> {
    if let Some(socket) = &global.connect {
        let client = ServiceClient::connect(socket).with_context(|| {
            format!(
                "cannot connect to the storage service at {} (--connect / ZERO_STORAGE_CONNECT): start it with \
                 `zero-storage serve --socket {0}`, or leave out --connect to use the data directory",
                socket.display()
            )
        })?;
        return Ok(Some((socket.clone(), client)));
    }
    if matches!(global.backend, BackendKind::Fs) {
        let socket = global.data.join(zero_storage::DEFAULT_SOCKET_NAME);
        // Nothing there, or a socket left by a service that died: open the directory here.
        if let Ok(client) = ServiceClient::connect(&socket) {
            return Ok(Some((socket, client)));
        }
    }
    Ok(None)
}

impl Service {
    /// Claims the CLI's identity on a fresh connection, as the connection's first request.
    fn claim(mut client: ServiceClient, socket: &Path) -> anyhow::Result<Service> {
        client.claim(CLI_PROCESS_NAME, &[SYSTEM_ROLE], None).with_context(|| {
            format!("the storage service at {} did not accept the CLI as a system process", socket.display())
        })?;
        Ok(Service { client, socket: socket.to_owned() })
    }

    /// Runs one request, with its failure in the CLI's terms.
    fn call<T>(
        &mut self,
        request: impl FnOnce(&mut ServiceClient) -> Result<T, ClientError>,
    ) -> Result<T, TargetError> {
        request(&mut self.client).map_err(|error| match error {
            ClientError::Storage(error) | ClientError::Dump(DumpFileError::Storage(error)) => {
                TargetError::Storage(zero_storage::Error::Storage(error.into()))
            }
            ClientError::Dump(error) => TargetError::Dump(error),
            error => TargetError::Service { error, socket: self.socket.clone() },
        })
    }

    /// Has the service write a dump of `namespaces` (empty: all that hold data) to a new file at
    /// the absolute `path`, with its own runtime.
    pub(super) fn export_file(
        &mut self,
        path: &Path,
        namespaces: &[String],
    ) -> Result<wire::ExportSummary, TargetError> {
        let path = utf8(path)?;
        self.call(|client| client.export_file(path, namespaces))
    }

    /// Has the service restore the dump in the file at the absolute `path`.
    pub(super) fn import_file(
        &mut self,
        path: &Path,
        mode: wire::ImportMode,
        dry_run: bool,
    ) -> Result<wire::ImportSummary, TargetError> {
        let path = utf8(path)?;
        self.call(|client| client.import_file(path, mode, dry_run))
    }
}

/// `path` as the protocol carries it, UTF-8.
fn utf8(path: &Path) -> Result<&str, TargetError> {
    path.to_str().ok_or_else(|| {
        TargetError::Storage(zero_storage::Error::Invalid(format!(
            "the path {} is not UTF-8, so it cannot be sent to the storage service; use a path in UTF-8 \
             (or set TMPDIR to one)",
            path.display()
        )))
    })
}

impl TargetBucket<'_> {
    /// The value under `key`; `not-found` if there is no live entry.
    pub(super) fn get(&mut self, key: &str) -> Result<Vec<u8>, TargetError> {
        match self {
            TargetBucket::Local(bucket) => Ok(bucket.get(key)?),
            TargetBucket::Service { service, namespace } => service
                .call(|client| client.get_in(Some(namespace), key))?
                // The protocol answers an absent key with `None`; the host API with `not-found`.
                .ok_or(TargetError::Storage(zero_storage::Error::Storage(zero_storage::StorageError::NotFound))),
        }
    }

    /// Stores `value` under `key`, expiring after `ttl_secs` seconds (0 = never).
    pub(super) fn set(&mut self, key: &str, value: &[u8], ttl_secs: u32) -> Result<(), TargetError> {
        match self {
            TargetBucket::Local(bucket) => Ok(bucket.set(key, value, ttl_secs.into())?),
            TargetBucket::Service { service, namespace } => {
                service.call(|client| client.set_in(Some(namespace), key, value, ttl_secs))
            }
        }
    }

    /// Removes `key`; returns whether a live entry existed.
    pub(super) fn delete(&mut self, key: &str) -> Result<bool, TargetError> {
        match self {
            TargetBucket::Local(bucket) => Ok(bucket.delete(key)?),
            TargetBucket::Service { service, namespace } => {
                service.call(|client| client.delete_in(Some(namespace), key))
            }
        }
    }

    /// One page of keys starting with `prefix`, after `cursor`.
    pub(super) fn list(&mut self, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage, TargetError> {
        match self {
            TargetBucket::Local(bucket) => Ok(bucket.list(prefix, limit, cursor)?),
            TargetBucket::Service { service, namespace } => {
                service.call(|client| client.list_in(Some(namespace), prefix, limit as usize, cursor)).map(Into::into)
            }
        }
    }

    /// The namespace's usage and quota.
    pub(super) fn quota(&mut self) -> Result<QuotaInfo, TargetError> {
        match self {
            TargetBucket::Local(bucket) => Ok(bucket.quota()?),
            TargetBucket::Service { service, namespace } => {
                service.call(|client| client.quota_in(Some(namespace))).map(Into::into)
            }
        }
    }
}
