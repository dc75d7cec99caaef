//! The dump format, version 1 (DUMP.md describes it for readers of the file).
//!
//! JSON Lines: a header line, one line per entry, and a trailer line. The trailer carries the
//! counts and a SHA-256 over every byte before it, which a header cannot know while the
//! entries are still being streamed. Each line ends with `\n`; values are standard base64
//! with padding.
//!
//! Writing is [`DumpWriter`]. Reading is [`read_dump`], which checks everything the format
//! promises (order, limits, counts, checksum) as it streams and hands each checked record to
//! a visitor, and [`read_namespace`], which reads one namespace's records again from where
//! the first reading found them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zero_storage_component::limits::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use zero_storage_component::namespace::check_namespace;

use super::DumpError;

/// The `format` every dump's header names.
pub const FORMAT: &str = "zero-storage-dump";
/// The format version this build writes, and the only one it reads.
pub const VERSION: u64 = 1;
/// The longest line read: far above the longest record (a 1 MiB value is 1,398,104 base64
/// characters), and room for a header or trailer naming tens of thousands of namespaces.
const MAX_LINE_BYTES: usize = 64 << 20;
/// The longest base64 text of a value within [`MAX_VALUE_BYTES`].
const MAX_VALUE_BASE64: usize = MAX_VALUE_BYTES.div_ceil(3) * 4;

/// The first line: what was exported, when, by what.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] for what this build writes.
    pub version: u64,
    /// When the export started, in ms since the Unix epoch (the host's clock).
    pub exported_at_ms: u64,
    /// What wrote the dump, e.g. `zero-storage 0.1.0`.
    pub generator: String,
    /// The exported namespaces, in the order their records follow.
    pub namespaces: Vec<String>,
}

/// The two fields every version keeps in its header, read first so that a dump of another
/// version is refused for its version, not for a field this build does not know.
#[derive(Deserialize)]
struct HeaderProbe {
    format: Option<String>,
    version: Option<u64>,
}

/// One entry, as written.
#[derive(Serialize)]
struct RecordOut<'a> {
    ns: &'a str,
    key: &'a str,
    value: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<u64>,
}

/// One entry, as read: strings are borrowed from the line unless they hold escapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordIn<'a> {
    #[serde(borrow)]
    ns: Cow<'a, str>,
    #[serde(borrow)]
    key: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
    #[serde(default)]
    expires_at_ms: Option<u64>,
}

/// The last line: what the dump holds, and the checksum of everything before it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Trailer {
    /// Always `true`: marks the line as the trailer.
    pub trailer: bool,
    /// Record lines in the dump.
    pub entries: u64,
    /// Bytes before the trailer line (the header and every record, newlines included).
    pub bytes: u64,
    /// Per namespace, in the header's order.
    pub namespaces: Vec<TrailerNamespace>,
    /// Lowercase hex SHA-256 of those `bytes` bytes.
    pub sha256: String,
}

/// One namespace's line in the trailer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrailerNamespace {
    /// The namespace.
    pub ns: String,
    /// Its records.
    pub entries: u64,
    /// Key bytes plus value bytes of its records: its usage once they are imported alone.
    pub usage_bytes: u64,
}

/// Writes a dump line by line, counting and hashing what it writes.
pub(crate) struct DumpWriter<W: Write> {
    out: W,
    hasher: Sha256,
    bytes: u64,
    line: Vec<u8>,
    base64: String,
}

