//! What lies outside the recovered log, for `dump`: the records after the
//! damage (`--past-damage`) and the records of one file read on its own,
//! both from the library's `seawall::forensic`.

use std::io::Write;

use seawall::forensic::{FoundFile, SaltSource};
use seawall::Reader;

use crate::common::{self, Exit, Failure};
use crate::dump::{Args, Printer};

/// Which found records to print.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    /// LSN range.
    pub from: u64,
    pub to: u64,
    /// Records still to print (`--limit`).
    pub left: u64,
    /// Print the metadata each file's meta records set.
    pub meta: bool,
}

/// What was printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub records: u64,
}

/// Prints the records past the damage, file by file, under `#` lines.
pub fn dump_past_damage(
    reader: &Reader,
    out: &mut impl Write,
    printer: &mut Printer,
    mut wanted: Wanted,
) -> Result<Tally, Failure> {
    let mut tally = Tally::default();
    let files = reader.past_damage();
    if files.files() == 0 {
        return Ok(tally);
    }
    printer.note(
        out,
        "past the damage: the records below are NOT part of the recovered log; each validates on its own \
         (which ones: `seawall dump --help`)",
    )?;
    for (i, file) in files.enumerate() {
        if wanted.left == 0 {
            break;
        }
        let file = file?;
        let name =
            file.path.file_name().map_or_else(|| file.path.display().to_string(), |n| n.to_string_lossy().into());
        let at = if i == 0 { " (the damage)" } else { "" };
        printer.note(out, &format!("{name} from offset {}{at}: {}", file.from_offset, summary(&file)))?;
        print_records(out, printer, &file, &mut wanted, &mut tally)?;
    }
    Ok(tally)
}

/// `dump FILE`: the records one segment or quarantine file holds.
pub fn dump_file(args: &Args, printer: &mut Printer) -> Result<Exit, Failure> {
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if to < from {
            return Err(Failure::bad_args(format!("--to {to} is before --from {from}")));
        }
    }
    let file = seawall::forensic::read_file(&args.dir)?;
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let header = match (&file.header, file.salt) {
        (Some(h), _) => {
            let flags = [(h.reset, ", flagged reset"), (h.copy, ", flagged copy")];
            let flags: String = flags.iter().filter(|(on, _)| *on).map(|(_, s)| *s).collect();
            format!("first LSN {}, salt {:#018x}{flags}", h.first_lsn, h.salt)
        }
        (None, _) => "its header is damaged".to_string(),
    };
    printer.note(
        &mut out,
        &format!(
            "file {}: segment {}, {header}; the records it holds, read on their own: not a recovered log",
            args.dir.display(),
            file.segment
        ),
    )?;
    if args.meta {
        printer.metadata(&mut out, &file.metas, file.purge_point)?;
        if !file.meta_snapshot {
            printer.note(&mut out, "  (no snapshot in the file: these are updates only, not the whole metadata)")?;
        }
    }
    printer.note(&mut out, &format!("from offset {}: {}", file.from_offset, summary(&file)))?;
    let mut wanted = Wanted {
        from: args.from.unwrap_or(0),
        to: args.to.unwrap_or(u64::MAX),
        left: args.limit.unwrap_or(u64::MAX),
        meta: false,
    };
    print_records(&mut out, printer, &file, &mut wanted, &mut Tally::default())?;
    out.flush()?;
    Ok(Exit::Ok)
}

/// One line on what a file holds and what the rules left out.
fn summary(file: &FoundFile) -> String {
    let mut s = match (file.records.first(), file.records.last()) {
        (Some(a), Some(b)) => format!(
            "{}, LSN {}..={}",
            common::count(file.records.len() as u64, "record"),
            a.record.lsn(),
            b.record.lsn()
        ),
        _ => "no records".to_string(),
    };
    let chained = file.records.iter().filter(|r| r.chained).count() as u64;
    if !file.records.is_empty() {
        s.push_str(&format!(" ({chained} chained)"));
    }
    s.push_str(&format!("; left out: {} cut, {} superseded", file.cut, file.superseded));
    if let Some(l) = file.superseded_after.filter(|_| file.superseded > 0) {
        s.push_str(&format!(" (a later segment supersedes every LSN after {l})"));
    }
    match file.salt {
        Some(SaltSource::DamagedHeader) => s.push_str("; salt taken from the damaged header"),
        Some(SaltSource::Trailer) => s.push_str("; salt taken from the trailer (the header is damaged)"),
        None if file.header.is_none() => {
            s.push_str("; its header is blank or damaged and no salt it names validates a record")
        }
        _ => {}
    }
    if file.gave_up {
        s.push_str("; the search gave up early: later records may be missing");
    }
    s
}

/// Prints a file's records that `wanted` selects, with the metadata its
/// meta records set first if asked.
fn print_records(
    out: &mut impl Write,
    printer: &mut Printer,
    file: &FoundFile,
    wanted: &mut Wanted,
    tally: &mut Tally,
) -> Result<(), Failure> {
    if wanted.meta && !file.metas.is_empty() {
        printer.note(out, "  metadata its meta records set:")?;
        for line in common::meta_lines(&file.metas) {
            printer.note(out, &format!("    {line}"))?;
        }
    }
    let selected = file.records.iter().filter(|r| (wanted.from..=wanted.to).contains(&r.record.lsn().get()));
    let mut header = false;
    for r in selected {
        if wanted.left == 0 {
            break;
        }
        if !header {
            printer.table_header(out, true)?;
            header = true;
        }
        printer.print_found(out, r)?;
        wanted.left -= 1;
        tally.records += 1;
    }
    Ok(())
}
