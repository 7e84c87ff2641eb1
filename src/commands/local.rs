//! `aqueduct local`. (being written)

use crate::cli::{Args, CmdResult, Failure};

pub fn run(_args: Args) -> CmdResult {
    Err(Failure::new("`aqueduct local` is not built yet"))
}
