//! Power-loss test: the machine stops at a random moment and loses whatever the disk had not
//! made durable, possibly keeping a torn part of it.
//!
//! A SIGKILL (`crash.rs`) lets the operating system flush its page cache, so it never loses a
//! write. Here the real `fs` backend (redb, `Durability::Immediate`) runs on a simulated disk: a
//! `redb::StorageBackend` that keeps the file in memory and remembers every write and length
//! change since the last `sync_data`. At a random write or sync the power goes out: the disk
//! image that survives is everything synced, plus a random subset of the unsynced writes, some
//! of them torn at 512-byte sector boundaries, and the file length before or after any unsynced
//! change. From then on every I/O fails, as on a dead machine.
//!
//! The image is reopened and must hold every acknowledged write, and the write in flight
//! entirely or not at all; usage must equal the recomputed sum, and the store must take new
//! writes. Each round continues on the previous round's image, so the database is recovered
//! over and over.
//!
//! `ZERO_POWER_LOSS_ROUNDS=N` runs N rounds instead of the regular suite's 150 (long mode);
//! `ZERO_SEED=S` replays a run.

use std::io::{Error as IoError, ErrorKind};
use std::sync::{Arc, Mutex};

use zero_storage::backend::FsBackend;
use zero_storage::{Config, Process, ProcessIdentity, Runtime};
use zero_storage_tests::workload::{InFlightOutcomes, NAMESPACES, Op, State, execute, read_state};
use zero_storage_tests::{Rng, runtime_with};

/// The disk's atomic unit: a write is torn only at these boundaries.
const SECTOR: usize = 512;

/// A change to the file not yet made durable by `sync_data`.
#[derive(Debug, Clone)]
enum Pending {
    Write { offset: usize, data: Vec<u8> },
    SetLen(usize),
}

#[derive(Debug)]
struct Disk {
    /// The file as the running program sees it.
    live: Vec<u8>,
    /// The file as of the last completed `sync_data`.
    durable: Vec<u8>,
    /// Changes since then, in order.
    pending: Vec<Pending>,
    /// Mutating I/O calls (write, set_len, sync) left before the power goes out; `None` = never.
    countdown: Option<u64>,
    /// The image that survived the power loss, once it happened.
    survived: Option<Vec<u8>>,
    rng: Rng,
}

impl Disk {
    /// What survives a power loss now: the durable file, the length before or after the
    /// unsynced length changes, and a random subset of the unsynced writes, some torn.
    fn crash_image(&mut self) -> Vec<u8> {
        let mut image = self.durable.clone();
        let lengths: Vec<usize> = self
            .pending
            .iter()
            .filter_map(|change| match change {
                Pending::SetLen(len) => Some(*len),
                Pending::Write { .. } => None,
            })
            .collect();
        if !lengths.is_empty() && self.rng.percent(50) {
            let len = lengths[self.rng.below(lengths.len() as u64) as usize];
            image.resize(len, 0);
        }
        for change in &self.pending {
            let Pending::Write { offset, data } = change else { continue };
            let kept: Vec<bool> = match self.rng.below(3) {
                0 => continue,                                                                 // lost
                1 => vec![true; data.len().div_ceil(SECTOR)],                                  // landed
                _ => (0..data.len().div_ceil(SECTOR)).map(|_| self.rng.percent(50)).collect(), // torn
            };
            for (index, sector) in data.chunks(SECTOR).enumerate() {
                let at = offset + index * SECTOR;
                // A write past the surviving length did not survive either.
                if kept[index] && at + sector.len() <= image.len() {
                    image[at..at + sector.len()].copy_from_slice(sector);
                }
            }
        }
        image
    }

    /// Counts one mutating call; returns an error if the power is (now) out.
    fn tick(&mut self) -> Result<(), IoError> {
        if self.survived.is_some() {
            return Err(power_out());
        }
        if let Some(left) = self.countdown.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.survived = Some(self.crash_image());
                return Err(power_out());
            }
        }
        Ok(())
    }
}

fn power_out() -> IoError {
    IoError::other("the power went out")
}

/// A simulated disk under redb.
#[derive(Debug, Clone)]
struct PowerLossDisk(Arc<Mutex<Disk>>);

impl PowerLossDisk {
    /// A disk holding `image`, all of it durable, that loses power after `countdown` mutating calls.
    fn new(image: Vec<u8>, countdown: Option<u64>, seed: u64) -> Self {
        PowerLossDisk(Arc::new(Mutex::new(Disk {
            live: image.clone(),
            durable: image,
            pending: Vec::new(),
            countdown,
            survived: None,
            rng: Rng::new(seed),
        })))
    }

    fn disk(&self) -> std::sync::MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// The image left by the power loss, if it happened.
    fn survived(&self) -> Option<Vec<u8>> {
        self.disk().survived.clone()
    }

    /// Cuts the power now (if it is still on) and returns the image that survives.
    fn cut_power(&self) -> Vec<u8> {
        let mut disk = self.disk();
        if disk.survived.is_none() {
            disk.survived = Some(disk.crash_image());
        }
        disk.survived.clone().unwrap()
    }
}

