//! [`StorageCalls`] over the Storage Service's protocol (`PROTOCOL.md`): one connection, claimed
//! for the app's identity, one request per call, answered in order.
//!
//! The service runs the storage component, so every rule, limit and error is the component's.
//! What the wire changes is handled here:
//!
//! - Absent keys come back as `None`; `get` and `get-versioned` turn them into `not-found`.
//! - There is no "open": [`StorageCalls::open`] checks the name, then asks the service about one
//!   key of the namespace, which checks access the way opening does.
//! - Times to live are `u32` seconds on the wire (136 years); a longer one is refused with
//!   `invalid-argument` after the component's own checks pass.
//! - A request must fit one frame ([`MAX_FRAME_PAYLOAD`]). Every valid request does; one that
//!   may not is first put through the component's own argument checks natively (a `Storage`
//!   over a backend that is never reached), so it gets the very error the component would give,
//!   and is never encoded or sent.
//! - The protocol's increment has no lower bound; [`StorageCalls::increment_within`] reads the
//!   counter first and refuses what the bound forbids (see there).
//! - A connection that fails, times out or gets out of step is dropped, and every later call
//!   answers `backend-error` saying that the storage service is gone.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use zero_storage_component::namespace::check_namespace;
use zero_storage_component::{Error, ListPage, OpenNamespace, Precondition, QuotaInfo, Result, Versioned, Write};
use zero_storage_protocol::{self as wire, ClientError, MAX_FRAME_PAYLOAD, Request, Response, ServiceClient};

use super::StorageCalls;
use super::checks::{Checker, argument_error, entries_call, key_call, keys_call, list_call, set_call, transact_call};
use crate::backend::BackendError;
use crate::identity::{ProcessIdentity, SYSTEM_ROLE};

/// A connection to the Storage Service acting as one app, or none once it is lost.
pub(crate) struct ServiceCalls {
    client: Option<ServiceClient>,
    /// Why the connection is gone, once it is.
    lost: String,
    /// How long one answer may take.
    timeout: Duration,
}

/// Why a request did not get an answer.
enum Failure {
    /// It would not fit in one frame; nothing was sent.
    TooLarge,
    /// It failed with this storage error.
    Storage(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Storage(error)
    }
}

impl ServiceCalls {
    /// Connects to the service on `socket` and claims `identity` for the connection. Every
    /// answer may take up to `timeout` (the app's whole deadline: no call outlives the app).
    pub(crate) fn connect(socket: &Path, identity: &ProcessIdentity, timeout: Duration) -> crate::Result<Self> {
        let unreachable = |error: &dyn std::fmt::Display| {
            crate::Error::Backend(BackendError(format!(
                "cannot use the storage service at {}: {error}; is `zero-storage serve` running there?",
                socket.display()
            )))
        };
        let stream = UnixStream::connect(socket).map_err(|e| unreachable(&e))?;
        let timeout = timeout.max(Duration::from_secs(1));
        stream
            .set_read_timeout(Some(timeout))
            .and_then(|()| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| unreachable(&e))?;
        let mut client = ServiceClient::from_stream(stream);
        // `system` is the only role that means anything to storage (`ProcessIdentity::access_to`).
        let roles: &[&str] = if identity.is_system() { &[SYSTEM_ROLE] } else { &[] };
        match client.claim(identity.name(), roles, identity.user()) {
            Ok(_) => Ok(ServiceCalls { client: Some(client), lost: String::new(), timeout }),
            Err(ClientError::Storage(refusal)) => Err(crate::Error::AppRefused(format!(
                "the storage service refused to act as `{}`: {refusal}",
                identity.own_namespace()
            ))),
            Err(error) => Err(unreachable(&error)),
        }
    }

    /// No connection: for an app that uses no storage, whose imports are never called.
    pub(crate) fn disconnected() -> Self {
        ServiceCalls { client: None, lost: "the app was run without one".into(), timeout: Duration::ZERO }
    }

