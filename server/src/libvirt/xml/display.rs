//! A guest's graphical display as its live XML (read with secrets) says:
//! where its VNC server listens and its password.

/// Where the guest's VNC display listens, and its password.
#[derive(Debug, PartialEq, Eq)]
pub struct Display {
    pub address: String,
    pub port: u16,
    pub password: Option<String>,
}

/// The first VNC `<graphics>` of a live domain XML read with its secrets;
/// the address to dial: its listen address, or `fallback` (the host's) when it
/// listens on every address.
pub fn display_of(xml: &str, fallback: &str) -> Result<Option<Display>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("unreadable domain XML: {e}"))?;
    let Some(graphics) = doc
        .descendants()
        .find(|n| n.has_tag_name("graphics") && n.attribute("type") == Some("vnc"))
    else {
        return Ok(None);
    };
    let listen_child = graphics
        .children()
        .find(|n| n.has_tag_name("listen"))
        .filter(|n| n.attribute("type") != Some("none"));
    if listen_child.is_some_and(|l| l.attribute("type") == Some("socket"))
        || graphics.attribute("socket").is_some()
    {
        return Err("this guest's VNC display listens on a UNIX socket of its host only".into());
    }
    let port: i32 = graphics
        .attribute("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(-1);
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or("the VNC display has no port yet (is the guest running?)")?;
    let listen = graphics
        .attribute("listen")
        .or_else(|| listen_child.and_then(|l| l.attribute("address")))
        .unwrap_or("")
        .trim();
    let address = match listen {
        "" | "0.0.0.0" | "::" | "[::]" => fallback.to_string(),
        a => a.trim_start_matches('[').trim_end_matches(']').to_string(),
    };
    let password = graphics
        .attribute("passwd")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    Ok(Some(Display {
        address,
        port,
        password,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_display_comes_from_the_graphics_element() {
        let xml = "<domain><devices><graphics type='spice' port='5901'/>\
                   <graphics type='vnc' port='5903' autoport='yes' listen='127.0.0.2' passwd='s3cretpw'>\
                   <listen type='address' address='127.0.0.2'/></graphics></devices></domain>";
        assert_eq!(
            display_of(xml, "kvm1").unwrap(),
            Some(Display {
                address: "127.0.0.2".into(),
                port: 5903,
                password: Some("s3cretpw".into())
            })
        );
        let any = "<domain><devices><graphics type='vnc' port='5900' listen='0.0.0.0'/></devices></domain>";
        assert_eq!(display_of(any, "kvm1").unwrap().unwrap().address, "kvm1");
        let none = "<domain><devices><graphics type='spice' port='5901'/></devices></domain>";
        assert_eq!(display_of(none, "kvm1").unwrap(), None);
        let off =
            "<domain><devices><graphics type='vnc' port='-1' autoport='yes'/></devices></domain>";
        assert!(display_of(off, "kvm1").is_err());
    }
}
