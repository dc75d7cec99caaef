//! `etcd`: data in an etcd cluster, shared by every host that connects to it.
//!
//! The contract maps onto etcd one to one (ARCHITECTURE.md has the whole mapping):
//! - entry `key` of namespace `ns` is the etcd key `{prefix}n/{ns}\0{key}`, so a namespace is
//!   one ordered etcd range and a scan is one range request;
//! - an entry's version is its etcd `mod_revision` (cluster-wide and rising, never 0);
//! - a read is one `Txn` of range requests, which etcd answers at one revision; reads with
//!   more queries than one `Txn` may hold are split into `Txn`s pinned to that revision;
//! - a commit is one `Txn` that compares each condition's `mod_revision` (absent: version 0)
//!   and applies every mutation, or nothing.
//!
//! **Exactly once across retries.** During a leader election etcd can fail a request whose
//! proposal still commits later, so a retried commit could apply twice (an increment counted
//! twice). Each commit therefore also creates a unique *marker* key and requires it to be
//! absent; if the commit fails, the same `Txn` marks the marker `aborted`. A retry of an
//! attempt whose answer was lost finds the marker and learns the outcome: empty means the
//! earlier attempt committed (at the marker's revision), `aborted` means it did not, and no
//! stray earlier attempt can apply after either. Markers carry a lease, so etcd deletes them
//! one to two minutes later, long after the retry budget is spent.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, KvClient, LeaseClient, PutOptions,
    TlsOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
};
use zero_storage_component::layout::prefix_end;
use zero_storage_component::limits::MAX_BATCH_KEYS;
use zero_storage_component::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};

use super::{
    Answer, Backend, BackendError, CommitResult, Condition, Entry, Mutation, Query, Snapshot, condition_holds,
};

/// The cluster prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "zero/";

/// The most range requests sent in one read `Txn`; etcd's default `--max-txn-ops` is 128.
const READ_CHUNK: usize = 100;

/// The operations one commit may need in one `Txn`: the largest batch writes four records per
/// key, plus the usage record and the marker. Checked at connect.
pub const REQUIRED_TXN_OPS: usize = 4 * MAX_BATCH_KEYS + 16;

/// The request size one write of the largest value needs; checked at connect.
const REQUIRED_REQUEST_BYTES: usize = MAX_VALUE_BYTES + 4 * MAX_KEY_BYTES + 4096;

/// How long a marker's lease lives, and how long one lease is used for new markers.
const MARKER_LEASE_TTL_SECS: i64 = 120;
const MARKER_LEASE_REUSE: Duration = Duration::from_secs(60);

/// The value of a marker whose commit did not apply.
const ABORTED: &[u8] = b"aborted";

/// How to reach the cluster and where in it Zero Storage keeps its data.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// Client URLs of the cluster's members, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Every key Zero Storage writes starts with this prefix ([`DEFAULT_PREFIX`] by default).
    pub prefix: String,
    /// User name and password, when the cluster has authentication enabled.
    pub user: Option<(String, String)>,
    /// TLS for `https://` endpoints: the CA that signed the members' certificates, and this
    /// client's certificate and key when the cluster requires them (`--client-cert-auth`).
    pub tls: Option<EtcdTls>,
    /// How long one request may wait for an answer before it is retried.
    pub request_timeout: Duration,
    /// How long a call keeps retrying (with backoff) while the cluster is unavailable, e.g.
    /// during a leader election, before it fails with a backend error.
    pub retry_for: Duration,
}

/// PEM-encoded TLS material for connecting to a cluster over `https://`.
#[derive(Debug, Clone)]
pub struct EtcdTls {
    /// The certificate authority that signed the members' server certificates.
    pub ca_pem: Vec<u8>,
    /// This client's certificate and private key, for clusters that authenticate clients.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
}

