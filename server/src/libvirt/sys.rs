//! The few libvirt calls that `virt` 0.5 does not wrap, as safe functions.
//! Every use of `virt::sys` lives in this file.

/// libvirt's flag and constant values, for the rest of the libvirt layer
/// (every `virt::sys` name it uses is listed here).
pub use virt::sys::{
    VIR_CONNECT_CLOSE_REASON_CLIENT, VIR_CONNECT_CLOSE_REASON_EOF,
    VIR_CONNECT_CLOSE_REASON_KEEPALIVE, VIR_CPU_COMPARE_IDENTICAL, VIR_CPU_COMPARE_INCOMPATIBLE,
    VIR_CPU_COMPARE_SUPERSET, VIR_DOMAIN_AFFECT_CONFIG, VIR_DOMAIN_AFFECT_LIVE,
    VIR_DOMAIN_CONSOLE_FORCE, VIR_DOMAIN_CONSOLE_SAFE, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    VIR_DOMAIN_JOB_COMPLETED, VIR_DOMAIN_JOB_NONE, VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
    VIR_DOMAIN_JOB_STATS_COMPLETED, VIR_DOMAIN_MEMORY_STAT_AVAILABLE, VIR_DOMAIN_MEMORY_STAT_RSS,
    VIR_DOMAIN_MEMORY_STAT_UNUSED, VIR_DOMAIN_PAUSED, VIR_DOMAIN_STATS_BALLOON,
    VIR_DOMAIN_STATS_CPU_TOTAL, VIR_DOMAIN_STATS_VCPU, VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
    VIR_DOMAIN_UNDEFINE_MANAGED_SAVE, VIR_DOMAIN_UNDEFINE_NVRAM,
    VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA, VIR_DOMAIN_XML_INACTIVE, VIR_DOMAIN_XML_SECURE,
    VIR_MIGRATE_ABORT_ON_ERROR, VIR_MIGRATE_AUTO_CONVERGE, VIR_MIGRATE_COMPRESSED,
    VIR_MIGRATE_LIVE, VIR_MIGRATE_NON_SHARED_DISK, VIR_MIGRATE_OFFLINE, VIR_MIGRATE_PARALLEL,
    VIR_MIGRATE_PEER2PEER, VIR_MIGRATE_PERSIST_DEST, VIR_MIGRATE_POSTCOPY,
    VIR_MIGRATE_UNDEFINE_SOURCE, VIR_STORAGE_POOL_BUILD_NO_OVERWRITE,
    VIR_STORAGE_POOL_BUILD_OVERWRITE, VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
    VIR_STORAGE_POOL_EVENT_ID_REFRESH, VIR_STORAGE_VOL_BLOCK,
    VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA, VIR_STORAGE_VOL_FILE, VIR_STREAM_NONBLOCK,
    VIR_UUID_STRING_BUFLEN,
};

/// `VIR_MIGRATE_POSTCOPY_RESUME` (libvirt ≥ 8.5; newer than `virt-sys`'s
/// bindings): resume a post-copy migration whose connection broke.
pub const VIR_MIGRATE_POSTCOPY_RESUME: u32 = 1 << 19;
/// `VIR_DOMAIN_PAUSED_POSTCOPY`: the source's guest after the switch to post-copy.
pub const VIR_DOMAIN_PAUSED_POSTCOPY: i32 = 12;
/// `VIR_DOMAIN_PAUSED_POSTCOPY_FAILED`: the reason of the source's paused guest then.
pub const VIR_DOMAIN_PAUSED_POSTCOPY_FAILED: i32 = 13;

use std::ffi::CStr;

use virt::{connect::Connect, error::Error};

/// `virConnectGetStoragePoolCapabilities`: the pool types the host's libvirt
/// supports and, per type, its volume formats (XML).
pub fn storage_pool_capabilities(conn: &Connect) -> Result<String, Error> {
    // SAFETY: `conn` is a live connection for the duration of the call; the
    // returned string is owned by us and freed with libc's free as documented.
    unsafe {
        let ptr = virt::sys::virConnectGetStoragePoolCapabilities(conn.as_ptr(), 0);
        if ptr.is_null() {
            return Err(Error::last_error());
        }
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        libc_free(ptr.cast());
        Ok(text)
    }
}