impl<W: Write> DumpWriter<W> {
    /// A writer that writes to `out`.
    pub fn new(out: W) -> Self {
        DumpWriter { out, hasher: Sha256::new(), bytes: 0, line: Vec::new(), base64: String::new() }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes the header line.
    pub fn header(&mut self, header: &Header) -> Result<(), DumpError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, header).map_err(json_failure)?;
        self.finish_line()
    }

    /// Writes one record line.
    pub fn record(&mut self, ns: &str, key: &str, value: &[u8], expires_at_ms: Option<u64>) -> Result<(), DumpError> {
        self.base64.clear();
        BASE64.encode_string(value, &mut self.base64);
        self.line.clear();
        let record = RecordOut { ns, key, value: &self.base64, expires_at_ms };
        serde_json::to_writer(&mut self.line, &record).map_err(json_failure)?;
        self.finish_line()
    }

    fn finish_line(&mut self) -> Result<(), DumpError> {
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out.write_all(&self.line).map_err(DumpError::io("write the dump"))?;
        self.bytes += self.line.len() as u64;
        Ok(())
    }

    /// Writes the trailer line for `namespaces` and flushes; returns the dump's size.
    pub fn trailer(mut self, entries: u64, namespaces: Vec<TrailerNamespace>) -> Result<u64, DumpError> {
        let sha256 = hex(&std::mem::take(&mut self.hasher).finalize());
        let trailer = Trailer { trailer: true, entries, bytes: self.bytes, namespaces, sha256 };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &trailer).map_err(json_failure)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(DumpError::io("write the dump"))?;
        self.out.flush().map_err(DumpError::io("write the dump"))?;
        Ok(self.bytes + self.line.len() as u64)
    }
}