impl EtcdOptions {
    /// Options for a cluster at `endpoints`, with the default prefix and timeouts.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: DEFAULT_PREFIX.to_owned(),
            user: None,
            tls: None,
            // A write whose proposal was lost with a dead leader is only answered when this
            // runs out (etcd itself waits ~6 s); retrying sooner is safe and ends the stall.
            request_timeout: Duration::from_secs(2),
            retry_for: Duration::from_secs(20),
        }
    }

    /// Parses a comma-separated endpoint list, as given to `--etcd-endpoints`.
    pub fn parse_endpoints(list: &str) -> Vec<String> {
        list.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect()
    }
}

/// A backend whose data lives in an etcd cluster.
pub struct EtcdBackend {
    runtime: tokio::runtime::Runtime,
    kv: KvClient,
    leases: LeaseClient,
    prefix: Vec<u8>,
    /// Unique to this connection; names its commit markers.
    client_id: String,
    next_marker: AtomicU64,
    marker_lease: Mutex<Option<(i64, Instant)>>,
    retry_for: Duration,
    retried: AtomicU64,
    recovered: AtomicU64,
}

/// What the retry machinery has done on one connection, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EtcdStats {
    /// Requests sent again after a transient failure (unavailable, leader lost, timed out).
    pub retried_requests: u64,
    /// Commits whose answer was lost but whose marker showed they had committed, so they were
    /// reported as committed instead of being applied again.
    pub recovered_commits: u64,
}

/// Why one attempt failed: worth retrying (unavailable, leader changed, timed out), or not.
enum Failure {
    Transient(String),
    Permanent(String),
}

impl EtcdBackend {
    /// Connects to the cluster and checks that it can serve Zero Storage: reachable, the user
    /// may read and write under the prefix, and it accepts requests big enough for the largest
    /// value (`--max-request-bytes`) and transactions big enough for the largest batch
    /// (`--max-txn-ops`). Each failure says what to change.
    pub fn connect(options: EtcdOptions) -> Result<Self, BackendError> {
        if options.endpoints.is_empty() {
            return Err(BackendError("no etcd endpoints given: pass --etcd-endpoints http://HOST:2379,...".into()));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zero-storage-etcd")
            .enable_all()
            .build()
            .map_err(|e| BackendError(format!("cannot start the etcd client's threads: {e}")))?;
        let mut connect_options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(options.request_timeout)
            .with_require_leader(true);
        if let Some((name, password)) = &options.user {
            connect_options = connect_options.with_user(name.clone(), password.clone());
        }
        if let Some(tls) = &options.tls {
            let mut config = TlsOptions::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
            if let Some((cert, key)) = &tls.client_pem {
                config = config.identity(Identity::from_pem(cert, key));
            }
            connect_options = connect_options.with_tls(config);
        }
        let endpoints = options.endpoints.join(",");
        let unreachable = |error: &dyn std::fmt::Display| {
            BackendError(format!(
                "cannot reach the etcd cluster at {endpoints}: {error}. Is it running, and are the endpoints right?"
            ))
        };
        let endpoint_list = options.endpoints.clone();
        let client = run_on(&runtime, async move { Client::connect(endpoint_list, Some(connect_options)).await })
            .map_err(|e| match classify(e) {
                Failure::Transient(message) => unreachable(&message),
                Failure::Permanent(message) => {
                    BackendError(format!("cannot connect to the etcd cluster at {endpoints}: {message}"))
                }
            })?;
        let backend = Self {
            kv: client.kv_client().max_decoding_message_size(256 << 20).max_encoding_message_size(256 << 20),
            leases: client.lease_client(),
            runtime,
            prefix: options.prefix.clone().into_bytes(),
            client_id: unique_id(),
            next_marker: AtomicU64::new(0),
            marker_lease: Mutex::new(None),
            retry_for: options.retry_for.min(Duration::from_secs(5)),
            retried: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
        };
        backend.check_cluster(&options).map_err(|message| {
            if message.starts_with("unavailable") {
                unreachable(&message)
            } else {
                BackendError(format!("cannot use the etcd cluster at {endpoints}: {message}"))
            }
        })?;
        Ok(Self { retry_for: options.retry_for, ..backend })
    }

    /// What the retry machinery has done on this connection so far.
    pub fn stats(&self) -> EtcdStats {
        EtcdStats {
            retried_requests: self.retried.load(Ordering::Relaxed),
            recovered_commits: self.recovered.load(Ordering::Relaxed),
        }
    }

    /// The connect-time checks: reachability, permissions and the two request limits.
    fn check_cluster(&self, options: &EtcdOptions) -> Result<(), String> {
        let probe = [self.prefix.as_slice(), b"probe"].concat();
        // Never true, so nothing is written; etcd still checks the request's size and the
        // permissions of both branches.
        let never = Compare::create_revision(probe.clone(), CompareOp::Less, 0);
        let too_large = Txn::new()
            .when([never.clone()])
            .and_then([TxnOp::put(probe.clone(), vec![0u8; REQUIRED_REQUEST_BYTES], None)])
            .or_else([TxnOp::get(
                self.prefix.clone(),
                Some(GetOptions::new().with_prefix().with_keys_only().with_limit(1)),
            )]);
        self.txn_with_retries(|| too_large.clone()).map_err(|message| match message {
            m if m.contains("too large") => format!(
                "the etcd cluster refuses requests of {REQUIRED_REQUEST_BYTES} bytes, which a {MAX_VALUE_BYTES}-byte value \
                 needs: start every member with --max-request-bytes={} or more",
                REQUIRED_REQUEST_BYTES + (64 << 10)
            ),
            m if m.contains("permission denied") => format!(
                "the etcd user{} may not read and write keys under the prefix `{}`: grant it a role with readwrite \
                 permission on that prefix, or choose another with --etcd-prefix",
                options.user.as_ref().map(|(name, _)| format!(" `{name}`")).unwrap_or_default(),
                options.prefix.escape_debug()
            ),
            other => other,
        })?;
        let many_compares = Txn::new().when(vec![never; REQUIRED_TXN_OPS]);
        self.txn_with_retries(|| many_compares.clone()).map_err(|message| match message {
            m if m.contains("too many operations") => format!(
                "the etcd cluster allows fewer than {REQUIRED_TXN_OPS} operations per transaction, which the largest \
                 batch needs: start every member with --max-txn-ops={REQUIRED_TXN_OPS} or more"
            ),
            other => other,
        })?;
        Ok(())
    }

    /// Runs `future` on this backend's runtime and waits for it from a plain thread. (Spawning
    /// and waiting, rather than `block_on`, also works when the caller is itself on a runtime.)
    fn run<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        run_on(&self.runtime, future)
    }

