//! Service-crash test: `zero-storage serve` on `fs` is killed with SIGKILL while four clients
//! write through it, and every write the service had acknowledged must be there when the next
//! service opens the same data directory; none may be half there.
//!
//! Each client owns its keys (`c<N>-k<0..20>` and a batch of three, `c<N>-b<0..3>`) and sends
//! one request at a time: single sets, and three-key `STORAGE_SET_MANY` batches whose keys all
//! get the same value. So at the kill each client has at most one write in flight, and the test
//! knows every acknowledged value. After the restart each key must hold its last acknowledged
//! value or the in-flight one; the three keys of a batch must hold one value (all or nothing);
//! usage and key count must equal what the entries add up to. The test then takes what it
//! found as the new truth, and the next round writes on top of it.
//!
//! `ZERO_SERVICE_KILL_ROUNDS=N` runs N rounds instead of the regular suite's 200 (long mode:
//! 2,000); `ZERO_SEED=S` replays a run's kill timings.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zero_storage::protocol::*;
use zero_storage_tests::Rng;
use zero_storage_tests::daemon::Daemon;

const CLIENTS: usize = 4;
const KEYS_PER_CLIENT: u64 = 20;
const BATCH: usize = 3;

/// What the test knows of one client's keys.
#[derive(Default)]
struct Known {
    /// The last acknowledged value of each key (absent: never written).
    acked: BTreeMap<String, Vec<u8>>,
    /// The write the client had sent and not seen answered: its keys and their value.
    in_flight: Option<(Vec<String>, Vec<u8>)>,
    /// How many writes were acknowledged, over all rounds.
    acks: u64,
}

/// Writes through `socket` until the service goes away, recording each write before it is sent
/// and each acknowledgement.
fn client_loop(socket: std::path::PathBuf, client: usize, round: u64, known: Arc<Mutex<Known>>) {
    let Ok(mut service) = ServiceClient::connect(&socket) else { return };
    for seq in 0u64.. {
        // Values differ in length, so a wrong value also shows in the usage check.
        let value = format!("r{round}-c{client}-s{seq}-{}", "x".repeat((seq % 17) as usize)).into_bytes();
        let keys: Vec<String> = if seq % 5 == 4 {
            (0..BATCH).map(|b| format!("c{client}-b{b}")).collect()
        } else {
            vec![format!("c{client}-k{}", seq % KEYS_PER_CLIENT)]
        };
        known.lock().unwrap().in_flight = Some((keys.clone(), value.clone()));
        let outcome = if keys.len() == 1 {
            service.set(&keys[0], &value, 0).map_err(|e| e.to_string())
        } else {
            let entries = keys.iter().map(|key| (key.clone(), value.clone())).collect();
            match service.call(&Request::SetMany(StorageSetManyRequest { namespace: None, entries, ttl_secs: 0 })) {
                Ok(Response::SetMany(answer)) => answer.result.map_err(|e| e.to_string()),
                other => Err(format!("{other:?}")),
            }
        };
        let mut known = known.lock().unwrap();
        match outcome {
            Ok(()) => {
                known.in_flight = None;
                known.acks += 1;
                for key in keys {
                    known.acked.insert(key, value.clone());
                }
            }
            // The service was killed: the write stays in flight.
            Err(_) => return,
        }
    }
}

/// Every live entry of the own namespace, read through `service`.
fn entries(service: &mut ServiceClient) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = service.list("", 1000, cursor.as_deref()).expect("list after restart");
        for key in page.keys {
            let value = service.get(&key).expect("get after restart").expect("a listed key has a value");
            all.insert(key, value);
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return all;
        }
    }
}

