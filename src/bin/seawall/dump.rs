//! `seawall dump`: the valid records of a log, in LSN order, in four formats.

use std::io::{ErrorKind, Write};
use std::path::PathBuf;

use base64::Engine;
use seawall::{Lsn, Record, RecordKind, TailState};
use serde_json::json;

use crate::common::{self, Exit, Failure, Progress};

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

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    dir: PathBuf,
    /// First LSN to print (default: the log's first).
    #[arg(long)]
    from: Option<u64>,
    /// Last LSN to print (default: the log's last).
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
}

impl Args {
    pub fn is_json(&self) -> bool {
        self.json || self.format == Format::Json
    }
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    let reader = common::open_reader(&args.dir)?;
    let insp = reader.inspection();
    let (first, last) = (insp.first_lsn.get(), insp.last_lsn.get());
    let from = args.from.unwrap_or(first);
    let to = args.to.unwrap_or(last);
    if from < first || from > last + 1 {
        return Err(Failure::bad_args(format!("--from {from} is outside the log (LSN {first}..={last})")));
    }
    if to > last || to + 1 < from {
        return Err(Failure::bad_args(format!("--to {to} is outside LSN {from}..={last}")));
    }
    if common::writer_state(&args.dir) == common::Writer::Active {
        eprintln!("seawall: note: {}", common::Writer::Active.note());
    }
    match &insp.tail {
        TailState::Clean => {}
        TailState::Torn { last_lsn, .. } => {
            eprintln!("seawall: note: the log ends in a torn tail after LSN {last_lsn}; dumping the valid records")
        }
        TailState::Corrupt { lsn, .. } => {
            eprintln!("seawall: note: the log is corrupt at LSN {lsn}; dumping the valid records before it")
        }
    }
    let count = (to + 1 - from).min(args.limit.unwrap_or(u64::MAX));
    let format = if args.json { Format::Json } else { args.format };
    let iter = reader.iter_from(Lsn::new(from))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut progress = Progress::new(count, "dumping");
    let result = (|| -> Result<(), Failure> {
        if format == Format::Text {
            let header = format!(
                "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {:<8}  PAYLOAD",
                "LSN", "LENGTH", "BATCH", "SEGMENT", "OFFSET", "CHECKSUM"
            );
            output(writeln!(out, "{header}"))?;
        }
        for rec in iter.take(count as usize) {
            output(print_record(&mut out, &rec?, format))?;
            progress.inc(1);
        }
        output(out.flush())
    })();
    progress.finish();
    match result {
        Ok(()) => Ok(Exit::Ok),
        Err(f) if f.exit == Exit::Ok => Ok(Exit::Ok),
        Err(f) => Err(f),
    }
}

/// Maps an output error to a failure; a reader that stops early (`| head`)
/// ends the dump quietly with status 0.
fn output(r: std::io::Result<()>) -> Result<(), Failure> {
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(Failure::new(Exit::Ok, "output closed")),
        Err(e) => Err(e.into()),
    }
}

fn batch_name(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Full => "none",
        RecordKind::BatchFirst => "first",
        RecordKind::BatchMiddle => "middle",
        RecordKind::BatchLast => "last",
    }
}

fn print_record(out: &mut impl Write, rec: &Record, format: Format) -> std::io::Result<()> {
    let payload = rec.payload().as_ref();
    match format {
        Format::Text => writeln!(
            out,
            "{:>10}  {:>8}  {:<6}  {:<20}  {:>10}  {:08x}  {}",
            rec.lsn().get(),
            payload.len(),
            batch_name(rec.kind()),
            rec.segment().file_name(),
            rec.offset(),
            rec.checksum(),
            preview(payload, 48)
        ),
        Format::Json => {
            let (encoding, text) = match std::str::from_utf8(payload) {
                Ok(s) => ("utf8", s.to_string()),
                Err(_) => ("base64", base64::engine::general_purpose::STANDARD.encode(payload)),
            };
            let doc = json!({
                "lsn": rec.lsn().get(),
                "length": payload.len(),
                "checksum": rec.checksum(),
                "segment": rec.segment().file_name(),
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
                "LSN {}  length {}  batch {}  segment {}  offset {}  checksum {:08x}",
                rec.lsn(),
                payload.len(),
                batch_name(rec.kind()),
                rec.segment().file_name(),
                rec.offset(),
                rec.checksum()
            )?;
            hexdump(out, payload)
        }
        Format::Raw => {
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            out.write_all(&len.to_le_bytes())?;
            out.write_all(payload)
        }
    }
}

/// The payload as printable text: valid UTF-8 with control characters
/// escaped, otherwise hex; cut to `max` characters.
fn preview(payload: &[u8], max: usize) -> String {
    let s = match std::str::from_utf8(payload) {
        Ok(s) => s.escape_debug().to_string(),
        Err(_) => format!("0x{}", payload.iter().take(max).map(|b| format!("{b:02x}")).collect::<String>()),
    };
    if s.chars().count() > max {
        format!("{}...", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}

fn hexdump(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String =
            chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
        writeln!(out, "  {:08x}  {:<47}  |{ascii}|", i * 16, hex.join(" "))?;
    }
    Ok(())
}
