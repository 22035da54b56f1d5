//! Typed access to leaves while reading aggregates, and a small builder for writing them, so
//! each message module says *what* it reads and writes rather than how.

use std::fmt::Display;

use rust_decimal::Decimal;

use crate::error::ParseError;
use crate::tree::Element;
use crate::value::{OfxDate, format_bool, parse_amount, parse_bool};

/// Declares an OFX string enumeration that keeps unknown values instead of failing, because
/// servers invent values and one odd transaction type must not lose a whole statement.
macro_rules! ofx_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $(#[doc = concat!("`", $text, "`")] $variant,)*
            /// A value this crate does not know, kept as written.
            Unknown(String),
        }

        impl $name {
            /// Reads the OFX spelling; unknown values are kept in `Unknown`.
            pub fn parse(text: &str) -> Self {
                match text.trim() {
                    $($text => Self::$variant,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }

            /// The OFX spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Unknown(text) => text,
                }
            }
        }
    };
}
pub(crate) use ofx_enum;

fn path(el: &Element, name: &str) -> String {
    format!("{}/{}", el.name, name)
}

/// A required leaf's text.
pub(crate) fn req<'a>(el: &'a Element, name: &str) -> Result<&'a str, ParseError> {
    el.text(name).ok_or_else(|| ParseError::Missing(path(el, name)))
}

/// A required child aggregate.
pub(crate) fn req_child<'a>(el: &'a Element, name: &str) -> Result<&'a Element, ParseError> {
    el.child(name).ok_or_else(|| ParseError::Missing(path(el, name)))
}

/// An optional leaf's text, owned.
pub(crate) fn opt(el: &Element, name: &str) -> Option<String> {
    el.text(name).map(str::to_owned)
}

fn with_path<T>(el: &Element, name: &str, result: Result<T, ParseError>) -> Result<T, ParseError> {
    result.map_err(|e| match e {
        ParseError::Invalid { value, reason, .. } => ParseError::Invalid { path: path(el, name), value, reason },
        other => other,
    })
}

/// A required date leaf.
pub(crate) fn req_date(el: &Element, name: &str) -> Result<OfxDate, ParseError> {
    with_path(el, name, OfxDate::parse(req(el, name)?))
}

/// An optional date leaf; present but malformed is an error.
pub(crate) fn opt_date(el: &Element, name: &str) -> Result<Option<OfxDate>, ParseError> {
    el.text(name).map(|t| with_path(el, name, OfxDate::parse(t))).transpose()
}

/// A required amount leaf.
pub(crate) fn req_amount(el: &Element, name: &str) -> Result<Decimal, ParseError> {
    with_path(el, name, parse_amount(req(el, name)?))
}

/// An optional amount leaf; present but malformed is an error.
pub(crate) fn opt_amount(el: &Element, name: &str) -> Result<Option<Decimal>, ParseError> {
    el.text(name).map(|t| with_path(el, name, parse_amount(t))).transpose()
}

/// An optional `Y`/`N` flag; absent reads as `default`.
pub(crate) fn flag(el: &Element, name: &str, default: bool) -> Result<bool, ParseError> {
    el.text(name).map(|t| with_path(el, name, parse_bool(t))).transpose().map(|v| v.unwrap_or(default))
}

/// Collects the children of an aggregate being written, skipping absent optional values.
#[derive(Default)]
pub(crate) struct Agg(Vec<Element>);

impl Agg {
    pub fn new() -> Self {
        Agg(Vec::new())
    }

    /// Adds a leaf.
    pub fn leaf(mut self, name: &str, value: impl Display) -> Self {
        self.0.push(Element::leaf(name, value.to_string()));
        self
    }

    /// Adds a leaf when the value is present.
    pub fn opt<T: Display>(self, name: &str, value: Option<T>) -> Self {
        match value {
            Some(v) => self.leaf(name, v),
            None => self,
        }
    }

    /// Adds a `Y`/`N` leaf.
    pub fn flag(self, name: &str, value: bool) -> Self {
        self.leaf(name, format_bool(value))
    }

    /// Adds a child element.
    pub fn child(mut self, el: Element) -> Self {
        self.0.push(el);
        self
    }

    /// Adds a child element when present.
    pub fn opt_child(mut self, el: Option<Element>) -> Self {
        self.0.extend(el);
        self
    }

    /// Adds several child elements.
    pub fn children(mut self, els: impl IntoIterator<Item = Element>) -> Self {
        self.0.extend(els);
        self
    }

    /// Finishes the aggregate.
    pub fn build(self, name: &str) -> Element {
        Element::aggregate(name, self.0)
    }
}
