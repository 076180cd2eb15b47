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
