//! The `seawall` command-line tool (placeholder until the CLI lands).
fn main() {
    eprintln!("seawall: the command-line tool is not built yet");
    std::process::exit(3);
}
