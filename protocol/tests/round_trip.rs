//! Every message survives encoding and decoding unchanged, through frames and the decoder.

mod common;

use zero_storage_protocol::*;

fn decoded_request(request: &Request) -> Request {
    let mut decoder = FrameDecoder::new();
    decoder.push(&request.to_frame().unwrap().encode());
    let frame = decoder.next_frame().unwrap().expect("a whole frame");
    assert_eq!(decoder.buffered(), 0);
    Request::from_frame(&frame).unwrap()
}

fn decoded_response(response: &Response) -> Response {
    let frame = response.to_frame().unwrap();
    Response::decode(frame.tag(), frame.payload()).unwrap()
}

fn every_error() -> Vec<StorageError> {
    vec![
        StorageError::NotFound,
        StorageError::QuotaExceeded,
        StorageError::KeyTooLong,
        StorageError::ValueTooLarge,
        StorageError::PermissionDenied,
        StorageError::BackendError("the disk is full".into()),
        StorageError::InvalidArgument("the key is empty".into()),
        StorageError::PreconditionFailed(u32::MAX),
    ]
}

#[test]
fn every_example_request_and_answer_round_trips() {
    for example in common::examples() {
        let mut decoder = FrameDecoder::new();
        decoder.push(&example.request);
        if let Ok(Some(frame)) = decoder.next_frame()
            && let Ok(request) = Request::from_frame(&frame)
        {
            assert_eq!(decoded_request(&request), request, "{}", example.title);
        }
        assert_eq!(decoded_response(&example.answer), example.answer, "{}", example.title);
    }
}

#[test]
fn every_request_round_trips_at_the_edges_of_its_field_types() {
    let key = "k".repeat(256);
    let namespace = Some(format!("user:{}", "u".repeat(64)));
    let requests = vec![
        Request::Get(StorageGetRequest { key: "ключ 🔑".into() }),
        Request::Set(StorageSetRequest { key: key.clone(), value: vec![0xff; 1 << 20], ttl_secs: u32::MAX }),
        Request::Set(StorageSetRequest { key: "k".into(), value: vec![], ttl_secs: 0 }),
        Request::Delete(StorageDeleteRequest { key: String::new() }),
        Request::List(StorageListRequest { prefix: String::new(), limit: usize::MAX, cursor: Some(key.clone()) }),
        Request::Quota(StorageQuotaRequest),
        Request::GetIn(StorageGetInRequest { namespace: namespace.clone(), key: key.clone() }),
        Request::SetIn(StorageSetInRequest { namespace: None, key: "k".into(), value: vec![1, 2], ttl_secs: 1 }),
        Request::DeleteIn(StorageDeleteInRequest { namespace: Some("system".into()), key: "k".into() }),
        Request::ListIn(StorageListInRequest { namespace: None, prefix: "p".into(), limit: 1000, cursor: None }),
        Request::QuotaIn(StorageQuotaInRequest { namespace: None }),
        Request::Exists(StorageExistsRequest { namespace: namespace.clone(), key: "k".into() }),
        Request::GetVersioned(StorageGetVersionedRequest { namespace: None, key: "k".into() }),
        Request::GetMany(StorageGetManyRequest { namespace: None, keys: vec![key.clone(); 1000] }),
        Request::GetMany(StorageGetManyRequest { namespace: None, keys: vec![] }),
        Request::SetMany(StorageSetManyRequest {
            namespace: namespace.clone(),
            entries: vec![(key.clone(), vec![7; 300]), ("k".into(), vec![])],
            ttl_secs: 86_400,
        }),
        Request::DeleteMany(StorageDeleteManyRequest { namespace: None, keys: vec!["a".into(), "a".into()] }),
        Request::Increment(StorageIncrementRequest { namespace: None, key: "n".into(), delta: i64::MIN }),
        Request::Increment(StorageIncrementRequest { namespace: None, key: "n".into(), delta: i64::MAX }),
        Request::Transact(StorageTransactRequest {
            namespace,
            preconditions: vec![
                Precondition::Absent("a".into()),
                Precondition::Exists("b".into()),
                Precondition::VersionIs("c".into(), u64::MAX),
                Precondition::ValueEquals("d".into(), vec![0, 1, 2]),
            ],
            writes: vec![Write::Set { key: "e".into(), value: vec![3; 5], ttl_secs: 9 }, Write::Delete("f".into())],
        }),
        Request::Transact(StorageTransactRequest { namespace: None, preconditions: vec![], writes: vec![] }),
        Request::Claim(StorageClaimRequest {
            name: "notes".into(),
            roles: vec!["system".into(), "backup".into()],
            user: None,
        }),
        Request::Namespaces(StorageNamespacesRequest {
            limit: usize::MAX,
            cursor: Some(format!("user:{}", "u".repeat(64))),
        }),
        Request::Namespaces(StorageNamespacesRequest { limit: 0, cursor: None }),
        Request::Sweep(StorageSweepRequest { namespace: None }),
        Request::Sweep(StorageSweepRequest { namespace: Some("app:notes".into()) }),
        Request::ExportFile(StorageExportFileRequest { path: String::new(), namespaces: vec![] }),
        Request::ExportFile(StorageExportFileRequest {
            path: format!("/{}", "p".repeat(4096)),
            namespaces: vec![format!("user:{}", "u".repeat(64)); MAX_EXPORT_NAMESPACES],
        }),
        Request::ImportFile(StorageImportFileRequest {
            path: "/dump.jsonl".into(),
            mode: ImportMode::OnlyEmpty,
            dry_run: true,
        }),
        Request::ImportFile(StorageImportFileRequest { path: "/d".into(), mode: ImportMode::Merge, dry_run: false }),
    ];
    for request in requests {
        assert_eq!(decoded_request(&request), request);
    }
}

