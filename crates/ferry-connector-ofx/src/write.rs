//! The serializer: an [`Ofx`] back to bytes, as v1 SGML (leaves closed or not) or v2 XML,
//! compact or pretty, with the header and character set chosen to fit the text.

use encoding_rs::WINDOWS_1252;

use crate::entity::escape;
use crate::header::write_header;
use crate::tree::{Content, Element, Ofx};

/// How to lay out the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Write `</TAG>` after every leaf. v2 always does; some v1 servers refuse it.
    pub closed_leaves: bool,
    /// One element per line, indented by two spaces per level. Some servers need it, some
    /// refuse it.
    pub pretty: bool,
}

/// Writes `ofx` with a header for `ofx.header.version`.
///
/// Character set (v1): text that is pure ASCII keeps the header's `ENCODING`/`CHARSET`
/// (`USASCII`/`1252` by default). Text with characters outside ASCII is written in code page 1252
/// (`ENCODING:USASCII`, `CHARSET:1252`) when every character fits it, because that is what v1
/// servers most often expect; otherwise the file is written as `ENCODING:UTF-8`, `CHARSET:NONE`.
/// v2 is always UTF-8 and always closes its leaves.
pub fn write(ofx: &Ofx, style: Style) -> Vec<u8> {
    let v2 = ofx.header.is_v2();
    let closed = style.closed_leaves || v2;
    let newline = if v2 { "\n" } else { "\r\n" };
    let mut body = String::new();
    write_element(&ofx.root, closed, style.pretty.then_some(newline), &mut body);
    let mut out = Vec::with_capacity(body.len() + 256);
    if v2 {
        write_header(&mut out, &ofx.header, "UTF-8", "");
        out.extend_from_slice(body.as_bytes());
    } else if body.is_ascii() {
        write_header(&mut out, &ofx.header, &ofx.header.encoding, &ofx.header.charset);
        out.extend_from_slice(body.as_bytes());
    } else {
        let (bytes, _, unmappable) = WINDOWS_1252.encode(&body);
        if unmappable {
            write_header(&mut out, &ofx.header, "UTF-8", "NONE");
            out.extend_from_slice(body.as_bytes());
        } else {
            write_header(&mut out, &ofx.header, "USASCII", "1252");
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// Writes an element tree with an explicit stack, so depth costs heap and never stack.
fn write_element(root: &Element, closed: bool, newline: Option<&str>, out: &mut String) {
    enum Step<'a> {
        Open(&'a Element, usize),
        Close(&'a str, usize),
    }
    let mut steps = vec![Step::Open(root, 0)];
    while let Some(step) = steps.pop() {
        match step {
            Step::Open(el, depth) => {
                indent(out, newline, depth);
                out.push('<');
                out.push_str(&el.name);
                out.push('>');
                match &el.content {
                    Content::Text(text) => {
                        escape(text, out);
                        if closed {
                            out.push_str("</");
                            out.push_str(&el.name);
                            out.push('>');
                        }
                        if let Some(nl) = newline {
                            out.push_str(nl);
                        }
                    }
                    Content::Children(children) => {
                        if let Some(nl) = newline {
                            out.push_str(nl);
                        }
                        steps.push(Step::Close(&el.name, depth));
                        steps.extend(children.iter().rev().map(|c| Step::Open(c, depth + 1)));
                    }
                }
            }
            Step::Close(name, depth) => {
                indent(out, newline, depth);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
                if let Some(nl) = newline {
                    out.push_str(nl);
                }
            }
        }
    }
}

fn indent(out: &mut String, newline: Option<&str>, depth: usize) {
    if newline.is_some() {
        out.extend(std::iter::repeat_n("  ", depth));
    }
}