    /// The error of every call once the connection is lost.
    fn gone(&self) -> Error {
        Error::Backend(format!(
            "the storage service is gone ({}); restart it (`zero-storage serve`) and run the app again",
            self.lost
        ))
    }

    /// Drops the connection, which cannot be trusted to be in step any more, and returns the
    /// error of this call and every later one.
    fn lose(&mut self, why: String) -> Error {
        self.client = None;
        self.lost = why;
        self.gone()
    }

    /// Sends `request` and returns its answer.
    fn send(&mut self, request: &Request) -> std::result::Result<Response, Failure> {
        let Some(client) = self.client.as_mut() else { return Err(self.gone().into()) };
        match client.call(request) {
            // A connection the service refused (too many, or shutting down) names no request.
            Ok(Response::Error(refusal)) if refusal.request_tag == 0 => {
                Err(self.lose(format!("it refused the connection: {}", refusal.message)).into())
            }
            // This host only sends requests it can encode; the service could not read one.
            Ok(Response::Error(refusal)) => {
                Err(Error::Backend(format!("the storage service could not read the request: {}", refusal.message))
                    .into())
            }
            Ok(answer) => Ok(answer),
            // The client refuses, before sending, a request too long for a frame.
            Err(ClientError::Refused(refusal)) if refusal.request_tag == request.tag() => Err(Failure::TooLarge),
            Err(ClientError::Storage(error)) => Err(Error::from(error).into()),
            Err(ClientError::Io(error))
                if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                Err(self.lose(format!("it did not answer within {:?}", self.timeout)).into())
            }
            Err(ClientError::Io(error)) => Err(self.lose(format!("the connection failed: {error}")).into()),
            Err(other) => Err(self.lose(other.to_string()).into()),
        }
    }

    /// Sends `request` and takes its result out of the answer with `take` (`None`: an answer
    /// of another kind, which means the stream is out of step).
    fn ask<T>(
        &mut self,
        request: &Request,
        take: impl FnOnce(Response) -> Option<std::result::Result<T, wire::StorageError>>,
    ) -> Result<T> {
        let answer = match self.send(request) {
            Ok(answer) => answer,
            Err(Failure::Storage(error)) => return Err(error),
            Err(Failure::TooLarge) => {
                return Err(Error::InvalidArgument(format!(
                    "the request is larger than the storage service accepts ({MAX_FRAME_PAYLOAD} bytes); split it"
                )));
            }
        };
        match take(answer) {
            Some(result) => result.map_err(Error::from),
            None => Err(self.lose("its answer did not match the request".into())),
        }
    }
}

/// Whether a request of at most `bound` payload bytes, with a time to live of `ttl_secs`, can go
/// on the wire: `Ok(ttl)` with the wire's time to live, or the error the call gets. If the
/// request might not fit or its time to live does not, `check` (the operation run natively)
/// decides first, so the error is the component's whenever the component would refuse.
fn admit(bound: usize, ttl_secs: u64, check: impl FnOnce(&Checker, &OpenNamespace) -> Result<()>) -> Result<u32> {
    let ttl = u32::try_from(ttl_secs);
    if (bound > MAX_FRAME_PAYLOAD || ttl.is_err())
        && let Some(error) = argument_error(check)
    {
        return Err(error);
    }
    ttl.map_err(|_| {
        Error::InvalidArgument(format!(
            "ttl-secs {ttl_secs} is longer than the storage service keeps entries (at most {} s, about 136 years)",
            u32::MAX
        ))
    })
}

fn owned(ns: Option<&str>) -> Option<String> {
    ns.map(str::to_owned)
}

