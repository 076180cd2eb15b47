//! The lab of `scripts/lab`: two real libvirt hosts and an iSCSI target on
//! this machine, as the tests see it (`$VIRTDECK_LAB/lab.env`), and guests to
//! put on it.

use std::{collections::HashMap, path::PathBuf, process::Command, time::Duration};

use server::config::HostConfig;

/// The lab's facts from `$VIRTDECK_LAB/lab.env`.
#[derive(Clone)]
pub struct Lab {
    env: HashMap<String, String>,
}

impl Lab {
    pub fn load() -> Lab {
        let dir = std::env::var("VIRTDECK_LAB").unwrap_or_else(|_| "/tmp/virtdeck-lab".into());
        let path = PathBuf::from(&dir).join("lab.env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the lab is not up ({}: {e}); start it with `scripts/lab up` \
                 (scripts/test does this itself)",
                path.display()
            )
        });
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Lab { env }
    }

    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("lab.env has no {key}"))
    }

    pub fn hosts(&self) -> Vec<HostConfig> {
        vec![
            HostConfig::new("lab-a", self.get("LAB_HOST_A_URI")),
            HostConfig::new("lab-b", self.get("LAB_HOST_B_URI")),
        ]
    }

    /// Where a path under the host's /var/lib/libvirt/images is seen from here.
    pub fn outside(&self, host: &str, inside: &str) -> PathBuf {
        let images = match host {
            "lab-a" => self.get("LAB_HOST_A_IMAGES"),
            "lab-c" => self.get("LAB_HOST_C_IMAGES"),
            _ => self.get("LAB_HOST_B_IMAGES"),
        };
        let rest = inside
            .strip_prefix("/var/lib/libvirt/images")
            .expect("a path under the images directory");
        PathBuf::from(format!("{images}{rest}"))
    }
}

impl Lab {
    pub fn uri(&self, host: &str) -> &str {
        match host {
            "lab-a" => self.get("LAB_HOST_A_URI"),
            "lab-c" => self.get("LAB_HOST_C_URI"),
            _ => self.get("LAB_HOST_B_URI"),
        }
    }

    /// Runs `virsh` against a lab host; panics with its output when it fails.
    pub fn virsh(&self, host: &str, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["60", "virsh", "-q", "-c", self.uri(host)])
            .args(args)
            .output()
            .expect("virsh runs");
        assert!(
            out.status.success(),
            "virsh -c {host} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Like `virsh`, but a failure is an answer, not a panic.
    pub fn virsh_ok(&self, host: &str, args: &[&str]) -> Option<String> {
        let out = Command::new("timeout")
            .args(["60", "virsh", "-q", "-c", self.uri(host)])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// `running`, `shut off`, … or `None` when the host has no such guest.
    pub fn state(&self, host: &str, guest: &str) -> Option<String> {
        self.virsh_ok(host, &["domstate", guest])
    }

    pub fn persistent(&self, host: &str, guest: &str) -> bool {
        self.virsh_ok(host, &["dominfo", guest]).is_some_and(|i| {
            i.lines()
                .any(|l| l.starts_with("Persistent:") && l.ends_with("yes"))
        })
    }

    /// Defines (and, if `start`, starts) a guest from XML on a host.
    pub fn define(&self, host: &str, xml: &str, start: bool) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), xml).unwrap();
        let path = file.path().to_str().unwrap();
        self.virsh(host, &["define", path]);
        if start {
            let name = roxmltree::Document::parse(xml)
                .unwrap()
                .descendants()
                .find(|n| n.has_tag_name("name"))
                .and_then(|n| n.text())
                .unwrap()
                .to_string();
            self.virsh(host, &["start", &name]);
        }
    }

    /// Removes a guest from every lab host, whatever state it is in.
    pub fn remove(&self, guest: &str) {
        for host in ["lab-a", "lab-b", "lab-c"] {
            if host == "lab-c" && !self.env.contains_key("LAB_HOST_C_URI") {
                continue;
            }
            let _ = self.virsh_ok(host, &["destroy", guest]);
            let _ = self.virsh_ok(host, &["undefine", guest, "--snapshots-metadata"]);
            let _ = self.virsh_ok(host, &["undefine", guest, "--nvram"]);
            let _ = self.virsh_ok(host, &["undefine", guest]);
        }
    }

    /// Removes the guest from both hosts when dropped: also when a test fails.
    pub fn guard(&self, guest: &str) -> GuestGuard {
        GuestGuard {
            lab: self.clone(),
            guest: guest.to_string(),
        }
    }

    /// The serial console log of a guest on a host, seen from here.
    pub fn serial_log(&self, host: &str, guest: &str) -> PathBuf {
        let letter = host.strip_prefix("lab-").unwrap_or("b");
        PathBuf::from(self.get("LAB_DIR"))
            .join("hosts")
            .join(letter)
            .join("log/qemu")
            .join(format!("{guest}-serial.log"))
    }

    /// Waits until the small Linux guest says it filled its memory.
    pub async fn wait_ready(&self, host: &str, guest: &str) {
        let log = self.serial_log(host, guest);
        for _ in 0..240 {
            if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("LAB-GUEST READY")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("{guest} did not boot within 60 s ({})", log.display());
    }
}

/// A minimal guest: 256 MiB, no OS, sits in SeaBIOS. `devices` are extra
/// device elements (disks). TCG (`type='qemu'`): this machine's KVM stalls Linux.
pub fn bios_guest(name: &str, uuid: &str, devices: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>256</memory><currentMemory unit='MiB'>256</currentMemory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>\
         <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{devices}<memballoon model='none'/></devices></domain>"
    )
}

/// The small Linux guest of `scripts/lab guest-kernel`: fills `fill` MiB of
/// its RAM with random data, so a migration moves real data for a while.
pub fn linux_guest(lab: &Lab, name: &str, uuid: &str, fill: u32) -> String {
    linux_guest_args(lab, name, uuid, &format!("fill={fill}"))
}

/// The same guest with its kernel parameters given (`fill=30 dirty=30`:
/// re-writes 30 MiB of random data for ever, faster than a slow link copies).
pub fn linux_guest_args(lab: &Lab, name: &str, uuid: &str, args: &str) -> String {
    linux_guest_with(lab, name, uuid, args, "")
}

/// The same guest with extra device elements (a disk).
pub fn linux_guest_with(lab: &Lab, name: &str, uuid: &str, args: &str, devices: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>256</memory><currentMemory unit='MiB'>256</currentMemory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>\
         <cmdline>console=ttyS0 quiet {args}</cmdline></os><features><acpi/></features>\
         <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>{devices}\
         <serial type='file'><source path='/var/log/libvirt/qemu/{name}-serial.log' append='on'/></serial>\
         <memballoon model='none'/></devices></domain>",
        kernel = lab.get("LAB_GUEST_KERNEL"),
        initrd = lab.get("LAB_GUEST_INITRD"),
    )
}

/// A fresh guest UUID.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// See `Lab::guard`.
pub struct GuestGuard {
    lab: Lab,
    guest: String,
}

impl Drop for GuestGuard {
    fn drop(&mut self) {
        self.lab.remove(&self.guest);
    }
}
