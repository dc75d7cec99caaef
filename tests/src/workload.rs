//! The writer workload the crash and power-loss tests share: random sets, deletes, batches,
//! counters and transactions over three namespaces, each described by a line of text, and
//! replayable on a plain map to know what the store must hold.

#![allow(missing_docs)] // the enum fields are named for what they are

use std::collections::BTreeMap;

use zero_storage::{Precondition, Process, Write};

use crate::Rng;

pub const NAMESPACES: [&str; 3] = ["crash-a", "crash-b", "crash-c"];
pub const TX_KEYS: [&str; 3] = ["tx/a", "tx/b", "tx/c"];
pub const BATCH_KEYS: [&str; 4] = ["batch/0", "batch/1", "batch/2", "batch/3"];
pub const COUNTER: &str = "counter";
/// The time to live used by some sets: long enough never to expire during the test.
pub const DAY_SECS: u64 = 86_400;

/// Every entry of every namespace: (namespace index, key) → value.
pub type State = BTreeMap<(usize, String), Vec<u8>>;

/// One writer operation; its text form is what the writer prints before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Set {
        ns: usize,
        key: String,
        len: usize,
        ttl: u64,
    },
    Delete {
        ns: usize,
        key: String,
    },
    /// A transaction that sets every `TX_KEYS` entry, conditioned on `tx/a`'s version.
    Tx {
        ns: usize,
        len: usize,
    },
    /// A transaction that deletes every `TX_KEYS` entry.
    TxDelete {
        ns: usize,
    },
    /// `set-many` of every `BATCH_KEYS` entry.
    Batch {
        ns: usize,
        len: usize,
    },
    Increment {
        ns: usize,
    },
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Set { ns, key, len, ttl } => write!(f, "set {ns} {key} {len} {ttl}"),
            Op::Delete { ns, key } => write!(f, "del {ns} {key}"),
            Op::Tx { ns, len } => write!(f, "tx {ns} {len}"),
            Op::TxDelete { ns } => write!(f, "txdel {ns}"),
            Op::Batch { ns, len } => write!(f, "batch {ns} {len}"),
            Op::Increment { ns } => write!(f, "inc {ns}"),
        }
    }
}

impl Op {
    /// Reads the text form back (the words after `BEGIN <seq>`).
    pub fn parse(words: &[&str]) -> Option<Op> {
        let n = |i: usize| words.get(i)?.parse::<usize>().ok();
        Some(match *words.first()? {
            "set" => Op::Set { ns: n(1)?, key: words.get(2)?.to_string(), len: n(3)?, ttl: n(4)? as u64 },
            "del" => Op::Delete { ns: n(1)?, key: words.get(2)?.to_string() },
            "tx" => Op::Tx { ns: n(1)?, len: n(2)? },
            "txdel" => Op::TxDelete { ns: n(1)? },
            "batch" => Op::Batch { ns: n(1)?, len: n(2)? },
            "inc" => Op::Increment { ns: n(1)? },
            _ => return None,
        })
    }

    /// A random operation: mostly small values, sometimes large ones.
    pub fn random(rng: &mut Rng) -> Op {
        let ns = rng.below(NAMESPACES.len() as u64) as usize;
        // Mostly small values, sometimes large ones that span many database pages.
        let len = if rng.percent(10) { rng.below(64 << 10) as usize } else { rng.below(300) as usize };
        let key = format!("k{:02}", rng.below(12));
        match rng.below(20) {
            0..=7 => Op::Set { ns, key, len, ttl: if rng.percent(25) { DAY_SECS } else { 0 } },
            8..=10 => Op::Delete { ns, key },
            11..=13 => Op::Tx { ns, len },
            14 => Op::TxDelete { ns },
            15..=17 => Op::Batch { ns, len },
            _ => Op::Increment { ns },
        }
    }

    /// Applies the operation numbered `seq` to `state`, as the store should.
    pub fn apply(&self, seq: u64, state: &mut State) {
        match self {
            Op::Set { ns, key, len, .. } => {
                state.insert((*ns, key.clone()), value(seq, key, *len));
            }
            Op::Delete { ns, key } => {
                state.remove(&(*ns, key.clone()));
            }
            Op::Tx { ns, len } => {
                for key in TX_KEYS {
                    state.insert((*ns, key.into()), value(seq, key, *len));
                }
            }
            Op::TxDelete { ns } => {
                for key in TX_KEYS {
                    state.remove(&(*ns, key.into()));
                }
            }
            Op::Batch { ns, len } => {
                for key in BATCH_KEYS {
                    state.insert((*ns, key.into()), value(seq, key, *len));
                }
            }
            Op::Increment { ns } => {
                let slot = state.entry((*ns, COUNTER.into())).or_insert_with(|| b"0".to_vec());
                let next = std::str::from_utf8(slot).unwrap().parse::<i64>().unwrap() + 1;
                *slot = next.to_string().into_bytes();
            }
        }
    }
}

