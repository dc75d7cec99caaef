//! One connection's storage: its identity, its [`Process`], and the answer to each request.
//! Plain Rust over a [`Runtime`], with no socket, so that the rules are unit-tested here.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use zero_storage_protocol::*;

use crate::dump::{self, DumpError, ExportOptions, ImportOptions};
use crate::error::Error;
use crate::identity::ProcessIdentity;
use crate::process::{Bucket, Process};
use crate::runtime::Runtime;
use crate::service::peer::Trust;

/// The name of the `system` process a trusted peer is when it claims nothing.
const DEFAULT_PROCESS_NAME: &str = "zero-storage-service-peer";

/// Who the connection acts as.
enum Standing {
    /// No claim: a `system` process, like the CLI.
    Default,
    /// A peer with a grant (not fully trusted) that has claimed nothing yet: no identity.
    Unclaimed,
    /// The identity its first request claimed.
    Claimed(ProcessIdentity),
    /// Its claim failed: no identity, so requests pipelined behind the claim never run as the
    /// wrong one.
    Refused,
}

/// One connection's state. Requests are answered one at a time, in order.
pub(crate) struct Session {
    runtime: Runtime,
    /// What the peer may claim.
    trust: Trust,
    standing: Standing,
    /// Started on the first request that needs it; dropped after a trap, which leaves an
    /// instance unusable, so that the next request gets a fresh one.
    process: Option<Process>,
    /// Whether a request has arrived: a claim is only accepted as the first.
    started: bool,
    /// Where runtime failures are described (they are not sent: they may name host internals).
    peer: String,
}

impl Session {
    /// A connection from a peer trusted as far as `trust`, described as `peer` in log lines.
    pub(crate) fn new(runtime: Runtime, trust: Trust, peer: String) -> Self {
        let standing = match trust {
            Trust::Full => Standing::Default,
            Trust::Granted(_) => Standing::Unclaimed,
        };
        Session { runtime, trust, standing, process: None, started: false, peer }
    }

    /// The answer to one request frame: its answer message or the error frame.
    pub(crate) fn answer(&mut self, frame: &Frame) -> Response {
        let first = !std::mem::replace(&mut self.started, true);
        match Request::from_frame(frame) {
            Ok(Request::Claim(claim)) => Response::Claim(StorageClaimResponse { result: self.claim(claim, first) }),
            Ok(request) => self.storage(request),
            Err(undecodable) => {
                // A claim that cannot be read is a failed claim: what is pipelined behind it must
                // not run as the default identity.
                if undecodable.tag() == MSG_STORAGE_CLAIM {
                    self.refuse();
                }
                Response::Error(ErrorResponse::from(&undecodable))
            }
        }
    }

    fn claim(&mut self, claim: StorageClaimRequest, first: bool) -> Result<String, StorageError> {
        // At most once, and first: a later claim would change the meaning of requests already
        // pipelined behind it.
        // A failed claim leaves the connection with no identity (PROTOCOL.md, "Identity").
        if !first {
            self.refuse();
            return Err(StorageError::PermissionDenied);
        }
        if claim.roles.len() > MAX_CLAIM_ROLES {
            self.refuse();
            return Err(StorageError::InvalidArgument(format!("a claim may name at most {MAX_CLAIM_ROLES} roles")));
        }
        // Fully trusted peers (the service's own uid and root) may claim any identity, as the
        // CLI's `run --app --role --user` may; others only what their grant lists.
        if let Trust::Granted(grant) = &self.trust
            && !grant.allows(&claim.name, &claim.roles, claim.user.as_deref())
        {
            self.refuse();
            return Err(StorageError::PermissionDenied);
        }
        let identity = ProcessIdentity::new(&claim.name).and_then(|mut identity| {
            for role in &claim.roles {
                identity = identity.with_role(role);
            }
            match &claim.user {
                Some(user) => identity.with_user(user),
                None => Ok(identity),
            }
        });
        match identity {
            Ok(identity) => {
                let namespace = identity.own_namespace().to_owned();
                self.standing = Standing::Claimed(identity);
                self.process = None;
                Ok(namespace)
            }
            Err(error) => {
                self.refuse();
                Err(self.storage_error(error))
            }
        }
    }

    /// Takes the connection's identity away: every later storage request is denied.
    fn refuse(&mut self) {
        self.standing = Standing::Refused;
        self.process = None;
    }

