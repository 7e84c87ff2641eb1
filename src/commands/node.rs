//! `aqueduct node --config FILE`. (being written)

use crate::cli::{Args, CmdResult, Failure};

pub fn run(_args: Args) -> CmdResult {
    Err(Failure::new("`aqueduct node` is not built yet"))
}
