//! The `aqueduct` binary: parses the command line and hands over to the library.

fn main() {
    std::process::exit(aqueduct::cli::main(std::env::args().skip(1).collect()));
}