    fn storage(&mut self, request: Request) -> Response {
        match request {
            Request::Get(r) => get(self.call(None, |b| absent_is_none(b.get(&r.key)))),
            Request::Set(r) => set(self.call(None, |b| b.set(&r.key, &r.value, r.ttl_secs.into()))),
            Request::Delete(r) => delete(self.call(None, |b| b.delete(&r.key))),
            Request::List(r) => match self.call(None, |b| b.list(&r.prefix, clamp_limit(r.limit), r.cursor.as_deref()))
            {
                Ok(page) => Response::List(StorageListResponse { keys: page.keys, next_cursor: page.next_cursor }),
                // STORAGE_LIST's answer has no error case: the error frame carries it.
                Err(error) => {
                    Response::Error(ErrorResponse { request_tag: MSG_STORAGE_LIST, message: error.to_string() })
                }
            },
            Request::Quota(StorageQuotaRequest) => {
                Response::Quota(StorageQuotaResponse { result: self.call(None, |b| b.quota()).map(Into::into) })
            }
            Request::GetIn(r) => Response::GetIn(StorageGetResponse {
                result: self.call(r.namespace.as_deref(), |b| absent_is_none(b.get(&r.key))),
            }),
            Request::SetIn(r) => Response::SetIn(StorageSetResponse {
                result: self.call(r.namespace.as_deref(), |b| b.set(&r.key, &r.value, r.ttl_secs.into())),
            }),
            Request::DeleteIn(r) => Response::DeleteIn(StorageDeleteResponse {
                result: self.call(r.namespace.as_deref(), |b| b.delete(&r.key)),
            }),
            Request::ListIn(r) => Response::ListIn(StorageListInResponse {
                result: self
                    .call(r.namespace.as_deref(), |b| b.list(&r.prefix, clamp_limit(r.limit), r.cursor.as_deref()))
                    .map(Into::into),
            }),
            Request::QuotaIn(r) => Response::QuotaIn(StorageQuotaResponse {
                result: self.call(r.namespace.as_deref(), |b| b.quota()).map(Into::into),
            }),
            Request::Exists(r) => Response::Exists(StorageExistsResponse {
                result: self.call(r.namespace.as_deref(), |b| b.exists(&r.key)),
            }),
            Request::GetVersioned(r) => Response::GetVersioned(StorageGetVersionedResponse {
                result: self
                    .call(r.namespace.as_deref(), |b| absent_is_none(b.get_versioned(&r.key)))
                    .map(|versioned| versioned.map(Into::into)),
            }),
            Request::GetMany(r) => Response::GetMany(StorageGetManyResponse {
                result: self.call(r.namespace.as_deref(), |b| b.get_many(&r.keys)),
            }),
            Request::SetMany(r) => Response::SetMany(StorageSetManyResponse {
                result: self.call(r.namespace.as_deref(), |b| b.set_many(&r.entries, r.ttl_secs.into())),
            }),
            Request::DeleteMany(r) => Response::DeleteMany(StorageDeleteManyResponse {
                result: self.call(r.namespace.as_deref(), |b| b.delete_many(&r.keys)),
            }),
            Request::Increment(r) => Response::Increment(StorageIncrementResponse {
                result: self.call(r.namespace.as_deref(), |b| b.increment(&r.key, r.delta)),
            }),
            Request::Transact(r) => {
                let preconditions: Vec<_> = r.preconditions.into_iter().map(Into::into).collect();
                let writes: Vec<_> = r.writes.into_iter().map(Into::into).collect();
                Response::Transact(StorageTransactResponse {
                    result: self.call(r.namespace.as_deref(), |b| b.transact(&preconditions, &writes)),
                })
            }
            Request::Namespaces(r) => Response::Namespaces(StorageNamespacesResponse { result: self.namespaces(r) }),
            Request::Sweep(r) => Response::Sweep(StorageSweepResponse { result: self.sweep(r.namespace.as_deref()) }),
            Request::ExportFile(r) => Response::ExportFile(StorageExportFileResponse { result: self.export_file(r) }),
            Request::ImportFile(r) => Response::ImportFile(StorageImportFileResponse { result: self.import_file(r) }),
            Request::Claim(_) => unreachable!("claims are answered by `answer`"),
        }
    }