/// The value operation `seq` writes under `key`: a header naming both, then `len` filler bytes.
pub fn value(seq: u64, key: &str, len: usize) -> Vec<u8> {
    let mut value = format!("{seq}:{key}:").into_bytes();
    value.extend((0..len).map(|i| b'a' + ((i as u64 + seq) % 26) as u8));
    value
}

/// Runs operation `seq` against the processes of `NAMESPACES` (in that order).
pub fn execute(procs: &mut [Process], seq: u64, op: &Op) -> zero_storage::Result<()> {
    match op {
        Op::Set { ns, key, len, ttl } => procs[*ns].set(key, &value(seq, key, *len), *ttl),
        Op::Delete { ns, key } => procs[*ns].delete(key).map(drop),
        Op::Tx { ns, len } => {
            let p = &mut procs[*ns];
            let precondition = match p.get_versioned(TX_KEYS[0]) {
                Ok(found) => Precondition::VersionIs(TX_KEYS[0].into(), found.version),
                Err(e) if e.is_not_found() => Precondition::Absent(TX_KEYS[0].into()),
                Err(e) => return Err(e),
            };
            let writes: Vec<Write> = TX_KEYS
                .iter()
                .map(|key| Write::Set { key: key.to_string(), value: value(seq, key, *len), ttl_secs: 0 })
                .collect();
            p.transact(&[precondition], &writes).map(drop)
        }
        Op::TxDelete { ns } => {
            let writes: Vec<Write> = TX_KEYS.iter().map(|key| Write::Delete(key.to_string())).collect();
            procs[*ns].transact(&[], &writes).map(drop)
        }
        Op::Batch { ns, len } => {
            let entries: Vec<(String, Vec<u8>)> =
                BATCH_KEYS.iter().map(|key| (key.to_string(), value(seq, key, *len))).collect();
            procs[*ns].set_many(&entries, 0)
        }
        Op::Increment { ns } => procs[*ns].increment(COUNTER, 1).map(drop),
    }
}

/// Everything stored in the processes' namespaces, after checking in each that usage equals the
/// sum recomputed from its entries.
pub fn read_state(procs: &mut [Process]) -> State {
    let mut state = State::new();
    for (ns, p) in procs.iter_mut().enumerate() {
        for (key, value) in crate::assert_usage_exact(&mut p.own()) {
            state.insert((ns, key), value);
        }
    }
    state
}

/// The entries where `actual` and `expected` differ, one line each, values cut short.
pub fn describe_difference(actual: &State, expected: &State) -> String {
    let mut out = String::new();
    for key in actual.keys().chain(expected.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (a, e) = (actual.get(key), expected.get(key));
        if a != e {
            let show = |v: Option<&Vec<u8>>| v.map(|v| String::from_utf8_lossy(&v[..v.len().min(24)]).into_owned());
            out += &format!("  {key:?}: stored {:?}, expected {:?}\n", show(a), show(e));
        }
    }
    out
}

/// Counts of what a crash did to the operation that was in flight.
#[derive(Debug, Default)]
pub struct InFlightOutcomes {
    /// The operation had no visible effect either way.
    pub idle: u64,
    /// The operation was not applied.
    pub lost: u64,
    /// The operation was applied entirely.
    pub landed: u64,
}

impl InFlightOutcomes {
    /// Checks the store recovered after a crash: it must hold exactly the acknowledged writes,
    /// or those plus the whole operation that was in flight (never a part of it). Counts which,
    /// or returns a description of the difference.
    pub fn judge(&mut self, stored: &State, acknowledged: &State, in_flight: Option<&(u64, Op)>) -> Result<(), String> {
        let mut with_in_flight = acknowledged.clone();
        if let Some((seq, op)) = in_flight {
            op.apply(*seq, &mut with_in_flight);
        }
        match (stored == acknowledged, stored == &with_in_flight) {
            (true, true) => self.idle += 1,
            (true, false) => self.lost += 1,
            (false, true) => self.landed += 1,
            (false, false) => {
                return Err(format!(
                    "the store matches neither the acknowledged writes nor those plus the one in flight \
                     ({in_flight:?}).\nAgainst the acknowledged writes:\n{}",
                    describe_difference(stored, acknowledged)
                ));
            }
        }
        Ok(())
    }
}
