//! What a disk image's header says it reads besides itself: a backing file
//! (qcow, qcow2, QED, a VMDK's parent), an external data file (qcow2), or
//! extents (a VMDK text descriptor). Such a name is a file on the host that
//! the guest would read — `/etc/shadow` as a backing file is readable by the
//! guest — so images from users are checked before they are written or used.
//! Pure: the header's first bytes in, a verdict out.

/// How many bytes of an image are read to decide.
pub const HEAD: usize = 1 << 20;

/// What the image refers to outside itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refers {
    Nothing,
    /// A backing file, by the name the header holds (`None`: not within `HEAD`).
    Backing(Option<String>),
    /// Its data lives in another file (qcow2's external data file).
    DataFile,
    /// A VMDK text descriptor: its data is in other files (extents).
    Extents,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A name stored at `offset`, `len` bytes long, if it lies within `head`.
fn name_at(head: &[u8], offset: u64, len: u64) -> Option<String> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let bytes = head.get(start..end)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// The references in an image's first bytes (`head`, at most `HEAD`).
pub fn references(head: &[u8]) -> Refers {
    // qcow (1) and qcow2 (2, 3): "QFI\xfb", version, backing offset and size.
    if head.starts_with(b"QFI\xfb") {
        let version = be32(head, 4).unwrap_or(0);
        let offset = be64(head, 8).unwrap_or(0);
        let size = be32(head, 16).unwrap_or(0);
        if offset != 0 && size != 0 {
            return Refers::Backing(name_at(head, offset, size.into()));
        }
        // qcow2 v3: incompatible feature bit 2 is an external data file.
        if version >= 3 && be64(head, 72).unwrap_or(0) & 0b100 != 0 {
            return Refers::DataFile;
        }
        return Refers::Nothing;
    }
    // QED: "QED\0"; features bit 0 says a backing file follows.
    if head.starts_with(b"QED\0") {
        if le64(head, 16).unwrap_or(0) & 1 != 0 {
            let offset = le32(head, 56).unwrap_or(0);
            let size = le32(head, 60).unwrap_or(0);
            return Refers::Backing(name_at(head, offset.into(), size.into()));
        }
        return Refers::Nothing;
    }
    // A VMDK text descriptor names the files that hold the data.
    if head.starts_with(b"# Disk DescriptorFile") {
        return Refers::Extents;
    }
    // A sparse VMDK ("KDMV") embeds a descriptor: a parent is a backing file.
    if head.starts_with(b"KDMV") {
        let sector = le64(head, 28).unwrap_or(0);
        let sectors = le64(head, 36).unwrap_or(0);
        if sector != 0 {
            let text = name_at(head, sector * 512, sectors.min(2048) * 512)
                .or_else(|| {
                    name_at(
                        head,
                        sector * 512,
                        (head.len() as u64).saturating_sub(sector * 512),
                    )
                })
                .unwrap_or_default();
            if let Some(line) = text
                .lines()
                .find(|l| l.trim_start().starts_with("parentFileNameHint"))
            {
                let name = line.split('"').nth(1).map(str::to_string);
                return Refers::Backing(name);
            }
        }
        return Refers::Nothing;
    }
    Refers::Nothing
}

/// Whether a backing file `name` (as the header holds it) is volume `n` of
/// the pool whose directory is `target`, with `exists` telling which names
/// the pool has.
pub fn in_pool(name: &str, target: Option<&str>, exists: impl Fn(&str) -> bool) -> bool {
    let file = match name.rsplit_once('/') {
        None => name,
        Some((dir, file)) => {
            let Some(target) = target else { return false };
            if dir != target.trim_end_matches('/') {
                return false;
            }
            file
        }
    };
    !file.is_empty() && file != "." && file != ".." && !file.contains(':') && exists(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2(backing: Option<&str>, version: u32, incompatible: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&version.to_be_bytes());
        if let Some(b) = backing {
            h[8..16].copy_from_slice(&112u64.to_be_bytes());
            h[16..20].copy_from_slice(&(b.len() as u32).to_be_bytes());
            h[112..112 + b.len()].copy_from_slice(b.as_bytes());
        }
        h[72..80].copy_from_slice(&incompatible.to_be_bytes());
        h
    }

    #[test]
    fn backing_and_data_files_are_read_from_the_header() {
        assert_eq!(references(&qcow2(None, 3, 0)), Refers::Nothing);
        assert_eq!(
            references(&qcow2(Some("/etc/shadow"), 3, 0)),
            Refers::Backing(Some("/etc/shadow".into()))
        );
        assert_eq!(
            references(&qcow2(Some("base.qcow2"), 2, 0)),
            Refers::Backing(Some("base.qcow2".into()))
        );
        assert_eq!(references(&qcow2(None, 3, 0b100)), Refers::DataFile);
        // A name beyond what was read is still a backing file.
        let mut cut = qcow2(Some("/etc/shadow"), 3, 0);
        cut.truncate(100);
        assert_eq!(references(&cut), Refers::Backing(None));
        assert_eq!(
            references(b"# Disk DescriptorFile\nRW 10 FLAT \"/etc/shadow\" 0\n"),
            Refers::Extents
        );
        assert_eq!(references(b"\x00\x00raw data"), Refers::Nothing);
        assert_eq!(references(b""), Refers::Nothing);
    }

    #[test]
    fn only_volumes_of_the_same_pool_may_back_an_image() {
        let has = |n: &str| n == "base.qcow2";
        let t = Some("/var/lib/libvirt/images");
        assert!(in_pool("base.qcow2", t, has));
        assert!(in_pool("/var/lib/libvirt/images/base.qcow2", t, has));
        assert!(!in_pool("/etc/shadow", t, has));
        assert!(!in_pool("../images/base.qcow2", t, has));
        assert!(!in_pool("other.qcow2", t, has));
        assert!(!in_pool("/var/lib/libvirt/images/base.qcow2", None, has));
        assert!(!in_pool("nbd:127.0.0.1:10809", t, |_| true));
    }
}
