//! The binary's entry: which command, `--help`/`--version`, and the exit code. Each
//! subcommand lives in [`crate::commands`]; the flags and failures they share are in
//! [`crate::args`].

use crate::args::Args;

/// Entry point of the binary; returns the process exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let mut argv = argv.into_iter();
    let command = argv.next();
    // `-h` is `--help` wherever it stands, so every command answers it before it looks
    // for the flags it requires.
    let rest: Vec<String> = argv
        .map(|a| if a == "-h" { "--help".to_string() } else { a })
        .collect();
    let result = match (command.as_deref(), rest.first().map(String::as_str)) {
        (None | Some("--help" | "-h"), _) | (Some("help"), None) => {
            print!("{}", crate::commands::USAGE);
            return 0;
        }
        // `aqueduct help CMD` is `aqueduct CMD --help`.
        (Some("help"), Some(name)) => {
            crate::commands::dispatch(name, Args::new(vec!["--help".to_string()]))
        }
        (Some("--version" | "-V" | "version"), _) => {
            println!("aqueduct {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        (Some(name), _) => crate::commands::dispatch(name, Args::new(rest)),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            eprintln!("{failure}");
            failure.code
        }
    }
}
