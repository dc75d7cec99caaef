//! A small blocking client for the Storage Service over its Unix socket: one request, then its
//! answer. Pipelining is the protocol's; this client does not use it.

use std::fmt;
use std::io::{self, Read, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::codec::{DecodeError, Request, Response};
use crate::frame::FrameDecoder;
use crate::messages::*;

/// Why a [`ServiceClient`] call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The socket failed or the service closed the connection; open a new one.
    Io(io::Error),
    /// The service answered with the error frame (an undecodable request, a failed
    /// `STORAGE_LIST`, or a refused connection, whose `request_tag` is 0).
    Refused(ErrorResponse),
    /// The storage request failed; nothing changed.
    Storage(StorageError),
    /// A `STORAGE_EXPORT_FILE` or `STORAGE_IMPORT_FILE` was refused or failed.
    Dump(DumpFileError),
    /// The answer did not decode, or answered another request: the stream is out of step, so
    /// the connection should be closed.
    OutOfStep(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(error) => write!(f, "the storage service connection failed: {error}"),
            ClientError::Refused(error) => write!(f, "the storage service refused the request: {}", error.message),
            ClientError::Storage(error) => error.fmt(f),
            ClientError::Dump(error) => error.fmt(f),
            ClientError::OutOfStep(why) => write!(f, "the storage service's answer is out of step: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> Self {
        ClientError::Io(error)
    }
}

impl From<StorageError> for ClientError {
    fn from(error: StorageError) -> Self {
        ClientError::Storage(error)
    }
}

impl From<DumpFileError> for ClientError {
    fn from(error: DumpFileError) -> Self {
        ClientError::Dump(error)
    }
}

impl From<DecodeError> for ClientError {
    fn from(error: DecodeError) -> Self {
        ClientError::OutOfStep(error.to_string())
    }
}

/// A blocking connection to the Storage Service (`zero-storage serve`).
///
/// The connection acts as the identity the service gives the peer (for the service's own user:
/// a `system` process), or as the one [`claim`](Self::claim)ed first.
#[derive(Debug)]
pub struct ServiceClient {
    stream: UnixStream,
    decoder: FrameDecoder,
    buffer: Vec<u8>,
}

impl ServiceClient {
    /// Connects to the service listening on the Unix socket `path`.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::from_stream(UnixStream::connect(path)?))
    }

    /// Talks to the service over an already connected stream.
    pub fn from_stream(stream: UnixStream) -> Self {
        ServiceClient { stream, decoder: FrameDecoder::new(), buffer: vec![0; 64 * 1024] }
    }

    /// Sends `request` and returns its answer: the request's answer message, or
    /// [`Response::Error`] for the error frame.
    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        let frame = request.to_frame().map_err(|e| ClientError::Refused(ErrorResponse::from(&e)))?;
        if let Err(error) = self.stream.write_all(&frame.encode()) {
            // A refused connection is closed after its one error frame: report why, if it came.
            return match self.read_answer() {
                Ok(Response::Error(refusal)) if refusal.request_tag == 0 => Err(ClientError::Refused(refusal)),
                _ => Err(error.into()),
            };
        }
        let answer = self.read_answer()?;
        match answer {
            // A refused connection's only frame names no request.
            Response::Error(error) if error.request_tag == request.tag() || error.request_tag == 0 => {
                Ok(Response::Error(error))
            }
            answer if answer.answers() == request.tag() => Ok(answer),
            answer => Err(ClientError::OutOfStep(format!(
                "tag 0x{:04X} does not answer request 0x{:04X}",
                answer.tag(),
                request.tag()
            ))),
        }
    }

    /// The next frame from the service, decoded.
    fn read_answer(&mut self) -> Result<Response, ClientError> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => return Ok(Response::from_frame(&frame)?),
                Ok(None) => {}
                Err(too_large) => return Err(ClientError::OutOfStep(too_large.to_string())),
            }
            let read = self.stream.read(&mut self.buffer)?;
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the service closed the connection").into());
            }
            self.decoder.push(&self.buffer[..read]);
        }
    }

    /// Acts as the process `name` (namespace `app:NAME`) with `roles`, for `user`, for the rest
    /// of the connection; must be the connection's first request. Returns the identity's own
    /// namespace.
    pub fn claim(&mut self, name: &str, roles: &[&str], user: Option<&str>) -> Result<String, ClientError> {
        let request = StorageClaimRequest {
            name: name.to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
            user: user.map(str::to_owned),
        };
        match self.call(&Request::Claim(request))? {
            Response::Claim(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// The value under `key` in the own namespace, `None` if there is no live entry.
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
        match self.call(&Request::Get(StorageGetRequest { key: key.to_owned() }))? {
            Response::Get(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Stores `value` under `key` in the own namespace, expiring after `ttl_secs` (0 = never).
    pub fn set(&mut self, key: &str, value: &[u8], ttl_secs: u32) -> Result<(), ClientError> {
        let request = StorageSetRequest { key: key.to_owned(), value: value.to_vec(), ttl_secs };
        match self.call(&Request::Set(request))? {
            Response::Set(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key` from the own namespace; returns whether a live entry existed.
    pub fn delete(&mut self, key: &str) -> Result<bool, ClientError> {
        match self.call(&Request::Delete(StorageDeleteRequest { key: key.to_owned() }))? {
            Response::Delete(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// One page of the own namespace's keys starting with `prefix` (`limit` 0 = 100, at most
    /// 1000), after `cursor`.
    pub fn list(&mut self, prefix: &str, limit: usize, cursor: Option<&str>) -> Result<ListPage, ClientError> {
        let request = StorageListRequest { prefix: prefix.to_owned(), limit, cursor: cursor.map(str::to_owned) };
        match self.call(&Request::List(request))? {
            Response::List(answer) => Ok(ListPage { keys: answer.keys, next_cursor: answer.next_cursor }),
            other => Err(unexpected(other)),
        }
    }

    /// The own namespace's usage and quota.
    pub fn quota(&mut self) -> Result<QuotaInfo, ClientError> {
        match self.call(&Request::Quota(StorageQuotaRequest))? {
            Response::Quota(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// The value under `key` in `namespace` (`None`: the own one), `None` if there is no live
    /// entry.
    pub fn get_in(&mut self, namespace: Option<&str>, key: &str) -> Result<Option<Vec<u8>>, ClientError> {
        let request = StorageGetInRequest { namespace: namespace.map(str::to_owned), key: key.to_owned() };
        match self.call(&Request::GetIn(request))? {
            Response::GetIn(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Stores `value` under `key` in `namespace`, expiring after `ttl_secs` (0 = never).
    pub fn set_in(
        &mut self,
        namespace: Option<&str>,
        key: &str,
        value: &[u8],
        ttl_secs: u32,
    ) -> Result<(), ClientError> {
        let request = StorageSetInRequest {
            namespace: namespace.map(str::to_owned),
            key: key.to_owned(),
            value: value.to_vec(),
            ttl_secs,
        };
        match self.call(&Request::SetIn(request))? {
            Response::SetIn(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Removes `key` from `namespace`; returns whether a live entry existed.
    pub fn delete_in(&mut self, namespace: Option<&str>, key: &str) -> Result<bool, ClientError> {
        let request = StorageDeleteInRequest { namespace: namespace.map(str::to_owned), key: key.to_owned() };
        match self.call(&Request::DeleteIn(request))? {
            Response::DeleteIn(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// One page of the keys of `namespace` starting with `prefix` (`limit` 0 = 100, at most
    /// 1000), after `cursor`. Unlike [`list`](Self::list), a failure is a typed
    /// [`ClientError::Storage`].
    pub fn list_in(
        &mut self,
        namespace: Option<&str>,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage, ClientError> {
        let request = StorageListInRequest {
            namespace: namespace.map(str::to_owned),
            prefix: prefix.to_owned(),
            limit,
            cursor: cursor.map(str::to_owned),
        };
        match self.call(&Request::ListIn(request))? {
            Response::ListIn(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// The usage and quota of `namespace`.
    pub fn quota_in(&mut self, namespace: Option<&str>) -> Result<QuotaInfo, ClientError> {
        match self.call(&Request::QuotaIn(StorageQuotaInRequest { namespace: namespace.map(str::to_owned) }))? {
            Response::QuotaIn(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// One page of the namespaces that hold data (`limit` 0 = 100, at most 1000), after
    /// `cursor`; only for a system process.
    pub fn namespaces(&mut self, limit: usize, cursor: Option<&str>) -> Result<NamespacePage, ClientError> {
        let request = StorageNamespacesRequest { limit, cursor: cursor.map(str::to_owned) };
        match self.call(&Request::Namespaces(request))? {
            Response::Namespaces(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Reclaims the expired entries of `namespace`; returns how many were removed. Only for a
    /// system process.
    pub fn sweep(&mut self, namespace: Option<&str>) -> Result<u64, ClientError> {
        match self.call(&Request::Sweep(StorageSweepRequest { namespace: namespace.map(str::to_owned) }))? {
            Response::Sweep(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Has the service write a dump of `namespaces` (empty: every namespace that holds data) to
    /// a new file at the absolute `path`, on its side; answers what it wrote. Only for a fully
    /// trusted peer acting as a system process. A failure is [`ClientError::Dump`].
    pub fn export_file(&mut self, path: &str, namespaces: &[String]) -> Result<ExportSummary, ClientError> {
        let request = StorageExportFileRequest { path: path.to_owned(), namespaces: namespaces.to_vec() };
        match self.call(&Request::ExportFile(request))? {
            Response::ExportFile(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }

    /// Has the service restore the dump in the file at the absolute `path`, on its side, in
    /// `mode` (with `dry_run`, only checking); answers what it did. Only for a fully trusted peer
    /// acting as a system process. A failure is [`ClientError::Dump`].
    pub fn import_file(&mut self, path: &str, mode: ImportMode, dry_run: bool) -> Result<ImportSummary, ClientError> {
        let request = StorageImportFileRequest { path: path.to_owned(), mode, dry_run };
        match self.call(&Request::ImportFile(request))? {
            Response::ImportFile(answer) => Ok(answer.result?),
            other => Err(unexpected(other)),
        }
    }
}

/// The error frame as an error; `call` has already checked that nothing else can arrive.
fn unexpected(answer: Response) -> ClientError {
    match answer {
        Response::Error(error) => ClientError::Refused(error),
        other => ClientError::OutOfStep(format!("unexpected answer tag 0x{:04X}", other.tag())),
    }
}
