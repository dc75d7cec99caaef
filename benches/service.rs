//! Group 6: the Storage Service (`zero-storage serve`, the real binary, its own process) beside
//! Redis (`redis-server`, started here), both on a Unix socket, as issue 12 asks.
//!
//! - Two pairs, each run side by side, round by round: the memory backend against Redis's
//!   default (no persistence), and the fs backend (every acknowledged set is synced) against
//!   Redis with `appendfsync always`.
//! - GET and SET of 100 B values under 16 B keys, with 1 and 50 clients (a thread and a
//!   connection each; on Zero each client is its own app, so its own namespace) and a pipeline
//!   depth of 1 and 16 (send 16 requests, then read 16 answers). Each client works on its own 100
//!   keys; every timed set stores a value no earlier set stored. Throughput is the median of the
//!   rounds; p50 / p99 are of every round trip (a whole batch when pipelined). Two rows beside
//!   them: 16 writes in one request (`STORAGE_SET_MANY` / `MSET`), and Zero's clients all one app.
//! - The service's per-request cost over its socket beside the in-process `Process` API.
//! - `strace -f -c` counts of the durable peers' syncs for a fixed number of sets.
//!
//! `SERVICE_ONLY=pairs|process|syncs` runs one part, `SERVICE_ONLY=zero-fs:set:50:1` (server, op,
//! clients, depth) one configuration for profiling; `SERVICE_ROUND_MS` (default 250) sets the
//! length of a timed round; `REDIS_SERVER` names another redis-server binary, `ZERO_STORAGE_BIN` a
//! `zero-storage` built before (by default the bench builds it).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use zero_storage::protocol::{
    FrameDecoder, Request, Response, StorageClaimRequest, StorageClaimResponse, StorageGetRequest, StorageGetResponse,
    StorageSetManyRequest, StorageSetManyResponse, StorageSetRequest, StorageSetResponse,
};
use zero_storage::{Process, ProcessIdentity, RuntimeBuilder};
use zero_storage_benches::{
    Timing, format_ns, header, quantile, report, stamped, summarize, time_interleaved, zero_storage_binary,
};

const VALUE_BYTES: usize = 100;
/// Keys per client.
const KEYS: u64 = 100;
/// Timed rounds per configuration (after one warm-up round of half the length).
const ROUNDS: usize = 5;
/// The pipeline depth of the pipelined rows.
const DEPTH: usize = 16;
/// The client count of the many-client rows.
const MANY: usize = 50;
/// Sets per `strace` count.
const COUNTED_SETS: usize = 800;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Set,
    /// 16 sets in one request: Zero's `STORAGE_SET_MANY`, Redis's `MSET`.
    SetMany,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Get => "GET",
            Op::Set => "SET",
            Op::SetMany => "SET_MANY / MSET of 16",
        }
    }

    /// Keys per request.
    fn width(self) -> usize {
        match self {
            Op::SetMany => DEPTH,
            Op::Get | Op::Set => 1,
        }
    }
}

/// The keys and values of one request.
type Items = [(String, [u8; VALUE_BYTES])];

/// Client `client`'s key for its `n`th request: 16 bytes.
fn key(client: usize, n: u64) -> String {
    format!("{client:02}-key-{:09}", n % KEYS)
}

/// A value that no other (client, n) stores.
fn value(client: usize, n: u64) -> [u8; VALUE_BYTES] {
    stamped::<VALUE_BYTES>(((client as u64) << 40 | n) as usize)
}

// ---------------------------------------------------------------------------------------------
// The servers

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `redis-server` with no persistence (`--save '' --appendonly no`).
    RedisDefault,
    /// `redis-server --appendonly yes --appendfsync always`.
    RedisAlways,
    /// `zero-storage --backend memory serve`.
    ZeroMemory,
    /// `zero-storage --backend fs serve`.
    ZeroFs,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::RedisDefault => "Redis default",
            Kind::RedisAlways => "Redis appendfsync always",
            Kind::ZeroMemory => "Zero memory",
            Kind::ZeroFs => "Zero fs",
        }
    }

    fn is_zero(self) -> bool {
        matches!(self, Kind::ZeroMemory | Kind::ZeroFs)
    }
}

