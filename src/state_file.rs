//! Files the node rewrites while it runs (member state, allowance, ready file): written
//! whole under a temporary name and renamed over the old one, so a reader or a crash sees
//! the old file or the new one, never half of one.

use std::io::Write;
use std::path::Path;

/// `sync`: wait until the bytes are on disk before the rename (survives a power loss, at
/// the cost of a disk flush); without it a crash of the process still loses nothing.
pub fn write_atomically(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    write_atomically_with(path, sync, |f| f.write_all(bytes))
}

/// [`write_atomically`] with the contents written by `write`, for files too large to
/// build in memory first.
pub fn write_atomically_with(
    path: &Path,
    sync: bool,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut f = std::fs::File::create(&tmp)?;
    write(&mut f)?;
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
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    // Parsed as it is read: a large file is never in memory as text.
    let file: T = serde_json::from_reader(std::io::BufReader::new(f)).map_err(|e| {
        if e.is_io() {
            format!("cannot read {}: {e}", path.display())
        } else {
            format!("{} is not {what}: {e}", path.display())
        }
    })?;
    let found = version_of(&file);
    if found != version {
        return Err(format!(
            "{} has format version {found}, this build reads {version}",
            path.display()
        ));
    }
    Ok(Some(file))
}
