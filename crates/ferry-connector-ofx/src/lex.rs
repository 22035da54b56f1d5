//! The body reader: one pass over decoded text that accepts SGML (v1, unclosed leaves) and XML
//! (v2) alike and builds the [`Element`] tree with an explicit stack, never recursion.
//!
//! The rule without a DTD, as OFX clients have always done it: a tag followed by text is a leaf
//! that ends at the next tag (its closing tag is optional); a tag followed by another tag opens
//! an aggregate. A closing tag closes everything opened since its matching opening tag; those
//! elements were never closed, so they were empty leaves, and what was read into them belongs
//! to the enclosing aggregate.

use crate::entity::decode_entities;
use crate::error::ParseError;
use crate::tree::{Content, Element};

/// The deepest nesting accepted; OFX itself needs about 12 levels.
pub const MAX_DEPTH: usize = 64;

/// One aggregate still open on the stack.
struct Frame {
    name: String,
    children: Vec<Element>,
}

/// What a `<...>` construct turned out to be.
enum Tag<'a> {
    Open {
        name: &'a str,
        self_closing: bool,
    },
    Close(&'a str),
    /// Comments, processing instructions and declarations: skipped.
    Skip,
    /// A `<![CDATA[...]]>` section, kept literally.
    CData(&'a str),
}

/// Builds the tree of the body that starts at the first `<`, which must open `OFX`.
pub(crate) fn parse_body(text: &str) -> Result<Element, ParseError> {
    let mut lexer = Lexer { text, pos: 0 };
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let stray_start = lexer.pos;
        let stray = lexer.raw_text();
        if lexer.pos >= text.len() {
            return Err(match stack.last() {
                Some(frame) => lexer.error(format!("input ends inside <{}>", frame.name)),
                None => ParseError::NotOfx("no <OFX> element".into()),
            });
        }
        if stack.is_empty() && !stray.trim().is_empty() {
            return Err(ParseError::NotOfx(format!("text before <OFX> at byte {stray_start}")));
        }
        let tag_start = lexer.pos;
        match lexer.tag()? {
            Tag::Skip | Tag::CData(_) => {}
            Tag::Open { name, self_closing } => {
                if stack.is_empty() && !name.eq_ignore_ascii_case("OFX") {
                    return Err(ParseError::NotOfx(format!("root element is <{name}>, expected <OFX>")));
                }
                if self_closing {
                    push_child(&mut stack, Element::leaf(name, ""));
                    continue;
                }
                let body = lexer.leaf_text()?;
                if !body.is_empty() {
                    if stack.is_empty() {
                        return Err(lexer.error("<OFX> holds text instead of elements".into()));
                    }
                    lexer.skip_close_of(name);
                    push_child(&mut stack, Element::leaf(name, body));
                } else if lexer.skip_close_of(name) {
                    if stack.is_empty() {
                        return Ok(Element::leaf(name, ""));
                    }
                    push_child(&mut stack, Element::leaf(name, ""));
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(ParseError::TooDeep(MAX_DEPTH));
                    }
                    stack.push(Frame { name: name.to_owned(), children: Vec::new() });
                }
            }
            Tag::Close(name) => {
                let Some(index) = stack.iter().rposition(|f| f.name == name) else {
                    return Err(ParseError::Syntax {
                        offset: tag_start,
                        message: format!("closing tag </{name}> matches no open element"),
                    });
                };
                while stack.len() > index + 1 {
                    unwind_unclosed(&mut stack);
                }
                let frame = stack.pop().ok_or_else(|| lexer.error("stack underflow".into()))?;
                let element = finish(frame);
                if stack.is_empty() {
                    // Whatever follows the root (trailing junk some servers append) is ignored.
                    return Ok(element);
                }
                push_child(&mut stack, element);
            }
        }
    }
}

/// Pops a frame that was never closed: it becomes an empty leaf, followed by what was read into it.
fn unwind_unclosed(stack: &mut Vec<Frame>) {
    if let Some(frame) = stack.pop()
        && let Some(parent) = stack.last_mut()
    {
        parent.children.push(Element::leaf(frame.name, ""));
        parent.children.extend(frame.children);
    }
}

fn finish(frame: Frame) -> Element {
    if frame.children.is_empty() {
        Element::leaf(frame.name, "")
    } else {
        Element { name: frame.name, content: Content::Children(frame.children) }
    }
}

fn push_child(stack: &mut [Frame], element: Element) {
    if let Some(top) = stack.last_mut() {
        top.children.push(element);
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn error(&self, message: String) -> ParseError {
        ParseError::Syntax { offset: self.pos, message }
    }

    /// Consumes text up to the next `<` (or the end) and returns it raw.
    fn raw_text(&mut self) -> &'a str {
        let rest = &self.text[self.pos..];
        let end = rest.find('<').unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    /// Reads a leaf's text: raw text and CDATA sections, skipping comments, up to the next real
    /// tag. Returns it entity-decoded and trimmed.
    fn leaf_text(&mut self) -> Result<String, ParseError> {
        let mut out = String::new();
        loop {
            let raw = self.raw_text();
            out.push_str(&decode_entities(raw));
            let rest = &self.text[self.pos..];
            if rest.starts_with("<![CDATA[") || rest.starts_with("<!--") || rest.starts_with("<?") {
                if let Tag::CData(data) = self.tag()? {
                    out.push_str(data);
                }
            } else {
                break;
            }
        }
        Ok(out.trim().to_owned())
    }

    /// Consumes `</name>` if it comes next (after optional whitespace).
    fn skip_close_of(&mut self, name: &str) -> bool {
        let rest = &self.text[self.pos..];
        let trimmed = rest.trim_start();
        let Some(after) = trimmed.strip_prefix("</") else { return false };
        let Some(end) = after.find('>') else { return false };
        if after[..end].trim() == name {
            self.pos += rest.len() - trimmed.len() + 2 + end + 1;
            true
        } else {
            false
        }
    }

    /// Reads one `<...>` construct; the lexer stands on its `<`.
    fn tag(&mut self) -> Result<Tag<'a>, ParseError> {
        let rest = &self.text[self.pos..];
        let (tag, len) = if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or_else(|| self.error("unterminated comment".into()))?;
            (Tag::Skip, 4 + end + 3)
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or_else(|| self.error("unterminated CDATA".into()))?;
            (Tag::CData(&after[..end]), 9 + end + 3)
        } else if let Some(after) = rest.strip_prefix("<?") {
            let end = after.find("?>").ok_or_else(|| self.error("unterminated <?".into()))?;
            (Tag::Skip, 2 + end + 2)
        } else if rest.starts_with("<!") {
            let end = rest.find('>').ok_or_else(|| self.error("unterminated <!".into()))?;
            (Tag::Skip, end + 1)
        } else {
            let end = rest.find('>').ok_or_else(|| self.error("unterminated tag".into()))?;
            let inner = &rest[1..end];
            let tag = if let Some(name) = inner.strip_prefix('/') {
                Tag::Close(self.name(name.trim())?)
            } else {
                let self_closing = inner.ends_with('/');
                let inner = inner.strip_suffix('/').unwrap_or(inner);
                // Attributes never occur in OFX; anything after the name is ignored.
                let name = inner.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or("");
                Tag::Open { name: self.name(name)?, self_closing }
            };
            (tag, end + 1)
        };
        self.pos += len;
        Ok(tag)
    }

    fn name(&self, name: &'a str) -> Result<&'a str, ParseError> {
        let valid = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
        if valid {
            Ok(name)
        } else {
            let shown: String = name.chars().take(32).collect();
            Err(self.error(format!("invalid tag name {shown:?}")))
        }
    }
}