#[test]
fn every_answer_round_trips_with_every_storage_error() {
    for error in every_error() {
        let failed = vec![
            Response::Get(StorageGetResponse { result: Err(error.clone()) }),
            Response::Set(StorageSetResponse { result: Err(error.clone()) }),
            Response::Delete(StorageDeleteResponse { result: Err(error.clone()) }),
            Response::Quota(StorageQuotaResponse { result: Err(error.clone()) }),
            Response::GetIn(StorageGetResponse { result: Err(error.clone()) }),
            Response::SetIn(StorageSetResponse { result: Err(error.clone()) }),
            Response::DeleteIn(StorageDeleteResponse { result: Err(error.clone()) }),
            Response::ListIn(StorageListInResponse { result: Err(error.clone()) }),
            Response::QuotaIn(StorageQuotaResponse { result: Err(error.clone()) }),
            Response::Exists(StorageExistsResponse { result: Err(error.clone()) }),
            Response::GetVersioned(StorageGetVersionedResponse { result: Err(error.clone()) }),
            Response::GetMany(StorageGetManyResponse { result: Err(error.clone()) }),
            Response::SetMany(StorageSetManyResponse { result: Err(error.clone()) }),
            Response::DeleteMany(StorageDeleteManyResponse { result: Err(error.clone()) }),
            Response::Increment(StorageIncrementResponse { result: Err(error.clone()) }),
            Response::Transact(StorageTransactResponse { result: Err(error.clone()) }),
            Response::Claim(StorageClaimResponse { result: Err(error.clone()) }),
            Response::Namespaces(StorageNamespacesResponse { result: Err(error.clone()) }),
            Response::Sweep(StorageSweepResponse { result: Err(error.clone()) }),
            Response::ExportFile(StorageExportFileResponse { result: Err(DumpFileError::Storage(error.clone())) }),
            Response::ImportFile(StorageImportFileResponse { result: Err(DumpFileError::Storage(error.clone())) }),
        ];
        for response in failed {
            assert_eq!(decoded_response(&response), response);
        }
    }
}