extern "C" {
    #[link_name = "free"]
    fn libc_free(ptr: *mut std::ffi::c_void);
    fn setpriority(
        which: std::ffi::c_int,
        who: std::ffi::c_uint,
        prio: std::ffi::c_int,
    ) -> std::ffi::c_int;
    fn getpriority(which: std::ffi::c_int, who: std::ffi::c_uint) -> std::ffi::c_int;
}

/// Lowers the calling thread's scheduling priority: its nice value becomes
/// `nice` (Linux keeps one per thread: `PRIO_PROCESS` with 0 names the
/// calling thread only). An unprivileged process cannot take it back down,
/// so this is for threads that end with their work; a thread already lower
/// (a process started with `nice`) stays as it is. False if refused.
pub fn lower_this_thread_priority(nice: i32) -> bool {
    const PRIO_PROCESS: std::ffi::c_int = 0;
    // SAFETY: no pointers; the calls only read and change the calling
    // thread's nice value (-1 is both an error and a valid value for
    // getpriority: either way the thread is not lower than `nice`).
    unsafe { getpriority(PRIO_PROCESS, 0) >= nice || setpriority(PRIO_PROCESS, 0, nice) == 0 }
}

/// `virDomainAbortJob`: stops the guest's running job (a migration: the guest
/// stays on the source).
pub fn abort_job(dom: &virt::domain::Domain) -> Result<(), Error> {
    // SAFETY: `dom` is a live domain handle for the duration of the call.
    if unsafe { virt::sys::virDomainAbortJob(dom.as_ptr()) } < 0 {
        return Err(Error::last_error());
    }
    Ok(())
}

/// `virDomainGetState`: the guest's state and its reason as libvirt's raw
/// numbers (`virt`'s enums predate the post-copy failure reasons).
pub fn state_and_reason(dom: &virt::domain::Domain) -> Result<(i32, i32), Error> {
    let (mut state, mut reason) = (-1, -1);
    // SAFETY: `dom` is a live domain handle; both pointers are to locals.
    if unsafe { virt::sys::virDomainGetState(dom.as_ptr(), &mut state, &mut reason, 0) } < 0 {
        return Err(Error::last_error());
    }
    Ok((state, reason))
}

/// `virDomainMigrateStartPostCopy`: switches a running migration that was
/// started with `VIR_MIGRATE_POSTCOPY` to post-copy.
pub fn start_postcopy(dom: &virt::domain::Domain) -> Result<(), Error> {
    // SAFETY: as above.
    if unsafe { virt::sys::virDomainMigrateStartPostCopy(dom.as_ptr(), 0) } < 0 {
        return Err(Error::last_error());
    }
    Ok(())
}

/// How a CPU definition compares with what a host's hypervisor can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuFit {
    Incompatible,
    Identical,
    Superset,
}

/// `virConnectCompareHypervisorCPU`: can this host's hypervisor run a guest
/// with `cpu_xml` (a `<cpu>` element) for `arch`, `machine`, `virt_type`?
pub fn compare_hypervisor_cpu(
    conn: &Connect,
    arch: Option<&str>,
    machine: Option<&str>,
    virt_type: Option<&str>,
    cpu_xml: &str,
) -> Result<CpuFit, Error> {
    use std::ffi::CString;
    // A string with a NUL byte is refused (`InvalidArg`), never cut short or
    // sent empty.
    let c = |s: Option<&str>| s.map(CString::new).transpose();
    let (arch, machine, virt_type) = (c(arch)?, c(machine)?, c(virt_type)?);
    let cpu = CString::new(cpu_xml)?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is either null (allowed by the API) or a valid
    // NUL-terminated string that outlives the call.
    let result = unsafe {
        virt::sys::virConnectCompareHypervisorCPU(
            conn.as_ptr(),
            std::ptr::null(),
            ptr(&arch),
            ptr(&machine),
            ptr(&virt_type),
            cpu.as_ptr(),
            0,
        )
    };
    match result {
        r if r == virt::sys::VIR_CPU_COMPARE_INCOMPATIBLE => Ok(CpuFit::Incompatible),
        r if r == virt::sys::VIR_CPU_COMPARE_IDENTICAL => Ok(CpuFit::Identical),
        r if r == virt::sys::VIR_CPU_COMPARE_SUPERSET => Ok(CpuFit::Superset),
        _ => Err(Error::last_error()),
    }
}

