//! The few libvirt calls that `virt` 0.5 does not wrap, as safe functions.
//! Every use of `virt::sys` lives in this file.

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
    let c = |s: Option<&str>| s.map(|s| CString::new(s).unwrap_or_default());
    let (arch, machine, virt_type) = (c(arch), c(machine), c(virt_type));
    let cpu = CString::new(cpu_xml).unwrap_or_default();
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
