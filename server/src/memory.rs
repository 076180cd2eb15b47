//! The allocator's settings: what keeps the process's memory close to what
//! it holds. glibc's allocator serves Rust and libvirt (libxml2) alike.

/// Large blocks (4 MiB and more) are mapped from the system for each
/// allocation and given back when freed. An argon2 hash allocates 19 MiB on
/// a blocking thread; glibc's allocator raises its mapping threshold after
/// the first such block is freed, and then keeps the next ones in the
/// thread's heap for good: every login left the idle server 20 MB larger
/// (42 → 64 → 84 … MB). A fixed threshold keeps it at 42–45 MB. Called
/// once at start.
pub fn map_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it has no memory
    // preconditions and is thread-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    }
}

/// Gives the memory freed inside the allocator's heaps back to the system.
/// Each thread allocates in one of several heaps (arenas), and glibc returns
/// only a heap's free top on its own: what a burst of work freed in the
/// middle stays in the process. Opening 100 test-driver hosts at once (each
/// parsing its guests' XML on its own thread) left 414 MB resident after the
/// first list, 327 MB once this ran. Called after the start's work and then
/// every `EVERY`; it walks the heaps, a few milliseconds.
pub fn give_back_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and is thread-safe; it only
    // releases free pages of the allocator's own heaps.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often the freed memory is given back after the start.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(60);
