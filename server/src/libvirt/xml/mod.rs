//! Libvirt's XML documents: built from typed values with an XML writer (never
//! by pasting strings, so a name with `<`, `&` or quotes cannot change the
//! structure) and parsed in one place per object.
//!
//! - `capabilities`: host and storage pool capabilities;
//! - `pool`: storage pool definitions and found sources;
//! - `volume`: storage volume definitions;
//! - `domain`: the parts of a guest's definition virtdeck reads (its disks);
//! - `guest`: a new guest's definition, devices, and the overview read back;
//! - `tree`: an editable tree for changing a definition libvirt sent.

pub mod capabilities;
pub mod display;
pub mod domain;
pub mod guest;
pub mod pool;
pub mod tree;
pub mod volume;

use quick_xml::{
    events::{BytesStart, BytesText, Event},
    Writer,
};

/// An element to be written: built with `el("name").attr(..).child(..)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    children: Vec<Element>,
    text: Option<String>,
}

pub fn el(name: &'static str) -> Element {
    Element {
        name,
        attrs: Vec::new(),
        children: Vec::new(),
        text: None,
    }
}

impl Element {
    pub fn attr(mut self, name: &'static str, value: impl ToString) -> Self {
        self.attrs.push((name, value.to_string()));
        self
    }

    pub fn text(mut self, text: impl ToString) -> Self {
        self.text = Some(text.to_string());
        self
    }

    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    pub fn child_opt(self, child: Option<Element>) -> Self {
        match child {
            Some(c) => self.child(c),
            None => self,
        }
    }

    pub fn has_children(&self) -> bool {
        !self.children.is_empty()
    }

    /// The document as text; attribute values and text are escaped.
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        self.write(&mut writer)
            .expect("writing XML to memory cannot fail");
        String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name);
        for (k, v) in &self.attrs {
            start.push_attribute((*k, v.as_str()));
        }
        if self.children.is_empty() && self.text.is_none() {
            return w.write_event(Event::Empty(start));
        }
        w.write_event(Event::Start(start.borrow()))?;
        if let Some(text) = &self.text {
            w.write_event(Event::Text(BytesText::new(text)))?;
        }
        for child in &self.children {
            child.write(w)?;
        }
        w.write_event(Event::End(start.to_end()))
    }
}

/// A document libvirt sent that virtdeck cannot read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable {what} XML from libvirt: {detail}")]
pub struct XmlError {
    pub what: &'static str,
    pub detail: String,
}

pub fn parse<'a>(what: &'static str, text: &'a str) -> Result<roxmltree::Document<'a>, XmlError> {
    roxmltree::Document::parse(text).map_err(|e| XmlError {
        what,
        detail: e.to_string(),
    })
}

/// The first child element named `tag`.
pub fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(tag))
}

/// Every child element named `tag`.
pub fn children<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    tag: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children().filter(move |n| n.has_tag_name(tag))
}

/// The trimmed, non-empty text of the child `tag`.
pub fn child_text(node: roxmltree::Node, tag: &str) -> Option<String> {
    child(node, tag)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// A non-empty attribute of the child `tag`.
pub fn child_attr(node: roxmltree::Node, tag: &str, attr: &str) -> Option<String> {
    child(node, tag)
        .and_then(|n| n.attribute(attr))
        .map(str::to_string)
        .filter(|t| !t.is_empty())
}

/// A size element such as `<capacity unit='bytes'>1024</capacity>`, in bytes.
pub fn size(node: roxmltree::Node, tag: &str) -> u64 {
    let Some(n) = child(node, tag) else { return 0 };
    let value: u64 = n.text().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    let scale: u64 = match n.attribute("unit").unwrap_or("bytes") {
        "b" | "bytes" => 1,
        "KB" => 1000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "T" | "TiB" => 1 << 40,
        _ => 1,
    };
    value.saturating_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped_never_structure() {
        let xml = el("pool")
            .attr("type", "dir'><evil/>")
            .child(el("name").text("</name><target>&x"))
            .to_xml();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("type"), Some("dir'><evil/>"));
        assert_eq!(root.children().filter(|n| n.is_element()).count(), 1);
        assert_eq!(
            child_text(root, "name").as_deref(),
            Some("</name><target>&x")
        );
    }

    #[test]
    fn sizes_honour_their_unit() {
        let doc = roxmltree::Document::parse(
            "<v><capacity unit='GiB'>2</capacity><allocation>7</allocation><x unit='KB'>3</x></v>",
        )
        .unwrap();
        let v = doc.root_element();
        assert_eq!(size(v, "capacity"), 2 << 30);
        assert_eq!(size(v, "allocation"), 7);
        assert_eq!(size(v, "x"), 3000);
        assert_eq!(size(v, "missing"), 0);
    }
}