fn json_failure(error: serde_json::Error) -> DumpError {
    DumpError::Io { context: "encode a line of the dump".into(), source: std::io::Error::other(error) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One record that passed every check, borrowed from the line it was read from.
pub(crate) struct RecordRef<'l> {
    /// The namespace's position in the header.
    pub ns_index: usize,
    /// The key (1 to 256 bytes).
    pub key: &'l str,
    /// The decoded value (at most 1 MiB).
    pub value: &'l [u8],
    /// When the entry expires, or `None` for never.
    pub expires_at_ms: Option<u64>,
}

/// Where one namespace's records are in a dump that [`read_dump`] checked.
#[derive(Debug, Clone, Default)]
pub(crate) struct Placement {
    /// Its records.
    pub entries: u64,
    /// Key bytes plus value bytes of its records.
    pub usage_bytes: u64,
    /// The line of its first record, and of its last (0 if it has none).
    pub lines: (u64, u64),
    /// The byte offset of its first record.
    pub offset: u64,
}

/// What [`read_dump`] learned: the header, the trailer, and where each namespace's records are.
pub(crate) struct Checked {
    pub header: Header,
    pub trailer: Trailer,
    pub placements: Vec<Placement>,
    /// The dump's size in bytes.
    pub size: u64,
}

/// What a visitor of [`read_dump`] is shown, in order.
pub(crate) enum Event<'a> {
    /// The header, checked, before any record.
    Header(&'a Header),
    /// A record, checked.
    Record(RecordRef<'a>),
}

/// Reads a whole dump from `source` and checks it: the header, each record (its namespace is
/// in the header and in the header's order, its key is within the key limits and in strictly
/// ascending order within its namespace, its value is base64 within the value limit), and the
/// trailer (counts, size and checksum). `visit` sees the header and each record as soon as it
/// is checked; `progress` is told how many bytes were read. The first problem found ends the
/// reading with an error naming its line.
pub(crate) fn read_dump(
    source: impl BufRead,
    mut visit: impl FnMut(Event<'_>) -> Result<(), DumpError>,
    mut progress: impl FnMut(u64, u64),
) -> Result<Checked, DumpError> {
    let mut lines = Lines { inner: source, line: 0, offset: 0 };
    let mut hasher = Sha256::new();
    let mut current = Vec::new();
    let mut next = Vec::new();
    if !lines.next(&mut current)? {
        return Err(invalid(1, "the dump is empty; a dump starts with a header line"));
    }
    let header = parse_header(&current)?;
    hasher.update(&current);
    visit(Event::Header(&header))?;
    let mut checker = RecordChecker::new(&header.namespaces);
    if !lines.next(&mut current)? {
        return Err(invalid(
            2,
            "the dump ends after its header: it is truncated (every dump ends with a trailer line)",
        ));
    }
    loop {
        let (line, offset) = (lines.line, lines.offset - current.len() as u64);
        if !lines.next(&mut next)? {
            let trailer = parse_trailer(&current, line)?;
            check_trailer(&trailer, &header, &checker, offset, line, &hex(&hasher.finalize()))?;
            let placements = checker.placements;
            return Ok(Checked { header, trailer, placements, size: lines.offset });
        }
        hasher.update(&current);
        let record = checker.check(&current, line, offset)?;
        visit(Event::Record(record))?;
        if line % 1024 == 0 {
            progress(checker.records, lines.offset);
        }
        std::mem::swap(&mut current, &mut next);
    }
}

/// Reads the records of the namespace at `ns_index` again, from where [`read_dump`] placed
/// them in `source`, which must be positioned at `placement.offset`. Every record is checked
/// as before, so a dump that changed since it was checked is refused at the line that changed.
pub(crate) fn read_namespace(
    source: impl BufRead,
    namespaces: &[String],
    ns_index: usize,
    placement: &Placement,
    mut visit: impl FnMut(RecordRef<'_>) -> Result<(), DumpError>,
) -> Result<(), DumpError> {
    let mut lines = Lines { inner: source, line: placement.lines.0.saturating_sub(1), offset: placement.offset };
    let mut checker = RecordChecker::new(namespaces);
    checker.current = ns_index;
    let mut buffer = Vec::new();
    for _ in 0..placement.entries {
        let line = lines.line + 1;
        let offset = lines.offset;
        if !lines.next(&mut buffer)? {
            return Err(changed(line));
        }
        let record = checker.check(&buffer, line, offset)?;
        if record.ns_index != ns_index {
            return Err(changed(line));
        }
        visit(record)?;
    }
    Ok(())
}

fn changed(line: u64) -> DumpError {
    invalid(line, "the dump changed after it was checked; import it from a copy that nothing writes to")
}

fn invalid(line: u64, reason: impl Into<String>) -> DumpError {
    DumpError::Invalid { line, reason: reason.into() }
}

/// A reader of lines that counts them and their bytes.
struct Lines<R> {
    inner: R,
    /// The number of the last line read.
    line: u64,
    /// Bytes read so far.
    offset: u64,
}

impl<R: BufRead> Lines<R> {
    /// Reads the next line, with its newline, into `buffer`; false at the end of the input.
    fn next(&mut self, buffer: &mut Vec<u8>) -> Result<bool, DumpError> {
        buffer.clear();
        let read = (&mut self.inner)
            .take(MAX_LINE_BYTES as u64)
            .read_until(b'\n', buffer)
            .map_err(DumpError::io("read the dump"))?;
        if read == 0 {
            return Ok(false);
        }
        self.line += 1;
        self.offset += read as u64;
        if buffer.last() != Some(&b'\n') {
            return Err(if read == MAX_LINE_BYTES {
                invalid(self.line, format!("the line is longer than {MAX_LINE_BYTES} bytes; no dump line is that long"))
            } else {
                invalid(self.line, "the dump ends inside this line, before its newline: it is truncated")
            });
        }
        Ok(true)
    }
}

/// `line` without its newline.
fn text(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

fn parse_header(line: &[u8]) -> Result<Header, DumpError> {
    let not_a_dump =
        || invalid(1, format!("this is not a Zero Storage dump: its first line does not name the format `{FORMAT}`"));
    let probe: HeaderProbe = serde_json::from_slice(text(line)).map_err(|_| not_a_dump())?;
    if probe.format.as_deref() != Some(FORMAT) {
        return Err(not_a_dump());
    }
    match probe.version {
        Some(VERSION) => {}
        Some(found) => return Err(DumpError::UnsupportedVersion { found }),
        None => return Err(invalid(1, "the header has no `version`")),
    }
    let header: Header =
        serde_json::from_slice(text(line)).map_err(|e| invalid(1, format!("the header is not valid: {e}")))?;
    let mut seen = std::collections::HashSet::new();
    for namespace in &header.namespaces {
        check_namespace(namespace).map_err(|e| invalid(1, format!("the header lists a bad namespace: {e}")))?;
        if !seen.insert(namespace.as_str()) {
            return Err(invalid(1, format!("the header lists namespace `{namespace}` twice")));
        }
    }
    Ok(header)
}

fn parse_trailer(line: &[u8], number: u64) -> Result<Trailer, DumpError> {
    match serde_json::from_slice::<Trailer>(text(line)) {
        Ok(trailer) if trailer.trailer => Ok(trailer),
        _ if serde_json::from_slice::<RecordIn<'_>>(text(line)).is_ok() => Err(invalid(
            number,
            "the dump is truncated after this line: it ends with a record, not with the trailer line that closes every dump",
        )),
        Ok(_) => Err(invalid(number, "the last line is not a trailer: its `trailer` is not true")),
        Err(e) => Err(invalid(number, format!("the last line is not a valid trailer (is the dump truncated?): {e}"))),
    }
}

fn check_trailer(
    trailer: &Trailer,
    header: &Header,
    checker: &RecordChecker<'_>,
    bytes: u64,
    line: u64,
    sha256: &str,
) -> Result<(), DumpError> {
    if trailer.entries != checker.records {
        return Err(invalid(
            line,
            format!(
                "the trailer counts {} records but the dump holds {}: records were lost or added",
                trailer.entries, checker.records
            ),
        ));
    }
    let names: Vec<&str> = trailer.namespaces.iter().map(|ns| ns.ns.as_str()).collect();
    if names != header.namespaces.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(invalid(line, "the trailer does not list the header's namespaces in the header's order"));
    }
    for (counted, placed) in trailer.namespaces.iter().zip(&checker.placements) {
        if (counted.entries, counted.usage_bytes) != (placed.entries, placed.usage_bytes) {
            return Err(invalid(
                line,
                format!(
                    "the trailer says `{}` has {} entries of {} bytes, but the dump holds {} of {} bytes",
                    counted.ns, counted.entries, counted.usage_bytes, placed.entries, placed.usage_bytes
                ),
            ));
        }
    }
    if trailer.bytes != bytes {
        return Err(invalid(
            line,
            format!("the trailer counts {} bytes before it, but there are {bytes}", trailer.bytes),
        ));
    }
    if trailer.sha256 != sha256 {
        return Err(invalid(
            line,
            format!(
                "the checksum does not match: the lines before the trailer hash to sha256 {sha256}, the trailer says {}; \
                 the dump was damaged or changed after it was written",
                trailer.sha256
            ),
        ));
    }
    Ok(())
}

/// Checks records one after another against the header and the limits.
struct RecordChecker<'h> {
    namespaces: &'h [String],
    index: HashMap<&'h str, usize>,
    /// The namespace whose records are being read.
    current: usize,
    /// The last key read in it, if `has_last`.
    last_key: String,
    has_last: bool,
    placements: Vec<Placement>,
    records: u64,
    value: Vec<u8>,
}

impl<'h> RecordChecker<'h> {
    fn new(namespaces: &'h [String]) -> Self {
        RecordChecker {
            namespaces,
            index: namespaces.iter().enumerate().map(|(i, ns)| (ns.as_str(), i)).collect(),
            current: 0,
            last_key: String::new(),
            has_last: false,
            placements: vec![Placement::default(); namespaces.len()],
            records: 0,
            value: Vec::new(),
        }
    }

    fn check<'l>(&'l mut self, line: &'l [u8], number: u64, offset: u64) -> Result<RecordRef<'l>, DumpError> {
        let record: RecordIn<'l> =
            serde_json::from_slice(text(line)).map_err(|e| invalid(number, format!("not a valid record: {e}")))?;
        let ns_index = *self.index.get(record.ns.as_ref()).ok_or_else(|| {
            invalid(number, format!("namespace `{}` is not listed in the header", record.ns.escape_debug()))
        })?;
        if ns_index < self.current {
            return Err(invalid(
                number,
                format!(
                    "a record of `{}` after records of `{}`: a dump holds each namespace's records together, \
                     in the header's order",
                    record.ns, self.namespaces[self.current]
                ),
            ));
        }
        if ns_index > self.current {
            self.current = ns_index;
            self.has_last = false;
        }
        let key = record.key.as_ref();
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(invalid(number, format!("the key is {} bytes long; keys are 1 to {MAX_KEY_BYTES}", key.len())));
        }
        if self.has_last && self.last_key.as_bytes() >= key.as_bytes() {
            return Err(invalid(
                number,
                format!(
                    "key `{}` is repeated or out of order (it follows `{}`): a namespace's keys are in strictly \
                     ascending byte order",
                    key.escape_debug(),
                    self.last_key.escape_debug()
                ),
            ));
        }
        if record.value.len() > MAX_VALUE_BASE64 {
            return Err(invalid(number, format!("the value is longer than {MAX_VALUE_BYTES} bytes")));
        }
        self.value.clear();
        BASE64
            .decode_vec(record.value.as_bytes(), &mut self.value)
            .map_err(|e| invalid(number, format!("the value is not valid base64 (standard, padded): {e}")))?;
        if self.value.len() > MAX_VALUE_BYTES {
            return Err(invalid(number, format!("the value is longer than {MAX_VALUE_BYTES} bytes")));
        }
        if record.expires_at_ms == Some(0) {
            return Err(invalid(number, "`expires_at_ms` is 0; an entry that never expires has no `expires_at_ms`"));
        }
        let placement = &mut self.placements[ns_index];
        if placement.entries == 0 {
            placement.lines.0 = number;
            placement.offset = offset;
        }
        placement.lines.1 = number;
        placement.entries += 1;
        placement.usage_bytes += (key.len() + self.value.len()) as u64;
        self.records += 1;
        self.last_key.clear();
        self.last_key.push_str(key);
        self.has_last = true;
        Ok(RecordRef { ns_index, key: &self.last_key, value: &self.value, expires_at_ms: record.expires_at_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"format":"zero-storage-dump","version":1,"exported_at_ms":1,"generator":"test","namespaces":["app:a","app:b"]}"#;
    const TRAILER: &str = r#"{"trailer":true,"entries":0,"bytes":0,"namespaces":[],"sha256":""}"#;

    /// Reads `lines` (a header, records, a trailer) and returns the keys it visited.
    fn read(lines: &[&str]) -> Result<Vec<String>, DumpError> {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let mut keys = Vec::new();
        read_dump(
            text.as_bytes(),
            |event| {
                if let Event::Record(record) = event {
                    keys.push(record.key.to_owned());
                }
                Ok(())
            },
            |_, _| {},
        )?;
        Ok(keys)
    }

    /// Checks that reading `records` between the header and a trailer fails at `line` with a
    /// reason containing `why`.
    fn refused(records: &[&str], line: u64, why: &str) {
        let mut lines = vec![HEADER];
        lines.extend_from_slice(records);
        lines.push(TRAILER);
        match read(&lines) {
            Err(DumpError::Invalid { line: at, reason }) => {
                assert_eq!(at, line, "{reason}");
                assert!(reason.contains(why), "{reason:?} does not say {why:?}");
            }
            other => panic!("expected a refusal at line {line}, got {other:?}"),
        }
    }

    fn record(ns: &str, key: &str, value: &str) -> String {
        format!(r#"{{"ns":"{ns}","key":"{key}","value":"{value}"}}"#)
    }

    #[test]
    fn what_the_writer_writes_the_reader_reads_back() {
        let mut out = Vec::new();
        let mut writer = DumpWriter::new(&mut out);
        let namespaces = vec!["app:a".to_owned(), "app:b".to_owned()];
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            exported_at_ms: 1,
            generator: "test".into(),
            namespaces: namespaces.clone(),
        };
        writer.header(&header).unwrap();
        writer.record("app:a", "line\nbreak \"quoted\"", &[0, 255, 10], Some(7)).unwrap();
        writer.record("app:a", "plain", b"", None).unwrap();
        writer.record("app:b", "é", &[1; 1000], None).unwrap();
        let counted = |ns: &str, entries, usage_bytes| TrailerNamespace { ns: ns.into(), entries, usage_bytes };
        let size = writer.trailer(3, vec![counted("app:a", 2, 27), counted("app:b", 1, 1002)]).unwrap();
        assert_eq!(size, out.len() as u64);
        let mut seen = Vec::new();
        let checked = read_dump(
            &out[..],
            |event| {
                if let Event::Record(r) = event {
                    seen.push((r.ns_index, r.key.to_owned(), r.value.to_vec(), r.expires_at_ms));
                }
                Ok(())
            },
            |_, _| {},
        )
        .unwrap();
        assert_eq!(seen[0], (0, "line\nbreak \"quoted\"".to_owned(), vec![0, 255, 10], Some(7)));
        assert_eq!(seen[2], (1, "é".to_owned(), vec![1; 1000], None));
        assert_eq!((checked.placements[1].lines, checked.placements[1].entries), ((4, 4), 1));
    }

    #[test]
    fn records_out_of_namespace_order_are_refused_at_their_line() {
        refused(&[&record("app:b", "k", ""), &record("app:a", "k", "")], 3, "in the header's order");
    }

    #[test]
    fn repeated_or_descending_keys_are_refused() {
        refused(&[&record("app:a", "b", ""), &record("app:a", "b", "")], 3, "repeated or out of order");
        refused(&[&record("app:a", "b", ""), &record("app:a", "a", "")], 3, "repeated or out of order");
        // The same key in another namespace is fine.
        let b = record("app:b", "b", "");
        assert!(matches!(
            read(&[HEADER, &record("app:a", "b", ""), &b, TRAILER]),
            Err(DumpError::Invalid { line: 4, .. })
        ));
    }

    #[test]
    fn a_namespace_not_in_the_header_is_refused() {
        refused(&[&record("app:c", "k", "")], 2, "not listed in the header");
    }

    #[test]
    fn unknown_fields_and_zero_expiry_are_refused() {
        refused(&[r#"{"ns":"app:a","key":"k","value":"","ttl":5}"#], 2, "unknown field");
        refused(&[r#"{"ns":"app:a","key":"k","value":"","expires_at_ms":0}"#], 2, "`expires_at_ms` is 0");
        refused(&[r#"{"ns":"app:a","key":"k"}"#], 2, "missing field");
    }

    #[test]
    fn invalid_or_unpadded_base64_is_refused() {
        refused(&[&record("app:a", "k", "aGVsbG8")], 2, "base64");
        refused(&[&record("app:a", "k", "aGVsbG9=")], 2, "base64");
        refused(&[&record("app:a", "k", "a b=")], 2, "base64");
    }

    #[test]
    fn empty_keys_keys_over_256_bytes_and_values_over_one_mebibyte_are_refused() {
        refused(&[&record("app:a", "", "")], 2, "keys are 1 to 256");
        refused(&[&record("app:a", &"k".repeat(257), "")], 2, "keys are 1 to 256");
        let too_large = BASE64.encode(vec![0; MAX_VALUE_BYTES + 1]);
        refused(&[&record("app:a", "k", &too_large)], 2, "longer than 1048576 bytes");
        let largest = BASE64.encode(vec![0; MAX_VALUE_BYTES]);
        refused(&[&record("app:a", &"k".repeat(256), &largest), &record("app:a", "", "")], 3, "keys are 1 to 256");
    }

    #[test]
    fn a_header_with_a_bad_or_repeated_namespace_is_refused() {
        let bad = HEADER.replace("\"app:b\"", "\"app:a:b\"");
        assert!(
            matches!(read(&[&bad, TRAILER]), Err(DumpError::Invalid { line: 1, reason }) if reason.contains("bad namespace"))
        );
        let twice = HEADER.replace("\"app:b\"", "\"app:a\"");
        assert!(
            matches!(read(&[&twice, TRAILER]), Err(DumpError::Invalid { line: 1, reason }) if reason.contains("twice"))
        );
    }

    #[test]
    fn a_trailer_that_miscounts_is_refused_at_its_line() {
        let records = [record("app:a", "k", "")];
        match read(&[HEADER, &records[0], TRAILER]) {
            Err(DumpError::Invalid { line: 3, reason }) => assert!(reason.contains("counts 0 records"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_without_its_newline_is_a_truncation() {
        let text = format!("{HEADER}\n{}", record("app:a", "k", ""));
        let result = read_dump(text.as_bytes(), |_| Ok(()), |_, _| {});
        assert!(matches!(result, Err(DumpError::Invalid { line: 2, reason }) if reason.contains("truncated")));
    }
}
