//! One connection's storage: its identity, its [`Process`], and the answer to each request.
//! Plain Rust over a [`Runtime`], with no socket, so that the rules are unit-tested here.

use zero_storage_protocol::*;

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
