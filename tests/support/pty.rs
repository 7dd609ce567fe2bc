//! Running a program on a pseudo-terminal, and reading its screen back as
//! lines, for tests of what the `seawall` tool shows a person.
//!
//! Built on rustix's `pty` module (posix_openpt, grantpt, unlockpt,
//! ptsname): rustix is already a dependency of the library, so this needs
//! no new crate, and the program runs exactly as `Command` starts it, with
//! no shell or `script(1)` in between whose flags differ across systems.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, ExitStatus};

use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
use rustix::termios::{tcsetwinsize, Winsize};

/// Runs `cmd` with stdin, stdout and stderr on a new terminal of 50 rows of
/// 160 columns; returns every byte it wrote there, and its exit status.
pub fn run_on_terminal(mut cmd: Command) -> (Vec<u8>, ExitStatus) {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = openpt(flags).expect("posix_openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    tcsetwinsize(&master, Winsize { ws_row: 50, ws_col: 160, ws_xpixel: 0, ws_ypixel: 0 }).expect("TIOCSWINSZ");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let terminal = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32) // never this process's controlling terminal
        .open(OsStr::from_bytes(name.as_bytes()))
        .expect("open the terminal");
    cmd.stdin(terminal.try_clone().unwrap()).stdout(terminal.try_clone().unwrap()).stderr(terminal);
    let mut child = cmd.spawn().expect("start the program");
    // The command holds this process's handles on the terminal; once they
    // are closed, reading ends (EIO) when the program closes its own.
    drop(cmd);
    let mut master = File::from(master);
    let mut seen = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => break,
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    (seen, child.wait().expect("wait for the program"))
}

/// The lines a terminal shows for `bytes`, for output that only moves
/// within a line: `\r` returns to the first column, `ESC [ 2K` (and `ESC [ K`)
/// clear the line, other escape sequences are dropped, and text overwrites
/// what is under the cursor. Enough to see where a one-line progress bar
/// ends up among the lines of a program's output.
pub fn screen_lines(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let mut line: Vec<char> = Vec::new();
        let mut col = 0;
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => col = 0,
                '\x1b' => {
                    // CSI: ESC [ parameters final-byte
                    if chars.peek() == Some(&'[') {
                        chars.next();
                        let mut params = String::new();
                        for p in chars.by_ref() {
                            if ('\x40'..='\x7e').contains(&p) {
                                if p == 'K' && matches!(params.as_str(), "2" | "" | "0") {
                                    line.truncate(if params == "2" { 0 } else { col });
                                }
                                break;
                            }
                            params.push(p);
                        }
                    }
                }
                c if c.is_control() => {}
                c => {
                    if col < line.len() {
                        line[col] = c;
                    } else {
                        line.resize(col, ' ');
                        line.push(c);
                    }
                    col += 1;
                }
            }
        }
        lines.push(line.into_iter().collect::<String>().trim_end().to_string());
    }
    lines
}
