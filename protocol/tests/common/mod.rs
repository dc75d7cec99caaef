//! One example exchange per message, shared by the round-trip tests and the test that checks
//! PROTOCOL.md shows each of them byte for byte.
#![allow(dead_code)]

use zero_storage_protocol::*;

/// One request frame and the answer the service sends to it.
pub struct Example {
    /// What the example shows, as PROTOCOL.md titles it.
    pub title: &'static str,
    /// The request frame's bytes (not always a valid request: some examples show error frames).
    pub request: Vec<u8>,
    /// The answer.
    pub answer: Response,
}

fn exchange(title: &'static str, request: Request, answer: Response) -> Example {
    Example { title, request: request.to_frame().unwrap().encode(), answer }
}

fn raw(tag: u32, payload: &[u8]) -> Vec<u8> {
    Frame::new(tag, payload.to_vec()).unwrap().encode()
}

fn error_for(tag: u32, payload: &[u8]) -> Response {
    Response::Error(ErrorResponse::from(&Request::decode(tag, payload).unwrap_err()))
}

fn own(key: &str) -> StorageGetVersionedRequest {
    StorageGetVersionedRequest { namespace: None, key: key.into() }
}

fn quota(namespace: &str, used_bytes: u64, key_count: u64) -> QuotaInfo {
    QuotaInfo { namespace: namespace.into(), used_bytes, quota_bytes: 10 << 20, key_count }
}