/// `zero-storage`, built once per run (or `ZERO_STORAGE_BIN`, a binary built before).
fn zero_binary() -> &'static Path {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| std::env::var_os("ZERO_STORAGE_BIN").map_or_else(zero_storage_binary, PathBuf::from))
}

fn redis_binary() -> PathBuf {
    let path = PathBuf::from(std::env::var_os("REDIS_SERVER").unwrap_or_else(|| "/usr/bin/redis-server".into()));
    assert!(
        path.is_file(),
        "{} not found: this bench compares with Redis; install it (Debian: apt-get install redis-server) or set \
         REDIS_SERVER to a redis-server binary",
        path.display()
    );
    path
}

/// A server this bench started, listening on a Unix socket in its own temporary directory;
/// killed when dropped.
struct Server {
    kind: Kind,
    /// The server, or the `strace` that runs it.
    child: Child,
    traced: bool,
    socket: PathBuf,
    _dir: TempDir,
}

impl Server {
    /// Starts `kind` and waits until it answers; under `strace -f -c` writing to `strace`, if
    /// given.
    fn start(kind: Kind, strace: Option<&Path>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("server.sock");
        let (program, args): (PathBuf, Vec<String>) = match kind {
            Kind::RedisDefault | Kind::RedisAlways => {
                let mut args: Vec<String> = ["--port", "0", "--unixsocket"].map(String::from).into();
                args.push(socket.display().to_string());
                args.extend(["--unixsocketperm", "700", "--save", "", "--logfile", ""].map(String::from));
                args.extend(["--dir".to_string(), dir.path().display().to_string()]);
                let persistence: &[&str] = match kind {
                    Kind::RedisAlways => &["--appendonly", "yes", "--appendfsync", "always"],
                    _ => &["--appendonly", "no"],
                };
                args.extend(persistence.iter().map(|s| s.to_string()));
                (redis_binary(), args)
            }
            Kind::ZeroMemory | Kind::ZeroFs => {
                let backend = if kind == Kind::ZeroFs { "fs" } else { "memory" };
                let data = dir.path().join("data");
                let args = ["--data", &data.display().to_string(), "--backend", backend, "serve", "--socket"]
                    .into_iter()
                    .map(String::from)
                    .chain([socket.display().to_string()])
                    .collect();
                (zero_binary().to_owned(), args)
            }
        };
        let mut command = match strace {
            Some(out) => {
                let mut command = Command::new("strace");
                command.args(["-f", "-c", "-e", "trace=fsync,fdatasync", "-o"]).arg(out).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        let child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut server = Server { kind, child, traced: strace.is_some(), socket, _dir: dir };
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited before it answered: {status}", self.kind.name());
            }
            if UnixStream::connect(&self.socket).is_ok() {
                // Redis answers PING once it has loaded; the service serves once it listens.
                if !self.kind.is_zero() {
                    let mut redis = RedisConn::connect(&self.socket);
                    command(&mut redis.out, &[b"PING"]);
                    redis.send();
                    assert_eq!(redis.line(), b"+PONG");
                }
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {} within 60 s",
                self.kind.name(),
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Connects `count` clients (ids from 0), each claiming its own app on Zero (or all one app,
    /// `shared`), and has each store its 100 keys if `preload`.
    fn clients(&self, count: usize, shared: bool, preload: bool) -> Vec<Client> {
        (0..count)
            .map(|id| {
                let conn: Box<dyn Conn> = if self.kind.is_zero() {
                    let app = if shared { "bench-shared".to_string() } else { format!("bench-{id:02}") };
                    Box::new(ZeroConn::connect(&self.socket, &app))
                } else {
                    Box::new(RedisConn::connect(&self.socket))
                };
                let mut client = Client { conn, id, next: 0 };
                if preload {
                    client.batch(Op::Set, KEYS as usize);
                }
                client
            })
            .collect()
    }

    /// Ends the server with SIGTERM (under strace: the traced server, strace's child) and waits
    /// for it, so that it stops as it would in production and strace writes its counts.
    fn stop(&mut self) {
        let pid = self.child.id();
        let target = if self.traced {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .expect("read strace's children (a kernel with CONFIG_PROC_CHILDREN)");
            children.split_whitespace().next().expect("strace runs the server").to_owned()
        } else {
            pid.to_string()
        };
        let status = Command::new("kill").args(["-TERM", &target]).status().unwrap();
        assert!(status.success(), "cannot signal {}", self.kind.name());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{} exited with {status}", self.kind.name());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The clients

/// One connection: requests are queued, then sent in one write, then their answers read.
trait Conn: Send {
    /// Queues one request: a GET or SET of `items[0]`, or a SET_MANY of all of `items`.
    fn queue(&mut self, op: Op, items: &Items);
    /// Sends what is queued.
    fn send(&mut self);
    /// Reads the next answer, which must be a successful `op` (a GET: of a 100 B value).
    fn answer(&mut self, op: Op);
}

struct Client {
    conn: Box<dyn Conn>,
    id: usize,
    /// How many requests this client has sent: the next one's number.
    next: u64,
}

impl Client {
    /// `count` requests at once, then their `count` answers.
    fn batch(&mut self, op: Op, count: usize) {
        for _ in 0..count {
            let items: Vec<_> =
                (self.next..self.next + op.width() as u64).map(|n| (key(self.id, n), value(self.id, n))).collect();
            self.conn.queue(op, &items);
            self.next += op.width() as u64;
        }
        self.conn.send();
        for _ in 0..count {
            self.conn.answer(op);
        }
    }
}

/// A RESP2 client of the few commands this bench sends.
struct RedisConn {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
    out: Vec<u8>,
    line: Vec<u8>,
    bulk: Vec<u8>,
}

/// Appends the RESP array of `parts` to `out`.
fn command(out: &mut Vec<u8>, parts: &[&[u8]]) {
    write!(out, "*{}\r\n", parts.len()).unwrap();
    for part in parts {
        write!(out, "${}\r\n", part.len()).unwrap();
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
}

impl RedisConn {
    fn connect(socket: &Path) -> RedisConn {
        let writer = UnixStream::connect(socket).unwrap();
        let reader = BufReader::with_capacity(64 * 1024, writer.try_clone().unwrap());
        RedisConn { writer, reader, out: Vec::new(), line: Vec::new(), bulk: Vec::new() }
    }

    /// The next reply line, without its CRLF.
    fn line(&mut self) -> &[u8] {
        self.line.clear();
        self.reader.read_until(b'\n', &mut self.line).unwrap();
        assert!(self.line.ends_with(b"\r\n"), "Redis closed the connection or sent a broken line: {:?}", self.line);
        self.line.truncate(self.line.len() - 2);
        if self.line.first() == Some(&b'-') {
            panic!("Redis answered an error: {}", String::from_utf8_lossy(&self.line));
        }
        &self.line
    }
}

impl Conn for RedisConn {
    fn queue(&mut self, op: Op, items: &Items) {
        let (key, value) = &items[0];
        match op {
            Op::Get => command(&mut self.out, &[b"GET", key.as_bytes()]),
            Op::Set => command(&mut self.out, &[b"SET", key.as_bytes(), value]),
            Op::SetMany => {
                let mut parts: Vec<&[u8]> = vec![b"MSET"];
                parts.extend(items.iter().flat_map(|(key, value)| [key.as_bytes(), &value[..]]));
                command(&mut self.out, &parts);
            }
        }
    }

    fn send(&mut self) {
        self.writer.write_all(&self.out).unwrap();
        self.out.clear();
    }

    fn answer(&mut self, op: Op) {
        match op {
            Op::Set | Op::SetMany => assert_eq!(self.line(), b"+OK"),
            Op::Get => {
                let line = self.line();
                assert_eq!(line, format!("${VALUE_BYTES}").as_bytes(), "GET did not answer a 100 B value");
                self.bulk.resize(VALUE_BYTES + 2, 0);
                self.reader.read_exact(&mut self.bulk).unwrap();
            }
        }
    }
}

/// A client of the Storage Service's frames (PROTOCOL.md) that pipelines, which
/// `ServiceClient` does not.
struct ZeroConn {
    stream: UnixStream,
    decoder: FrameDecoder,
    out: Vec<u8>,
    chunk: Vec<u8>,
}

impl ZeroConn {
    /// Connects and claims the app `app` (namespace `app:APP`).
    fn connect(socket: &Path, app: &str) -> ZeroConn {
        let stream = UnixStream::connect(socket).unwrap();
        let mut conn = ZeroConn { stream, decoder: FrameDecoder::new(), out: Vec::new(), chunk: vec![0; 64 * 1024] };
        let claim = StorageClaimRequest { name: app.to_owned(), roles: Vec::new(), user: None };
        conn.push(&Request::Claim(claim));
        conn.send();
        match conn.next_response() {
            Response::Claim(StorageClaimResponse { result: Ok(_) }) => conn,
            other => panic!("the service refused the claim: {other:?}"),
        }
    }

    fn push(&mut self, request: &Request) {
        request.to_frame().unwrap().encode_into(&mut self.out);
    }

    fn next_response(&mut self) -> Response {
        loop {
            if let Some(frame) = self.decoder.next_frame().unwrap() {
                return Response::from_frame(&frame).unwrap();
            }
            let read = self.stream.read(&mut self.chunk).unwrap();
            assert!(read > 0, "the service closed the connection");
            self.decoder.push(&self.chunk[..read]);
        }
    }
}

impl Conn for ZeroConn {
    fn queue(&mut self, op: Op, items: &Items) {
        let (key, value) = &items[0];
        let request = match op {
            Op::Get => Request::Get(StorageGetRequest { key: key.clone() }),
            Op::Set => Request::Set(StorageSetRequest { key: key.clone(), value: value.to_vec(), ttl_secs: 0 }),
            Op::SetMany => Request::SetMany(StorageSetManyRequest {
                namespace: None,
                entries: items.iter().map(|(key, value)| (key.clone(), value.to_vec())).collect(),
                ttl_secs: 0,
            }),
        };
        self.push(&request);
    }

    fn send(&mut self) {
        self.stream.write_all(&self.out).unwrap();
        self.out.clear();
    }

    fn answer(&mut self, op: Op) {
        match (op, self.next_response()) {
            (Op::Set, Response::Set(StorageSetResponse { result: Ok(()) })) => {}
            (Op::SetMany, Response::SetMany(StorageSetManyResponse { result: Ok(()) })) => {}
            (Op::Get, Response::Get(StorageGetResponse { result: Ok(Some(value)) })) if value.len() == VALUE_BYTES => {}
            (_, other) => panic!("the service answered {} with {other:?}", op.name()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Timing

/// One round of one configuration on one server: every client sends batches of `depth`
/// requests until `length` is up.
struct Round {
    ops_per_sec: f64,
    /// Round trips in ns: one per batch.
    latencies: Vec<u64>,
}

fn round(clients: &mut [Client], op: Op, depth: usize, length: Duration) -> Round {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(clients.len() + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = clients
            .iter_mut()
            .map(|client| {
                let (stop, barrier) = (&stop, &barrier);
                scope.spawn(move || {
                    let mut latencies = Vec::new();
                    barrier.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        client.batch(op, depth);
                        latencies.push(start.elapsed().as_nanos() as u64);
                    }
                    latencies
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        std::thread::sleep(length);
        stop.store(true, Ordering::Relaxed);
        let latencies: Vec<u64> = workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect();
        let elapsed = start.elapsed().as_secs_f64();
        Round { ops_per_sec: (latencies.len() * depth * op.width()) as f64 / elapsed, latencies }
    })
}

/// One configuration's result on one server.
struct Cell {
    /// Operations per second: median, min and max of the rounds.
    throughput: Timing,
    p50_ns: u64,
    p99_ns: u64,
}

/// Runs one configuration on every server in `pools`, round by round, interleaved.
fn configuration(pools: &mut [&mut Vec<Client>], op: Op, clients: usize, depth: usize, length: Duration) -> Vec<Cell> {
    let mut rates = vec![Vec::new(); pools.len()];
    let mut latencies = vec![Vec::new(); pools.len()];
    for r in 0..=ROUNDS {
        for (index, pool) in pools.iter_mut().enumerate() {
            let measured = round(&mut pool[..clients], op, depth, if r == 0 { length / 2 } else { length });
            if r > 0 {
                rates[index].push(measured.ops_per_sec);
                latencies[index].extend(measured.latencies);
            }
        }
    }
    rates
        .into_iter()
        .zip(latencies)
        .map(|(rates, mut latencies)| {
            latencies.sort_unstable();
            Cell { throughput: summarize(rates), p50_ns: quantile(&latencies, 0.5), p99_ns: quantile(&latencies, 0.99) }
        })
        .collect()
}

fn ops(per_sec: f64) -> String {
    if per_sec >= 1e3 { format!("{:.1}k", per_sec / 1e3) } else { format!("{per_sec:.0}") }
}

fn throughput(cell: &Cell) -> String {
    let t = &cell.throughput;
    format!("{} ({}–{})", ops(t.median_ns), ops(t.min_ns), ops(t.max_ns))
}

fn latency(cell: &Cell) -> String {
    format!("{} / {}", format_ns(cell.p50_ns as f64), format_ns(cell.p99_ns as f64))
}

fn round_length() -> Duration {
    let ms =
        std::env::var("SERVICE_ROUND_MS").ok().map_or(250, |ms| ms.parse().expect("SERVICE_ROUND_MS: milliseconds"));
    Duration::from_millis(ms)
}

// ---------------------------------------------------------------------------------------------
// The parts

/// The pair `redis` and `zero` over every configuration; returns the lowest Zero ÷ Redis
/// throughput ratio of the rows `counted` picks, with that row's name.
fn pair(redis: Kind, zero: Kind, counted: impl Fn(Op) -> bool) -> (f64, String) {
    let length = round_length();
    let redis_server = Server::start(redis, None);
    let zero_server = Server::start(zero, None);
    let mut redis_pool = redis_server.clients(MANY, false, true);
    let mut zero_pool = zero_server.clients(MANY, false, true);

    println!("\n## {} against {}: 16 B keys, 100 B values, Unix socket\n", zero.name(), redis.name());
    println!(
        "Throughput (keys per second): median (min–max) of {ROUNDS} rounds of {} ms, interleaved. Latency: p50 / \
         p99 round trip (of the whole batch when pipelined).\n",
        length.as_millis()
    );
    println!(
        "| op | clients × depth | {0}: ops/s | {1}: ops/s | {1} ÷ {0} | {0}: p50 / p99 | {1}: p50 / p99 |",
        redis.name(),
        zero.name()
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut lowest = (f64::INFINITY, String::new());
    let row = |label: &str, pools: &mut [&mut Vec<Client>], op: Op, clients: usize, depth: usize| {
        let cells = configuration(pools, op, clients, depth, length);
        let ratio = cells[1].throughput.median_ns / cells[0].throughput.median_ns;
        println!(
            "| {label} | {clients} × {depth} | {} | {} | {ratio:.2}x | {} | {} |",
            throughput(&cells[0]),
            throughput(&cells[1]),
            latency(&cells[0]),
            latency(&cells[1])
        );
        ratio
    };
    for op in [Op::Get, Op::Set] {
        for clients in [1, MANY] {
            for depth in [1, DEPTH] {
                let ratio = row(op.name(), &mut [&mut redis_pool, &mut zero_pool], op, clients, depth);
                if counted(op) && ratio < lowest.0 {
                    lowest = (ratio, format!("{} {clients} × {depth}", op.name()));
                }
            }
        }
    }
    // Beside the targets: 16 writes in one request, what coalescing a pipeline would give.
    for clients in [1, MANY] {
        row(Op::SetMany.name(), &mut [&mut redis_pool, &mut zero_pool], Op::SetMany, clients, 1);
    }
    // Zero's 50 clients as one app: one namespace, whose usage record every write updates.
    drop(zero_pool);
    let mut shared_pool = zero_server.clients(MANY, true, true);
    row("SET, Zero's clients all one app (one namespace)", &mut [&mut redis_pool, &mut shared_pool], Op::Set, MANY, 1);
    lowest
}

fn pairs() {
    let (memory, memory_row) = pair(Kind::RedisDefault, Kind::ZeroMemory, |_| true);
    let (durable, durable_row) = pair(Kind::RedisAlways, Kind::ZeroFs, |op| op == Op::Set);
    let verdict = |ratio: f64, target: f64| if ratio >= target { "met" } else { "MISSED" };
    println!("\n## Targets (own namespaces)\n");
    println!("| target | lowest ratio (row) | verdict |");
    println!("|---|---|---|");
    println!(
        "| Zero memory ≥ 0.5× Redis default, every row | {memory:.2}x ({memory_row}) | {} |",
        verdict(memory, 0.5)
    );
    println!(
        "| Zero fs durable SET ≥ 1.0× Redis appendfsync always, every SET row | {durable:.2}x ({durable_row}) | {} |",
        verdict(durable, 1.0)
    );
}

/// An in-process `Process`, or a socket client of one of the servers.
enum Subject {
    InProcess(Box<Process>, u64),
    Socket(Client),
}

fn in_process_against_socket() {
    const OPS: usize = 5_000;
    const PROCESS_ROUNDS: usize = 7;
    let runtime = RuntimeBuilder::new().build().unwrap();
    let mut process = runtime.process(ProcessIdentity::new("bench-00").unwrap()).unwrap();
    for n in 0..KEYS {
        process.set(&key(0, n), &value(0, n), 0).unwrap();
    }
    let zero = Server::start(Kind::ZeroMemory, None);
    let redis = Server::start(Kind::RedisDefault, None);
    let into_socket = |server: &Server| Subject::Socket(server.clients(1, false, true).pop().unwrap());
    let mut subjects = [Subject::InProcess(Box::new(process), KEYS), into_socket(&zero), into_socket(&redis)];
    let mut timed = |op: Op| {
        time_interleaved(PROCESS_ROUNDS, OPS, &mut subjects, |subject, _| match subject {
            Subject::InProcess(process, next) => {
                match op {
                    Op::Get => assert_eq!(process.get(&key(0, *next)).unwrap().len(), VALUE_BYTES),
                    Op::Set => process.set(&key(0, *next), &value(0, *next), 0).unwrap(),
                    Op::SetMany => unreachable!("only single gets and sets are timed in-process"),
                }
                *next += 1;
            }
            Subject::Socket(client) => client.batch(op, 1),
        })
    };
    let gets = timed(Op::Get);
    let sets = timed(Op::Set);
    header("Storage Service per request against the in-process Process API (memory, 1 client, not pipelined)");
    for (op, timings) in [("get", &gets), ("set", &sets)] {
        report(&format!("{op}: in-process `Process`"), &timings[0], None);
        report(&format!("{op}: Storage Service over its socket"), &timings[1], Some(("of in-process", &timings[0])));
        report(&format!("{op}: Redis over its socket (the socket's floor)"), &timings[2], None);
    }
    for (op, timings) in [("get", &gets), ("set", &sets)] {
        println!(
            "\nservice {op}, cost over in-process: {}; Redis {op} round trip: {}",
            format_ns(timings[1].median_ns - timings[0].median_ns),
            format_ns(timings[2].median_ns)
        );
    }
}

/// The `calls` column of `syscall`'s line in an `strace -c` summary (0 if absent).
fn strace_calls(summary: &str, syscall: &str) -> u64 {
    summary
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.last() == Some(&syscall) && fields.len() >= 5)
        .map_or(0, |fields| fields[3].parse().unwrap())
}

/// Each durable server's fsync and fdatasync calls under `strace -f -c`, over its whole life:
/// started, connected to, `COUNTED_SETS` sets sent as each pattern sends them (none for the
/// baseline), stopped with SIGTERM.
fn syncs() {
    if Command::new("strace").arg("-V").stdout(Stdio::null()).status().is_err() {
        println!("\n(sync counts skipped: strace not found; Debian: apt-get install strace)");
        return;
    }
    println!("\n## Syncs of the durable peers, counted with strace -f -c -e trace=fsync,fdatasync\n");
    println!("Whole server life: start, connect, the sets, SIGTERM. Baseline: the same with no sets.\n");
    println!("| peer | request | clients × depth | sets | fsync | fdatasync | syncs beyond baseline per set |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let dir = tempfile::tempdir().unwrap();
    for kind in [Kind::RedisAlways, Kind::ZeroFs] {
        let mut baseline = 0;
        for (op, clients, depth) in
            [(Op::Set, 0, 1), (Op::Set, 1, 1), (Op::Set, 1, DEPTH), (Op::Set, MANY, 1), (Op::SetMany, 1, 1)]
        {
            let out = dir.path().join("strace.txt");
            let mut server = Server::start(kind, Some(&out));
            let mut pool = server.clients(clients.max(1), false, false);
            if clients > 0 {
                let batches = COUNTED_SETS / (clients * depth * op.width());
                std::thread::scope(|scope| {
                    for client in &mut pool {
                        scope.spawn(move || (0..batches).for_each(|_| client.batch(op, depth)));
                    }
                });
            }
            drop(pool);
            server.stop();
            let summary = std::fs::read_to_string(&out).unwrap();
            let (fsync, fdatasync) = (strace_calls(&summary, "fsync"), strace_calls(&summary, "fdatasync"));
            let sets = if clients == 0 { 0 } else { COUNTED_SETS };
            if clients == 0 {
                baseline = fsync + fdatasync;
                println!("| {} | baseline: none | 1 × 0 | 0 | {fsync} | {fdatasync} | |", kind.name());
            } else {
                let per_set = (fsync + fdatasync).saturating_sub(baseline) as f64 / sets as f64;
                println!(
                    "| {} | {} | {clients} × {depth} | {sets} | {fsync} | {fdatasync} | {per_set:.3} |",
                    kind.name(),
                    op.name()
                );
            }
        }
    }
}

/// `SERVICE_ONLY=SERVER:OP:CLIENTS:DEPTH` (e.g. `zero-fs:set:50:1`): that one configuration
/// alone for 10 rounds, with the server's pid printed first, for `perf record -p PID`.
fn profile(what: &str) {
    let usage = "SERVICE_ONLY takes pairs, process, syncs, or SERVER:OP:CLIENTS:DEPTH with SERVER one of \
                 redis, redis-always, zero-memory, zero-fs and OP get, set or set-many";
    let parts: Vec<&str> = what.split(':').collect();
    let [server, op, clients, depth] = parts[..] else { panic!("{usage}") };
    let kind = match server {
        "redis" => Kind::RedisDefault,
        "redis-always" => Kind::RedisAlways,
        "zero-memory" => Kind::ZeroMemory,
        "zero-fs" => Kind::ZeroFs,
        _ => panic!("{usage}"),
    };
    let op = match op {
        "get" => Op::Get,
        "set" => Op::Set,
        "set-many" => Op::SetMany,
        _ => panic!("{usage}"),
    };
    let (clients, depth): (usize, usize) = (clients.parse().expect(usage), depth.parse().expect(usage));
    let server = Server::start(kind, None);
    let mut pool = server.clients(clients, false, true);
    println!("{}: pid {}", kind.name(), server.child.id());
    for _ in 0..10 {
        let measured = round(&mut pool, op, depth, round_length());
        println!("{} {clients} × {depth}: {} ops/s", op.name(), ops(measured.ops_per_sec));
    }
}

fn main() {
    redis_binary();
    match std::env::var("SERVICE_ONLY").ok().as_deref() {
        None | Some("") => {
            pairs();
            in_process_against_socket();
            syncs();
        }
        Some("pairs") => pairs(),
        Some("process") => in_process_against_socket(),
        Some("syncs") => syncs(),
        Some(profiled) => profile(profiled),
    }
}
