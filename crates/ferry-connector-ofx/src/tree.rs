//! The generic OFX tree: an [`Element`] is either a leaf with text or an aggregate with
//! children, with small helpers to walk it. No OFX vocabulary lives here.

use crate::header::Header;

/// A whole OFX document: its header and its `<OFX>` root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ofx {
    /// The header that preceded the body.
    pub header: Header,
    /// The `<OFX>` element.
    pub root: Element,
}

/// One element of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The tag name as written (OFX tags are upper case).
    pub name: String,
    /// The element's text or children.
    pub content: Content,
}

/// What an element holds.
///
/// An element with nothing in it (`<MEMO></MEMO>`, `<MEMO/>`, or a v1 `<MEMO>` directly followed
/// by another tag) is always read as `Text("")`: without a DTD an empty aggregate and an empty
/// leaf cannot be told apart, so one spelling is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A leaf's text, entity-decoded and trimmed.
    Text(String),
    /// An aggregate's children, in document order.
    Children(Vec<Element>),
}

impl Element {
    /// A leaf element.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        Element { name: name.into(), content: Content::Text(text.into()) }
    }

    /// An aggregate element.
    pub fn aggregate(name: impl Into<String>, children: Vec<Element>) -> Self {
        Element { name: name.into(), content: Content::Children(children) }
    }

    /// The leaf's text, or `None` for an aggregate.
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(t) => Some(t),
            Content::Children(_) => None,
        }
    }

    /// All children (empty for a leaf).
    pub fn all_children(&self) -> &[Element] {
        match &self.content {
            Content::Children(c) => c,
            Content::Text(_) => &[],
        }
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.all_children().iter().find(|c| c.name == name)
    }

    /// Every child called `name`.
    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.all_children().iter().filter(move |c| c.name == name)
    }

    /// The text of the first child leaf called `name`; `None` when it is absent, empty or an
    /// aggregate, so callers never have to tell "absent" from "blank".
    pub fn text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(Element::as_text).filter(|t| !t.is_empty())
    }

    /// The first element reached by a `/`-separated path of child names, such as
    /// `SIGNONMSGSRSV1/SONRS/STATUS`.
    pub fn find(&self, path: &str) -> Option<&Element> {
        path.split('/').filter(|p| !p.is_empty()).try_fold(self, |el, name| el.child(name))
    }

    /// Every element reached by a path, following all matching children at each step.
    pub fn find_all<'a>(&'a self, path: &'a str) -> Vec<&'a Element> {
        let mut current = vec![self];
        for name in path.split('/').filter(|p| !p.is_empty()) {
            current = current.into_iter().flat_map(|el| el.children(name)).collect();
        }
        current
    }

    /// Appends a child to an aggregate; a leaf is turned into an aggregate first.
    pub fn push(&mut self, child: Element) {
        match &mut self.content {
            Content::Children(c) => c.push(child),
            Content::Text(_) => self.content = Content::Children(vec![child]),
        }
    }
}
