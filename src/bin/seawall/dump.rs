//! `seawall dump`: the valid records of a log, in LSN order, in four formats.

use std::io::Write;
use std::path::PathBuf;

use base64::Engine;
use seawall::{Lsn, Record, RecordKind, SegmentId, TailState};
use serde_json::json;

use crate::common::{self, Exit, Failure, Progress, Writer};

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

pub const EXIT_CODES: &str = "\
Exit status (the records are printed in every case):
  0  the log is clean: every record was available
  1  the log ends in a torn tail, which a normal open drops (on a log that
     a process has open, possibly a write in flight)
  2  the log is corrupt: the valid records after the damage cannot be dumped
  3  not a seawall log, or a file could not be read
  5  bad arguments (--from outside the log, --to before --from)
  6  writing the output failed (a closed pipe is not a failure: status 0)
With --json or --format json, a non-zero status ends the output with an
object {\"status\", \"error\", \"exit_status\"} in place of a record.";

/// Payload bytes a text line shows when `--max-payload` is not given.
const TEXT_PREVIEW_BYTES: usize = 48;

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    dir: PathBuf,
    /// First LSN to print (default: the log's first).
    #[arg(long)]
    from: Option<u64>,
    /// Last LSN to print (default, and at most: the log's last).
    #[arg(long)]
    to: Option<u64>,
    /// Print at most this many records.
    #[arg(long)]
    limit: Option<u64>,
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
}

impl Args {
    pub fn is_json(&self) -> bool {
        self.json || self.format == Format::Json
    }
}

/// Dumps the requested records, then reports the log's end in the exit
/// status, as `verify` does: 0 clean, 1 torn tail (every record a normal
/// open keeps was available), 2 corrupt (valid records after the damage
/// could not be reached). The records are printed in every case.
pub fn run(args: Args) -> Result<Exit, Failure> {
    let format = if args.json { Format::Json } else { args.format };
    let max_payload = match (format, args.max_payload) {
        (Format::Json | Format::Raw, Some(_)) => {
            return Err(Failure::bad_args("--max-payload applies to --format text and hex only"))
        }
        (Format::Text, None) => TEXT_PREVIEW_BYTES,
        (_, max) => max.unwrap_or(usize::MAX),
    };
    let reader = common::open_reader(&args.dir)?;
    let insp = reader.inspection();
    let (first, last) = (insp.first_lsn.get(), insp.last_lsn.get());
    let from = args.from.unwrap_or(first);
    if from < first || from > last + 1 {
        return Err(Failure::bad_args(format!("--from {from} is outside the log (LSN {first}..={last})")));
    }
    // A `--to` past the end stops at the end: the log may grow while the
    // caller decides what to ask for.
    let to = args.to.map_or(last, |to| to.min(last));
    if to + 1 < from {
        return Err(Failure::bad_args(format!("--to {} is before --from {from}", args.to.unwrap_or(to))));
    }
    let writer = common::writer_state(&args.dir);
    if writer == Writer::Active {
        eprintln!("seawall: note: {}", writer.note());
    }
    let count = (to + 1 - from).min(args.limit.unwrap_or(u64::MAX));
    let iter = reader.iter_from(Lsn::new(from))?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut printer = Printer { format, max_payload, segment: None };
    let mut progress = Progress::beside_output(count, "dumping");
    let result = (|| -> Result<(), Failure> {
        if format == Format::Text {
            let header = format!(
                "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {:<8}  PAYLOAD",
                "LSN", "LENGTH", "BATCH", "SEGMENT", "OFFSET", "CHECKSUM"
            );
            writeln!(out, "{header}")?;
        }
        for rec in iter.take(count as usize) {
            printer.print(&mut out, &rec?)?;
            progress.inc(1);
        }
        Ok(out.flush()?)
    })();
    progress.finish();
    result?;
    match &insp.tail {
        TailState::Clean => Ok(Exit::Ok),
        TailState::Torn { segment, offset, bytes, last_lsn } => {
            let live =
                if writer == Writer::Active { "; a process has the log open: it may be a write in flight" } else { "" };
            Err(Failure::new(
                Exit::TornTail,
                format!(
                    "the log ends in a torn tail after LSN {last_lsn}: {bytes} bytes at offset {offset} of segment \
                     {segment} that a normal open drops{live}"
                ),
            ))
        }
        TailState::Corrupt { segment, offset, lsn, reason, valid_records_after } => Err(Failure::new(
            Exit::Corruption,
            format!(
                "the log is corrupt at LSN {lsn} (segment {segment} at offset {offset}: {reason}); \
                 the {} after it cannot be dumped",
                common::count(*valid_records_after, "valid record")
            ),
        )),
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
struct Printer {
    format: Format,
    /// Payload bytes shown in `text` and `hex` output.
    max_payload: usize,
    /// The current segment's file name, formatted once per segment rather
    /// than once per record.
    segment: Option<(SegmentId, String)>,
}

impl Printer {
    fn segment_name(&mut self, id: SegmentId) -> &str {
        if self.segment.as_ref().is_none_or(|(cached, _)| *cached != id) {
            self.segment = Some((id, id.file_name()));
        }
        self.segment.as_ref().map_or("", |(_, name)| name)
    }

    fn print(&mut self, out: &mut impl Write, rec: &Record) -> std::io::Result<()> {
        let payload = rec.payload().as_ref();
        let format = self.format;
        let max_payload = self.max_payload;
        let segment = self.segment_name(rec.segment());
        match format {
            Format::Text => writeln!(
                out,
                "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {}  {}",
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
                let doc = json!({
                    "lsn": rec.lsn().get(),
                    "length": payload.len(),
                    "checksum": checksum(rec),
                    "segment": segment,
                    "offset": rec.offset(),
                    "batch": batch_name(rec.kind()),
                    "payload_encoding": encoding,
                    "payload": text,
                });
                writeln!(out, "{doc}")
            }
            Format::Hex => {
                writeln!(
                    out,
                    "LSN {}  length {}  batch {}  segment {}  offset {}  checksum {}",
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
}

/// A record's checksum as every format prints it: 8 lower-case hex digits.
fn checksum(rec: &Record) -> String {
    format!("{:08x}", rec.checksum())
}

/// At most `max` bytes of the payload as printable text: UTF-8 with control
/// characters escaped, otherwise `0x` and hex; `...` marks a cut.
fn preview(payload: &[u8], max: usize) -> String {
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
