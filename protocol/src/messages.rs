//! The payload of every message: one struct per request and answer, encoded with postcard as
//! its fields in declaration order. Field order is the wire format: never reorder, only add
//! new messages.
//!
//! The design's five requests act on the caller's own namespace. Every request this protocol
//! adds that acts in one namespace starts with `namespace: Option<String>`: `None` is the
//! caller's own namespace, `Some("user:alice")` another namespace the caller may use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{bounded, bytes};

/// Why a storage request failed. A failed request never changes stored data.
///
/// The original design's variants come first and in its order (their postcard discriminants
/// are 0 to 5); ours follow. Absent keys are not errors: `get` answers `Ok(None)`, `delete`
/// answers `Ok(false)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StorageError {
    /// The key does not exist, or its time to live has passed. Kept for the design; the
    /// messages of this protocol answer absent keys with `None` or `false` instead.
    NotFound,
    /// The write would take the namespace's usage over its quota; delete entries or ask the
    /// operator for a larger quota.
    QuotaExceeded,
    /// The key (or list prefix) is longer than 256 bytes of UTF-8.
    KeyTooLong,
    /// The value is longer than 1,048,576 bytes.
    ValueTooLarge,
    /// The caller may not use this namespace (or may only read it), or may not claim this
    /// identity.
    PermissionDenied,
    /// The storage backend failed and the request had no effect; retrying later may succeed.
    BackendError(String),
    /// An argument is malformed (an empty key, a cursor `list` did not return, a bad namespace
    /// name, a batch over its limits); the text says which and how to fix it.
    InvalidArgument(String),
    /// The transaction's precondition at this index (from 0) did not hold; nothing was written.
    PreconditionFailed(u32),
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::NotFound => f.write_str("not found"),
            StorageError::QuotaExceeded => f.write_str("quota exceeded: delete entries or ask for a larger quota"),
            StorageError::KeyTooLong => f.write_str("key too long: keys are at most 256 bytes"),
            StorageError::ValueTooLarge => f.write_str("value too large: values are at most 1 MiB"),
            StorageError::PermissionDenied => f.write_str("permission denied"),
            StorageError::BackendError(why) => write!(f, "backend error: {why}"),
            StorageError::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            StorageError::PreconditionFailed(index) => write!(f, "precondition {index} failed"),
        }
    }
}

impl std::error::Error for StorageError {}

/// A namespace's usage, the answer of `STORAGE_QUOTA`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaInfo {
    /// The namespace, e.g. `app:notes`.
    pub namespace: String,
    /// Key bytes plus value bytes of the live entries.
    pub used_bytes: u64,
    /// The most `used_bytes` may reach.
    pub quota_bytes: u64,
    /// The number of live entries.
    pub key_count: u64,
}

/// One page of a listing, the answer of `STORAGE_LIST_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// Live keys in ascending byte order.
    pub keys: Vec<String>,
    /// Present if and only if more keys may follow: send it as the next request's `cursor`.
    pub next_cursor: Option<String>,
}

/// A value with the version of the write that stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedValue {
    /// The value.
    #[serde(with = "bytes::plain")]
    pub value: Vec<u8>,
    /// Grows with every write to the namespace; changes whenever the key is written.
    pub version: u64,
}

/// A condition `STORAGE_TRANSACT` checks on the snapshot its writes are based on. An entry
/// whose time to live has passed counts as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precondition {
    /// No live entry has this key.
    Absent(String),
    /// A live entry has this key.
    Exists(String),
    /// The live entry under the key has this version: compare-and-swap.
    VersionIs(String, u64),
    /// The live entry under the key has exactly this value.
    ValueEquals(String, #[serde(with = "bytes::plain")] Vec<u8>),
}

/// One write of `STORAGE_TRANSACT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    /// Store a value.
    Set {
        /// The key.
        key: String,
        /// The value.
        #[serde(with = "bytes::plain")]
        value: Vec<u8>,
        /// Seconds until the entry expires; 0 means never.
        ttl_secs: u32,
    },
    /// Remove a key (removing an absent key is not an error).
    Delete(String),
}

/// `STORAGE_GET` (`0x7000`): the value under `key` in the caller's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetRequest {
    /// The key: 1 to 256 bytes of UTF-8.
    pub key: String,
}

/// The answer to `STORAGE_GET` and `STORAGE_GET_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetResponse {
    /// The value, `None` if there is no live entry.
    #[serde(with = "bytes::result_option")]
    pub result: Result<Option<Vec<u8>>, StorageError>,
}

/// `STORAGE_SET` (`0x7002`): store `value` under `key` in the caller's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSetRequest {
    /// The key: 1 to 256 bytes of UTF-8.
    pub key: String,
    /// The value: at most 1 MiB.
    #[serde(with = "bytes::plain")]
    pub value: Vec<u8>,
    /// Seconds until the entry expires; 0 means never.
    pub ttl_secs: u32,
}