/// `virDomainGetJobStats`. (`virt`'s own `Domain::job_stats` takes ownership
/// of libvirt's array with the Rust allocator and builds a slice from a null
/// pointer when no job runs; this copies the parameters and frees libvirt's
/// array with `virTypedParamsFree`.)
pub fn job_stats(dom: &virt::domain::Domain, flags: u32) -> Result<virt::domain::JobStats, Error> {
    let mut job_type: std::os::raw::c_int = 0;
    let mut params: virt::sys::virTypedParameterPtr = std::ptr::null_mut();
    let mut nparams: std::os::raw::c_int = 0;
    // SAFETY: the out-pointers are valid; on success libvirt hands us an array
    // of `nparams` parameters (or null when there are none), which we copy and
    // then free with the matching libvirt function.
    let copied = unsafe {
        if virt::sys::virDomainGetJobStats(
            dom.as_ptr(),
            &mut job_type,
            &mut params,
            &mut nparams,
            flags,
        ) < 0
        {
            return Err(Error::last_error());
        }
        let copied = if params.is_null() || nparams <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(params, nparams as usize).to_vec()
        };
        let stats = virt::domain::JobStats::from((job_type, copied));
        if !params.is_null() {
            virt::sys::virTypedParamsFree(params, nparams);
        }
        stats
    };
    Ok(copied)
}

/// What a connection's callbacks report. The callbacks run on libvirt's event
/// loop thread and only post one of these to a channel: the host's worker
/// re-reads the object it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// Something happened to this guest (started, stopped, defined…).
    Domain { uuid: String },
    /// Something happened to this storage pool (lifecycle or refresh).
    Pool { name: String },
    /// The connection closed (EOF, keepalive timeout, error).
    Closed { reason: i32 },
}

type Sender = tokio::sync::mpsc::UnboundedSender<Signal>;

/// Starts libvirt's default event loop once per process, on a thread of its
/// own. Must run before the first connection that registers callbacks;
/// keepalive needs it too.
pub fn start_event_loop() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        if let Err(e) = virt::event::event_register_default_impl() {
            tracing::error!("cannot register libvirt's event loop: {}", e.message());
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("libvirt-events".into())
            .spawn(|| loop {
                if let Err(e) = virt::event::event_run_default_impl() {
                    tracing::error!("libvirt's event loop: {}", e.message());
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start libvirt's event loop thread: {e}");
        }
    });
}

unsafe extern "C" fn free_sender(opaque: *mut std::ffi::c_void) {
    // SAFETY: `opaque` is the `Box<Sender>` leaked in `register`; libvirt calls
    // this exactly once, when the callback is removed.
    drop(unsafe { Box::from_raw(opaque.cast::<Sender>()) });
}

unsafe extern "C" fn domain_lifecycle(
    _conn: virt::sys::virConnectPtr,
    dom: virt::sys::virDomainPtr,
    _event: std::os::raw::c_int,
    _detail: std::os::raw::c_int,
    opaque: *mut std::ffi::c_void,
) -> std::os::raw::c_int {
    let mut buf = [0 as std::os::raw::c_char; virt::sys::VIR_UUID_STRING_BUFLEN as usize];
    // SAFETY: libvirt passes a live domain for the duration of the callback;
    // the buffer has the documented size; `opaque` is our `Box<Sender>`.
    unsafe {
        if virt::sys::virDomainGetUUIDString(dom, buf.as_mut_ptr()) == 0 {
            let uuid = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
            let _ = (*opaque.cast::<Sender>()).send(Signal::Domain { uuid });
        }
    }
    0
}

/// VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE: (conn, pool, event, detail, opaque).
unsafe extern "C" fn pool_lifecycle(
    conn: virt::sys::virConnectPtr,
    pool: virt::sys::virStoragePoolPtr,
    _event: std::os::raw::c_int,
    _detail: std::os::raw::c_int,
    opaque: *mut std::ffi::c_void,
) {
    // SAFETY: forwards the arguments libvirt passed.
    unsafe { pool_event(conn, pool, opaque) }
}