    /// Sends the `Txn` that `make` builds, retrying transient failures with backoff until the
    /// retry budget is spent. Callers make sure a retried `Txn` cannot apply twice.
    fn txn_with_retries(&self, make: impl Fn() -> Txn) -> Result<TxnResponse, String> {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(25);
        loop {
            let mut kv = self.kv.clone();
            let txn = make();
            match self.run(async move { kv.txn(txn).await }).map_err(classify) {
                Ok(response) => return Ok(response),
                Err(Failure::Permanent(message)) => return Err(message),
                Err(Failure::Transient(message)) if started.elapsed() + backoff > self.retry_for => {
                    return Err(format!(
                        "unavailable: the etcd cluster did not answer within {} s ({message}); try again later",
                        self.retry_for.as_secs()
                    ));
                }
                Err(Failure::Transient(_)) => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// `{prefix}n/{namespace}\0`: the start of every key of `namespace`.
    fn namespace_prefix(&self, namespace: &str) -> Result<Vec<u8>, BackendError> {
        if namespace.is_empty() || namespace.contains('\0') {
            return Err(BackendError(format!("`{}` is not a namespace name", namespace.escape_debug())));
        }
        Ok([self.prefix.as_slice(), b"n/", namespace.as_bytes(), b"\0"].concat())
    }

    /// The lease new markers get: reused for a minute, so that a marker lives one to two.
    fn marker_lease(&self, force_new: bool) -> Result<i64, BackendError> {
        let mut current = self.marker_lease.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some((id, granted)) = *current
            && !force_new
            && granted.elapsed() < MARKER_LEASE_REUSE
        {
            return Ok(id);
        }
        let started = Instant::now();
        let mut backoff = Duration::from_millis(25);
        loop {
            let mut leases = self.leases.clone();
            match self.run(async move { leases.grant(MARKER_LEASE_TTL_SECS, None).await }).map_err(classify) {
                Ok(granted) => {
                    *current = Some((granted.id(), Instant::now()));
                    return Ok(granted.id());
                }
                Err(Failure::Transient(_)) if started.elapsed() < self.retry_for => {
                    self.retried.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(Failure::Transient(message) | Failure::Permanent(message)) => return Err(BackendError(message)),
            }
        }
    }

    /// Answers `queries` in `namespace` at `revision`, or at the newest revision when none is
    /// given; returns the answers and the revision they were read at.
    fn read_at(
        &self,
        namespace: &str,
        queries: &[Query],
        revision: Option<i64>,
    ) -> Result<(Vec<Answer>, i64), ReadFailure> {
        let base = self.namespace_prefix(namespace).map_err(ReadFailure::Other)?;
        let key = |suffix: &[u8]| [base.as_slice(), suffix].concat();
        // Empty ranges and zero limits are answered here: etcd reads a limit of 0 as "no limit".
        let mut answers: Vec<Option<Answer>> = Vec::with_capacity(queries.len());
        let mut requests: Vec<(usize, Vec<u8>, Option<GetOptions>)> = Vec::new();
        for (index, query) in queries.iter().enumerate() {
            match query {
                Query::Get(k) => {
                    answers.push(None);
                    requests.push((index, key(k), None));
                }
                Query::Scan { start, end, limit, keys_only } if start < end && *limit > 0 => {
                    answers.push(None);
                    let mut options = GetOptions::new().with_range(key(end)).with_limit(i64::from(*limit));
                    if *keys_only {
                        options = options.with_keys_only();
                    }
                    requests.push((index, key(start), Some(options)));
                }
                Query::Scan { .. } => answers.push(Some(Answer::Scanned(Vec::new()))),
            }
        }
        // Unless given, the first chunk fixes the revision; later chunks read at it, so all
        // see one snapshot.
        let mut revision = revision.unwrap_or(0);
        for chunk in requests.chunks(READ_CHUNK) {
            let pinned = revision;
            let make = || {
                Txn::new().and_then(
                    chunk
                        .iter()
                        .map(|(_, key, options)| {
                            let options = options.clone().unwrap_or_default();
                            let options = if pinned > 0 { options.with_revision(pinned) } else { options };
                            TxnOp::get(key.clone(), Some(options))
                        })
                        .collect::<Vec<_>>(),
                )
            };
            let response = self.txn_with_retries(make).map_err(|message| {
                if pinned > 0 && message.contains(COMPACTED) {
                    ReadFailure::Compacted(pinned)
                } else {
                    ReadFailure::Other(BackendError(message))
                }
            })?;
            if revision == 0 {
                revision = response.header().map_or(0, |header| header.revision());
            }
            for ((index, _, _), op) in chunk.iter().zip(response.op_responses()) {
                let TxnOpResponse::Get(got) = op else {
                    return Err(ReadFailure::Other(BackendError("etcd answered a read with something else".into())));
                };
                answers[*index] = Some(match &queries[*index] {
                    Query::Get(_) => Answer::Got(got.kvs().first().map(|kv| self.entry(&base, kv))),
                    Query::Scan { .. } => Answer::Scanned(got.kvs().iter().map(|kv| self.entry(&base, kv)).collect()),
                });
            }
        }
        let answers = answers
            .into_iter()
            .map(|answer| answer.ok_or_else(|| ReadFailure::Other(BackendError("etcd left a query unanswered".into()))))
            .collect::<Result<_, _>>()?;
        Ok((answers, revision))
    }

    fn entry(&self, base: &[u8], kv: &etcd_client::KeyValue) -> Entry {
        Entry { key: kv.key()[base.len()..].to_vec(), value: kv.value().to_vec(), version: kv.mod_revision() as u64 }
    }
}

impl Backend for EtcdBackend {
    fn read(&self, namespace: &str, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        match self.read_at(namespace, queries, None) {
            // A later part of a split read was pinned to a revision compacted meanwhile: start
            // over at the newest revision, which cannot have been compacted.
            Err(ReadFailure::Compacted(_)) => self.read_at(namespace, queries, None),
            other => other,
        }
        .map(|(answers, _)| answers)
        .map_err(ReadFailure::into_backend_error)
    }

    fn commit(
        &self,
        namespace: &str,
        conditions: &[Condition],
        mutations: Vec<Mutation<'_>>,
    ) -> Result<CommitResult, BackendError> {
        let base = self.namespace_prefix(namespace)?;
        let key = |suffix: &[u8]| [base.as_slice(), suffix].concat();
        let marker = format!(
            "{}c/{}/{:016x}",
            String::from_utf8_lossy(&self.prefix),
            self.client_id,
            self.next_marker.fetch_add(1, Ordering::Relaxed)
        )
        .into_bytes();
        // etcd refuses a Txn that writes one key twice; applied in order, the last write wins.
        let mut last_write: HashMap<&[u8], usize> = HashMap::new();
        for (index, mutation) in mutations.iter().enumerate() {
            let (Mutation::Put(k, _) | Mutation::Delete(k)) = mutation;
            last_write.insert(k.as_slice(), index);
        }
        let writes: Vec<TxnOp> = mutations
            .iter()
            .enumerate()
            .filter(|(index, mutation)| {
                let (Mutation::Put(k, _) | Mutation::Delete(k)) = mutation;
                last_write[k.as_slice()] == *index
            })
            .map(|(_, mutation)| match mutation {
                Mutation::Put(k, value) => TxnOp::put(key(k), value.to_vec(), None),
                Mutation::Delete(k) => TxnOp::delete(key(k), None),
            })
            .collect();
        let compares: Vec<Compare> = std::iter::once(Compare::version(marker.clone(), CompareOp::Equal, 0))
            .chain(conditions.iter().map(|condition| match condition.version {
                // No entry has version 0 or one etcd cannot hold (over i64::MAX), so neither may
                // match; -1 never does. (etcd compares an absent key as `mod_revision` 0, so
                // sending 0 would let "version 0" hold for every absent key.)
                Some(version) => {
                    let version = i64::try_from(version).ok().filter(|version| *version > 0).unwrap_or(-1);
                    Compare::mod_revision(key(&condition.key), CompareOp::Equal, version)
                }
                None => Compare::version(key(&condition.key), CompareOp::Equal, 0),
            }))
            .collect();
        let keys_only = || Some(GetOptions::new().with_keys_only());
        let make = |lease: i64| {
            let with_lease = || Some(PutOptions::new().with_lease(lease));
            let mut success = writes.clone();
            success.push(TxnOp::put(marker.clone(), Vec::new(), with_lease()));
            let abort = Txn::new()
                .when([Compare::version(marker.clone(), CompareOp::Equal, 0)])
                .and_then([TxnOp::put(marker.clone(), ABORTED, with_lease())]);
            let mut failure = vec![TxnOp::txn(abort), TxnOp::get(marker.clone(), None)];
            failure.extend(conditions.iter().map(|condition| TxnOp::get(key(&condition.key), keys_only())));
            Txn::new().when(compares.clone()).and_then(success).or_else(failure)
        };
        let mut lease = self.marker_lease(false)?;
        let response = loop {
            match self.txn_with_retries(|| make(lease)) {
                // The lease expired under us (the host was paused for minutes): nothing was
                // applied, because etcd checks leases before applying a Txn.
                Err(message) if message.contains("lease not found") => lease = self.marker_lease(true)?,
                Err(message) => return Err(BackendError(commit_failure(message))),
                Ok(response) => break response,
            }
        };
        let revision = response.header().map_or(0, |header| header.revision()) as u64;
        if response.succeeded() {
            return Ok(CommitResult::Committed(revision));
        }
        let replies = response.op_responses();
        let got = |index: usize| match replies.get(index) {
            Some(TxnOpResponse::Get(got)) => Ok(got.kvs().first().cloned()),
            _ => Err(BackendError("etcd answered a commit with something unexpected".into())),
        };
        if let Some(marker) = got(1)?
            && marker.value() != ABORTED
        {
            // An earlier attempt of this commit, whose answer was lost, committed.
            self.recovered.fetch_add(1, Ordering::Relaxed);
            return Ok(CommitResult::Committed(marker.mod_revision() as u64));
        }
        for (index, condition) in conditions.iter().enumerate() {
            let current = got(2 + index)?.map(|kv| kv.mod_revision() as u64);
            if !condition_holds(condition, current) {
                return Ok(CommitResult::Conflict(index as u32));
            }
        }
        // An earlier attempt found a condition failing; it may hold again by now.
        if conditions.is_empty() {
            return Err(BackendError("etcd refused an unconditional commit; try again".into()));
        }
        Ok(CommitResult::Conflict(0))
    }

    fn namespaces(&self) -> Result<Vec<String>, BackendError> {
        let root = [self.prefix.as_slice(), b"n/"].concat();
        let end = prefix_end(&root);
        let mut names = Vec::new();
        let mut from = root.clone();
        // One request per namespace: jump past each one's keys to the next.
        loop {
            let options = GetOptions::new().with_range(end.clone()).with_keys_only().with_limit(1);
            let response = self
                .txn_with_retries(|| Txn::new().and_then([TxnOp::get(from.clone(), Some(options.clone()))]))
                .map_err(BackendError)?;
            let Some(TxnOpResponse::Get(got)) = response.op_responses().into_iter().next() else {
                return Err(BackendError("etcd answered a read with something else".into()));
            };
            let Some(kv) = got.kvs().first() else { return Ok(names) };
            let rest = &kv.key()[root.len()..];
            let name = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
            names.push(String::from_utf8_lossy(name).into_owned());
            from = [root.as_slice(), name, b"\x01"].concat();
        }
    }

    /// Reads pinned to one revision: the cluster's newest when the snapshot is taken, fixed by
    /// a keys-only read of at most one of the namespace's keys. etcd keeps old revisions until
    /// it compacts them; a read after the snapshot's revision was compacted fails with an error
    /// that says to start over.
    fn snapshot(&self, namespace: &str) -> Result<Box<dyn Snapshot + '_>, BackendError> {
        let probe = Query::Scan { start: Vec::new(), end: vec![0xff; 2], limit: 1, keys_only: true };
        let (_, revision) = self.read_at(namespace, &[probe], None).map_err(ReadFailure::into_backend_error)?;
        if revision <= 0 {
            return Err(BackendError("etcd answered a read without its revision".into()));
        }
        Ok(Box::new(EtcdSnapshot { backend: self, namespace: namespace.to_owned(), revision }))
    }
}

/// What etcd says when a read asks for a revision it has compacted away.
const COMPACTED: &str = "required revision has been compacted";

/// Why a read failed: its pinned revision was compacted, or anything else.
enum ReadFailure {
    Compacted(i64),
    Other(BackendError),
}

impl ReadFailure {
    fn into_backend_error(self) -> BackendError {
        match self {
            ReadFailure::Compacted(revision) => {
                BackendError(format!("etcd compacted revision {revision} while it was being read; try again"))
            }
            ReadFailure::Other(error) => error,
        }
    }
}

/// One namespace as it was at one etcd revision.
struct EtcdSnapshot<'b> {
    backend: &'b EtcdBackend,
    namespace: String,
    revision: i64,
}

impl Snapshot for EtcdSnapshot<'_> {
    fn read(&self, queries: &[Query]) -> Result<Vec<Answer>, BackendError> {
        match self.backend.read_at(&self.namespace, queries, Some(self.revision)) {
            Ok((answers, _)) => Ok(answers),
            Err(ReadFailure::Compacted(revision)) => Err(BackendError(format!(
                "the etcd cluster compacted revision {revision}, at which this snapshot of `{}` was being read, \
                 before the reading was done (the cluster keeps less history than the export took; see its \
                 --auto-compaction-retention): run it again, perhaps while the cluster compacts less often",
                self.namespace
            ))),
            Err(ReadFailure::Other(error)) => Err(error),
        }
    }
}

/// Runs `future` on `runtime` and waits for its output on the calling thread.
fn run_on<T: Send + 'static>(runtime: &tokio::runtime::Runtime, future: impl Future<Output = T> + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = sender.send(future.await);
    });
    receiver.recv().expect("the etcd client's runtime lives as long as the backend")
}