    /// Runs `op` in `namespace` (`None`: the own one) with the connection's process.
    fn call<T>(
        &mut self,
        namespace: Option<&str>,
        op: impl FnOnce(&mut Bucket<'_>) -> crate::Result<T>,
    ) -> Result<T, StorageError> {
        let process = self.process()?;
        let outcome = match namespace {
            None => op(&mut process.own()),
            Some(namespace) => process.bucket(namespace).and_then(|mut bucket| op(&mut bucket)),
        };
        outcome.map_err(|error| self.storage_error(error))
    }

    fn process(&mut self) -> Result<&mut Process, StorageError> {
        if self.process.is_none() {
            let identity = match &self.standing {
                Standing::Default => ProcessIdentity::system(DEFAULT_PROCESS_NAME).expect("a valid name"),
                Standing::Claimed(identity) => identity.clone(),
                Standing::Unclaimed | Standing::Refused => return Err(StorageError::PermissionDenied),
            };
            match self.runtime.process(identity) {
                Ok(process) => self.process = Some(process),
                Err(error) => return Err(self.storage_error(error)),
            }
        }
        Ok(self.process.as_mut().expect("started above"))
    }

    /// The wire error for a host error. Runtime failures are logged, not sent.
    fn storage_error(&mut self, error: Error) -> StorageError {
        match error {
            Error::Storage(error) => error.into(),
            Error::Invalid(why) => StorageError::InvalidArgument(why),
            Error::Runtime(trap) => {
                // A trapped instance cannot be entered again.
                self.process = None;
                eprintln!("zero-storage serve: {}: storage runtime failure: {trap:#}", self.peer);
                StorageError::BackendError("the storage runtime failed; retry the request".into())
            }
            other => {
                eprintln!("zero-storage serve: {}: {other}", self.peer);
                StorageError::BackendError("the storage service failed; retry the request".into())
            }
        }
    }

    /// Whether the connection acts as a system process, the only kind that may enumerate
    /// namespaces and sweep. Every other standing, including any added later, is not.
    fn is_system(&self) -> bool {
        match &self.standing {
            Standing::Default => true,
            Standing::Claimed(identity) => identity.is_system(),
            _ => false,
        }
    }

    /// One page of the namespaces that hold data, after the cursor.
    fn namespaces(&mut self, request: StorageNamespacesRequest) -> Result<NamespacePage, StorageError> {
        // Access first: a caller that may not ask learns nothing, not even that its cursor is bad.
        if !self.is_system() {
            return Err(StorageError::PermissionDenied);
        }
        if let Some(cursor) = &request.cursor {
            zero_storage_component::namespace::check_namespace(cursor)?;
        }
        let limit = page_size(request.limit);
        let names = match self.runtime.backend().namespaces() {
            Ok(names) => names,
            Err(error) => return Err(self.storage_error(error.into())),
        };
        // A filter rather than a binary search: the page is right even if a backend's order
        // were not.
        let mut after = names.into_iter().filter(|name| request.cursor.as_ref().is_none_or(|cursor| name > cursor));
        let namespaces: Vec<String> = after.by_ref().take(limit).collect();
        let next_cursor = if after.next().is_some() { namespaces.last().cloned() } else { None };
        Ok(NamespacePage { namespaces, next_cursor })
    }

    /// Reclaims the expired entries of `namespace` (`None`: the own one).
    fn sweep(&mut self, namespace: Option<&str>) -> Result<u64, StorageError> {
        if !self.is_system() {
            return Err(StorageError::PermissionDenied);
        }
        // Only a system process gets here, and its own namespace is `system`.
        let namespace = namespace.unwrap_or(zero_storage_component::namespace::SYSTEM);
        let outcome = self.process()?.sweep(namespace);
        outcome.map_err(|error| self.storage_error(error))
    }

    /// Whether the connection may have the service read and write files it names: only a fully
    /// trusted peer (the service's own uid or root, which could open those files itself) acting
    /// as a system process. A granted peer never may, whatever roles its grant lists: the
    /// service would read and write files as its own user on that peer's word.
    fn may_use_files(&self) -> bool {
        matches!(self.trust, Trust::Full) && self.is_system()
    }

    /// Access, then the path: what every file request checks before it touches a file.
    fn file_path<'p>(&self, path: &'p str) -> Result<&'p Path, DumpFileError> {
        if !self.may_use_files() {
            return Err(DumpFileError::Storage(StorageError::PermissionDenied));
        }
        let path = Path::new(path);
        // The service's working directory means nothing to the peer.
        if !path.is_absolute() {
            return Err(DumpFileError::Storage(StorageError::InvalidArgument(format!(
                "the dump's path `{}` is not absolute; send an absolute path",
                path.display()
            ))));
        }
        Ok(path)
    }

    /// Writes a dump of the requested namespaces to a new file, which it removes again if the
    /// export fails.
    fn export_file(&mut self, request: StorageExportFileRequest) -> Result<ExportSummary, DumpFileError> {
        let path = self.file_path(&request.path)?;
        if request.namespaces.len() > MAX_EXPORT_NAMESPACES {
            return Err(DumpFileError::Storage(StorageError::InvalidArgument(format!(
                "an export may name at most {MAX_EXPORT_NAMESPACES} namespaces; name none to export every \
                 namespace that holds data"
            ))));
        }
        // Exclusively: never truncate a file, and never follow a link planted at the path.
        let mut file = create_dump_file(path)?;
        let options = ExportOptions { namespaces: request.namespaces, progress: None };
        let outcome = dump::export(&self.runtime, &mut file, options).map_err(dump_failure).and_then(|summary| {
            file.sync_all()
                .map_err(|e| DumpFileError::Failed(format!("cannot sync the dump {}: {e}", path.display())))?;
            Ok(summary)
        });
        if outcome.is_err() {
            drop(file);
            // The file is this request's own, created above; an incomplete dump helps no one.
            let _ = std::fs::remove_file(path);
        }
        outcome.map(export_summary)
    }

    /// Restores the dump in the named file.
    fn import_file(&mut self, request: StorageImportFileRequest) -> Result<ImportSummary, DumpFileError> {
        let path = self.file_path(&request.path)?;
        let mode = match request.mode {
            ImportMode::OnlyEmpty => dump::ImportMode::OnlyEmpty,
            ImportMode::Replace => dump::ImportMode::Replace,
            ImportMode::Merge => dump::ImportMode::Merge,
        };
        let options = ImportOptions { mode, dry_run: request.dry_run, progress: None };
        dump::import_file(&self.runtime, path, options).map(import_summary).map_err(dump_failure)
    }
}