/// The answer to `STORAGE_SET` and `STORAGE_SET_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSetResponse {
    /// `Ok(())` once the write is durable as the backend promises.
    pub result: Result<(), StorageError>,
}

/// `STORAGE_DELETE` (`0x7004`): remove `key` from the caller's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDeleteRequest {
    /// The key: 1 to 256 bytes of UTF-8.
    pub key: String,
}

/// The answer to `STORAGE_DELETE` and `STORAGE_DELETE_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDeleteResponse {
    /// Whether a live entry existed; an absent key is `Ok(false)`.
    pub result: Result<bool, StorageError>,
}

/// `STORAGE_LIST` (`0x7006`): one page of the caller's keys that start with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageListRequest {
    /// Only keys starting with this (at most 256 bytes; empty lists everything).
    pub prefix: String,
    /// The page size: 0 means 100, values above 1000 mean 1000.
    pub limit: usize,
    /// `None` for the first page, then the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The answer to `STORAGE_LIST`. It has no error case: a failed list is answered with the
/// error frame instead (use `STORAGE_LIST_IN` for a typed error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageListResponse {
    /// Live keys in ascending byte order, at most `limit`.
    pub keys: Vec<String>,
    /// Present if and only if more keys may follow.
    pub next_cursor: Option<String>,
}

/// `STORAGE_QUOTA` (`0x7008`): the caller's own namespace, its usage and quota. No fields: the
/// payload is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageQuotaRequest;

/// The answer to `STORAGE_QUOTA` and `STORAGE_QUOTA_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageQuotaResponse {
    /// The namespace and its usage.
    pub result: Result<QuotaInfo, StorageError>,
}

/// `STORAGE_GET_IN` (`0x7010`): `STORAGE_GET` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetInRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key.
    pub key: String,
}

/// `STORAGE_SET_IN` (`0x7012`): `STORAGE_SET` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSetInRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key.
    pub key: String,
    /// The value.
    #[serde(with = "bytes::plain")]
    pub value: Vec<u8>,
    /// Seconds until the entry expires; 0 means never.
    pub ttl_secs: u32,
}

/// `STORAGE_DELETE_IN` (`0x7014`): `STORAGE_DELETE` in `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDeleteInRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key.
    pub key: String,
}

/// `STORAGE_LIST_IN` (`0x7016`): `STORAGE_LIST` in `namespace`, answered with a typed error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageListInRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// Only keys starting with this.
    pub prefix: String,
    /// The page size: 0 means 100, values above 1000 mean 1000.
    pub limit: usize,
    /// `None` for the first page, then the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The answer to `STORAGE_LIST_IN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageListInResponse {
    /// One page of keys.
    pub result: Result<ListPage, StorageError>,
}

/// `STORAGE_QUOTA_IN` (`0x7018`): `STORAGE_QUOTA` for `namespace`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageQuotaInRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
}

/// `STORAGE_EXISTS` (`0x701A`): whether `key` has a live entry, without reading its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageExistsRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key.
    pub key: String,
}

/// The answer to `STORAGE_EXISTS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageExistsResponse {
    /// Whether a live entry exists.
    pub result: Result<bool, StorageError>,
}

/// `STORAGE_GET_VERSIONED` (`0x701C`): the value under `key` with its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetVersionedRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key.
    pub key: String,
}

/// The answer to `STORAGE_GET_VERSIONED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetVersionedResponse {
    /// The value and version, `None` if there is no live entry.
    pub result: Result<Option<VersionedValue>, StorageError>,
}

/// `STORAGE_GET_MANY` (`0x701E`): the values under `keys`, from one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetManyRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// At most 1000 keys; their values may total at most 16 MiB (a key named twice counts
    /// twice).
    #[serde(deserialize_with = "bounded::batch")]
    pub keys: Vec<String>,
}

/// The answer to `STORAGE_GET_MANY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageGetManyResponse {
    /// One entry per requested key, in order; `None` where there is no live entry.
    #[serde(with = "bytes::result_list_option")]
    pub result: Result<Vec<Option<Vec<u8>>>, StorageError>,
}

/// `STORAGE_SET_MANY` (`0x7020`): store every pair, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSetManyRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// At most 1000 `(key, value)` pairs and 16 MiB of values; a key given twice keeps its
    /// last value.
    #[serde(with = "bytes::entries")]
    pub entries: Vec<(String, Vec<u8>)>,
    /// Seconds until every entry expires; 0 means never.
    pub ttl_secs: u32,
}

/// The answer to `STORAGE_SET_MANY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSetManyResponse {
    /// `Ok(())` once every write is durable.
    pub result: Result<(), StorageError>,
}