/// Sorts an etcd client error into retry-worthy or not, with a message safe to show apps.
fn classify(error: etcd_client::Error) -> Failure {
    use tonic::Code;
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            let mut message = status.message().to_owned();
            if let Some(cause) = std::error::Error::source(&status) {
                message = format!("{message}: {}", with_causes(cause));
            }
            if is_tls_failure(&message) {
                return tls_failure(&message);
            }
            if message.contains("authentication failed") || status.code() == Code::Unauthenticated {
                return Failure::Permanent(format!("etcd did not accept the user name and password ({message})"));
            }
            if message.contains("larger than max") || message.contains("too large") {
                return Failure::Permanent(format!("request too large for the etcd cluster ({message})"));
            }
            if message.contains(COMPACTED) {
                // Retrying a read pinned to a compacted revision can never succeed.
                return Failure::Permanent(message);
            }
            match status.code() {
                // No leader, leader changed, request timed out, too many requests, connection
                // lost: all pass with time. (A compacted revision is caught above: a pinned
                // read starts over instead.)
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::ResourceExhausted
                | Code::Aborted
                | Code::Unknown
                | Code::Cancelled
                | Code::OutOfRange => Failure::Transient(message),
                Code::PermissionDenied => Failure::Permanent(format!("permission denied by etcd: {message}")),
                _ => Failure::Permanent(format!("etcd refused the request: {message}")),
            }
        }
        etcd_client::Error::TransportError(error) => {
            // The transport error's own text is only "transport error": the cause is below it.
            let message = with_causes(&error);
            if is_tls_failure(&message) {
                tls_failure(&message)
            } else {
                Failure::Transient(format!("connection failed: {message}"))
            }
        }
        etcd_client::Error::IoError(error) => Failure::Transient(format!("connection failed: {error}")),
        other => Failure::Permanent(format!("etcd client error: {other}")),
    }
}

