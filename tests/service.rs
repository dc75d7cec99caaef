//! The Storage Service as a real daemon: `zero-storage --data DIR serve`, spoken to over its
//! Unix socket with the protocol of PROTOCOL.md.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zero_storage::protocol::ServiceClient;
use zero_storage::protocol::*;
use zero_storage_tests::binary;
use zero_storage_tests::daemon::Daemon;

/// Reads one frame from `stream`: `(tag, payload)`, or `None` if the service closed it.
fn read_frame(stream: &mut UnixStream) -> Option<(u32, Vec<u8>)> {
    let mut header = [0; 8];
    if stream.read_exact(&mut header).is_err() {
        return None;
    }
    let tag = u32::from_le_bytes(header[..4].try_into().unwrap());
    let length = u32::from_le_bytes(header[4..].try_into().unwrap());
    let mut payload = vec![0; length as usize];
    stream.read_exact(&mut payload).ok()?;
    Some((tag, payload))
}

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap()).collect()
}

fn frame(tag: u32, payload: &[u8]) -> Vec<u8> {
    [&tag.to_le_bytes()[..], &(payload.len() as u32).to_le_bytes(), payload].concat()
}

fn call(client: &mut ServiceClient, request: Request) -> Response {
    client.call(&request).expect("the service answers")
}

#[test]
fn every_design_message_round_trips_through_the_daemon_on_each_backend() {
    for backend in ["fs", "memory"] {
        let daemon = Daemon::start(backend);
        let mut client = daemon.client();
        assert_eq!(client.get("color").unwrap(), None, "{backend}");
        client.set("color", b"blue", 0).unwrap();
        client.set("cup", b"tea", 0).unwrap();
        assert_eq!(client.get("color").unwrap().as_deref(), Some(&b"blue"[..]), "{backend}");
        let page = client.list("c", 1, None).unwrap();
        assert_eq!(page.keys, ["color"]);
        let page = client.list("c", 1, page.next_cursor.as_deref()).unwrap();
        assert_eq!(page.keys, ["cup"]);
        let quota = client.quota().unwrap();
        assert_eq!((quota.namespace.as_str(), quota.key_count, quota.used_bytes), ("system", 2, 5 + 4 + 3 + 3));
        assert!(client.delete("color").unwrap());
        assert!(!client.delete("color").unwrap());
        assert_eq!(client.get("color").unwrap(), None);
        assert!(matches!(
            client.set("", b"x", 0),
            Err(zero_storage::protocol::ClientError::Storage(StorageError::InvalidArgument(_)))
        ));
    }
}