fn wire_precondition(precondition: Precondition) -> wire::Precondition {
    match precondition {
        Precondition::Absent(key) => wire::Precondition::Absent(key),
        Precondition::Exists(key) => wire::Precondition::Exists(key),
        Precondition::VersionIs(key, version) => wire::Precondition::VersionIs(key, version),
        Precondition::ValueEquals(key, value) => wire::Precondition::ValueEquals(key, value),
    }
}

/// A write on the wire; its time to live was admitted already.
fn wire_write(write: Write) -> wire::Write {
    match write {
        Write::Set { key, value, ttl_secs } => {
            wire::Write::Set { key, value, ttl_secs: u32::try_from(ttl_secs).unwrap_or(u32::MAX) }
        }
        Write::Delete(key) => wire::Write::Delete(key),
    }
}

impl StorageCalls for ServiceCalls {
    fn open(&mut self, namespace: &str) -> Result<()> {
        // The name first, as `Storage::open` checks it: a malformed one is never sent.
        check_namespace(namespace)?;
        // Any read of the namespace checks access the way opening does, before it reads.
        match self.exists(Some(namespace), "-") {
            Err(refused @ (Error::PermissionDenied | Error::InvalidArgument(_))) => Err(refused),
            // The service could not be asked: the caller must hear that.
            Err(Error::Backend(why)) if self.client.is_none() => Err(Error::Backend(why)),
            // Access passed; what the read then met is not the opener's concern.
            _ => Ok(()),
        }
    }

    fn get(&mut self, ns: Option<&str>, key: &str) -> Result<Vec<u8>> {
        admit(key_call(ns, key), 0, |s, own| s.get(own, key).map(drop))?;
        let request = Request::GetIn(wire::StorageGetInRequest { namespace: owned(ns), key: key.into() });
        let value = self.ask(&request, |answer| match answer {
            Response::GetIn(answer) => Some(answer.result),
            _ => None,
        })?;
        value.ok_or(Error::NotFound)
    }

    fn set(&mut self, ns: Option<&str>, key: &str, value: Vec<u8>, ttl_secs: u64) -> Result<()> {
        let ttl_secs = admit(set_call(ns, key, &value), ttl_secs, |s, own| s.set(own, key, &value, ttl_secs))?;
        let request =
            Request::SetIn(wire::StorageSetInRequest { namespace: owned(ns), key: key.into(), value, ttl_secs });
        self.ask(&request, |answer| match answer {
            Response::SetIn(answer) => Some(answer.result),
            _ => None,
        })
    }

    fn delete(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        admit(key_call(ns, key), 0, |s, own| s.delete(own, key).map(drop))?;
        let request = Request::DeleteIn(wire::StorageDeleteInRequest { namespace: owned(ns), key: key.into() });
        self.ask(&request, |answer| match answer {
            Response::DeleteIn(answer) => Some(answer.result),
            _ => None,
        })
    }

    fn exists(&mut self, ns: Option<&str>, key: &str) -> Result<bool> {
        admit(key_call(ns, key), 0, |s, own| s.exists(own, key).map(drop))?;
        let request = Request::Exists(wire::StorageExistsRequest { namespace: owned(ns), key: key.into() });
        self.ask(&request, |answer| match answer {
            Response::Exists(answer) => Some(answer.result),
            _ => None,
        })
    }

    fn list(&mut self, ns: Option<&str>, prefix: &str, limit: u32, cursor: Option<&str>) -> Result<ListPage> {
        admit(list_call(ns, prefix, cursor), 0, |s, own| s.list(own, prefix, limit, cursor).map(drop))?;
        let request = Request::ListIn(wire::StorageListInRequest {
            namespace: owned(ns),
            prefix: prefix.into(),
            limit: limit as usize,
            cursor: cursor.map(str::to_owned),
        });
        let page = self.ask(&request, |answer| match answer {
            Response::ListIn(answer) => Some(answer.result),
            _ => None,
        })?;
        Ok(page.into())
    }