/// Checks what the restarted service holds against what each client knew, and makes the
/// stored data the new truth. Returns how many writes in flight had landed.
fn check_and_adopt(round: u64, stored: &BTreeMap<String, Vec<u8>>, known: &[Arc<Mutex<Known>>]) -> u64 {
    let mut landed = 0;
    let strangers: Vec<_> =
        stored.keys().filter(|key| !(0..CLIENTS).any(|c| key.starts_with(&format!("c{c}-")))).collect();
    assert!(strangers.is_empty(), "round {round}: keys no client wrote: {strangers:?}");
    for (client, known) in known.iter().enumerate() {
        let mut known = known.lock().unwrap();
        let in_flight = known.in_flight.take();
        let own = |key: &String| key.starts_with(&format!("c{client}-"));
        let keys: Vec<&String> = stored.keys().filter(|key| own(key)).chain(known.acked.keys()).collect();
        let mut applied = None;
        for key in keys {
            let found = stored.get(key);
            let acked = known.acked.get(key);
            if found == acked {
                continue;
            }
            let flying = in_flight.as_ref().filter(|(keys, _)| keys.contains(key));
            match (found, flying) {
                (Some(value), Some((_, sent))) if value == sent => applied = Some(true),
                _ => panic!(
                    "round {round}: {key} holds {:?}; the last acknowledged value is {:?} and the write in flight {:?}",
                    found.map(|v| String::from_utf8_lossy(v).into_owned()),
                    acked.map(|v| String::from_utf8_lossy(v).into_owned()),
                    flying.map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                ),
            }
        }
        if let (Some(true), Some((keys, value))) = (applied, &in_flight) {
            landed += 1;
            // The write in flight landed: all of it, or the batch was half applied.
            for key in keys {
                assert_eq!(stored.get(key), Some(value), "round {round}: a batch was half applied at {key}");
            }
        }
        known.acked = stored.iter().filter(|(key, _)| own(key)).map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    landed
}

#[test]
fn acknowledged_writes_survive_sigkill_of_the_service() {
    let rounds: u64 = std::env::var("ZERO_SERVICE_KILL_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let seed = Rng::seed_from_env();
    println!("ZERO_SEED={seed}");
    let mut rng = Rng::new(seed);
    let known: Vec<Arc<Mutex<Known>>> = (0..CLIENTS).map(|_| Arc::default()).collect();
    let mut dir = tempfile::tempdir().unwrap();
    let (mut in_flight_at_kill, mut landed) = (0u64, 0u64);
    for round in 0..rounds {
        let daemon = Daemon::start_in(dir, "fs");
        let mut checker = daemon.client();
        let stored = entries(&mut checker);
        landed += check_and_adopt(round, &stored, &known);
        let quota = checker.quota().expect("quota after restart");
        let used: u64 = stored.iter().map(|(key, value)| (key.len() + value.len()) as u64).sum();
        assert_eq!((quota.used_bytes, quota.key_count), (used, stored.len() as u64), "round {round}: usage");
        let writers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (socket, known) = (daemon.socket.clone(), known[client].clone());
                std::thread::spawn(move || client_loop(socket, client, round, known))
            })
            .collect();
        // From "before the first write landed" to "many group commits in".
        std::thread::sleep(Duration::from_millis(1 + rng.below(40)));
        let mut daemon = daemon;
        daemon.child.kill().expect("SIGKILL the service");
        for writer in writers {
            writer.join().expect("a client thread panicked");
        }
        in_flight_at_kill += known.iter().filter(|k| k.lock().unwrap().in_flight.is_some()).count() as u64;
        let (clean, back) = daemon.wait();
        assert!(!clean, "round {round}: the service was killed, not stopped");
        dir = back;
    }
    // The last kill's writes in flight are checked too.
    let daemon = Daemon::start_in(dir, "fs");
    landed += check_and_adopt(rounds, &entries(&mut daemon.client()), &known);
    let acks: u64 = known.iter().map(|k| k.lock().unwrap().acks).sum();
    println!(
        "{rounds} kills, {acks} acknowledged writes, {in_flight_at_kill} writes in flight at a kill, \
         {landed} of them found applied (whole) after the restart"
    );
    assert!(acks > rounds, "the clients wrote too little for the test to mean anything: {acks} acks");
    assert!(in_flight_at_kill > 0, "no kill ever caught a write in flight");
}
