//! Telling systemd how the service is doing (`Type=notify`): a datagram of `KEY=value`
//! lines to the socket `$NOTIFY_SOCKET` names (sd_notify(3)'s protocol, which needs no
//! library). Without that variable (not started by systemd) nothing is sent.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to the service manager, if there is one.
pub fn notify(state: &str) -> io::Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let socket = UnixDatagram::unbound()?;
    let bytes = path.as_encoded_bytes();
    match bytes.strip_prefix(b"@") {
        // Linux's abstract namespace: the name after '@' is not a file.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        }
        None => {
            socket.send_to(state.as_bytes(), &path)?;
        }
    }
    Ok(())
}

/// [`notify`], logging instead of failing: a start-up that systemd does not hear about
/// times out there, which says more than an error here would.
pub fn notify_or_log(state: &str) {
    if let Err(e) = notify(state) {
        log::warn!("cannot notify systemd ({state}): {e}");
    }
}

/// systemd's StateDirectory, if the node runs under one.
pub fn state_directory() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("STATE_DIRECTORY")?;
    // systemd lists several directories separated by ':'; the first is ours.
    let first = dir.to_string_lossy().split(':').next()?.to_string();
    (!first.is_empty()).then(|| std::path::PathBuf::from(first))
}