    fn quota(&mut self, ns: Option<&str>) -> Result<QuotaInfo> {
        let request = Request::QuotaIn(wire::StorageQuotaInRequest { namespace: owned(ns) });
        let info = self.ask(&request, |answer| match answer {
            Response::QuotaIn(answer) => Some(answer.result),
            _ => None,
        })?;
        Ok(info.into())
    }

    fn get_versioned(&mut self, ns: Option<&str>, key: &str) -> Result<Versioned> {
        admit(key_call(ns, key), 0, |s, own| s.get_versioned(own, key).map(drop))?;
        let request = Request::GetVersioned(wire::StorageGetVersionedRequest { namespace: owned(ns), key: key.into() });
        let found = self.ask(&request, |answer| match answer {
            Response::GetVersioned(answer) => Some(answer.result),
            _ => None,
        })?;
        found.map(|found| Versioned { value: found.value, version: found.version }).ok_or(Error::NotFound)
    }

    fn get_many(&mut self, ns: Option<&str>, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        admit(keys_call(ns, keys), 0, |s, own| s.get_many(own, keys).map(drop))?;
        let request = Request::GetMany(wire::StorageGetManyRequest { namespace: owned(ns), keys: keys.to_vec() });
        let values = self.ask(&request, |answer| match answer {
            Response::GetMany(answer) => Some(answer.result),
            _ => None,
        })?;
        if values.len() != keys.len() {
            return Err(self.lose("it answered a different number of keys than asked".into()));
        }
        Ok(values)
    }

    fn set_many(&mut self, ns: Option<&str>, entries: Vec<(String, Vec<u8>)>, ttl_secs: u64) -> Result<()> {
        let ttl_secs = admit(entries_call(ns, &entries), ttl_secs, |s, own| s.set_many(own, &entries, ttl_secs))?;
        let request = Request::SetMany(wire::StorageSetManyRequest { namespace: owned(ns), entries, ttl_secs });
        self.ask(&request, |answer| match answer {
            Response::SetMany(answer) => Some(answer.result),
            _ => None,
        })
    }

    fn delete_many(&mut self, ns: Option<&str>, keys: Vec<String>) -> Result<u64> {
        admit(keys_call(ns, &keys), 0, |s, own| s.delete_many(own, &keys).map(drop))?;
        let request = Request::DeleteMany(wire::StorageDeleteManyRequest { namespace: owned(ns), keys });
        self.ask(&request, |answer| match answer {
            Response::DeleteMany(answer) => Some(answer.result),
            _ => None,
        })
    }

    fn increment(&mut self, ns: Option<&str>, key: &str, delta: i64) -> Result<i64> {
        admit(key_call(ns, key), 0, |s, own| s.increment(own, key, delta).map(drop))?;
        let request =
            Request::Increment(wire::StorageIncrementRequest { namespace: owned(ns), key: key.into(), delta });
        self.ask(&request, |answer| match answer {
            Response::Increment(answer) => Some(answer.result),
            _ => None,
        })
    }

    /// The wire's increment has no lower bound, so the bound is checked around it: the counter
    /// is read first, and a result that would be below `min` is refused with the component's
    /// error before anything is written. Only if another writer makes the counter smaller
    /// between that read and the increment can the increment land below `min`; it is then
    /// undone (by adding `-delta`, which keeps the time to live as any increment does) and the
    /// call refused all the same.
    fn increment_within(&mut self, ns: Option<&str>, key: &str, delta: i64, min: i64) -> Result<i64> {
        let below = |next: i64| Error::InvalidArgument(format!("the counter `{key}` would be {next}, below {min}"));
        let current = match self.get(ns, key) {
            Ok(value) => std::str::from_utf8(&value).ok().and_then(|text| text.parse::<i64>().ok()),
            Err(Error::NotFound) => Some(0),
            Err(error) => return Err(error),
        };
        // A value that is not a counter, or an overflow, is left to the increment to refuse.
        if let Some(next) = current.and_then(|current| current.checked_add(delta))
            && next < min
        {
            return Err(below(next));
        }
        let next = self.increment(ns, key, delta)?;
        if next < min {
            if let Some(undo) = delta.checked_neg() {
                self.increment(ns, key, undo)?;
            }
            return Err(below(next));
        }
        Ok(next)
    }

