//! Keeps the node's mapped code to the pages it actually runs.
//!
//! Measured (issue 7): of an idle node's ~4.2 MB RSS only ~0.2 MB is its own memory
//! (heap, stacks); the rest is clean pages of the binary and of libc mapped in by the
//! kernel's fault-around, which maps 16 neighbouring pages on every code fault, and by
//! start-up code (config parsing, logging set-up) that never runs again. Once start-up is
//! over, [`trim`] unmaps the read-only segments of every loaded object (the pages stay in
//! the page cache; nothing is lost) and asks for page-at-a-time faulting from then on, so
//! RSS follows the code the event loop really executes.

/// Drops the mappings of read-only code and data pages and turns fault-around off for
/// them. Best effort: any failure only leaves the mappings as they were.
pub fn trim() {
    // SAFETY: dl_iterate_phdr calls `each_object` synchronously with valid pointers.
    unsafe {
        libc::dl_iterate_phdr(Some(each_object), std::ptr::null_mut());
    }
}

unsafe extern "C" fn each_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    _data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the loader passes a valid entry for the duration of the call.
    let info = unsafe { &*info };
    // The vDSO is a kernel-provided special mapping: leave it alone.
    if !info.dlpi_name.is_null() {
        // SAFETY: a non-null dlpi_name is a NUL-terminated string owned by the loader.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) };
        if name.to_bytes().starts_with(b"linux-vdso") || name.to_bytes().starts_with(b"linux-gate")
        {
            return 0;
        }
    }
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 => n as usize,
        _ => return 1,
    };
    for i in 0..usize::from(info.dlpi_phnum) {
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
        let ph = unsafe { &*info.dlpi_phdr.add(i) };
        // Only segments that are never written: their pages are identical to the file's,
        // so dropping them loses nothing (RELRO and data segments carry PF_W).
        if ph.p_type != libc::PT_LOAD || ph.p_flags & libc::PF_W != 0 {
            continue;
        }
        let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
        let end = start.wrapping_add(ph.p_memsz as usize);
        // Whole pages inside the segment only: a partial page may belong to a neighbour.
        let first = start.div_ceil(page) * page;
        let last = end / page * page;
        if last <= first {
            continue;
        }
        let addr = first as *mut libc::c_void;
        // SAFETY: the range lies within a read-only segment mapped from a file; dropping
        // its pages makes the next access fault them back in from the page cache.
        unsafe {
            libc::madvise(addr, last - first, libc::MADV_RANDOM);
            libc::madvise(addr, last - first, libc::MADV_DONTNEED);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// For each of this executable's code mappings in /proc/self/smaps: whether the
    /// kernel records random-access advice ("rr" in VmFlags), which turns fault-around off.
    fn code_mappings_advised_random() -> Vec<bool> {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_str().unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut ours = false;
        let mut found = Vec::new();
        for line in smaps.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields
                .first()
                .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
            {
                ours =
                    fields.get(1).is_some_and(|p| p.contains('x')) && fields.last() == Some(&exe);
            } else if ours && fields.first() == Some(&"VmFlags:") {
                found.push(fields.contains(&"rr"));
            }
        }
        found
    }

    // Other tests run in parallel threads and fault code back in meanwhile, so the test
    // checks the advice the kernel recorded rather than a resident size.
    #[test]
    fn trimmed_code_is_faulted_page_by_page_and_still_runs() {
        assert!(!code_mappings_advised_random().is_empty(), "code is mapped");
        trim();
        let advised = code_mappings_advised_random();
        // Partial pages at a segment's ends are left alone (their mapping splits off).
        assert!(advised.contains(&true), "{advised:?}");
        // Code runs on after the trim: it faults back in from the page cache.
        let text: String = (0..100).map(|i| format!("{i},")).collect();
        assert!(text.starts_with("0,1,2,") && text.ends_with(",99,"));
    }
}
