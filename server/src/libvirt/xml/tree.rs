//! An editable XML tree, for changing a definition libvirt sent (a guest's
//! memory, boot order, devices; a clone's name and disks) and sending it back
//! whole. Names keep their prefixes (`libosinfo:os`) and attributes their
//! namespace declarations, so metadata of other tools survives; comments and
//! whitespace-only text are dropped. Written with the same escaping writer as
//! `Element`.

use quick_xml::{
    events::{BytesStart, BytesText, Event},
    Reader, Writer, XmlVersion,
};

use super::{Element, XmlError};

/// One element with its attributes, text and child elements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: Option<String>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Reads a document (its root element).
    pub fn parse(what: &'static str, xml: &str) -> Result<Node, XmlError> {
        let err = |detail: String| XmlError { what, detail };
        let mut reader = Reader::from_str(xml);
        let mut stack: Vec<Node> = Vec::new();
        loop {
            match reader.read_event().map_err(|e| err(e.to_string()))? {
                Event::Start(start) => stack.push(Self::from_start(&start).map_err(err)?),
                Event::Empty(start) => {
                    let node = Self::from_start(&start).map_err(err)?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => return Ok(node),
                    }
                }
                Event::End(_) => {
                    let mut node = stack
                        .pop()
                        .ok_or_else(|| err("unbalanced end tag".into()))?;
                    if node.text.as_deref().is_some_and(|t| t.trim().is_empty()) {
                        node.text = None;
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => return Ok(node),
                    }
                }
                Event::Text(text) => {
                    if let Some(node) = stack.last_mut() {
                        let text = text.xml_content(XmlVersion::Implicit1_0);
                        node.text.get_or_insert_with(String::new).push_str(&text);
                    }
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().map_err(|e| err(e.to_string()))? {
                        Some(c) => c.to_string(),
                        None => match &*r.into_inner() {
                            "amp" => "&".into(),
                            "lt" => "<".into(),
                            "gt" => ">".into(),
                            "quot" => "\"".into(),
                            "apos" => "'".into(),
                            other => return Err(err(format!("unknown entity &{other};"))),
                        },
                    };
                    if let Some(node) = stack.last_mut() {
                        node.text
                            .get_or_insert_with(String::new)
                            .push_str(&resolved);
                    }
                }
                Event::CData(data) => {
                    if let Some(node) = stack.last_mut() {
                        node.text
                            .get_or_insert_with(String::new)
                            .push_str(&data.into_inner());
                    }
                }
                Event::Eof => return Err(err("no root element".into())),
                _ => {}
            }
        }
    }

    fn from_start(start: &BytesStart) -> Result<Node, String> {
        let name = start.name().as_ref().to_string();
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| e.to_string())?;
            let key = attr.key.as_ref().to_string();
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?;
            attrs.push((key, value.into_owned()));
        }
        Ok(Node {
            name,
            attrs,
            text: None,
            children: Vec::new(),
        })
    }

    /// The document as text; attribute values and text are escaped.
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        self.write(&mut writer)
            .expect("writing XML to memory cannot fail");
        String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name.as_str());
        for (k, v) in &self.attrs {
            start.push_attribute((k.as_str(), v.as_str()));
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

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_attr(&mut self, name: &str, value: impl ToString) {
        let value = value.to_string();
        match self.attrs.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.attrs.push((name.to_string(), value)),
        }
    }

    pub fn remove_attr(&mut self, name: &str) {
        self.attrs.retain(|(k, _)| k != name);
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// The child `name`, added at the end if missing.
    pub fn ensure_child(&mut self, name: &str) -> &mut Node {
        if let Some(i) = self.children.iter().position(|c| c.name == name) {
            return &mut self.children[i];
        }
        self.children.push(Node::new(name));
        self.children.last_mut().expect("just pushed")
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn children_named_mut<'a>(
        &'a mut self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a mut Node> + 'a {
        self.children.iter_mut().filter(move |c| c.name == name)
    }

    /// Removes the children `name` for which `remove` is true; answers how many.
    pub fn remove_children(&mut self, name: &str, remove: impl Fn(&Node) -> bool) -> usize {
        let before = self.children.len();
        self.children.retain(|c| !(c.name == name && remove(c)));
        before - self.children.len()
    }

    pub fn set_text(&mut self, text: impl ToString) {
        self.text = Some(text.to_string());
    }

    /// Inserts `node` after the last child named like it (or at the end).
    pub fn insert_grouped(&mut self, node: Node) {
        match self.children.iter().rposition(|c| c.name == node.name) {
            Some(i) => self.children.insert(i + 1, node),
            None => self.children.push(node),
        }
    }
}

impl From<&Element> for Node {
    fn from(e: &Element) -> Node {
        Node {
            name: e.name.to_string(),
            attrs: e
                .attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            text: e.text.clone(),
            children: e.children.iter().map(Node::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_survives_a_round_trip_with_its_namespaces() {
        let xml = r#"<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>a&amp;b</name>
  <metadata><libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0"><libosinfo:os id="http://debian.org/debian/12"/></libosinfo:libosinfo></metadata>
  <description>line "one" &lt;two&gt;</description>
  <!-- a comment -->
  <devices><disk type='file' device='disk'><source file='/x y/&apos;q.img'/></disk></devices>
</domain>"#;
        let tree = Node::parse("domain", xml).unwrap();
        let again = Node::parse("domain", &tree.to_xml()).unwrap();
        assert_eq!(tree, again);
        assert_eq!(tree.child("name").unwrap().text.as_deref(), Some("a&b"));
        let meta = tree.child("metadata").unwrap();
        assert_eq!(meta.children[0].name, "libosinfo:libosinfo");
        assert_eq!(
            meta.children[0].attr("xmlns:libosinfo"),
            Some("http://libosinfo.org/xmlns/libvirt/domain/1.0")
        );
        let disk = &tree.child("devices").unwrap().children[0];
        assert_eq!(
            disk.child("source").unwrap().attr("file"),
            Some("/x y/'q.img")
        );
        // What libvirt's own parser sees is the same document.
        let text = tree.to_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(
            doc.descendants()
                .find(|n| n.has_tag_name("description"))
                .unwrap()
                .text(),
            Some("line \"one\" <two>")
        );
    }

    #[test]
    fn edits_change_only_what_they_name() {
        let mut tree = Node::parse(
            "domain",
            "<domain><os><type>hvm</type><boot dev='hd'/></os></domain>",
        )
        .unwrap();
        let os = tree.child_mut("os").unwrap();
        assert_eq!(os.remove_children("boot", |_| true), 1);
        let mut boot = Node::new("boot");
        boot.set_attr("dev", "cdrom'/><evil/>");
        os.insert_grouped(boot);
        let text = tree.to_xml();
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("evil")).count(),
            0
        );
        assert_eq!(
            doc.descendants()
                .find(|n| n.has_tag_name("boot"))
                .unwrap()
                .attribute("dev"),
            Some("cdrom'/><evil/>")
        );
        assert!(Node::parse("domain", "<domain><a></domain>").is_err());
        assert!(Node::parse("domain", "").is_err());
    }
}