/// `STORAGE_DELETE_MANY` (`0x7022`): remove every key, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDeleteManyRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// At most 1000 keys.
    #[serde(deserialize_with = "bounded::batch")]
    pub keys: Vec<String>,
}

/// The answer to `STORAGE_DELETE_MANY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageDeleteManyResponse {
    /// How many distinct live entries were removed.
    pub result: Result<u64, StorageError>,
}

/// `STORAGE_INCREMENT` (`0x7024`): add `delta` to the ASCII decimal counter under `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageIncrementRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// The key; a missing key counts from 0.
    pub key: String,
    /// What to add (may be negative).
    pub delta: i64,
}

/// The answer to `STORAGE_INCREMENT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageIncrementResponse {
    /// The counter's new value.
    pub result: Result<i64, StorageError>,
}

/// `STORAGE_TRANSACT` (`0x7026`): apply `writes` all or nothing if every precondition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTransactRequest {
    /// The namespace (`None`: the caller's own).
    pub namespace: Option<String>,
    /// Checked in order on one snapshot; the first that fails is `PreconditionFailed(index)`.
    #[serde(deserialize_with = "bounded::batch")]
    pub preconditions: Vec<Precondition>,
    /// Applied together if every precondition holds. At most 1000 keys (preconditions plus
    /// writes) and 16 MiB of values written.
    #[serde(deserialize_with = "bounded::batch")]
    pub writes: Vec<Write>,
}

/// The answer to `STORAGE_TRANSACT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageTransactResponse {
    /// The version the writes were stamped with (0 if there was nothing to write).
    pub result: Result<u64, StorageError>,
}

/// `STORAGE_CLAIM` (`0x7028`): act as this identity for the rest of the connection, within
/// what the service grants the peer's uid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageClaimRequest {
    /// The process name; its namespace is `app:NAME` (1 to 64 of `a-z A-Z 0-9 . _ -`).
    pub name: String,
    /// Roles (at most 16); `system` makes it a system process that owns `system`.
    #[serde(deserialize_with = "bounded::roles")]
    pub roles: Vec<String>,
    /// The user it acts for, which also gives it `user:USER`.
    pub user: Option<String>,
}

/// The answer to `STORAGE_CLAIM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageClaimResponse {
    /// The claimed identity's own namespace (`app:notes`, or `system`).
    pub result: Result<String, StorageError>,
}

/// One page of namespace names, the answer of `STORAGE_NAMESPACES`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespacePage {
    /// Namespaces that hold data, in ascending byte order.
    pub namespaces: Vec<String>,
    /// Present if and only if more namespaces follow: send it as the next request's `cursor`.
    pub next_cursor: Option<String>,
}

/// `STORAGE_NAMESPACES` (`0x702A`): one page of the namespaces that hold data, for a system
/// process. Paged like `STORAGE_LIST`, so that the answer stays small however many users and
/// apps the service stores for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNamespacesRequest {
    /// The page size: 0 means 100, values above 1000 mean 1000.
    pub limit: usize,
    /// `None` for the first page, then the previous page's `next_cursor`: the page holds the
    /// namespaces after it in byte order. It must be a well-formed namespace name.
    pub cursor: Option<String>,
}

/// The answer to `STORAGE_NAMESPACES`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageNamespacesResponse {
    /// One page of namespaces; `PermissionDenied` for a caller that is not a system process.
    pub result: Result<NamespacePage, StorageError>,
}

/// `STORAGE_SWEEP` (`0x702C`): remove the entries of `namespace` whose time to live has
/// passed, for a system process. They are already invisible and uncounted; this reclaims their
/// space in the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSweepRequest {
    /// The namespace (`None`: the caller's own, which for a system process is `system`).
    pub namespace: Option<String>,
}

/// The answer to `STORAGE_SWEEP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageSweepResponse {
    /// How many expired entries were removed; `PermissionDenied` for a caller that is not a
    /// system process.
    pub result: Result<u64, StorageError>,
}

/// What to do with a namespace of the dump that already holds live entries, in
/// `STORAGE_IMPORT_FILE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportMode {
    /// Refuse the whole import, naming the namespace: only namespaces without live entries are
    /// filled.
    #[default]
    OnlyEmpty,
    /// Remove every entry of the namespace first, then write the dump's.
    Replace,
    /// Keep the namespace's entries and write the dump's over them: where both hold a key, the
    /// dump's value and expiry win.
    Merge,
}

/// What an export wrote of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceExport {
    /// The namespace.
    pub namespace: String,
    /// Entries written: every entry live when its snapshot was taken.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries left out because they had expired (stored, but not yet reclaimed).
    pub expired: u64,
    /// When the namespace's snapshot was taken, in ms since the Unix epoch.
    pub snapshot_at_ms: u64,
}