/// The examples, one per request message, then the error frames.
pub fn examples() -> Vec<Example> {
    let strings = |keys: &[&str]| keys.iter().map(|key| key.to_string()).collect::<Vec<_>>();
    let too_long_header = [MSG_STORAGE_SET.to_le_bytes(), u32::MAX.to_le_bytes()].concat();
    let too_long = FrameTooLarge { tag: MSG_STORAGE_SET, length: u32::MAX.into() };
    vec![
        exchange(
            "STORAGE_GET",
            Request::Get(StorageGetRequest { key: "color".into() }),
            Response::Get(StorageGetResponse { result: Ok(Some(b"blue".to_vec())) }),
        ),
        exchange(
            "STORAGE_SET",
            Request::Set(StorageSetRequest { key: "color".into(), value: b"blue".to_vec(), ttl_secs: 0 }),
            Response::Set(StorageSetResponse { result: Ok(()) }),
        ),
        exchange(
            "STORAGE_DELETE",
            Request::Delete(StorageDeleteRequest { key: "color".into() }),
            Response::Delete(StorageDeleteResponse { result: Ok(true) }),
        ),
        exchange(
            "STORAGE_LIST",
            Request::List(StorageListRequest { prefix: "c".into(), limit: 2, cursor: None }),
            Response::List(StorageListResponse {
                keys: strings(&["color", "cup"]),
                next_cursor: Some("c637570".into()),
            }),
        ),
        exchange(
            "STORAGE_QUOTA",
            Request::Quota(StorageQuotaRequest),
            Response::Quota(StorageQuotaResponse { result: Ok(quota("app:notes", 9, 1)) }),
        ),
        exchange(
            "STORAGE_GET_IN",
            Request::GetIn(StorageGetInRequest { namespace: Some("user:alice".into()), key: "theme".into() }),
            Response::GetIn(StorageGetResponse { result: Ok(None) }),
        ),
        exchange(
            "STORAGE_SET_IN",
            Request::SetIn(StorageSetInRequest {
                namespace: Some("user:alice".into()),
                key: "theme".into(),
                value: b"dark".to_vec(),
                ttl_secs: 3600,
            }),
            Response::SetIn(StorageSetResponse { result: Err(StorageError::QuotaExceeded) }),
        ),
        exchange(
            "STORAGE_DELETE_IN",
            Request::DeleteIn(StorageDeleteInRequest { namespace: Some("user:alice".into()), key: "theme".into() }),
            Response::DeleteIn(StorageDeleteResponse { result: Ok(false) }),
        ),
        exchange(
            "STORAGE_LIST_IN",
            Request::ListIn(StorageListInRequest {
                namespace: Some("user:bob".into()),
                prefix: String::new(),
                limit: 0,
                cursor: None,
            }),
            Response::ListIn(StorageListInResponse { result: Err(StorageError::PermissionDenied) }),
        ),
        exchange(
            "STORAGE_QUOTA_IN",
            Request::QuotaIn(StorageQuotaInRequest { namespace: Some("user:alice".into()) }),
            Response::QuotaIn(StorageQuotaResponse { result: Ok(quota("user:alice", 0, 0)) }),
        ),
        exchange(
            "STORAGE_EXISTS",
            Request::Exists(StorageExistsRequest { namespace: None, key: "color".into() }),
            Response::Exists(StorageExistsResponse { result: Ok(true) }),
        ),
        exchange(
            "STORAGE_GET_VERSIONED",
            Request::GetVersioned(own("color")),
            Response::GetVersioned(StorageGetVersionedResponse {
                result: Ok(Some(VersionedValue { value: b"blue".to_vec(), version: 300 })),
            }),
        ),
        exchange(
            "STORAGE_GET_MANY",
            Request::GetMany(StorageGetManyRequest { namespace: None, keys: strings(&["color", "size"]) }),
            Response::GetMany(StorageGetManyResponse { result: Ok(vec![Some(b"blue".to_vec()), None]) }),
        ),
        exchange(
            "STORAGE_SET_MANY",
            Request::SetMany(StorageSetManyRequest {
                namespace: None,
                entries: vec![("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())],
                ttl_secs: 60,
            }),
            Response::SetMany(StorageSetManyResponse { result: Ok(()) }),
        ),
        exchange(
            "STORAGE_DELETE_MANY",
            Request::DeleteMany(StorageDeleteManyRequest { namespace: None, keys: strings(&["a", "b", "z"]) }),
            Response::DeleteMany(StorageDeleteManyResponse { result: Ok(2) }),
        ),
        exchange(
            "STORAGE_INCREMENT",
            Request::Increment(StorageIncrementRequest { namespace: None, key: "visits".into(), delta: -1 }),
            Response::Increment(StorageIncrementResponse { result: Ok(41) }),
        ),
        exchange(
            "STORAGE_TRANSACT",
            Request::Transact(StorageTransactRequest {
                namespace: None,
                preconditions: vec![Precondition::VersionIs("color".into(), 300)],
                writes: vec![
                    Write::Set { key: "color".into(), value: b"red".to_vec(), ttl_secs: 0 },
                    Write::Delete("size".into()),
                ],
            }),
            Response::Transact(StorageTransactResponse { result: Err(StorageError::PreconditionFailed(0)) }),
        ),
        exchange(
            "STORAGE_CLAIM",
            Request::Claim(StorageClaimRequest { name: "notes".into(), roles: vec![], user: Some("alice".into()) }),
            Response::Claim(StorageClaimResponse { result: Ok("app:notes".into()) }),
        ),
        exchange(
            "STORAGE_NAMESPACES",
            Request::Namespaces(StorageNamespacesRequest { limit: 2, cursor: None }),
            Response::Namespaces(StorageNamespacesResponse {
                result: Ok(NamespacePage {
                    namespaces: strings(&["app:notes", "system"]),
                    next_cursor: Some("system".into()),
                }),
            }),
        ),
        exchange(
            "STORAGE_SWEEP",
            Request::Sweep(StorageSweepRequest { namespace: Some("app:notes".into()) }),
            Response::Sweep(StorageSweepResponse { result: Ok(3) }),
        ),
        exchange(
            "STORAGE_EXPORT_FILE",
            Request::ExportFile(StorageExportFileRequest {
                path: "/tmp/b.jsonl".into(),
                namespaces: strings(&["app:notes"]),
            }),
            Response::ExportFile(StorageExportFileResponse {
                result: Ok(ExportSummary {
                    namespaces: vec![NamespaceExport {
                        namespace: "app:notes".into(),
                        entries: 2,
                        usage_bytes: 23,
                        expired: 1,
                        snapshot_at_ms: 1_767_225_600_000,
                    }],
                    entries: 2,
                    usage_bytes: 23,
                    expired: 1,
                    dump_bytes: 335,
                }),
            }),
        ),
        exchange(
            "STORAGE_IMPORT_FILE",
            Request::ImportFile(StorageImportFileRequest {
                path: "/tmp/b.jsonl".into(),
                mode: ImportMode::Replace,
                dry_run: false,
            }),
            Response::ImportFile(StorageImportFileResponse {
                result: Ok(ImportSummary {
                    namespaces: vec![NamespaceImport {
                        namespace: "app:notes".into(),
                        entries: 2,
                        usage_bytes: 23,
                        expired: 0,
                        action: NamespaceAction::Replaced { removed: 5 },
                    }],
                    entries: 2,
                    usage_bytes: 23,
                    expired: 0,
                    mode: ImportMode::Replace,
                    dry_run: false,
                }),
            }),
        ),
        exchange(
            "a STORAGE_IMPORT_FILE that is refused",
            Request::ImportFile(StorageImportFileRequest {
                path: "/tmp/b.jsonl".into(),
                mode: ImportMode::OnlyEmpty,
                dry_run: true,
            }),
            Response::ImportFile(StorageImportFileResponse {
                result: Err(DumpFileError::NotEmpty("app:notes".into())),
            }),
        ),
        exchange(
            "a STORAGE_LIST that fails",
            Request::List(StorageListRequest { prefix: String::new(), limit: 10, cursor: Some("x".into()) }),
            Response::Error(ErrorResponse {
                request_tag: MSG_STORAGE_LIST,
                message: StorageError::InvalidArgument(
                    "the cursor is malformed; pass back a next-cursor from list unchanged".into(),
                )
                .to_string(),
            }),
        ),
        Example { title: "an unknown tag", request: raw(0x7040, &[]), answer: error_for(0x7040, &[]) },
        Example {
            title: "an undecodable payload",
            request: raw(MSG_STORAGE_GET, &[5, b'c']),
            answer: error_for(MSG_STORAGE_GET, &[5, b'c']),
        },
        Example {
            title: "a frame longer than the cap (the service then closes the connection)",
            request: too_long_header,
            answer: Response::Error(ErrorResponse::from(&too_long)),
        },
    ]
}
