//! `seawall dump`: the valid records of a log, in LSN order, in four formats;
//! with `--past-damage` also the records after the damage (`found.rs`), of a
//! single file (`found.rs` too), or as a writer appends them (`follow.rs`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use seawall::forensic::FoundRecord;
use seawall::{Bytes, Lsn, Reader, Record, RecordKind, SegmentId, TailState};
use serde_json::json;

use crate::common::{self, Exit, Failure, Progress, Writer};
use crate::{follow, found};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per record with a payload preview.
    Text,
    /// JSON Lines: one object per record (lsn, length, checksum, segment,
    /// offset, batch, payload_encoding, payload).
    Json,
    /// A header line per record, then a hex dump of its payload.
    Hex,
    /// Payloads only, each preceded by its length as a 4-byte little-endian
    /// integer, for piping into other programs.
    Raw,
}

pub const AFTER_HELP: &str = "\
PATH is a log directory, or one segment file (NAME.wal) or quarantine file
(NAME.OFFSET.quarantine, NAME.quarantine) read on its own: then every record
the file holds is listed, past any damage, by the rules below (a quarantine
file is a copy of its segment's header with the cut bytes at their own
offsets; the salt comes from the header, or from a damaged header's salt
field or a sealed segment's trailer). Such records are not a recovered log.

--past-damage: where the recovered log ends at corruption (or a torn tail
with records after it), also prints, after the log's records, every record
past that point that validates on its own (both checksums under its
segment's salt, at an 8-aligned offset): in the damaged segment from the
damage on, then in every later segment file, file by file, in LSN order.
They are NOT part of the recovered log: text shows them under `#` lines
naming the file and with a CHAIN column, JSON marks every record with
`in_log` (false for them) and `chained`. The scan reads every segment in
full (sealed ones too). Left out, and counted in each file's `#` line:
  - records a cut removed: in a cut marker's dead bytes, or before a marker
    with an LSN after its cut, or followed later in the same file by a
    record with the same or a lower LSN (a file is written in LSN order, so
    that is a cut whose marker is lost); cleared dead bytes hold nothing;
  - records a later segment supersedes: LSNs at or after the first LSN of a
    later segment with a valid header (a cut across segments, a recovery
    copy), or every record before a later segment flagged reset.
Meta, seal, pad and parity records are not printed (with --meta, the
metadata their meta records set is). CHAIN says whether a record names the
checksum of the record before it (LSN - 1) in the same file, or the header's
chain seed: a chained run is exactly what the writer wrote, without gaps.
--from and --to select among them by LSN too.

--follow: prints the records, then keeps printing new ones as a writer in
another process appends them (like `tail -f`): read-only, no lock, polling
every --interval milliseconds; a torn tail is taken for a write in flight.
A cut or purge under it is noted on stderr, and it goes on from the new
end. It stops at --to or after --limit records (status 0), or when the log
turns out corrupt (status 2); otherwise it runs until interrupted.

Exit status (the records are printed in every case):
  0  the log is clean: every record was available (a file read on its own:
     it was read)
  1  the log ends in a torn tail, which a normal open drops (on a log that
     a process has open, possibly a write in flight)
  2  the log is corrupt: the valid records after the damage are not part of
     the log (--past-damage prints them)
  3  not a seawall log or segment file, or a file could not be read
  5  bad arguments (--from outside the log, --to before --from, an option
     that does not apply)
  6  writing the output failed (a closed pipe is not a failure: status 0)
With --json or --format json, a non-zero status ends the output with an
object {\"status\", \"error\", \"exit_status\"} in place of a record.";

/// Payload bytes a text line shows when `--max-payload` is not given.
const TEXT_PREVIEW_BYTES: usize = 48;

#[derive(clap::Args)]
pub struct Args {
    /// The log directory, or a single segment or quarantine file.
    #[arg(value_name = "PATH")]
    pub dir: PathBuf,
    /// First LSN to print (default: the log's first).
    #[arg(long)]
    pub from: Option<u64>,
    /// Last LSN to print (default, and at most: the log's last).
    #[arg(long)]
    pub to: Option<u64>,
    /// Print at most this many records.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Same as `--format json` (JSON Lines, one object per record).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Show at most this many bytes of each payload: for `text` (default 48)
    /// and `hex` (default: all). `json` and `raw` always carry whole payloads.
    #[arg(long, value_name = "BYTES")]
    max_payload: Option<usize>,
    /// Also print the valid records past mid-log damage, marked as not part
    /// of the recovered log (see below).
    #[arg(long)]
    pub past_damage: bool,
    /// Print the metadata and the purge point before the records (text: `#`
    /// lines; JSON: a first object `{"metadata": ...}`).
    #[arg(long)]
    pub meta: bool,
    /// Keep printing records as a writer appends them (see below).
    #[arg(long, conflicts_with = "past_damage")]
    pub follow: bool,
    /// How often --follow looks for new records, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500, requires = "follow",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub interval: u64,
}

impl Args {
    pub fn is_json(&self) -> bool {
        self.json || self.format == Format::Json
    }
}

/// Dumps the requested records, then reports the log's end in the exit
/// status, as `verify` does: 0 clean, 1 torn tail (every record a normal
/// open keeps was available), 2 corrupt (valid records after the damage
/// are not part of the log). The records are printed in every case.
pub fn run(args: Args) -> Result<Exit, Failure> {
    let format = if args.json { Format::Json } else { args.format };
    let max_payload = match (format, args.max_payload) {
        (Format::Json | Format::Raw, Some(_)) => {
            return Err(Failure::bad_args("--max-payload applies to --format text and hex only"))
        }
        (Format::Text, None) => TEXT_PREVIEW_BYTES,
        (_, max) => max.unwrap_or(usize::MAX),
    };
    if format == Format::Raw && (args.past_damage || args.meta) {
        let what = if args.meta { "--meta" } else { "--past-damage" };
        return Err(Failure::bad_args(format!(
            "{what} needs a format that can mark it (text, json or hex); raw output is payloads only"
        )));
    }
    let mut printer = Printer { format, max_payload, segment: None, mark: args.past_damage };
    if args.dir.is_file() {
        if args.past_damage || args.follow {
            return Err(Failure::bad_args(
                "--past-damage and --follow apply to a log directory; a file is always read past its damage",
            ));
        }
        return found::dump_file(&args, &mut printer);
    }
    if args.follow {
        return follow::run(&args, &mut printer);
    }
    // The past-damage scan reads every segment: damage inside a sealed one
    // that open trusts through its trailer is found only by reading it.
    let reader = if args.past_damage {
        common::with_spinner("scanning segments", || Reader::verify(&args.dir)).map_err(Failure::from)?
    } else {
        common::open_reader(&args.dir)?
    };
    let insp = reader.inspection();
    let (first, last) = (insp.first_lsn.get(), insp.last_lsn.get());
    let from = args.from.unwrap_or(first);
    if from < first || (from > last + 1 && !args.past_damage) {
        let hint = if from > last + 1 && insp.tail != TailState::Clean {
            "; `--past-damage` prints the records after the damage"
        } else {
            ""
        };
        return Err(Failure::bad_args(format!("--from {from} is outside the log (LSN {first}..={last}){hint}")));
    }
    // A `--to` past the end stops at the end: the log may grow while the
    // caller decides what to ask for.
    let to = args.to.map_or(last, |to| to.min(last));
    if let Some(t) = args.to.filter(|&t| t < from) {
        return Err(Failure::bad_args(format!("--to {t} is before --from {from}")));
    }
    let writer = common::writer_state(&args.dir);
    if writer == Writer::Active {
        eprintln!("seawall: note: {}", writer.note());
    }
    let in_log = if from <= to { to + 1 - from } else { 0 };
    let limit = args.limit.unwrap_or(u64::MAX);
    let count = in_log.min(limit);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut progress = Progress::beside_output(count, "dumping");
    let mut past = found::Tally::default();
    let result = (|| -> Result<(), Failure> {
        if args.meta {
            printer.metadata(&mut out, &reader.metas(), reader.purge_point())?;
        }
        printer.table_header(&mut out, false)?;
        if count > 0 {
            for rec in reader.iter_from(Lsn::new(from))?.take(count as usize) {
                printer.print(&mut out, &rec?, None)?;
                progress.inc(1);
            }
        }
        if args.past_damage {
            let wanted = found::Wanted { from, to: args.to.unwrap_or(u64::MAX), left: limit - count, meta: args.meta };
            past = found::dump_past_damage(&reader, &mut out, &mut printer, wanted)?;
        }
        Ok(out.flush()?)
    })();
    progress.finish();
    result?;
    tail_status(&insp.tail, writer, args.past_damage.then_some(past))
}

/// The exit status for how the log ends, with the sentence that says so.
/// `past` is what `--past-damage` printed, when it was given.
pub fn tail_status(tail: &TailState, writer: Writer, past: Option<found::Tally>) -> Result<Exit, Failure> {
    let printed = |past: Option<found::Tally>| match past {
        Some(t) => format!(
            "; printed {} found after it, which are not part of the recovered log",
            common::count(t.records, "record")
        ),
        None => String::new(),
    };
    match tail {
        TailState::Clean => Ok(Exit::Ok),
        TailState::Torn { segment, offset, bytes, last_lsn } => {
            let live =
                if writer == Writer::Active { "; a process has the log open: it may be a write in flight" } else { "" };
            Err(Failure::new(
                Exit::TornTail,
                format!(
                    "the log ends in a torn tail after LSN {last_lsn}: {bytes} bytes at offset {offset} of segment \
                     {segment} that a normal open drops{live}{}",
                    printed(past)
                ),
            ))
        }
        TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => {
            let after = match past {
                Some(_) => printed(past),
                None => format!(
                    "; the {} after it are not part of the log (`--past-damage` prints them)",
                    common::count(*valid_records_after, "valid record")
                ),
            };
            Err(Failure::new(
                Exit::Corruption,
                format!("the log is corrupt at LSN {lsn} (segment {segment} at offset {offset}: {reason}){after}"),
            ))
        }
    }
}

fn batch_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Full => "none",
        RecordKind::BatchFirst => "first",
        RecordKind::BatchMiddle => "middle",
        RecordKind::BatchLast => "last",
        _ => "log",
    }
}

/// Prints records in one format.
pub struct Printer {
    format: Format,
    /// Payload bytes shown in `text` and `hex` output.
    max_payload: usize,
    /// The current segment's file name, formatted once per segment rather
    /// than once per record.
    segment: Option<(SegmentId, String)>,
    /// Records of the log and records found outside it share the output
    /// (`--past-damage`): JSON marks each with `in_log`.
    mark: bool,
}

impl Printer {
    fn segment_name(&mut self, id: SegmentId) -> &str {
        if self.segment.as_ref().is_none_or(|(cached, _)| *cached != id) {
            self.segment = Some((id, id.file_name()));
        }
        self.segment.as_ref().map_or("", |(_, name)| name)
    }

    /// The column names of the text format; records found outside the log
    /// (`found`) have a CHAIN column.
    pub fn table_header(&self, out: &mut impl Write, found: bool) -> std::io::Result<()> {
        if self.format != Format::Text {
            return Ok(());
        }
        let chain = if found { "CHAIN  " } else { "" };
        writeln!(
            out,
            "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {:<8}  {chain}PAYLOAD",
            "LSN", "LENGTH", "BATCH", "SEGMENT", "OFFSET", "CHECKSUM"
        )
    }

    /// A line of text output that is not a record (`#` first), for the text
    /// and hex formats; JSON and raw carry no such lines.
    pub fn note(&self, out: &mut impl Write, line: &str) -> std::io::Result<()> {
        match self.format {
            Format::Text | Format::Hex => writeln!(out, "# {line}"),
            Format::Json | Format::Raw => Ok(()),
        }
    }

    /// The metadata and the purge point: `#` lines, or one JSON object.
    pub fn metadata(
        &self,
        out: &mut impl Write,
        metas: &BTreeMap<Bytes, Bytes>,
        purge_point: Option<Lsn>,
    ) -> std::io::Result<()> {
        if self.format == Format::Json {
            let doc = json!({ "metadata": common::meta_json(metas), "purge_point": purge_point.map(Lsn::get) });
            return writeln!(out, "{doc}");
        }
        let purge = purge_point.map_or("none set".to_string(), |p| format!("LSN {p}"));
        let entries = if metas.len() == 1 { "1 entry".to_string() } else { format!("{} entries", metas.len()) };
        self.note(out, &format!("metadata: {entries}; purge point: {purge}"))?;
        for line in common::meta_lines(metas) {
            self.note(out, &format!("  {line}"))?;
        }
        Ok(())
    }

    /// Prints one record; `found` is `Some(chained)` for a record found
    /// outside the log.
    pub fn print(&mut self, out: &mut impl Write, rec: &Record, found: Option<bool>) -> std::io::Result<()> {
        let payload = rec.payload().as_ref();
        let format = self.format;
        let max_payload = self.max_payload;
        let mark = self.mark || found.is_some();
        let segment = self.segment_name(rec.segment());
        let chain = found.map_or(String::new(), |c| format!("{:<5}  ", if c { "yes" } else { "no" }));
        match format {
            Format::Text => writeln!(
                out,
                "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {}  {chain}{}",
                rec.lsn().get(),
                payload.len(),
                batch_name(rec.kind()),
                segment,
                rec.offset(),
                checksum(rec),
                preview(payload, max_payload)
            ),
            Format::Json => {
                let (encoding, text) = match std::str::from_utf8(payload) {
                    Ok(s) => ("utf8", s.to_string()),
                    Err(_) => ("base64", base64::engine::general_purpose::STANDARD.encode(payload)),
                };
                let mut doc = json!({
                    "lsn": rec.lsn().get(),
                    "length": payload.len(),
                    "checksum": checksum(rec),
                    "segment": segment,
                    "offset": rec.offset(),
                    "batch": batch_name(rec.kind()),
                    "payload_encoding": encoding,
                    "payload": text,
                });
                if mark {
                    doc["in_log"] = json!(found.is_none());
                }
                if let Some(chained) = found {
                    doc["chained"] = json!(chained);
                }
                writeln!(out, "{doc}")
            }
            Format::Hex => {
                let outside = match found {
                    Some(c) => format!("  chained {}  (not in the recovered log)", if c { "yes" } else { "no" }),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "LSN {}  length {}  batch {}  segment {}  offset {}  checksum {}{outside}",
                    rec.lsn(),
                    payload.len(),
                    batch_name(rec.kind()),
                    segment,
                    rec.offset(),
                    checksum(rec)
                )?;
                let shown = &payload[..payload.len().min(max_payload)];
                hexdump(out, shown)?;
                match payload.len() - shown.len() {
                    0 => Ok(()),
                    more => writeln!(out, "  ... {}", common::count(more as u64, "more byte")),
                }
            }
            Format::Raw => {
                let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                out.write_all(&len.to_le_bytes())?;
                out.write_all(payload)
            }
        }
    }

    /// Prints a record found outside the log.
    pub fn print_found(&mut self, out: &mut impl Write, f: &FoundRecord) -> std::io::Result<()> {
        self.print(out, &f.record, Some(f.chained))
    }
}

/// A record's checksum as every format prints it: 8 lower-case hex digits.
fn checksum(rec: &Record) -> String {
    format!("{:08x}", rec.checksum())
}

/// At most `max` bytes of the payload as printable text: UTF-8 with control
/// characters escaped, otherwise `0x` and hex; `...` marks a cut.
pub fn preview(payload: &[u8], max: usize) -> String {
    let shown = &payload[..payload.len().min(max)];
    let cut = shown.len() < payload.len();
    let text = match std::str::from_utf8(shown) {
        Ok(s) => Some(s),
        // The cut split a character: show the text before it.
        Err(e) if cut && e.error_len().is_none() => std::str::from_utf8(&shown[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let mut s = match text {
        Some(t) => t.escape_debug().to_string(),
        None => {
            let mut hex = String::with_capacity(2 + 2 * shown.len());
            hex.push_str("0x");
            for &b in shown {
                hex.push(HEX[usize::from(b >> 4)] as char);
                hex.push(HEX[usize::from(b & 15)] as char);
            }
            hex
        }
    };
    if cut {
        s.push_str("...");
    }
    s
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes in one hex dump line: `  `, 8 offset digits, `  `, 16 columns of
/// two digits with a space between them (47), `  |`, 16 characters, `|\n`.
const HEX_LINE: usize = 2 + 8 + 2 + 47 + 3 + 16 + 2;

/// Lines of 16 bytes: offset, hex, and the bytes as ASCII, as in
/// `  00000010  72 65 63 6f ... |record 1 x|`. Each line is filled in a
/// fixed buffer by table lookups and written in one call: formatting each
/// byte with `format!` made `--format hex` run at a seventh of this speed.
fn hexdump(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    let mut line = [b' '; HEX_LINE];
    line[HEX_LINE - 19] = b'|';
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let offset = i * 16;
        if offset > u32::MAX as usize {
            // Past 4 GiB the offset needs more than 8 digits; records that
            // large are beyond any segment size, but stay correct.
            let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String = chunk.iter().map(|&b| printable(b) as char).collect();
            writeln!(out, "  {offset:08x}  {:<47}  |{ascii}|", hex.join(" "))?;
            continue;
        }
        for d in 0..8 {
            line[2 + d] = HEX[(offset >> (28 - 4 * d)) & 15];
        }
        for col in 0..16 {
            let at = 12 + 3 * col;
            let (hi, lo) = match chunk.get(col) {
                Some(&b) => (HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]),
                None => (b' ', b' '),
            };
            line[at] = hi;
            line[at + 1] = lo;
        }
        // The ASCII column ends right after the last byte of a short line.
        let ascii = HEX_LINE - 18;
        for (j, &b) in chunk.iter().enumerate() {
            line[ascii + j] = printable(b);
        }
        let end = ascii + chunk.len();
        line[end] = b'|';
        line[end + 1] = b'\n';
        out.write_all(&line[..end + 2])?;
    }
    Ok(())
}

fn printable(b: u8) -> u8 {
    if b.is_ascii_graphic() || b == b' ' {
        b
    } else {
        b'.'
    }
}
