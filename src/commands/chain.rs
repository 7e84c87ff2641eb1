//! The chain commands (keygen, deploy, subscribe, ...). (being written)

use crate::cli::{Args, CmdResult, Failure};

pub fn run(name: &str, _args: Args) -> CmdResult {
    Err(Failure::new(format!("`aqueduct {name}` is not built yet")))
}
