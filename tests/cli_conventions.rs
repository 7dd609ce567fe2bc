//! What every `seawall` command does alike: an argument error is one line
//! with status 5 (help and version still print normally), a reader that
//! closes the output early ends the command quietly with status 0, and a
//! command asked for JSON reports a failure as JSON on stdout too.
#![cfg(feature = "cli")]

#[path = "support/cli.rs"]
mod cli;

use std::path::Path;
use std::process::Stdio;

use assert_cmd::assert::OutputAssertExt;
use cli::*;
use tempfile::TempDir;

#[test]
fn argument_errors_are_one_line_with_status_5() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(3);
    let dir = dir.to_str().unwrap();
    let cases: [&[&str]; 8] = [
        &[],
        &["frobnicate"],
        &["inspect"],
        &["dump", "--frob", dir],
        &["dump", "--from", "eleven", dir],
        &["dump", "--format", "yaml", dir],
        &["verify", dir, "extra"],
        &["bench", "--writers", "0"],
    ];
    for args in cases {
        let out = seawall().args(args).output().unwrap();
        assert_eq!(code(&out), BAD_ARGS, "{args:?}");
        assert_one_clear_line(&out);
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(!err.contains("For more information") && !err.contains("error:"), "{args:?}: {err}");
    }
    // The line keeps what helps: the problem, clap's tip and the usage.
    let err = stderr(&seawall().args(["dump", "--frm", "3", dir]).output().unwrap());
    assert!(err.contains("'--frm'") && err.contains("'--from'") && err.contains("usage: seawall dump"), "{err}");
}

#[test]
fn help_and_version_print_on_stdout_with_status_0() {
    let _turn = cli::one_at_a_time();
    for args in [&["--help"][..], &["-h"], &["help"], &["dump", "--help"], &["help", "repair"], &["--version"]] {
        let out = seawall().args(args).output().unwrap();
        out.clone().assert().code(0).stderr("");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
    assert!(stdout(&seawall().arg("--version").output().unwrap()).starts_with("seawall "));
    assert!(stdout(&seawall().args(["dump", "--help"]).output().unwrap()).contains("2  the log is corrupt"));
}

/// Runs `seawall ARGS` with stdout on a pipe whose reader has already gone,
/// so the first write fails with EPIPE, as under `seawall ... | head -1`
/// once `head` has exited.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    std::process::Command::new(env!("CARGO_BIN_EXE_seawall"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly_with_status_0() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(3000);
    let dir = dir.to_str().unwrap();
    let scratch = TempDir::new().unwrap();
    let fresh = |name: &str| scratch.path().join(name).to_str().unwrap().to_string();
    let (bench_dir, demo_dir) = (fresh("bench"), fresh("demo"));
    let cases: [&[&str]; 13] = [
        &["inspect", dir],
        &["inspect", "--json", dir],
        &["dump", dir],
        &["dump", "--json", dir],
        &["dump", "--format", "hex", dir],
        &["dump", "--format", "raw", dir],
        &["verify", dir],
        &["verify", "--json", dir],
        &["repair", "--dry-run", dir],
        &["bench", "--no-sync", "--records", "10", &bench_dir],
        &["demo", "--acks", "20", &demo_dir],
        &["--help"],
        &["--version"],
    ];
    for args in cases {
        run_into_closed_pipe(args).assert().code(0).stderr("");
    }
}

/// The JSON object a failed command printed last on stdout.
fn failure_doc(out: &std::process::Output) -> serde_json::Value {
    let text = stdout(out);
    let last = text.lines().last().unwrap_or_else(|| panic!("no JSON on stdout; stderr: {}", stderr(out)));
    serde_json::from_str(last).unwrap()
}

#[test]
fn json_commands_report_failures_as_json_on_stdout() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(5);
    let missing = dir.join("missing");
    let missing = missing.to_str().unwrap();
    let dir = dir.to_str().unwrap();
    let cases: [(&[&str], i32); 8] = [
        (&["inspect", "--json", missing], NOT_A_LOG),
        (&["verify", "--json", missing], NOT_A_LOG),
        (&["dump", "--json", missing], NOT_A_LOG),
        (&["dump", "--format", "json", missing], NOT_A_LOG),
        (&["dump", "--json", "--from", "99", dir], BAD_ARGS),
        (&["dump", "--json", "--frob", dir], BAD_ARGS),
        (&["inspect", "--json", "--frob", dir], BAD_ARGS),
        (&["verify", "--json"], BAD_ARGS),
    ];
    for (args, status) in cases {
        let out = seawall().args(args).output().unwrap();
        assert_eq!(code(&out), status, "{args:?}");
        assert_one_clear_line(&out);
        let doc = failure_doc(&out);
        assert_eq!(doc["exit_status"], status, "{args:?}: {doc}");
        let error = doc["error"].as_str().unwrap_or_else(|| panic!("{args:?}: {doc}"));
        assert!(stderr(&out).contains(error), "{args:?}: the same message on both: {doc}");
    }
    // Without --json a failure prints nothing on stdout.
    let out = seawall().args(["inspect", missing]).output().unwrap();
    assert!(out.stdout.is_empty());
}

#[test]
fn verify_json_reports_damage_in_error_and_exit_status() {
    let _turn = cli::one_at_a_time();
    let (_tmp, dir) = durable_log(10);
    let (status, doc) = verify(&dir);
    assert_eq!((status, doc["error"].is_null()), (CLEAN, true), "{doc}");
    tear_tail(&dir);
    let (status, doc) = verify(Path::new(&dir));
    assert_eq!(status, TORN);
    assert!(doc["error"].as_str().unwrap().starts_with("torn:"), "{doc}");
}