#[test]
fn get_many_increment_and_transact_round_trip_through_the_daemon() {
    let daemon = Daemon::start("fs");
    let mut client = daemon.client();
    client.set("a", b"1", 0).unwrap();
    let answer = call(
        &mut client,
        Request::GetMany(StorageGetManyRequest { namespace: None, keys: vec!["a".into(), "b".into()] }),
    );
    assert_eq!(answer, Response::GetMany(StorageGetManyResponse { result: Ok(vec![Some(b"1".to_vec()), None]) }));

    let increment =
        |delta| Request::Increment(StorageIncrementRequest { namespace: None, key: "visits".into(), delta });
    assert_eq!(call(&mut client, increment(41)), Response::Increment(StorageIncrementResponse { result: Ok(41) }));
    assert_eq!(call(&mut client, increment(-1)), Response::Increment(StorageIncrementResponse { result: Ok(40) }));

    let Response::GetVersioned(StorageGetVersionedResponse { result: Ok(Some(versioned)) }) =
        call(&mut client, Request::GetVersioned(StorageGetVersionedRequest { namespace: None, key: "a".into() }))
    else {
        panic!("a is stored")
    };
    let transact = |version| {
        Request::Transact(StorageTransactRequest {
            namespace: None,
            preconditions: vec![Precondition::VersionIs("a".into(), version)],
            writes: vec![
                Write::Set { key: "a".into(), value: b"2".to_vec(), ttl_secs: 0 },
                Write::Delete("visits".into()),
            ],
        })
    };
    let Response::Transact(StorageTransactResponse { result: Ok(version) }) =
        call(&mut client, transact(versioned.version))
    else {
        panic!("the precondition holds")
    };
    assert!(version > versioned.version);
    assert_eq!(
        call(&mut client, transact(versioned.version)),
        Response::Transact(StorageTransactResponse { result: Err(StorageError::PreconditionFailed(0)) })
    );
    assert_eq!(client.get("a").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(client.get("visits").unwrap(), None);
}

#[test]
fn a_namespaced_request_acts_in_that_namespace() {
    let daemon = Daemon::start("fs");
    let mut admin = daemon.client();
    let set_in = Request::SetIn(StorageSetInRequest {
        namespace: Some("user:alice".into()),
        key: "theme".into(),
        value: b"dark".to_vec(),
        ttl_secs: 0,
    });
    assert_eq!(call(&mut admin, set_in), Response::SetIn(StorageSetResponse { result: Ok(()) }));
    assert_eq!(admin.get("theme").unwrap(), None, "not in the caller's own namespace");
    let quota = call(&mut admin, Request::QuotaIn(StorageQuotaInRequest { namespace: Some("user:alice".into()) }));
    let Response::QuotaIn(StorageQuotaResponse { result: Ok(info) }) = quota else { panic!("{quota:?}") };
    assert_eq!((info.namespace.as_str(), info.key_count), ("user:alice", 1));

    // The app alice runs sees it in her namespace.
    let mut app = daemon.client();
    assert_eq!(app.claim("notes", &[], Some("alice")).unwrap(), "app:notes");
    let get_in = Request::GetIn(StorageGetInRequest { namespace: Some("user:alice".into()), key: "theme".into() });
    assert_eq!(call(&mut app, get_in), Response::GetIn(StorageGetResponse { result: Ok(Some(b"dark".to_vec())) }));
}

#[test]
fn an_app_claim_is_confined_to_its_own_namespaces() {
    let daemon = Daemon::start("fs");
    let mut billing = daemon.client();
    assert_eq!(billing.claim("billing", &[], None).unwrap(), "app:billing");
    billing.set("invoice", b"42", 0).unwrap();

    let mut notes = daemon.client();
    assert_eq!(notes.claim("notes", &[], Some("alice")).unwrap(), "app:notes");
    notes.set("draft", b"hi", 0).unwrap();
    assert_eq!(notes.get("invoice").unwrap(), None, "billing's key is not in app:notes");
    for namespace in ["app:billing", "user:bob", "system"] {
        let get_in = Request::GetIn(StorageGetInRequest { namespace: Some(namespace.into()), key: "invoice".into() });
        assert_eq!(
            call(&mut notes, get_in),
            Response::GetIn(StorageGetResponse { result: Err(StorageError::PermissionDenied) }),
            "{namespace}"
        );
    }
    assert_eq!(notes.quota().unwrap().namespace, "app:notes");
    assert!(matches!(
        notes.claim("billing", &[], None),
        Err(zero_storage::protocol::ClientError::Storage(StorageError::PermissionDenied))
    ));
}

#[test]
fn requests_behind_a_malformed_claim_are_denied() {
    let daemon = Daemon::start("memory");
    let mut client = daemon.client();
    assert!(matches!(
        client.claim("../etc", &[], None),
        Err(zero_storage::protocol::ClientError::Storage(StorageError::InvalidArgument(_)))
    ));
    assert!(matches!(
        client.get("k"),
        Err(zero_storage::protocol::ClientError::Storage(StorageError::PermissionDenied))
    ));
}

#[test]
fn unknown_tags_and_undecodable_payloads_get_the_error_frames_of_protocol_md_and_the_connection_goes_on() {
    let daemon = Daemon::start("memory");
    let mut stream = daemon.raw();
    // Pipelined: an unknown tag, an undecodable GET, an answer's tag, then a good GET.
    stream.write_all(&hex("40700000 00000000")).unwrap();
    stream.write_all(&hex("00700000 02000000 0563")).unwrap();
    stream.write_all(&frame(MSG_STORAGE_GET_RESPONSE, &[0, 0])).unwrap();
    stream.write_all(&hex("00700000 06000000 05636f6c6f72")).unwrap();
    let unknown = read_frame(&mut stream).unwrap();
    assert_eq!(
        frame(unknown.0, &unknown.1),
        hex(
            "ff700000 41000000 c0e0013d74616720307837303430206973206e6f742061206d657373616765206f6620746869732070726f746f636f6c3b207365652050524f544f434f4c2e6d64"
        )
    );
    let undecodable = read_frame(&mut stream).unwrap();
    assert_eq!(
        frame(undecodable.0, &undecodable.1),
        hex(
            "ff700000 5d000000 80e00159746865207061796c6f6164206973206e6f7420612076616c69642053544f524147455f474554206d6573736167653a204869742074686520656e64206f66206275666665722c206578706563746564206d6f72652064617461"
        )
    );
    let (tag, payload) = read_frame(&mut stream).unwrap();
    let Response::Error(error) = Response::decode(tag, &payload).unwrap() else { panic!("tag {tag:#x}") };
    assert_eq!(error.request_tag, MSG_STORAGE_GET_RESPONSE);
    let (tag, payload) = read_frame(&mut stream).unwrap();
    assert_eq!(Response::decode(tag, &payload).unwrap(), Response::Get(StorageGetResponse { result: Ok(None) }));
}

#[test]
fn a_frame_of_millions_of_empty_keys_is_refused_by_the_batch_limit_without_decoding_them_all() {
    let daemon = Daemon::start("memory");
    let mut stream = daemon.raw();
    // STORAGE_GET_MANY at the frame cap: no namespace, then ~33.8 million one-byte empty keys.
    let count = MAX_FRAME_PAYLOAD - 1 - 4;
    let mut payload = vec![0u8];
    let mut length = count;
    while length >= 0x80 {
        payload.push((length as u8) | 0x80);
        length >>= 7;
    }
    payload.push(length as u8);
    assert_eq!(payload.len(), 5, "a four-byte length varint");
    payload.resize(MAX_FRAME_PAYLOAD, 0);
    stream.write_all(&frame(MSG_STORAGE_GET_MANY, &payload)).unwrap();
    let (tag, answer) = read_frame(&mut stream).expect("an answer");
    let Response::GetMany(answer) = Response::decode(tag, &answer).unwrap() else { panic!("tag {tag:#x}") };
    let Err(StorageError::InvalidArgument(why)) = answer.result else { panic!("{:?}", answer.result) };
    assert!(why.contains("at most 1000 keys"), "{why}");
    // Decoded whole, the keys alone would take 24 bytes each: about 800 MB.
    let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.child.id())).unwrap();
    let peak_kib: u64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(peak_kib < 400 * 1024, "the service's peak memory was {peak_kib} KiB");
    assert!(daemon.client().quota().is_ok(), "the service goes on");
}

