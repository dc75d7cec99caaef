//! `notes`: a small `wasi:cli` command that keeps notes in Zero Storage.
//!
//! It imports only `zero:storage/store`, so it stores in its own namespace (`app:NAME`, chosen
//! by the host) and, when the host runs it for a user, in `user:USER` with `--mine`.
//!
//! ```text
//! notes add ID TEXT [--ttl SECS] [--mine]   store a note
//! notes show ID [--mine]                    print a note
//! notes rm ID [--mine]                      delete a note
//! notes ls [PREFIX] [--mine]                list note ids, page by page
//! notes mv ID NEW [--mine]                  rename a note (one atomic transaction)
//! notes count                               bump and print a counter (atomic increment)
//! notes quota [--mine]                      print usage and quota
//! ```

/// Generated bindings; their canonical-ABI glue is `unsafe` by nature, the code here is not.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "zero:storage/app" });
}
use bindings::*;

use std::process::ExitCode;

use zero::storage::store::{self, Bucket};
use zero::storage::types::{Error, Precondition, SetWrite, Write};

/// Where a command stores: the app's own namespace or the user's.
enum Target {
    Own,
    User(Bucket),
}

impl Target {
    fn set(&self, key: &str, value: &[u8], ttl: u64) -> Result<(), Error> {
        match self {
            Target::Own => store::set(key, value, ttl),
            Target::User(bucket) => bucket.set(key, value, ttl),
        }
    }
    fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        match self {
            Target::Own => store::get(key),
            Target::User(bucket) => bucket.get(key),
        }
    }
    fn delete(&self, key: &str) -> Result<bool, Error> {
        match self {
            Target::Own => store::delete(key),
            Target::User(bucket) => bucket.delete(key),
        }
    }
    fn list(&self, prefix: &str, cursor: Option<&str>) -> Result<store::ListPage, Error> {
        match self {
            Target::Own => store::list(prefix, 100, cursor),
            Target::User(bucket) => bucket.list(prefix, 100, cursor),
        }
    }
    fn quota(&self) -> Result<store::QuotaInfo, Error> {
        match self {
            Target::Own => store::quota(),
            Target::User(bucket) => bucket.quota(),
        }
    }
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mine = take_flag(&mut args, "--mine");
    let ttl = take_option(&mut args, "--ttl").map(|t| t.parse::<u64>());
    let ttl = match ttl {
        None => 0,
        Some(Ok(ttl)) => ttl,
        Some(Err(_)) => return fail("--ttl takes a number of seconds"),
    };
    let target = if mine {
        let user = match std::env::var("ZERO_STORAGE_USER") {
            Ok(user) => user,
            Err(_) => return fail("--mine needs ZERO_STORAGE_USER, or run with `zero-storage run --user`"),
        };
        match store::open(&format!("user:{user}")) {
            Ok(bucket) => Target::User(bucket),
            Err(e) => return fail(&format!("cannot open user:{user}: {}", describe(&e))),
        }
    } else {
        Target::Own
    };
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match words.as_slice() {
        ["add", id, text @ ..] if !text.is_empty() => {
            target.set(&note_key(id), text.join(" ").as_bytes(), ttl).map(|()| {
                println!("saved {id}");
            })
        }
        ["show", id] => target.get(&note_key(id)).map(|text| println!("{}", String::from_utf8_lossy(&text))),
        ["rm", id] => {
            target.delete(&note_key(id)).map(|existed| println!("{}", if existed { "removed" } else { "no such note" }))
        }
        ["ls"] | ["ls", _] => list(&target, words.get(1).copied().unwrap_or("")),
        ["count"] => count(),
        ["mv", from, to] => rename(&target, from, to),
        ["quota"] => target.quota().map(|q| {
            println!("{}: {} of {} bytes used, {} keys", q.namespace, q.used_bytes, q.quota_bytes, q.key_count);
        }),
        _ => {
            return fail(
                "usage: notes add ID TEXT | show ID | rm ID | mv ID NEW | ls [PREFIX] | count | quota  [--mine] [--ttl SECS]",
            );
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&describe(&e)),
    }
}

fn note_key(id: &str) -> String {
    format!("note/{id}")
}

fn list(target: &Target, prefix: &str) -> Result<(), Error> {
    let mut cursor = None;
    loop {
        let page = target.list(&note_key(prefix), cursor.as_deref())?;
        for key in &page.keys {
            println!("{}", key.strip_prefix("note/").unwrap_or(key));
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// Bumps a counter atomically: concurrent runs never lose a count.
fn count() -> Result<(), Error> {
    println!("{}", store::increment("counter", 1)?);
    Ok(())
}

/// Renames a note in one transaction: the note must still be the one we read, and the new id
/// must be free; then the copy and the delete happen together or not at all.
fn rename(target: &Target, from: &str, to: &str) -> Result<(), Error> {
    let (from, to) = (note_key(from), note_key(to));
    let note = match target {
        Target::Own => store::get_versioned(&from)?,
        Target::User(bucket) => bucket.get_versioned(&from)?,
    };
    let preconditions = [Precondition::VersionIs((from.clone(), note.version)), Precondition::Absent(to.clone())];
    let writes = [Write::Set(SetWrite { key: to, value: note.value, ttl_secs: 0 }), Write::Delete(from)];
    match target {
        Target::Own => store::transact(&preconditions, &writes)?,
        Target::User(bucket) => bucket.transact(&preconditions, &writes)?,
    };
    println!("renamed");
    Ok(())
}

fn describe(error: &Error) -> String {
    match error {
        Error::NotFound => "not found".into(),
        Error::QuotaExceeded => "quota exceeded".into(),
        Error::KeyTooLong => "key too long".into(),
        Error::ValueTooLarge => "value too large".into(),
        Error::InvalidArgument(why) => format!("invalid argument: {why}"),
        Error::PermissionDenied => "permission denied".into(),
        Error::BackendError(why) => format!("storage failed: {why}"),
        Error::PreconditionFailed(0) => "the note changed meanwhile; try again".into(),
        Error::PreconditionFailed(_) => "the new id is already taken".into(),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("notes: {message}");
    ExitCode::FAILURE
}

fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let before = args.len();
    args.retain(|arg| arg != flag);
    args.len() != before
}

fn take_option(args: &mut Vec<String>, option: &str) -> Option<String> {
    let at = args.iter().position(|arg| arg == option)?;
    args.remove(at);
    (at < args.len()).then(|| args.remove(at))
}