/// An error's text followed by the texts of its causes.
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// Whether a connection failed because a certificate was refused, which no retry will change.
/// (Other TLS errors, such as a member closing its connection as it dies, are retried.)
fn is_tls_failure(message: &str) -> bool {
    message.contains("certificate") || message.contains("Certificate")
}

fn tls_failure(message: &str) -> Failure {
    Failure::Permanent(format!(
        "the TLS handshake with etcd failed ({message}); check --etcd-ca (the CA that signed the members' \
         certificates) and, if the cluster authenticates clients, --etcd-cert and --etcd-key"
    ))
}

/// Turns a failed commit's message into one that says what to do.
fn commit_failure(message: String) -> String {
    if message.contains("too large") {
        "this write is larger than the etcd cluster accepts in one request (its --max-request-bytes); \
         write fewer or smaller values at once"
            .into()
    } else if message.contains("too many operations") {
        format!(
            "this write needs more operations than the etcd cluster allows (start it with --max-txn-ops={REQUIRED_TXN_OPS})"
        )
    } else {
        message
    }
}

/// 128 random bits from the standard library's per-process random hasher keys.
fn unique_id() -> String {
    let half = || {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()));
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(), half())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_lists_tolerate_spaces_and_trailing_commas() {
        assert_eq!(EtcdOptions::parse_endpoints(" http://a:1, http://b:2,"), ["http://a:1", "http://b:2"]);
    }

    #[test]
    fn connection_ids_differ() {
        assert_ne!(unique_id(), unique_id());
    }
}
