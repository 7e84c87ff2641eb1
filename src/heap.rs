//! Freed heap memory handed back to the system: shared by the event loop (after a burst
//! of sessions) and the chain thread (after a large log sync).

/// Hands the allocator's free memory back to the system. glibc returns freed heap memory
/// only from the top of the heap (and only above its trim threshold), so the pages of
/// thousands of small frees interleaved with live allocations (a flood of handshakes
/// that ended) stay resident; `malloc_trim(0)` releases every whole free page. It walks
/// the heap, so callers call it once after a burst, not per free. Other allocators
/// return memory on their own: there it does nothing.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}