/// Creates the dump file at `path`, which must not exist (mode 0600: a dump holds every
/// namespace's data).
fn create_dump_file(path: &Path) -> Result<File, DumpFileError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| DumpFileError::Failed(format!("cannot create the dump {}: {e}", path.display())))
}

/// A failed export or import on the wire. The message goes to the peer whole, with the
/// namespace and any host detail in it: only fully trusted peers get this far.
fn dump_failure(error: DumpError) -> DumpFileError {
    match error {
        DumpError::NotEmpty { namespace } => DumpFileError::NotEmpty(namespace),
        other => DumpFileError::Failed(other.to_string()),
    }
}

fn export_summary(summary: dump::ExportSummary) -> ExportSummary {
    let dump::ExportSummary { namespaces, entries, usage_bytes, expired, dump_bytes } = summary;
    let namespaces = namespaces
        .into_iter()
        .map(|ns| NamespaceExport {
            namespace: ns.namespace,
            entries: ns.entries,
            usage_bytes: ns.usage_bytes,
            expired: ns.expired,
            snapshot_at_ms: ns.snapshot_at_ms,
        })
        .collect();
    ExportSummary { namespaces, entries, usage_bytes, expired, dump_bytes }
}

fn import_summary(summary: dump::ImportSummary) -> ImportSummary {
    let dump::ImportSummary { namespaces, entries, usage_bytes, expired, mode, dry_run } = summary;
    let namespaces = namespaces
        .into_iter()
        .map(|ns| NamespaceImport {
            namespace: ns.namespace,
            entries: ns.entries,
            usage_bytes: ns.usage_bytes,
            expired: ns.expired,
            action: match ns.action {
                dump::NamespaceAction::Filled => NamespaceAction::Filled,
                dump::NamespaceAction::Replaced { removed } => NamespaceAction::Replaced { removed },
                dump::NamespaceAction::Merged { existing, overwritten } => {
                    NamespaceAction::Merged { existing, overwritten }
                }
            },
        })
        .collect();
    let mode = match mode {
        dump::ImportMode::OnlyEmpty => ImportMode::OnlyEmpty,
        dump::ImportMode::Replace => ImportMode::Replace,
        dump::ImportMode::Merge => ImportMode::Merge,
    };
    ImportSummary { namespaces, entries, usage_bytes, expired, mode, dry_run }
}

/// A page size on the wire as `STORAGE_LIST` reads it: 0 means the default, and anything above
/// the most a page holds means that most (a hostile `usize::MAX` included).
fn page_size(limit: usize) -> usize {
    use zero_storage_component::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
    match limit {
        0 => DEFAULT_PAGE_SIZE as usize,
        limit => limit.min(MAX_PAGE_SIZE as usize),
    }
}

/// `limit` is a `usize` on the wire; the component clamps anything above 1000 to 1000.
fn clamp_limit(limit: usize) -> u32 {
    u32::try_from(limit).unwrap_or(u32::MAX)
}

/// The protocol answers an absent key with `None`, not an error.
fn absent_is_none<T>(outcome: crate::Result<T>) -> crate::Result<Option<T>> {
    match outcome {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error),
    }
}

fn get(result: Result<Option<Vec<u8>>, StorageError>) -> Response {
    Response::Get(StorageGetResponse { result })
}

fn set(result: Result<(), StorageError>) -> Response {
    Response::Set(StorageSetResponse { result })
}