    fn transact(&mut self, ns: Option<&str>, preconditions: Vec<Precondition>, writes: Vec<Write>) -> Result<u64> {
        let (bound, longest_ttl) = transact_call(ns, &preconditions, &writes);
        admit(bound, longest_ttl, |s, own| s.transact(own, &preconditions, &writes).map(drop))?;
        let request = Request::Transact(wire::StorageTransactRequest {
            namespace: owned(ns),
            preconditions: preconditions.into_iter().map(wire_precondition).collect(),
            writes: writes.into_iter().map(wire_write).collect(),
        });
        self.ask(&request, |answer| match answer {
            Response::Transact(answer) => Some(answer.result),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose other end is `peer`: nothing answers unless the test does.
    fn calls_with_timeout(timeout: Duration) -> (ServiceCalls, UnixStream) {
        let (ours, peer) = UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(timeout)).unwrap();
        let calls = ServiceCalls { client: Some(ServiceClient::from_stream(ours)), lost: String::new(), timeout };
        (calls, peer)
    }

    fn calls() -> (ServiceCalls, UnixStream) {
        calls_with_timeout(Duration::from_secs(5))
    }

    /// Whether `peer` has received nothing.
    fn nothing_sent(peer: &UnixStream) -> bool {
        use std::io::Read;
        peer.set_nonblocking(true).unwrap();
        let mut byte = [0];
        matches!((&*peer).read(&mut byte), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
    }

    #[test]
    fn a_request_too_large_for_a_frame_gets_the_components_error_and_is_never_sent() {
        let (mut calls, peer) = calls();
        let huge = vec![0x5a; MAX_FRAME_PAYLOAD + 1];
        assert_eq!(calls.set(None, "k", huge.clone(), 0), Err(Error::ValueTooLarge));
        // The key is checked before the value, as in the component.
        assert_eq!(calls.set(None, &"k".repeat(300), huge, 0), Err(Error::KeyTooLong));
        let batch: Vec<(String, Vec<u8>)> = (0..40).map(|i| (format!("k{i}"), vec![0; 1 << 20])).collect();
        let refused = calls.set_many(None, batch, 0);
        assert!(matches!(&refused, Err(Error::InvalidArgument(why)) if why.contains("split it")), "{refused:?}");
        assert_eq!(calls.get_many(None, &vec!["k".repeat(1 << 20); 40]), Err(Error::KeyTooLong));
        // Too many keys is the first thing the component checks.
        let refused = calls.get_many(None, &vec!["k".repeat(20_000); 2_000]);
        assert!(
            matches!(&refused, Err(Error::InvalidArgument(why)) if why.contains("at most 1000 keys")),
            "{refused:?}"
        );
        assert_eq!(calls.get(Some("user:alice"), &"k".repeat(MAX_FRAME_PAYLOAD)), Err(Error::KeyTooLong));
        assert!(calls.client.is_some(), "the connection is still usable");
        assert!(nothing_sent(&peer));
    }

    #[test]
    fn a_time_to_live_longer_than_the_wire_holds_is_refused_after_the_components_checks() {
        let (mut calls, peer) = calls();
        let refused = calls.set(None, "k", b"v".to_vec(), u64::from(u32::MAX) + 1);
        assert!(matches!(&refused, Err(Error::InvalidArgument(why)) if why.contains("136 years")), "{refused:?}");
        // A time to live the component cannot represent at all gets the component's message.
        let refused = calls.set(None, "k", b"v".to_vec(), u64::MAX);
        assert!(matches!(&refused, Err(Error::InvalidArgument(why)) if why.contains("too large")), "{refused:?}");
        // The component checks the key first.
        assert_eq!(
            calls.set(None, "", b"v".to_vec(), u64::MAX).map_err(|e| matches!(e, Error::InvalidArgument(_))),
            Err(true)
        );
        assert_eq!(calls.set(None, &"k".repeat(257), b"v".to_vec(), u64::MAX), Err(Error::KeyTooLong));
        let write = Write::Set { key: "k".into(), value: vec![], ttl_secs: u64::from(u32::MAX) + 1 };
        assert!(matches!(calls.transact(None, vec![], vec![write]), Err(Error::InvalidArgument(_))));
        assert!(nothing_sent(&peer));
    }

    #[test]
    fn a_malformed_namespace_is_refused_by_open_without_asking_the_service() {
        let (mut calls, peer) = calls();
        for name in ["", "app:", "app:a:b", "nowhere", &"x".repeat(MAX_FRAME_PAYLOAD + 1)] {
            assert!(matches!(calls.open(name), Err(Error::InvalidArgument(_))), "{name:.20}");
        }
        assert!(nothing_sent(&peer));
    }

    #[test]
    fn a_service_that_disappears_makes_every_call_a_backend_error_saying_it_is_gone() {
        let (mut calls, peer) = calls();
        drop(peer);
        let gone = calls.set(None, "k", b"v".to_vec(), 0);
        assert!(matches!(&gone, Err(Error::Backend(why)) if why.contains("storage service is gone")), "{gone:?}");
        assert!(calls.client.is_none(), "the connection was dropped");
        // Later calls say the same, without touching a socket.
        assert_eq!(calls.get(None, "k"), gone.map(|()| Vec::new()));
        assert!(matches!(calls.open("user:alice"), Err(Error::Backend(why)) if why.contains("gone")));
        assert!(matches!(calls.increment_within(None, "n", 1, 0), Err(Error::Backend(_))));
    }

    #[test]
    fn a_service_that_stops_answering_is_given_up_after_the_timeout() {
        let (mut calls, _silent_peer) = calls_with_timeout(Duration::from_millis(100));
        let gone = calls.exists(None, "k");
        assert!(matches!(&gone, Err(Error::Backend(why)) if why.contains("did not answer")), "{gone:?}");
        assert!(calls.client.is_none(), "an answer may still be on its way: the connection is out of step");
    }

    /// A connection to a fake service on a thread that answers each request with `answer`; the
    /// thread returns the requests it got once the connection closes.
    fn serve(
        mut answer: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> (ServiceCalls, std::thread::JoinHandle<Vec<Request>>) {
        use std::io::{Read, Write};
        let (mut calls, mut service) = calls();
        let thread = std::thread::spawn(move || {
            let (mut decoder, mut seen, mut buffer) = (wire::FrameDecoder::new(), Vec::new(), vec![0; 1 << 16]);
            loop {
                while let Some(frame) = decoder.next_frame().unwrap() {
                    let request = Request::from_frame(&frame).unwrap();
                    service.write_all(&answer(&request).to_frame().unwrap().encode()).unwrap();
                    seen.push(request);
                }
                match service.read(&mut buffer) {
                    Ok(0) | Err(_) => return seen,
                    Ok(read) => decoder.push(&buffer[..read]),
                }
            }
        });
        calls.timeout = Duration::from_secs(5);
        (calls, thread)
    }

    fn counter(value: &str) -> Response {
        Response::GetIn(wire::StorageGetResponse { result: Ok(Some(value.as_bytes().to_vec())) })
    }

    fn incremented(value: i64) -> Response {
        Response::Increment(wire::StorageIncrementResponse { result: Ok(value) })
    }

    fn deltas(requests: &[Request]) -> Vec<i64> {
        requests.iter().filter_map(|r| if let Request::Increment(r) = r { Some(r.delta) } else { None }).collect()
    }

    #[test]
    fn increment_within_refuses_a_result_below_the_bound_before_anything_is_written() {
        let (mut calls, service) = serve(|_| counter("-5"));
        let refused = calls.increment_within(Some("user:alice"), "n", 1, 0);
        assert_eq!(refused, Err(Error::InvalidArgument("the counter `n` would be -4, below 0".into())));
        drop(calls);
        let seen = service.join().unwrap();
        assert_eq!(seen.len(), 1, "only the read: {seen:?}");
        assert!(deltas(&seen).is_empty());
    }

    #[test]
    fn increment_within_undoes_an_increment_that_a_racing_writer_took_below_the_bound() {
        // The counter reads 5; before the increment lands, another writer sets it to -3.
        let mut answers = vec![counter("5"), incremented(-2), incremented(-3)].into_iter();
        let (mut calls, service) = serve(move |_| answers.next().unwrap());
        let refused = calls.increment_within(None, "n", 1, 0);
        assert_eq!(refused, Err(Error::InvalidArgument("the counter `n` would be -2, below 0".into())));
        drop(calls);
        assert_eq!(deltas(&service.join().unwrap()), [1, -1], "the increment was undone");
    }

    #[test]
    fn increment_within_leaves_a_value_that_is_not_a_counter_to_the_services_refusal() {
        let mut answers = vec![
            counter("abc"),
            Response::Increment(wire::StorageIncrementResponse {
                result: Err(wire::StorageError::InvalidArgument("the value of `n` is not a decimal integer".into())),
            }),
        ]
        .into_iter();
        let (mut calls, service) = serve(move |_| answers.next().unwrap());
        let refused = calls.increment_within(None, "n", 1, 0);
        assert!(matches!(&refused, Err(Error::InvalidArgument(why)) if why.contains("not a decimal")), "{refused:?}");
        drop(calls);
        assert_eq!(deltas(&service.join().unwrap()), [1]);
    }

    #[test]
    fn open_is_refused_as_the_service_refuses_a_read_and_accepted_when_only_the_read_failed() {
        let exists = |result| Response::Exists(wire::StorageExistsResponse { result });
        let mut answers = vec![
            exists(Err(wire::StorageError::PermissionDenied)),
            exists(Err(wire::StorageError::BackendError("the disk is full".into()))),
            exists(Ok(false)),
        ]
        .into_iter();
        let (mut calls, _service) = serve(move |_| answers.next().unwrap());
        assert_eq!(calls.open("app:victim"), Err(Error::PermissionDenied));
        assert_eq!(calls.open("user:alice"), Ok(()), "access passed before the read failed");
        assert_eq!(calls.open("user:alice"), Ok(()));
    }

    #[test]
    fn absent_keys_are_not_found_for_get_and_get_versioned() {
        let mut answers = vec![
            Response::GetIn(wire::StorageGetResponse { result: Ok(None) }),
            Response::GetVersioned(wire::StorageGetVersionedResponse { result: Ok(None) }),
        ]
        .into_iter();
        let (mut calls, _service) = serve(move |_| answers.next().unwrap());
        assert_eq!(calls.get(None, "k"), Err(Error::NotFound));
        assert_eq!(calls.get_versioned(None, "k"), Err(Error::NotFound));
    }

    #[test]
    fn an_answer_that_does_not_match_its_request_drops_the_connection() {
        let (mut calls, _service) = serve(|_| incremented(1));
        let refused = calls.exists(None, "k");
        assert!(matches!(&refused, Err(Error::Backend(why)) if why.contains("gone")), "{refused:?}");
        assert!(calls.client.is_none());
    }

    #[test]
    fn an_app_without_a_connection_gets_backend_errors_not_a_crash() {
        let mut calls = ServiceCalls::disconnected();
        assert!(matches!(calls.get(None, "k"), Err(Error::Backend(why)) if why.contains("gone")));
    }
}