#[test]
fn a_failed_list_is_answered_with_the_error_frame() {
    let daemon = Daemon::start("memory");
    let mut stream = daemon.raw();
    // PROTOCOL.md's example: a cursor `list` never returned.
    stream.write_all(&hex("06700000 05000000 000a010178")).unwrap();
    let (tag, payload) = read_frame(&mut stream).unwrap();
    let Response::Error(error) = Response::decode(tag, &payload).unwrap() else { panic!("tag {tag:#x}") };
    assert_eq!(error.request_tag, MSG_STORAGE_LIST);
    // And byte for byte PROTOCOL.md's answer.
    let answer = "ff700000 5a000000 86e00156696e76616c696420617267756d656e743a2074686520637572736f72206973206d616c666f726d65643b2070617373206261636b2061206e6578742d637572736f722066726f6d206c69737420756e6368616e676564";
    let mut frame = tag.to_le_bytes().to_vec();
    frame.extend((payload.len() as u32).to_le_bytes());
    frame.extend(&payload);
    assert_eq!(frame, hex(answer), "{}", error.message);
}

#[test]
fn a_frame_over_the_cap_is_answered_then_closed_while_another_connection_keeps_working() {
    let daemon = Daemon::start("memory");
    let mut other = daemon.client();
    other.set("k", b"v", 0).unwrap();
    let mut stream = daemon.raw();
    stream.write_all(&hex("02700000 ffffffff")).unwrap();
    let (tag, payload) = read_frame(&mut stream).unwrap();
    assert_eq!(
        frame(tag, &payload),
        hex(
            "ff700000 8f000000 82e0018a0161206672616d6520776974682074616720307837303032202853544f524147455f53455429206465636c617265732034323934393637323935207061796c6f61642062797465732c206d6f7265207468616e2074686520333338323335303720616e792076616c6964206d657373616765206e656564733b2073706c6974207468652072657175657374"
        )
    );
    assert_eq!(read_frame(&mut stream), None, "the connection is closed");
    assert_eq!(other.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn a_client_silent_mid_frame_or_not_reading_its_answers_does_not_block_others() {
    let daemon = Daemon::start("memory");
    let mut client = daemon.client();
    client.set("big", &vec![7; 256 * 1024], 0).unwrap();
    let mut stalled = daemon.raw();
    stalled.write_all(&hex("00700000 06000000 0563")).unwrap(); // 2 of 6 payload bytes
    // 200 pipelined reads of 256 KiB whose answers it never reads: its thread blocks writing.
    let mut never_reads = daemon.raw();
    never_reads.write_all(&frame(MSG_STORAGE_GET, &[3, b'b', b'i', b'g']).repeat(200)).unwrap();
    client.set("k", b"v", 0).unwrap();
    assert_eq!(client.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(daemon.client().quota().is_ok(), "new connections are still accepted");
}

#[test]
fn sixty_four_concurrent_connections_all_write_and_the_usage_is_exact() {
    const CLIENTS: usize = 64;
    const KEYS: usize = 10;
    let daemon = Daemon::start("fs");
    let socket = daemon.socket.clone();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut connection = ServiceClient::connect(&socket).unwrap();
                for key in 0..KEYS {
                    connection.set(&format!("c{client:02}-k{key}"), b"0123456789", 0).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("every client's writes succeed");
    }
    let quota = daemon.client().quota().unwrap();
    assert_eq!(quota.key_count, (CLIENTS * KEYS) as u64);
    assert_eq!(quota.used_bytes, (CLIENTS * KEYS * ("c00-k0".len() + 10)) as u64);
}

#[test]
fn sigterm_and_sigint_stop_the_service_with_exit_zero_and_remove_the_socket() {
    for signal in ["TERM", "INT"] {
        let daemon = Daemon::start("fs");
        let socket = daemon.socket.clone();
        let mut idle = daemon.client();
        idle.set("k", b"v", 0).unwrap();
        daemon.signal(signal);
        let (exited_zero, _dir) = daemon.wait();
        assert!(exited_zero, "SIG{signal}");
        assert!(!socket.exists(), "SIG{signal}: the socket file is left");
    }
}

#[test]
fn the_socket_file_is_for_its_owner_only() {
    let daemon = Daemon::start("memory");
    let mode = std::fs::metadata(&daemon.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_second_service_on_a_live_socket_is_refused_and_a_stale_socket_is_replaced() {
    let daemon = Daemon::start("memory");
    let second =
        Command::new(binary()).args(["--backend", "memory", "serve", "--socket"]).arg(&daemon.socket).output().unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already answers"));

    // A socket file nothing listens on, as a killed service leaves.
    let stale = daemon.socket.with_file_name("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let mut replacement = Command::new(binary())
        .args(["--backend", "memory", "serve", "--socket"])
        .arg(&stale)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(replacement.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    assert!(ServiceClient::connect(&stale).unwrap().quota().is_ok());
    let _ = replacement.kill();
    let _ = replacement.wait();
}

/// Sends `frames` to the service at `socket` from a process running as `uid` (Debian's
/// python3 as the client), closes its sending side, and returns every frame the service answered
/// before it closed the connection.
fn exchange_as(uid: u32, socket: &Path, frames: &[Vec<u8>]) -> Vec<Response> {
    use std::os::unix::process::CommandExt;
    // Never a silent skip: without root (to start a client as another uid) this test cannot say
    // anything, so it fails and says why. The test suite runs as root here and in `.ci/run`.
    assert_eq!(current_uid(), 0, "this test starts a client as uid {uid}, which needs root: run the tests as root");
    assert!(
        Path::new("/usr/bin/python3").exists(),
        "this test's other-uid client is /usr/bin/python3 (Debian python3)"
    );
    // Let the other uid reach the socket, so that the service's own check is what decides.
    let mut dir = socket.parent();
    while let Some(path) = dir {
        if path.starts_with(std::env::temp_dir()) && path != std::env::temp_dir() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir = path.parent();
    }
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let script = "import socket,sys\n\
        s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n\
        for frame in sys.argv[2:]:\n\
        \x20   s.sendall(bytes.fromhex(frame))\n\
        s.shutdown(socket.SHUT_WR)\n\
        data=b''\n\
        while True:\n\
        \x20   chunk=s.recv(4096)\n\
        \x20   if not chunk: break\n\
        \x20   data+=chunk\n\
        sys.stdout.write(data.hex())\n";
    let hex_frames = frames.iter().map(|frame| frame.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let output = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(socket)
        .args(hex_frames)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut bytes = &hex(&String::from_utf8(output.stdout).unwrap())[..];
    let mut answers = Vec::new();
    while !bytes.is_empty() {
        let tag = u32::from_le_bytes(bytes[..4].try_into().unwrap());
        let length = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        answers.push(Response::decode(tag, &bytes[8..8 + length]).unwrap());
        bytes = &bytes[8 + length..];
    }
    answers
}

fn encoded(request: Request) -> Vec<u8> {
    request.to_frame().unwrap().encode()
}

fn claim_frame(name: &str, user: Option<&str>) -> Vec<u8> {
    encoded(Request::Claim(StorageClaimRequest { name: name.into(), roles: vec![], user: user.map(Into::into) }))
}

fn refused(answers: &[Response]) -> bool {
    matches!(answers, [Response::Error(error)] if error.request_tag == 0 && error.message.contains("refused"))
}

#[test]
fn a_peer_with_another_uid_is_refused() {
    let daemon = Daemon::start("memory");
    let answers = exchange_as(65534, &daemon.socket, &[]);
    assert!(refused(&answers), "{answers:?}");
    // The service's own user is still served.
    assert!(daemon.client().quota().is_ok());
}

#[test]
fn a_peer_with_another_uid_is_granted_exactly_what_the_configuration_says() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("zero-storage.toml");
    std::fs::write(&config, "[[service.grants]]\nuid = 65534\napps = [\"notes\"]\nusers = [\"nobody\"]\n").unwrap();
    let daemon = Daemon::start_with(dir, &["--backend", "memory", "--config", config.to_str().unwrap()]);
    let set = |namespace: Option<&str>, value: &str| {
        encoded(Request::SetIn(StorageSetInRequest {
            namespace: namespace.map(Into::into),
            key: "k".into(),
            value: value.into(),
            ttl_secs: 0,
        }))
    };
    let quota_of =
        |namespace: &str| encoded(Request::QuotaIn(StorageQuotaInRequest { namespace: Some(namespace.into()) }));

    // What the grant lists: app `notes`, for user `nobody`, and nothing beyond.
    let answers = exchange_as(
        65534,
        &daemon.socket,
        &[
            claim_frame("notes", Some("nobody")),
            set(None, "mine"),
            set(Some("user:nobody"), "theirs"),
            quota_of("app:other"),
            quota_of("system"),
        ],
    );
    assert_eq!(
        answers,
        [
            Response::Claim(StorageClaimResponse { result: Ok("app:notes".into()) }),
            Response::SetIn(StorageSetResponse { result: Ok(()) }),
            Response::SetIn(StorageSetResponse { result: Ok(()) }),
            Response::QuotaIn(StorageQuotaResponse { result: Err(StorageError::PermissionDenied) }),
            Response::QuotaIn(StorageQuotaResponse { result: Err(StorageError::PermissionDenied) }),
        ]
    );
    // A claim beyond the grant is denied, and what follows it has no identity.
    for beyond in [claim_frame("other", None), claim_frame("notes", Some("root"))] {
        let answers = exchange_as(65534, &daemon.socket, &[beyond, set(None, "no")]);
        assert_eq!(
            answers,
            [
                Response::Claim(StorageClaimResponse { result: Err(StorageError::PermissionDenied) }),
                Response::SetIn(StorageSetResponse { result: Err(StorageError::PermissionDenied) }),
            ]
        );
    }
    // Without a claim a granted peer is nobody, not a system process.
    let answers = exchange_as(65534, &daemon.socket, &[set(Some("system"), "no")]);
    assert_eq!(answers, [Response::SetIn(StorageSetResponse { result: Err(StorageError::PermissionDenied) })]);
    // A uid the configuration does not name is still refused.
    assert!(refused(&exchange_as(65533, &daemon.socket, &[])));

    let mut admin = daemon.client();
    let get_in = |admin: &mut ServiceClient, namespace: &str| match call(
        admin,
        Request::GetIn(StorageGetInRequest { namespace: Some(namespace.into()), key: "k".into() }),
    ) {
        Response::GetIn(answer) => answer.result.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(get_in(&mut admin, "app:notes").as_deref(), Some(&b"mine"[..]));
    assert_eq!(get_in(&mut admin, "user:nobody").as_deref(), Some(&b"theirs"[..]));
    assert_eq!(get_in(&mut admin, "system"), None);
}

/// The uid this test runs as (from `/proc`, to need no extra dependency).
fn current_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_connection_that_stops_in_the_middle_of_a_frame_is_closed_after_the_frame_timeout() {
    let daemon = Daemon::start("memory");
    let mut stalled = daemon.raw();
    let started = Instant::now();
    stalled.write_all(&hex("00700000 06000000 0563")).unwrap();
    assert_eq!(read_frame(&mut stalled), None, "closed without an answer");
    let waited = started.elapsed();
    assert!(waited >= zero_storage::FRAME_TIMEOUT - Duration::from_millis(100), "closed after {waited:?}");
    assert!(waited < zero_storage::FRAME_TIMEOUT + Duration::from_secs(5), "closed after {waited:?}");
}

#[test]
fn connections_beyond_the_bound_are_refused_with_an_error_frame_and_others_keep_working() {
    let daemon = Daemon::start("memory");
    let mut held: Vec<ServiceClient> = (0..zero_storage::MAX_CONNECTIONS).map(|_| daemon.client()).collect();
    // The connections are accepted in order, so the first has been by the time the last is.
    held[0].set("k", b"v", 0).unwrap();
    let refusal = daemon.client().quota();
    let Err(zero_storage::protocol::ClientError::Refused(error)) = refusal else { panic!("{refusal:?}") };
    assert_eq!(error.request_tag, 0);
    assert!(error.message.contains("connections open"), "{}", error.message);
    assert_eq!(held[zero_storage::MAX_CONNECTIONS - 1].get("k").unwrap().as_deref(), Some(&b"v"[..]));

    // Once one closes, a new connection is served again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.client().quota().is_err() {
        assert!(Instant::now() < deadline, "no connection was served after one closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn on_sigterm_every_answered_write_is_kept() {
    const SETS: usize = 300;
    let daemon = Daemon::start("fs");
    let mut stream = daemon.raw();
    let mut pipelined = Vec::new();
    for i in 0..SETS {
        let set = Request::Set(StorageSetRequest { key: format!("k{i:03}"), value: vec![1; 100], ttl_secs: 0 });
        set.to_frame().unwrap().encode_into(&mut pipelined);
    }
    stream.write_all(&pipelined).unwrap();
    daemon.signal("TERM");
    let mut answered = 0;
    while let Some((tag, payload)) = read_frame(&mut stream) {
        assert_eq!(Response::decode(tag, &payload).unwrap(), Response::Set(StorageSetResponse { result: Ok(()) }));
        answered += 1;
    }
    let (exited_zero, dir) = daemon.wait();
    assert!(exited_zero);

    let daemon = Daemon::start_in(dir, "fs");
    let mut client = daemon.client();
    for i in 0..answered {
        assert!(client.get(&format!("k{i:03}")).unwrap().is_some(), "answered set {i} is lost");
    }
    assert!(client.quota().unwrap().key_count >= answered as u64);
}

#[test]
fn a_python_client_written_from_protocol_md_alone_works_against_the_daemon() {
    assert!(Path::new("/usr/bin/python3").exists(), "this test's client is /usr/bin/python3 (Debian python3)");
    let daemon = Daemon::start("fs");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/python-client");
    let output =
        Command::new("/usr/bin/python3").arg("demo.py").arg(&daemon.socket).current_dir(&client).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.lines().filter(|line| line.starts_with("ok ")).count(), 12, "{stdout}");
    // What the Python client wrote is what a Rust client reads.
    let get = Request::GetIn(StorageGetInRequest { namespace: Some("app:py-demo".into()), key: "blob".into() });
    let Response::GetIn(answer) = call(&mut daemon.client(), get) else { panic!() };
    assert_eq!(answer.result.unwrap(), Some((0..=255u8).collect::<Vec<u8>>()));
}