/// What an export wrote, the answer of `STORAGE_EXPORT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportSummary {
    /// Per namespace, in the dump's order (ascending byte order).
    pub namespaces: Vec<NamespaceExport>,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries left out because they had expired.
    pub expired: u64,
    /// The size of the dump file, in bytes.
    pub dump_bytes: u64,
}

/// What became of a namespace that the dump holds, in `STORAGE_IMPORT_FILE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceAction {
    /// It held no live entries; now it holds the dump's.
    Filled,
    /// Its `removed` live entries were removed first (replace mode).
    Replaced {
        /// Live entries removed.
        removed: u64,
    },
    /// The dump's entries were written over its `existing` live entries (merge mode), of which
    /// `overwritten` had a key the dump also holds.
    Merged {
        /// Live entries it held before.
        existing: u64,
        /// Of those, the ones the dump replaced.
        overwritten: u64,
    },
}

/// What an import did (or in a dry run would do) in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceImport {
    /// The namespace.
    pub namespace: String,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries of the dump not written because they had expired.
    pub expired: u64,
    /// What happened to what the namespace held.
    pub action: NamespaceAction,
}

/// What an import did, or in a dry run would do, the answer of `STORAGE_IMPORT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    /// Per namespace, in the dump's order.
    pub namespaces: Vec<NamespaceImport>,
    /// Entries written.
    pub entries: u64,
    /// Their key and value bytes.
    pub usage_bytes: u64,
    /// Entries of the dump not written because they had expired.
    pub expired: u64,
    /// The mode the import ran in.
    pub mode: ImportMode,
    /// Whether nothing was written (a dry run).
    pub dry_run: bool,
}

/// Why a `STORAGE_EXPORT_FILE` or `STORAGE_IMPORT_FILE` failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DumpFileError {
    /// Refused before any file was touched: `PermissionDenied` for a peer that is not a fully
    /// trusted system process, `InvalidArgument` for a path that is not absolute or too many
    /// namespaces.
    Storage(StorageError),
    /// The import is in `OnlyEmpty` mode and this namespace of the dump already holds live
    /// entries: import in `Replace` or `Merge` mode. Nothing was written.
    NotEmpty(String),
    /// The export or import failed: the text is the dump library's message, which says what is
    /// wrong and where (the dump's line, the namespace, the file) and what to do. A failed
    /// export removes the file it created; a failed import wrote nothing unless the text says
    /// how many entries it wrote.
    Failed(String),
}

impl fmt::Display for DumpFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpFileError::Storage(error) => error.fmt(f),
            DumpFileError::NotEmpty(namespace) => write!(
                f,
                "namespace `{namespace}` already holds data; import in replace mode to clear it first, or in merge \
                 mode to keep its entries and let the dump's win"
            ),
            DumpFileError::Failed(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DumpFileError {}

/// `STORAGE_EXPORT_FILE` (`0x702E`): write a dump (the JSON Lines format of DUMP.md) of
/// `namespaces` to a new file at `path` on the service's side, with the service's own runtime,
/// each namespace from one snapshot. Only for a fully trusted peer (the service's own uid or
/// root) acting as a system process, since the service writes the file as its own user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageExportFileRequest {
    /// An absolute path where no file exists yet: the service creates the file exclusively
    /// (mode 0600), never overwriting or following an existing file or symbolic link.
    pub path: String,
    /// The namespaces to export, at most 1000; empty means every namespace that holds data.
    #[serde(deserialize_with = "bounded::export_namespaces")]
    pub namespaces: Vec<String>,
}

/// The answer to `STORAGE_EXPORT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageExportFileResponse {
    /// What was written, once the file is complete and synced to disk.
    pub result: Result<ExportSummary, DumpFileError>,
}

/// `STORAGE_IMPORT_FILE` (`0x7030`): restore the dump in the file at `path` on the service's
/// side into the service's store: checked whole first, then written through the storage
/// component as a system process. Only for a fully trusted peer acting as a system process,
/// since the service reads the file as its own user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageImportFileRequest {
    /// The absolute path of the dump. It must not change while the import runs (it is read
    /// twice).
    pub path: String,
    /// What to do with namespaces of the dump that already hold data.
    pub mode: ImportMode,
    /// Check the dump and the store and report what the import would do, but write nothing.
    pub dry_run: bool,
}

/// The answer to `STORAGE_IMPORT_FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageImportFileResponse {
    /// What was written (or, in a dry run, would be).
    pub result: Result<ImportSummary, DumpFileError>,
}

/// The generic error frame (`0x70FF`): the answer to a request that could not be decoded, had
/// an unknown tag or was too long, or to a `STORAGE_LIST` that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The tag of the request this answers.
    pub request_tag: u32,
    /// What went wrong, for people: not meant to be parsed.
    pub message: String,
}