#[test]
fn successful_answers_round_trip_at_the_edges_of_their_field_types() {
    let responses = vec![
        Response::Get(StorageGetResponse { result: Ok(Some(vec![])) }),
        Response::Get(StorageGetResponse { result: Ok(None) }),
        Response::Delete(StorageDeleteResponse { result: Ok(false) }),
        Response::List(StorageListResponse { keys: vec![], next_cursor: None }),
        Response::List(StorageListResponse { keys: vec!["k".repeat(256); 1000], next_cursor: Some("k".into()) }),
        Response::Quota(StorageQuotaResponse {
            result: Ok(QuotaInfo {
                namespace: "system".into(),
                used_bytes: u64::MAX,
                quota_bytes: u64::MAX,
                key_count: u64::MAX,
            }),
        }),
        Response::ListIn(StorageListInResponse {
            result: Ok(ListPage { keys: vec!["a".into(), "b".into()], next_cursor: Some("b".into()) }),
        }),
        Response::GetVersioned(StorageGetVersionedResponse { result: Ok(None) }),
        Response::GetMany(StorageGetManyResponse { result: Ok(vec![None, Some(vec![1]), None]) }),
        Response::DeleteMany(StorageDeleteManyResponse { result: Ok(u64::MAX) }),
        Response::Increment(StorageIncrementResponse { result: Ok(i64::MIN) }),
        Response::Transact(StorageTransactResponse { result: Ok(0) }),
        Response::Namespaces(StorageNamespacesResponse {
            result: Ok(NamespacePage { namespaces: vec![format!("user:{}", "u".repeat(64)); 1000], next_cursor: None }),
        }),
        Response::Namespaces(StorageNamespacesResponse {
            result: Ok(NamespacePage { namespaces: vec![], next_cursor: None }),
        }),
        Response::Sweep(StorageSweepResponse { result: Ok(u64::MAX) }),
        Response::ExportFile(StorageExportFileResponse {
            result: Ok(ExportSummary { namespaces: vec![], entries: 0, usage_bytes: 0, expired: 0, dump_bytes: 0 }),
        }),
        Response::ExportFile(StorageExportFileResponse {
            result: Ok(ExportSummary {
                namespaces: vec![NamespaceExport {
                    namespace: "system".into(),
                    entries: u64::MAX,
                    usage_bytes: u64::MAX,
                    expired: u64::MAX,
                    snapshot_at_ms: u64::MAX,
                }],
                entries: u64::MAX,
                usage_bytes: u64::MAX,
                expired: u64::MAX,
                dump_bytes: u64::MAX,
            }),
        }),
        Response::ExportFile(StorageExportFileResponse {
            result: Err(DumpFileError::Failed("cannot create /x: File exists".into())),
        }),
        Response::ImportFile(StorageImportFileResponse {
            result: Ok(ImportSummary {
                namespaces: [
                    NamespaceAction::Filled,
                    NamespaceAction::Replaced { removed: u64::MAX },
                    NamespaceAction::Merged { existing: u64::MAX, overwritten: 0 },
                ]
                .into_iter()
                .map(|action| NamespaceImport {
                    namespace: "user:alice".into(),
                    entries: 1,
                    usage_bytes: u64::MAX,
                    expired: 0,
                    action,
                })
                .collect(),
                entries: 3,
                usage_bytes: u64::MAX,
                expired: u64::MAX,
                mode: ImportMode::Merge,
                dry_run: true,
            }),
        }),
        Response::ImportFile(StorageImportFileResponse {
            result: Err(DumpFileError::Failed("line 3 of the dump: the dump ends before its trailer".into())),
        }),
        Response::ImportFile(StorageImportFileResponse { result: Err(DumpFileError::NotEmpty("system".into())) }),
        Response::Error(ErrorResponse { request_tag: u32::MAX, message: String::new() }),
    ];
    for response in responses {
        assert_eq!(decoded_response(&response), response);
    }
}

#[test]
fn the_designs_error_variants_keep_their_wire_numbers() {
    let discriminant =
        |error: StorageError| postcard::to_allocvec(&StorageSetResponse { result: Err(error) }).unwrap()[1];
    for (number, error) in every_error().into_iter().enumerate() {
        assert_eq!(usize::from(discriminant(error.clone())), number, "{error:?}");
    }
}

#[test]
fn pipelined_requests_come_out_of_the_decoder_in_the_order_sent() {
    let requests: Vec<Request> = (0..50)
        .map(|n| Request::Set(StorageSetRequest { key: format!("key-{n}"), value: vec![n; n.into()], ttl_secs: 0 }))
        .collect();
    let mut stream = Vec::new();
    for request in &requests {
        request.to_frame().unwrap().encode_into(&mut stream);
    }
    let mut decoder = FrameDecoder::new();
    decoder.push(&stream);
    let mut decoded = Vec::new();
    while let Some(frame) = decoder.next_frame().unwrap() {
        decoded.push(Request::from_frame(&frame).unwrap());
    }
    assert_eq!(decoded, requests);
}

#[test]
fn an_answer_to_a_namespaced_twin_has_its_own_tag_and_the_same_payload() {
    let answer = StorageGetResponse { result: Ok(Some(b"v".to_vec())) };
    let design = Response::Get(answer.clone()).to_frame().unwrap();
    let twin = Response::GetIn(answer).to_frame().unwrap();
    assert_eq!((design.tag(), twin.tag()), (MSG_STORAGE_GET_RESPONSE, MSG_STORAGE_GET_IN_RESPONSE));
    assert_eq!(design.payload(), twin.payload());
}