impl redb::StorageBackend for PowerLossDisk {
    fn len(&self) -> Result<u64, IoError> {
        let disk = self.disk();
        if disk.survived.is_some() {
            return Err(power_out());
        }
        Ok(disk.live.len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), IoError> {
        let disk = self.disk();
        if disk.survived.is_some() {
            return Err(power_out());
        }
        let offset = offset as usize;
        let source =
            disk.live.get(offset..offset + out.len()).ok_or_else(|| IoError::from(ErrorKind::UnexpectedEof))?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), IoError> {
        let mut disk = self.disk();
        disk.pending.push(Pending::SetLen(len as usize));
        disk.tick()?;
        disk.live.resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), IoError> {
        let mut disk = self.disk();
        disk.tick()?;
        disk.durable = disk.live.clone();
        disk.pending.clear();
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        let mut disk = self.disk();
        let offset = offset as usize;
        // The call the power goes out in may itself be torn, so it counts as pending first.
        disk.pending.push(Pending::Write { offset, data: data.to_vec() });
        disk.tick()?;
        if disk.live.len() < offset + data.len() {
            disk.live.resize(offset + data.len(), 0);
        }
        disk.live[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

fn open(disk: &PowerLossDisk) -> anyhow::Result<(Runtime, Vec<Process>)> {
    let backend = FsBackend::with_storage(disk.clone(), "simulated disk")?;
    let (runtime, _clock) = runtime_with(Arc::new(backend), Config::default());
    let procs = NAMESPACES.iter().map(|name| runtime.process(ProcessIdentity::new(name).unwrap()).unwrap()).collect();
    Ok((runtime, procs))
}

#[test]
fn acknowledged_writes_survive_power_loss_with_torn_unsynced_writes() {
    let rounds: usize = std::env::var("ZERO_POWER_LOSS_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(150);
    let seed = Rng::seed_from_env();
    eprintln!("power-loss test: {rounds} rounds, ZERO_SEED={seed}");
    let mut rng = Rng::new(seed);
    let started = std::time::Instant::now();

    // An empty database, made durable, to start from.
    let disk = PowerLossDisk::new(Vec::new(), None, rng.next_u64());
    drop(open(&disk).expect("a new database opens on the simulated disk"));
    let mut image = disk.cut_power();
    let mut state = State::new();
    let mut seq = 1;
    let (mut acked_total, mut during_open, mut outcomes) = (0, 0, InFlightOutcomes::default());

    for round in 0..rounds {
        // Write until the power goes out, somewhere in the first few hundred mutating calls.
        let within = if rng.percent(20) { 20 } else { 400 };
        let countdown = 1 + rng.below(within);
        let disk = PowerLossDisk::new(image.clone(), Some(countdown), rng.next_u64());
        let mut acknowledged = state.clone();
        let mut in_flight = None;
        match open(&disk) {
            Err(error) => {
                assert!(disk.survived().is_some(), "round {round}: the database failed to open: {error:#}");
                during_open += 1;
            }
            Ok((runtime, mut procs)) => {
                for _ in 0..1000 {
                    let op = Op::random(&mut rng);
                    match execute(&mut procs, seq, &op) {
                        Ok(()) => {
                            op.apply(seq, &mut acknowledged);
                            acked_total += 1;
                            seq += 1;
                        }
                        Err(error) => {
                            assert!(disk.survived().is_some(), "round {round}: {op} failed with power on: {error}");
                            in_flight = Some((seq, op));
                            seq += 1;
                            break;
                        }
                    }
                }
                drop(procs);
                drop(runtime);
            }
        }
        image = disk.cut_power();

        // Power back on: the surviving image must recover to a state that lost nothing acknowledged.
        let recovered = PowerLossDisk::new(image.clone(), None, rng.next_u64());
        let (runtime, mut procs) = open(&recovered)
            .unwrap_or_else(|e| panic!("round {round} (ZERO_SEED={seed}): the image does not reopen: {e:#}"));
        let stored = read_state(&mut procs);
        if let Err(difference) = outcomes.judge(&stored, &acknowledged, in_flight.as_ref()) {
            panic!("round {round} (ZERO_SEED={seed}): {difference}");
        }
        state = stored;
        for (ns, p) in procs.iter_mut().enumerate() {
            let probe = format!("probe {round}").into_bytes();
            p.set("probe", &probe, 0).expect("the recovered store takes a write");
            state.insert((ns, "probe".into()), probe);
        }
        // The next round starts from this disk as the power leaves it now: synced, not closed.
        image = recovered.cut_power();
        drop(procs);
        drop(runtime);
    }
    eprintln!(
        "power-loss test: {rounds} rounds in {:.1?}, {acked_total} acknowledged operations, none lost; \
         the power went out while opening {during_open} times; the operation in flight landed {} times, \
         was lost {} times, changed nothing {} times",
        started.elapsed(),
        outcomes.landed,
        outcomes.lost,
        outcomes.idle
    );
    assert!(acked_total > 0, "no operation was ever acknowledged");
}
