//! Files the node rewrites while it runs (member state, allowance, ready file): written
//! whole under a temporary name and renamed over the old one, so a reader or a crash sees
//! the old file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

/// `sync`: wait until the bytes are on disk before the rename (survives a power loss, at
/// the cost of a disk flush); without it a crash of the process still loses nothing.
pub fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if sync {
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// Reads a JSON state file of format `version` (`what` names it in errors); `Ok(None)`
/// when there is none yet. A file of another version is refused, not guessed at.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    version: u32,
    version_of: impl Fn(&T) -> u32,
) -> Result<Option<T>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let file: T = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not {what}: {e}", path.display()))?;
    let found = version_of(&file);
    if found != version {
        return Err(format!(
            "{} has format version {found}, this build reads {version}",
            path.display()
        ));
    }
    Ok(Some(file))
}
