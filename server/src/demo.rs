//! The demo fleet: two hosts on libvirt's test driver, served when no hosts are
//! configured. The fixture files are built into the binary and written to a
//! private directory at start (the test driver reads a file path).

use std::path::Path;

use anyhow::Context;

use crate::config::HostConfig;

pub const FIXTURES: [(&str, &str); 2] = [
    ("demo-alpha", include_str!("../fixtures/demo-alpha.xml")),
    ("demo-beta", include_str!("../fixtures/demo-beta.xml")),
];

/// Writes the demo fixtures into `dir` and returns their hosts.
pub fn write_fixtures(dir: &Path) -> anyhow::Result<Vec<HostConfig>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    FIXTURES
        .iter()
        .map(|(name, xml)| {
            let path = dir.join(format!("{name}.xml"));
            std::fs::write(&path, xml)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(HostConfig::new(name, &format!("test://{}", path.display())))
        })
        .collect()
}
