//! Finds the contract toolchain (anvil, cast, forge) that `make tools` installs into
//! tools/node_modules/.bin. `AQUEDUCT_TOOLS_BIN` points elsewhere. A missing tool
//! fails the test with the fix, never skips it.

use std::path::PathBuf;

#[allow(dead_code)]
pub fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("AQUEDUCT_TOOLS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/node_modules/.bin")
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: run `make tools` (or set AQUEDUCT_TOOLS_BIN)",
        path.display()
    );
    path
}
