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

/// The most roles one claim may name: a claim is small, and each role is checked on every
/// namespace decision.
const MAX_CLAIMED_ROLES: usize = 16;

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
        if claim.roles.len() > MAX_CLAIMED_ROLES {
            self.refuse();
            return Err(StorageError::InvalidArgument(format!("a claim may name at most {MAX_CLAIMED_ROLES} roles")));
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
        let roles = vec!["reader".to_string(); MAX_CLAIMED_ROLES + 1];
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
}
