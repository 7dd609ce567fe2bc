//! `seawall dump --follow`: prints records as a writer in another process
//! appends them, like `tail -f`. Read-only and lock-free: every poll opens a
//! fresh `Reader` (the library's offline view, which takes no lock), prints
//! what is new, and sleeps.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use seawall::{Error, Lsn, Reader, TailState};

use crate::common::{Exit, Failure, Writer};
use crate::dump::{tail_status, Args, Printer};

/// Consecutive polls whose scan fails to read a file before following
/// gives up: a segment removed between listing and reading (a purge, a cut)
/// fails one scan, not the next.
const MAX_READ_FAILURES: u32 = 10;

/// Printed records remembered to find where a cut under the follower cut.
const REMEMBERED: usize = 4096;

/// Where the follower is.
struct Position {
    /// Next LSN to print (`None`: the log's first, once known).
    next: Option<u64>,
    /// The last records printed (at most `REMEMBERED`): LSN and checksum,
    /// to notice a cut under us and find where it cut.
    printed: VecDeque<(u64, u32)>,
    /// Records still to print (`--limit`).
    left: u64,
}

pub fn run(args: &Args, printer: &mut Printer) -> Result<Exit, Failure> {
    let to = args.to.unwrap_or(u64::MAX);
    if let Some(from) = args.from.filter(|&f| f > to) {
        return Err(Failure::bad_args(format!("--to {to} is before --from {from}")));
    }
    let interval = Duration::from_millis(args.interval);
    let mut pos = Position { next: args.from, printed: VecDeque::new(), left: args.limit.unwrap_or(u64::MAX) };
    let mut out = std::io::stdout().lock();
    let mut failures = 0;
    let mut corrupt_seen = false;
    let mut first_poll = true;
    loop {
        let reader = match Reader::open(&args.dir) {
            Ok(r) => r,
            Err(Error::Io { .. }) if failures < MAX_READ_FAILURES => {
                failures += 1;
                std::thread::sleep(interval);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        failures = 0;
        if first_poll {
            let first = reader.first_lsn().get();
            if let Some(from) = args.from.filter(|&f| f < first) {
                return Err(Failure::bad_args(format!("--from {from} is before the log's first LSN {first}")));
            }
            if args.meta {
                printer.metadata(&mut out, &reader.metas(), reader.purge_point())?;
            }
            printer.table_header(&mut out, false)?;
            first_poll = false;
        }
        catch_up(&reader, &mut pos)?;
        print_new(&reader, &mut out, printer, &mut pos, to)?;
        out.flush()?;
        if pos.left == 0 || pos.next.is_some_and(|n| n > to) {
            return Ok(Exit::Ok);
        }
        // Corruption does not come and go with a writer's progress (a write
        // in flight looks torn, not corrupt); one more scan confirms it.
        if let TailState::Corrupt { .. } = reader.inspection().tail {
            if corrupt_seen {
                return tail_status(&reader.inspection().tail, Writer::Unknown, None);
            }
            corrupt_seen = true;
        } else {
            corrupt_seen = false;
        }
        std::thread::sleep(interval);
    }
}

/// Notices a cut or a purge since the last poll. After a cut
/// (`truncate_after`, `reset`) that removed printed records, goes on after
/// the newest printed record that is still in the log (new records may
/// reuse the LSNs of the removed ones); after a purge, from the new start.
fn catch_up(reader: &Reader, pos: &mut Position) -> Result<(), Failure> {
    let (first, last) = (reader.first_lsn().get(), reader.last_lsn().get());
    let still = |&(lsn, crc): &(u64, u32)| {
        (first..=last).contains(&lsn) && reader.read(Lsn::new(lsn)).is_ok_and(|r| r.checksum() == crc)
    };
    if pos.printed.back().is_some_and(|p| !still(p)) {
        let kept = pos.printed.iter().rev().find(|p| still(p)).map(|p| p.0);
        let oldest = pos.printed.front().map_or(first, |p| p.0);
        let resume = kept.map_or(oldest.clamp(first, last + 1), |k| k + 1);
        eprintln!("seawall: note: the log was cut back: records printed from LSN {resume} on were removed; following from LSN {resume}");
        pos.printed.retain(|p| p.0 < resume);
        pos.next = Some(resume);
    }
    if let Some(next) = pos.next.filter(|&n| n < first) {
        eprintln!(
            "seawall: note: LSN {next}..{first} were purged before they were printed; following from LSN {first}"
        );
        pos.next = Some(first);
    }
    Ok(())
}

/// Prints the records from `pos.next` to the log's last (at most `to`).
fn print_new(
    reader: &Reader,
    out: &mut impl Write,
    printer: &mut Printer,
    pos: &mut Position,
    to: u64,
) -> Result<(), Failure> {
    let (first, last) = (reader.first_lsn().get(), reader.last_lsn().get());
    let next = pos.next.unwrap_or(first);
    pos.next = Some(next);
    let end = last.min(to);
    if next > end {
        return Ok(());
    }
    let count = (end + 1 - next).min(pos.left);
    for rec in reader.iter_from(Lsn::new(next))?.take(count as usize) {
        let rec = rec?;
        printer.print(out, &rec, None)?;
        if pos.printed.len() == REMEMBERED {
            pos.printed.pop_front();
        }
        pos.printed.push_back((rec.lsn().get(), rec.checksum()));
        pos.next = Some(rec.lsn().get() + 1);
        pos.left -= 1;
    }
    Ok(())
}