fn delete(result: Result<bool, StorageError>) -> Response {
    Response::Delete(StorageDeleteResponse { result })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::RuntimeBuilder;

    fn session() -> Session {
        Session::new(RuntimeBuilder::new().instance_pool(None).build().unwrap(), Trust::Full, "test peer".into())
    }

    /// A connection from a uid granted app `notes`, for user `alice`.
    fn granted() -> Session {
        let grant = crate::config::Grant {
            uid: 1001,
            apps: vec!["notes".into()],
            users: vec!["alice".into()],
            roles: vec!["reader".into()],
        };
        Session::new(RuntimeBuilder::new().instance_pool(None).build().unwrap(), Trust::Granted(grant), "test".into())
    }

    fn claim_with(name: &str, roles: &[&str], user: Option<&str>) -> Request {
        let roles = roles.iter().map(|role| (*role).to_owned()).collect();
        Request::Claim(StorageClaimRequest { name: name.into(), roles, user: user.map(Into::into) })
    }

    #[test]
    fn a_granted_peer_has_no_identity_until_it_claims_one() {
        let mut session = granted();
        assert_eq!(
            ask(&mut session, get("k")),
            Response::Get(StorageGetResponse { result: Err(StorageError::PermissionDenied) })
        );
    }

    #[test]
    fn a_granted_peer_may_claim_what_its_grant_lists() {
        let mut session = granted();
        let Response::Claim(answer) = ask(&mut session, claim_with("notes", &["reader"], Some("alice"))) else {
            panic!()
        };
        assert_eq!(answer.result.as_deref(), Ok("app:notes"));
        let set = Request::SetIn(StorageSetInRequest {
            namespace: Some("user:alice".into()),
            key: "k".into(),
            value: b"v".to_vec(),
            ttl_secs: 0,
        });
        assert_eq!(ask(&mut session, set), Response::SetIn(StorageSetResponse { result: Ok(()) }));
        let quota = Request::QuotaIn(StorageQuotaInRequest { namespace: Some("system".into()) });
        let Response::QuotaIn(answer) = ask(&mut session, quota) else { panic!() };
        assert_eq!(answer.result, Err(StorageError::PermissionDenied), "notes is not a system process");
    }

    #[test]
    fn a_claim_beyond_the_grant_is_denied_and_leaves_no_identity() {
        for beyond in [
            claim_with("todo", &[], None),
            claim_with("notes", &["system"], None),
            claim_with("notes", &[], Some("bob")),
        ] {
            let mut session = granted();
            assert_eq!(
                ask(&mut session, beyond.clone()),
                Response::Claim(StorageClaimResponse { result: Err(StorageError::PermissionDenied) }),
                "{beyond:?}"
            );
            let Response::Quota(quota) = ask(&mut session, Request::Quota(StorageQuotaRequest)) else { panic!() };
            assert_eq!(quota.result, Err(StorageError::PermissionDenied));
        }
    }

    fn ask(session: &mut Session, request: Request) -> Response {
        session.answer(&request.to_frame().unwrap())
    }

    fn claim(name: &str, user: Option<&str>) -> Request {
        Request::Claim(StorageClaimRequest { name: name.into(), roles: vec![], user: user.map(Into::into) })
    }

    fn get(key: &str) -> Request {
        Request::Get(StorageGetRequest { key: key.into() })
    }

    #[test]
    fn a_claim_after_the_first_request_is_denied() {
        let mut session = session();
        ask(&mut session, get("k"));
        assert_eq!(
            ask(&mut session, claim("notes", None)),
            Response::Claim(StorageClaimResponse { result: Err(StorageError::PermissionDenied) })
        );
        // A failed claim leaves no identity: not even the default system process.
        let Response::Quota(quota) = ask(&mut session, Request::Quota(StorageQuotaRequest)) else { panic!() };
        assert_eq!(quota.result, Err(StorageError::PermissionDenied));
    }

    #[test]
    fn requests_behind_a_claim_that_does_not_decode_are_denied() {
        let mut session = session();
        let Response::Error(error) = session.answer(&Frame::new(MSG_STORAGE_CLAIM, vec![0xff]).unwrap()) else {
            panic!("an undecodable claim gets the error frame")
        };
        assert_eq!(error.request_tag, MSG_STORAGE_CLAIM);
        let Response::Quota(quota) = ask(&mut session, Request::Quota(StorageQuotaRequest)) else { panic!() };
        assert_eq!(quota.result, Err(StorageError::PermissionDenied), "not the default system process");
    }

    #[test]
    fn a_claim_with_too_many_roles_is_refused_and_leaves_no_identity() {
        let mut session = session();
        let roles = vec!["reader".to_string(); MAX_CLAIM_ROLES + 1];
        let request = Request::Claim(StorageClaimRequest { name: "notes".into(), roles, user: None });
        let Response::Claim(answer) = ask(&mut session, request) else { panic!() };
        assert!(matches!(answer.result, Err(StorageError::InvalidArgument(_))), "{answer:?}");
        let Response::Quota(quota) = ask(&mut session, Request::Quota(StorageQuotaRequest)) else { panic!() };
        assert_eq!(quota.result, Err(StorageError::PermissionDenied));
    }

    #[test]
    fn requests_behind_a_failed_claim_are_denied() {
        let mut session = session();
        let Response::Claim(answer) = ask(&mut session, claim("bad:name", None)) else { panic!() };
        assert!(matches!(answer.result, Err(StorageError::InvalidArgument(_))));
        assert_eq!(
            ask(&mut session, get("k")),
            Response::Get(StorageGetResponse { result: Err(StorageError::PermissionDenied) })
        );
    }

    #[test]
    fn an_absent_key_is_none_not_an_error() {
        let mut session = session();
        assert_eq!(ask(&mut session, get("missing")), Response::Get(StorageGetResponse { result: Ok(None) }));
        let versioned = Request::GetVersioned(StorageGetVersionedRequest { namespace: None, key: "missing".into() });
        assert_eq!(
            ask(&mut session, versioned),
            Response::GetVersioned(StorageGetVersionedResponse { result: Ok(None) })
        );
    }

    #[test]
    fn a_failed_list_is_answered_with_the_error_frame() {
        let mut session = session();
        let list = Request::List(StorageListRequest { prefix: String::new(), limit: 10, cursor: Some("x".into()) });
        let Response::Error(error) = ask(&mut session, list) else { panic!() };
        assert_eq!(error.request_tag, MSG_STORAGE_LIST);
    }

    fn set_in(namespace: &str, key: &str, ttl_secs: u32) -> Request {
        Request::SetIn(StorageSetInRequest {
            namespace: Some(namespace.into()),
            key: key.into(),
            value: b"v".to_vec(),
            ttl_secs,
        })
    }

    fn namespaces(limit: usize, cursor: Option<&str>) -> Request {
        Request::Namespaces(StorageNamespacesRequest { limit, cursor: cursor.map(Into::into) })
    }

    fn sweep(namespace: Option<&str>) -> Request {
        Request::Sweep(StorageSweepRequest { namespace: namespace.map(Into::into) })
    }

    fn namespaces_answer(
        session: &mut Session,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<NamespacePage, StorageError> {
        let Response::Namespaces(answer) = ask(session, namespaces(limit, cursor)) else { panic!() };
        answer.result
    }

    fn sweep_answer(session: &mut Session, namespace: Option<&str>) -> Result<u64, StorageError> {
        let Response::Sweep(answer) = ask(session, sweep(namespace)) else { panic!() };
        answer.result
    }

    #[test]
    fn namespaces_and_sweep_are_denied_to_a_process_that_is_not_system() {
        let mut session = session();
        let Response::Claim(answer) = ask(&mut session, claim("notes", Some("alice"))) else { panic!() };
        assert_eq!(answer.result.as_deref(), Ok("app:notes"));
        assert_eq!(
            ask(&mut session, set_in("app:notes", "k", 0)),
            Response::SetIn(StorageSetResponse { result: Ok(()) })
        );
        assert_eq!(namespaces_answer(&mut session, 0, None), Err(StorageError::PermissionDenied));
        // Access is checked before the cursor is: a malformed one says nothing either.
        assert_eq!(namespaces_answer(&mut session, 0, Some("bad")), Err(StorageError::PermissionDenied));
        for namespace in [None, Some("app:notes"), Some("user:alice"), Some("system")] {
            assert_eq!(sweep_answer(&mut session, namespace), Err(StorageError::PermissionDenied), "{namespace:?}");
        }
    }

    #[test]
    fn namespaces_and_sweep_are_denied_behind_a_failed_claim() {
        let mut session = session();
        ask(&mut session, claim("bad:name", None));
        assert_eq!(namespaces_answer(&mut session, 0, None), Err(StorageError::PermissionDenied));
        assert_eq!(sweep_answer(&mut session, None), Err(StorageError::PermissionDenied));
    }

    #[test]
    fn a_claimed_system_process_may_list_namespaces_and_sweep() {
        let mut session = session();
        let request = Request::Claim(StorageClaimRequest {
            name: "zero-storage-cli".into(),
            roles: vec!["system".into()],
            user: None,
        });
        let Response::Claim(answer) = ask(&mut session, request) else { panic!() };
        assert_eq!(answer.result.as_deref(), Ok("system"));
        ask(&mut session, set_in("app:notes", "k", 0));
        assert_eq!(namespaces_answer(&mut session, 0, None).unwrap().namespaces, ["app:notes"]);
        assert_eq!(sweep_answer(&mut session, Some("app:notes")), Ok(0));
    }

    #[test]
    fn namespaces_come_in_pages_after_the_cursor() {
        let mut session = session();
        for namespace in ["user:bob", "app:notes", "system", "user:alice"] {
            ask(&mut session, set_in(namespace, "k", 0));
        }
        let first = namespaces_answer(&mut session, 3, None).unwrap();
        assert_eq!(first.namespaces, ["app:notes", "system", "user:alice"]);
        assert_eq!(first.next_cursor.as_deref(), Some("user:alice"));
        let last = namespaces_answer(&mut session, 3, first.next_cursor.as_deref()).unwrap();
        assert_eq!(last, NamespacePage { namespaces: vec!["user:bob".into()], next_cursor: None });
        // A page that ends exactly at the last namespace says no more follow.
        let exact = namespaces_answer(&mut session, 4, None).unwrap();
        assert_eq!((exact.namespaces.len(), exact.next_cursor), (4, None));
        // Any namespace name may be a cursor, held or not; 0 is the default page, and a huge
        // limit is clamped.
        assert_eq!(namespaces_answer(&mut session, 0, Some("app:zzz")).unwrap().namespaces.len(), 3);
        assert_eq!(namespaces_answer(&mut session, usize::MAX, None).unwrap().namespaces.len(), 4);
        assert_eq!(
            namespaces_answer(&mut session, 1, Some("user:bob")).unwrap(),
            NamespacePage { namespaces: vec![], next_cursor: None }
        );
    }

    #[test]
    fn a_namespaces_page_size_is_read_like_a_list_page_size() {
        assert_eq!(page_size(0), 100);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(1000), 1000);
        assert_eq!(page_size(1001), 1000);
        assert_eq!(page_size(usize::MAX), 1000);
    }

    #[test]
    fn a_namespaces_cursor_that_is_not_a_namespace_is_an_invalid_argument() {
        let mut session = session();
        for cursor in ["", "nowhere", "app:", "user:a:b", &"x".repeat(10_000)] {
            let answer = namespaces_answer(&mut session, 0, Some(cursor));
            assert!(matches!(answer, Err(StorageError::InvalidArgument(_))), "{answer:?}");
        }
    }

    fn export_file(session: &mut Session, path: &Path, namespaces: &[&str]) -> Result<ExportSummary, DumpFileError> {
        let request = Request::ExportFile(StorageExportFileRequest {
            path: path.to_str().unwrap().into(),
            namespaces: namespaces.iter().map(|ns| ns.to_string()).collect(),
        });
        let Response::ExportFile(answer) = ask(session, request) else { panic!() };
        answer.result
    }

    fn import_file(session: &mut Session, path: &Path, mode: ImportMode) -> Result<ImportSummary, DumpFileError> {
        let request =
            Request::ImportFile(StorageImportFileRequest { path: path.to_str().unwrap().into(), mode, dry_run: false });
        let Response::ImportFile(answer) = ask(session, request) else { panic!() };
        answer.result
    }

    const DENIED: Result<(), DumpFileError> = Err(DumpFileError::Storage(StorageError::PermissionDenied));

    #[test]
    fn file_requests_are_denied_to_a_granted_peer_even_when_it_claims_the_system_role() {
        let grant = crate::config::Grant {
            uid: 1001,
            apps: vec!["backup".into()],
            users: vec![],
            roles: vec!["system".into()],
        };
        let runtime = RuntimeBuilder::new().instance_pool(None).build().unwrap();
        let mut session = Session::new(runtime, Trust::Granted(grant), "test".into());
        let Response::Claim(answer) = ask(&mut session, claim_with("backup", &["system"], None)) else { panic!() };
        assert_eq!(answer.result.as_deref(), Ok("system"), "the grant makes it a system process");
        assert_eq!(namespaces_answer(&mut session, 0, None).map(|_| ()), Ok(()), "which may list namespaces");
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.jsonl");
        assert_eq!(export_file(&mut session, &dump, &[]).map(|_| ()), DENIED);
        assert!(!dump.exists(), "no file was created for it");
        std::fs::write(&dump, b"not read").unwrap();
        assert_eq!(import_file(&mut session, &dump, ImportMode::Merge).map(|_| ()), DENIED);
    }

    #[test]
    fn file_requests_are_denied_to_a_fully_trusted_peer_that_is_not_a_system_process() {
        let mut session = session();
        ask(&mut session, claim("notes", None));
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.jsonl");
        assert_eq!(export_file(&mut session, &dump, &["app:notes"]).map(|_| ()), DENIED);
        assert_eq!(import_file(&mut session, &dump, ImportMode::OnlyEmpty).map(|_| ()), DENIED);
        assert!(!dump.exists());
    }

    #[test]
    fn a_relative_dump_path_is_an_invalid_argument() {
        let mut session = session();
        let answer = export_file(&mut session, Path::new("dump.jsonl"), &[]);
        assert!(matches!(answer, Err(DumpFileError::Storage(StorageError::InvalidArgument(_)))), "{answer:?}");
        let answer = import_file(&mut session, Path::new("dump.jsonl"), ImportMode::OnlyEmpty);
        assert!(matches!(answer, Err(DumpFileError::Storage(StorageError::InvalidArgument(_)))), "{answer:?}");
        assert!(!Path::new("dump.jsonl").exists());
    }

    #[test]
    fn an_export_never_overwrites_a_file_or_follows_a_link() {
        let mut session = session();
        ask(&mut session, set_in("app:notes", "k", 0));
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("existing");
        std::fs::write(&existing, b"an older backup").unwrap();
        let answer = export_file(&mut session, &existing, &[]);
        assert!(matches!(&answer, Err(DumpFileError::Failed(m)) if m.contains("exists")), "{answer:?}");
        assert_eq!(std::fs::read(&existing).unwrap(), b"an older backup");
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(export_file(&mut session, &link, &[]).is_err());
        assert!(!target.exists(), "the link was not followed");
    }

    #[test]
    fn a_failed_export_removes_its_file() {
        let mut session = session();
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.jsonl");
        let answer = export_file(&mut session, &dump, &["app:a:b"]);
        assert!(matches!(&answer, Err(DumpFileError::Failed(m)) if m.contains("app:a:b")), "{answer:?}");
        assert!(!dump.exists());
        let too_many = vec!["app:notes"; MAX_EXPORT_NAMESPACES + 1];
        let answer = export_file(&mut session, &dump, &too_many);
        assert!(matches!(answer, Err(DumpFileError::Storage(StorageError::InvalidArgument(_)))), "{answer:?}");
    }

    #[test]
    fn an_exported_file_imports_into_another_service_and_not_twice_into_a_full_one() {
        let mut source = session();
        for key in ["a", "b"] {
            ask(&mut source, set_in("app:notes", key, 0));
        }
        ask(&mut source, set_in("user:alice", "c", 0));
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump.jsonl");
        let exported = export_file(&mut source, &dump, &[]).unwrap();
        assert_eq!((exported.entries, exported.namespaces.len()), (3, 2));
        assert_eq!(exported.namespaces[0].namespace, "app:notes");
        assert_eq!(exported.dump_bytes, std::fs::metadata(&dump).unwrap().len());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&dump).unwrap().permissions().mode() & 0o777, 0o600);

        let mut target = session();
        let imported = import_file(&mut target, &dump, ImportMode::OnlyEmpty).unwrap();
        assert_eq!((imported.entries, imported.mode, imported.dry_run), (3, ImportMode::OnlyEmpty, false));
        assert_eq!(imported.namespaces[1].action, NamespaceAction::Filled);
        let get = Request::GetIn(StorageGetInRequest { namespace: Some("user:alice".into()), key: "c".into() });
        assert_eq!(ask(&mut target, get), Response::GetIn(StorageGetResponse { result: Ok(Some(b"v".to_vec())) }));
        assert_eq!(
            import_file(&mut target, &dump, ImportMode::OnlyEmpty),
            Err(DumpFileError::NotEmpty("app:notes".into()))
        );
        let replaced = import_file(&mut target, &dump, ImportMode::Replace).unwrap();
        assert_eq!(replaced.namespaces[0].action, NamespaceAction::Replaced { removed: 2 });
    }

    #[test]
    fn sweep_reclaims_expired_entries_of_the_named_namespace_or_system() {
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(1_000_000));
        let runtime = RuntimeBuilder::new().instance_pool(None).clock(clock.clone()).build().unwrap();
        let mut session = Session::new(runtime, Trust::Full, "test peer".into());
        for (namespace, key) in [("app:notes", "a"), ("app:notes", "b"), ("system", "c")] {
            ask(&mut session, set_in(namespace, key, 1));
        }
        ask(&mut session, set_in("app:notes", "kept", 0));
        clock.advance_ms(2_000);
        assert_eq!(sweep_answer(&mut session, Some("app:notes")), Ok(2));
        assert_eq!(sweep_answer(&mut session, Some("app:notes")), Ok(0), "nothing is left to reclaim");
        assert_eq!(sweep_answer(&mut session, None), Ok(1), "None is the caller's own namespace, system");
        let answer = sweep_answer(&mut session, Some("nowhere"));
        assert!(matches!(answer, Err(StorageError::InvalidArgument(_))), "{answer:?}");
    }
}