/// VIR_STORAGE_POOL_EVENT_ID_REFRESH (the generic signature).
unsafe extern "C" fn pool_event(
    _conn: virt::sys::virConnectPtr,
    pool: virt::sys::virStoragePoolPtr,
    opaque: *mut std::ffi::c_void,
) {
    // SAFETY: as above, for a storage pool.
    unsafe {
        let name = virt::sys::virStoragePoolGetName(pool);
        if !name.is_null() {
            let name = CStr::from_ptr(name).to_string_lossy().into_owned();
            let _ = (*opaque.cast::<Sender>()).send(Signal::Pool { name });
        }
    }
}

unsafe extern "C" fn closed(
    _conn: virt::sys::virConnectPtr,
    reason: std::os::raw::c_int,
    opaque: *mut std::ffi::c_void,
) {
    // SAFETY: `opaque` is our `Box<Sender>`, alive until unregistered.
    let _ = unsafe { (*opaque.cast::<Sender>()).send(Signal::Closed { reason }) };
}

/// The callbacks registered on one connection; removed on drop (which must
/// happen off the async runtime: it calls libvirt).
pub struct Registrations {
    conn: Connect,
    domain: Option<std::os::raw::c_int>,
    pools: Vec<std::os::raw::c_int>,
    close: bool,
}

/// Registers the domain lifecycle, storage pool lifecycle and refresh, and
/// close callbacks of `conn`, each posting to `tx`. A callback the driver
/// does not offer (the test driver has no close callback) is left out.
pub fn register(conn: &Connect, tx: &Sender) -> Registrations {
    let leak = || Box::into_raw(Box::new(tx.clone())).cast::<std::ffi::c_void>();
    let mut regs = Registrations {
        conn: conn.clone(),
        domain: None,
        pools: Vec::new(),
        close: false,
    };
    // SAFETY: each registration gets its own leaked `Box<Sender>`, freed by
    // libvirt through `free_sender` when the callback is removed (or at once
    // if registering fails). The lifecycle callback has the signature
    // libvirt documents for VIR_DOMAIN_EVENT_ID_LIFECYCLE; the API takes it
    // as the generic type, hence the transmute (as libvirt's C users cast).
    unsafe {
        let lifecycle: virt::sys::virConnectDomainEventGenericCallback =
            Some(std::mem::transmute::<
                unsafe extern "C" fn(
                    virt::sys::virConnectPtr,
                    virt::sys::virDomainPtr,
                    std::os::raw::c_int,
                    std::os::raw::c_int,
                    *mut std::ffi::c_void,
                ) -> std::os::raw::c_int,
                unsafe extern "C" fn(
                    virt::sys::virConnectPtr,
                    virt::sys::virDomainPtr,
                    *mut std::ffi::c_void,
                ),
            >(domain_lifecycle));
        let opaque = leak();
        let id = virt::sys::virConnectDomainEventRegisterAny(
            conn.as_ptr(),
            std::ptr::null_mut(),
            virt::sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as i32,
            lifecycle,
            opaque,
            Some(free_sender),
        );
        if id >= 0 {
            regs.domain = Some(id);
        } else {
            free_sender(opaque);
            tracing::warn!("no domain events: {}", Error::last_error().message());
        }
        // Each event ID has its own callback signature; the API takes the
        // generic one (the lifecycle callback has two more arguments).
        let lifecycle_cb: virt::sys::virConnectStoragePoolEventGenericCallback =
            Some(std::mem::transmute::<
                unsafe extern "C" fn(
                    virt::sys::virConnectPtr,
                    virt::sys::virStoragePoolPtr,
                    std::os::raw::c_int,
                    std::os::raw::c_int,
                    *mut std::ffi::c_void,
                ),
                unsafe extern "C" fn(
                    virt::sys::virConnectPtr,
                    virt::sys::virStoragePoolPtr,
                    *mut std::ffi::c_void,
                ),
            >(pool_lifecycle));
        for (event, cb) in [
            (virt::sys::VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, lifecycle_cb),
            (
                virt::sys::VIR_STORAGE_POOL_EVENT_ID_REFRESH,
                Some(pool_event as _),
            ),
        ] {
            let opaque = leak();
            let id = virt::sys::virConnectStoragePoolEventRegisterAny(
                conn.as_ptr(),
                std::ptr::null_mut(),
                event as i32,
                cb,
                opaque,
                Some(free_sender),
            );
            if id >= 0 {
                regs.pools.push(id);
            } else {
                free_sender(opaque);
            }
        }
        let opaque = leak();
        if virt::sys::virConnectRegisterCloseCallback(
            conn.as_ptr(),
            Some(closed),
            opaque,
            Some(free_sender),
        ) == 0
        {
            regs.close = true;
        } else {
            free_sender(opaque);
        }
    }
    regs
}

