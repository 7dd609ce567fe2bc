//! `seawall inspect`: one row per segment, totals, and the state of the tail.

use std::io::Write;
use std::path::PathBuf;

use seawall::{Inspection, Lsn};
use serde_json::json;

use crate::common::{self, human_bytes, state_name, tail_json, tail_sentence, Exit, Failure, Writer};

#[derive(clap::Args)]
pub struct Args {
    /// The log directory.
    dir: PathBuf,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<Exit, Failure> {
    let reader = common::open_reader(&args.dir)?;
    let writer = common::writer_state(&args.dir);
    let insp = reader.inspection();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", to_json(insp, writer))?;
    } else {
        print_human(&mut out, &args.dir, insp, writer)?;
    }
    Ok(Exit::Ok)
}

fn opt_lsn(l: Option<Lsn>) -> String {
    l.map_or_else(|| "-".into(), |l| l.to_string())
}

fn print_human(out: &mut impl Write, dir: &std::path::Path, insp: &Inspection, writer: Writer) -> std::io::Result<()> {
    writeln!(out, "log {} (read-only; {})", dir.display(), writer.note())?;
    writeln!(out)?;
    let mut rows = vec![["SEGMENT", "FIRST LSN", "LAST LSN", "RECORDS", "USED", "ALLOCATED", "STATE"]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()];
    let (mut used, mut allocated) = (0, 0);
    for s in &insp.segments {
        used += s.bytes_used;
        allocated += s.file_len;
        rows.push(vec![
            s.id.file_name(),
            opt_lsn(s.first_lsn),
            opt_lsn(s.last_lsn),
            s.records.to_string(),
            human_bytes(s.bytes_used),
            human_bytes(s.file_len),
            state_name(s.state),
        ]);
    }
    let (first, last) = if insp.records() > 0 {
        (insp.first_lsn.to_string(), insp.last_lsn.to_string())
    } else {
        ("-".into(), "-".into())
    };
    rows.push(vec![
        format!("total ({} files)", insp.segments.len()),
        first,
        last,
        insp.records().to_string(),
        human_bytes(used),
        human_bytes(allocated),
        String::new(),
    ]);
    common::table(out, &rows, &[1, 2, 3, 4, 5])?;
    writeln!(out)?;
    writeln!(out, "tail: {}", tail_sentence(&insp.tail))?;
    writeln!(out, "rule: {} ({})", insp.rule, insp.why)
}

/// The inspection as one JSON document with stable field names.
pub fn to_json(insp: &Inspection, writer: Writer) -> serde_json::Value {
    let segments: Vec<_> = insp
        .segments
        .iter()
        .map(|s| {
            json!({
                "file": s.id.file_name(),
                "id": s.id.get(),
                "first_lsn": s.first_lsn.map(Lsn::get),
                "last_lsn": s.last_lsn.map(Lsn::get),
                "records": s.records,
                "bytes_used": s.bytes_used,
                "bytes_allocated": s.file_len,
                "state": state_name(s.state),
            })
        })
        .collect();
    json!({
        "writer": writer.as_str(),
        "first_lsn": insp.first_lsn.get(),
        "last_lsn": insp.last_lsn.get(),
        "records": insp.records(),
        "segments": segments,
        "tail": tail_json(&insp.tail),
        "rule": insp.rule,
        "why": insp.why,
    })
}