impl Drop for Registrations {
    fn drop(&mut self) {
        // SAFETY: the ids were returned by the matching register calls on
        // this connection, which `self.conn` keeps alive.
        unsafe {
            if let Some(id) = self.domain {
                virt::sys::virConnectDomainEventDeregisterAny(self.conn.as_ptr(), id);
            }
            for id in &self.pools {
                virt::sys::virConnectStoragePoolEventDeregisterAny(self.conn.as_ptr(), *id);
            }
            if self.close {
                virt::sys::virConnectUnregisterCloseCallback(self.conn.as_ptr(), Some(closed));
            }
        }
    }
}

/// One guest's record from `virConnectGetAllDomainStats`: its UUID and the
/// numeric parameters (`cpu.time`, `balloon.current`, `vcpu.current`…).
pub struct StatsRecord {
    pub uuid: String,
    pub values: Vec<(String, f64)>,
}

/// `virConnectGetAllDomainStats` for the running guests, with the NOWAIT
/// flag: a guest whose monitor is busy (a migration) answers what libvirt
/// has without waiting for it. `stats` is a set of `VIR_DOMAIN_STATS_*`.
/// (`virt`'s own wrapper leaves the records unfreed and unread.)
pub fn all_domain_stats(conn: &Connect, stats: u32) -> Result<Vec<StatsRecord>, Error> {
    let flags = virt::sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE
        | virt::sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
    let mut records: *mut virt::sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: on success libvirt hands us a NULL-terminated array of `n`
    // records, each with a live domain and `nparams` typed parameters; we
    // copy what we need and free the whole list with the matching function.
    unsafe {
        let n = virt::sys::virConnectGetAllDomainStats(conn.as_ptr(), stats, &mut records, flags);
        if n < 0 {
            return Err(Error::last_error());
        }
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n.max(0) as usize {
            let record = *records.add(i);
            if record.is_null() {
                continue;
            }
            let mut buf = [0 as std::os::raw::c_char; virt::sys::VIR_UUID_STRING_BUFLEN as usize];
            if virt::sys::virDomainGetUUIDString((*record).dom, buf.as_mut_ptr()) < 0 {
                continue;
            }
            let uuid = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
            let params = (*record).params;
            let count = (*record).nparams.max(0) as usize;
            let mut values = Vec::with_capacity(count);
            if !params.is_null() {
                for p in std::slice::from_raw_parts(params, count) {
                    let value = match p.type_ as u32 {
                        virt::sys::VIR_TYPED_PARAM_INT => p.value.i as f64,
                        virt::sys::VIR_TYPED_PARAM_UINT => p.value.ui as f64,
                        virt::sys::VIR_TYPED_PARAM_LLONG => p.value.l as f64,
                        virt::sys::VIR_TYPED_PARAM_ULLONG => p.value.ul as f64,
                        virt::sys::VIR_TYPED_PARAM_DOUBLE => p.value.d,
                        _ => continue,
                    };
                    let field = CStr::from_ptr(p.field.as_ptr())
                        .to_string_lossy()
                        .into_owned();
                    values.push((field, value));
                }
            }
            out.push(StatsRecord { uuid, values });
        }
        if !records.is_null() {
            virt::sys::virDomainStatsRecordListFree(records);
        }
        Ok(out)
    }
}

/// `virNodeGetCPUStats` for all CPUs: nanoseconds busy (user, system,
/// iowait…) and idle since boot, or `None` where the driver has no figures.
pub fn node_cpu_times(conn: &Connect) -> Result<Option<(u64, u64)>, Error> {
    let all = virt::sys::VIR_NODE_CPU_STATS_ALL_CPUS;
    let mut n: std::os::raw::c_int = 0;
    // SAFETY: as `node_available_memory`: ask for the count, then fill an
    // array of exactly that many.
    unsafe {
        if virt::sys::virNodeGetCPUStats(conn.as_ptr(), all, std::ptr::null_mut(), &mut n, 0) < 0 {
            return Err(Error::last_error());
        }
        let mut params: Vec<virt::sys::virNodeCPUStats> =
            vec![std::mem::zeroed(); n.max(0) as usize];
        if virt::sys::virNodeGetCPUStats(conn.as_ptr(), all, params.as_mut_ptr(), &mut n, 0) < 0 {
            return Err(Error::last_error());
        }
        let (mut busy, mut idle, mut seen) = (0u64, 0u64, false);
        for p in params.iter().take(n.max(0) as usize) {
            let field = CStr::from_ptr(p.field.as_ptr()).to_string_lossy();
            match field.as_ref() {
                "idle" => idle = p.value,
                "user" | "system" | "iowait" => busy += p.value,
                _ => continue,
            }
            seen = true;
        }
        Ok(seen.then_some((busy, idle)))
    }
}

/// Memory the host can give a new guest, in bytes: free memory plus the
/// buffers and page cache the kernel hands back on demand
/// (`virNodeGetMemoryStats`). `virNodeGetFreeMemory` counts only the free
/// part, which a busy host keeps small on purpose.
pub fn node_available_memory(conn: &Connect) -> Result<u64, Error> {
    const ALL_CELLS: std::os::raw::c_int = -1;
    let mut n: std::os::raw::c_int = 0;
    // SAFETY: first call asks for the number of parameters (null array);
    // the second fills an array of exactly that many.
    unsafe {
        if virt::sys::virNodeGetMemoryStats(
            conn.as_ptr(),
            ALL_CELLS,
            std::ptr::null_mut(),
            &mut n,
            0,
        ) < 0
        {
            return Err(Error::last_error());
        }
        let mut params: Vec<virt::sys::virNodeMemoryStats> =
            vec![std::mem::zeroed(); n.max(0) as usize];
        if virt::sys::virNodeGetMemoryStats(
            conn.as_ptr(),
            ALL_CELLS,
            params.as_mut_ptr(),
            &mut n,
            0,
        ) < 0
        {
            return Err(Error::last_error());
        }
        let kib: u64 = params
            .iter()
            .take(n.max(0) as usize)
            .filter(|p| {
                let field = CStr::from_ptr(p.field.as_ptr()).to_string_lossy();
                matches!(field.as_ref(), "free" | "buffers" | "cached")
            })
            .map(|p| p.value)
            .sum();
        Ok(kib * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt::error::{ErrorNumber, ErrorNumberEnum};

    /// The calling thread's nice value, from the kernel (field 19 of its stat).
    fn nice_of_this_thread() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("thread stat");
        // The command name (field 2) may hold spaces: count after its ')'.
        let after = &stat[stat.rfind(')').expect("stat has a name") + 2..];
        after
            .split(' ')
            .nth(16)
            .expect("a nice field")
            .parse()
            .expect("a number")
    }

    #[test]
    fn only_the_calling_thread_gets_the_lower_priority() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            assert!(lower_this_thread_priority(10));
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, before.max(10));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the other threads keep theirs"
        );
    }

    #[test]
    fn a_cpu_comparison_with_a_nul_byte_is_refused_not_sent_empty() {
        let conn = Connect::open(Some("test:///default")).expect("the test driver opens");
        let invalid = ErrorNumberEnum::from(ErrorNumber::InvalidArg);
        let xml = "<cpu><model>host\0</model></cpu>";
        let e = compare_hypervisor_cpu(&conn, None, None, None, xml).unwrap_err();
        assert_eq!(e.code(), invalid, "{e}");
        let cpu = "<cpu/>";
        for (arch, machine, virt_type) in [
            (Some("x86\0_64"), None, None),
            (None, Some("q35\0"), None),
            (None, None, Some("\0kvm")),
        ] {
            let e = compare_hypervisor_cpu(&conn, arch, machine, virt_type, cpu).unwrap_err();
            assert_eq!(e.code(), invalid, "{e}");
        }
    }
}
