//! The OFX header: v1 `KEY:VALUE` lines, v2 `<?OFX ...?>` processing instructions, and the
//! character-set decision that must be taken from it before the body is tokenised.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

use crate::error::ParseError;

/// Versions this crate reads and writes.
pub const SUPPORTED_VERSIONS: [u16; 11] = [102, 103, 151, 160, 200, 201, 202, 203, 210, 211, 220];

/// The header of an OFX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// False when the document began directly with `<OFX>`; the other fields then hold v1
    /// defaults and `version` is 102.
    pub present: bool,
    /// The OFX version, one of [`SUPPORTED_VERSIONS`].
    pub version: u16,
    /// `SECURITY` (`NONE` or `TYPE1`).
    pub security: String,
    /// v1 `ENCODING` (`USASCII`, `UTF-8`, `UNICODE`); v2 the XML declaration's encoding.
    pub encoding: String,
    /// v1 `CHARSET` (`1252`, `ISO-8859-1`, `NONE`); empty for v2.
    pub charset: String,
    /// `OLDFILEUID`.
    pub old_file_uid: String,
    /// `NEWFILEUID`.
    pub new_file_uid: String,
}

impl Header {
    /// A header for a new document of `version` with the customary defaults (`SECURITY:NONE`,
    /// file UIDs `NONE`, v1 in US-ASCII with code page 1252, v2 in UTF-8).
    pub fn new(version: u16) -> Self {
        let v2 = version >= 200;
        Header {
            present: true,
            version,
            security: "NONE".into(),
            encoding: if v2 { "UTF-8".into() } else { "USASCII".into() },
            charset: if v2 { String::new() } else { "1252".into() },
            old_file_uid: "NONE".into(),
            new_file_uid: "NONE".into(),
        }
    }

    /// True for the XML flavour (versions 200 and above).
    pub fn is_v2(&self) -> bool {
        self.version >= 200
    }

    /// The text encoding the body was (or will be) written in.
    pub fn text_encoding(&self) -> Result<&'static Encoding, ParseError> {
        text_encoding(&self.encoding, &self.charset)
    }
}

/// Chooses the decoder for a v1 `ENCODING`/`CHARSET` pair or a v2 XML encoding.
///
/// `USASCII` with `CHARSET:NONE` is read as Windows-1252 because servers that claim pure ASCII
/// still send accented names, and 1252 decodes every byte without failing. encoding_rs maps
/// the label ISO-8859-1 to Windows-1252 too (the WHATWG rule), which is a superset.
fn text_encoding(encoding: &str, charset: &str) -> Result<&'static Encoding, ParseError> {
    let enc = encoding.trim().to_ascii_uppercase();
    if enc == "UTF-8" || enc == "UNICODE" || enc == "UTF8" {
        return Ok(UTF_8);
    }
    let cs = charset.trim().to_ascii_uppercase();
    match cs.as_str() {
        "" | "NONE" | "1252" | "WINDOWS-1252" | "CP1252" => Ok(WINDOWS_1252),
        "ISO-8859-1" | "8859-1" | "ISO8859-1" | "LATIN1" => Ok(WINDOWS_1252),
        "UTF-8" => Ok(UTF_8),
        other => Encoding::for_label(other.as_bytes()).ok_or_else(|| ParseError::Charset(other.into())),
    }
}

/// The header and the still-encoded body that follows it.
pub(crate) struct Split<'a> {
    pub header: Header,
    pub body: &'a [u8],
}

/// Reads the header at the start of `bytes` and returns it with the rest of the document.
pub(crate) fn split_header(bytes: &[u8]) -> Result<Split<'_>, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let rest = &bytes[start..];
    if starts_with_ci(rest, b"OFXHEADER") {
        parse_v1(rest)
    } else if rest.starts_with(b"<?") {
        parse_v2(rest)
    } else if starts_with_ci(rest, b"<OFX>") {
        let mut header = Header::new(102);
        header.present = false;
        Ok(Split { header, body: rest })
    } else {
        let shown: String = String::from_utf8_lossy(&rest[..rest.len().min(40)]).into_owned();
        Err(ParseError::NotOfx(format!("starts with {shown:?}")))
    }
}

fn starts_with_ci(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Parses v1 `KEY:VALUE` pairs up to the first `<`, tolerating spaces after the colon, the
/// whole header on one line and a missing blank line.
fn parse_v1(bytes: &[u8]) -> Result<Split<'_>, ParseError> {
    let end = bytes.iter().position(|&b| b == b'<').unwrap_or(bytes.len());
    let text =
        std::str::from_utf8(&bytes[..end]).map_err(|_| ParseError::Header("header contains non-ASCII bytes".into()))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut words = text.split_ascii_whitespace().peekable();
    while let Some(word) = words.next() {
        let Some((key, value)) = word.split_once(':') else {
            return Err(ParseError::Header(format!("expected KEY:VALUE, found {word:?}")));
        };
        let value = if value.is_empty() {
            // `KEY: VALUE` splits into two words; take the next one unless it is itself a pair.
            match words.peek() {
                Some(next) if !next.contains(':') => words.next().unwrap_or_default(),
                _ => "",
            }
        } else {
            value
        };
        pairs.push((key.to_ascii_uppercase(), value.to_owned()));
    }
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    match get("OFXHEADER").as_deref() {
        Some("100") => {}
        other => return Err(ParseError::Header(format!("OFXHEADER {other:?}, expected 100"))),
    }
    if let Some(data) = get("DATA")
        && !data.eq_ignore_ascii_case("OFXSGML")
    {
        return Err(ParseError::Header(format!("DATA {data:?}, expected OFXSGML")));
    }
    let version_text = get("VERSION").ok_or_else(|| ParseError::Header("no VERSION".into()))?;
    let version = parse_version(&version_text)?;
    if version >= 200 {
        return Err(ParseError::Header(format!("v1 header announces v2 version {version}")));
    }
    let header = Header {
        present: true,
        version,
        security: get("SECURITY").unwrap_or_else(|| "NONE".into()),
        encoding: get("ENCODING").unwrap_or_else(|| "USASCII".into()),
        charset: get("CHARSET").unwrap_or_else(|| "1252".into()),
        old_file_uid: get("OLDFILEUID").unwrap_or_else(|| "NONE".into()),
        new_file_uid: get("NEWFILEUID").unwrap_or_else(|| "NONE".into()),
    };
    header.text_encoding()?;
    Ok(Split { header, body: &bytes[end..] })
}

fn parse_version(text: &str) -> Result<u16, ParseError> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|v| SUPPORTED_VERSIONS.contains(v))
        .ok_or_else(|| ParseError::UnsupportedVersion(text.chars().take(16).collect()))
}

/// Parses the optional `<?xml ...?>` declaration and the required `<?OFX ...?>` instruction.
fn parse_v2(bytes: &[u8]) -> Result<Split<'_>, ParseError> {
    let mut rest = bytes;
    let mut xml_encoding = None;
    let mut ofx_attrs = None;
    while rest.starts_with(b"<?") {
        // Search past the opening `<?`, so that `<?>` is unterminated instead of an inverted range.
        let close =
            find(&rest[2..], b"?>").map(|i| i + 2).ok_or_else(|| ParseError::Header("unterminated <?".into()))?;
        let inner = String::from_utf8_lossy(&rest[2..close]).into_owned();
        let (target, attrs) = inner.split_once(char::is_whitespace).unwrap_or((&inner, ""));
        let attrs = parse_attributes(attrs);
        if target.eq_ignore_ascii_case("xml") {
            xml_encoding = attrs.iter().find(|(k, _)| k == "ENCODING").map(|(_, v)| v.clone());
        } else if target.eq_ignore_ascii_case("OFX") {
            ofx_attrs = Some(attrs);
        }
        rest = &rest[close + 2..];
        let skip = rest.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(rest.len());
        rest = &rest[skip..];
        if ofx_attrs.is_some() {
            break;
        }
    }
    let attrs = ofx_attrs.ok_or_else(|| ParseError::NotOfx("XML without an <?OFX ...?> header".into()))?;
    let get = |k: &str| attrs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    match get("OFXHEADER").as_deref() {
        Some("200") => {}
        other => return Err(ParseError::Header(format!("OFXHEADER {other:?}, expected 200"))),
    }
    let version_text = get("VERSION").ok_or_else(|| ParseError::Header("no VERSION".into()))?;
    let version = parse_version(&version_text)?;
    if version < 200 {
        return Err(ParseError::Header(format!("v2 header announces v1 version {version}")));
    }
    let header = Header {
        present: true,
        version,
        security: get("SECURITY").unwrap_or_else(|| "NONE".into()),
        encoding: xml_encoding.unwrap_or_else(|| "UTF-8".into()),
        charset: String::new(),
        old_file_uid: get("OLDFILEUID").unwrap_or_else(|| "NONE".into()),
        new_file_uid: get("NEWFILEUID").unwrap_or_else(|| "NONE".into()),
    };
    if Encoding::for_label(header.encoding.as_bytes()).is_none() {
        return Err(ParseError::Charset(header.encoding.clone()));
    }
    Ok(Split { header, body: rest })
}

/// Splits `KEY="VALUE"` pairs; keys are upper-cased because servers disagree on case.
fn parse_attributes(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_ascii_uppercase();
        let after = rest[eq + 1..].trim_start();
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let (value, next) = match quote {
            Some(q) => match after[1..].find(q) {
                Some(end) => (&after[1..1 + end], &after[end + 2..]),
                None => (&after[1..], ""),
            },
            None => match after.find(char::is_whitespace) {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            },
        };
        out.push((key, value.to_owned()));
        rest = next.trim_start();
    }
    out
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Decodes the body per the header. v1 bodies that claim UTF-8 but are not valid UTF-8 are read
/// as Windows-1252, because servers mislabel their code page far more often than they send
/// real UTF-8 with errors in it.
pub(crate) fn decode_body(header: &Header, body: &[u8]) -> Result<String, ParseError> {
    let encoding = if header.is_v2() {
        Encoding::for_label(header.encoding.as_bytes()).unwrap_or(UTF_8)
    } else {
        header.text_encoding()?
    };
    if encoding == UTF_8 {
        return match std::str::from_utf8(body) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) if !header.is_v2() => Ok(WINDOWS_1252.decode_without_bom_handling(body).0.into_owned()),
            Err(_) => Ok(String::from_utf8_lossy(body).into_owned()),
        };
    }
    Ok(encoding.decode_without_bom_handling(body).0.into_owned())
}

/// Writes the header lines for `header`, with `encoding`/`charset` overriding its own (the
/// writer picks them from the text it has to encode).
pub(crate) fn write_header(out: &mut Vec<u8>, header: &Header, encoding: &str, charset: &str) {
    if header.is_v2() {
        out.extend_from_slice(b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n");
        let line = format!(
            "<?OFX OFXHEADER=\"200\" VERSION=\"{}\" SECURITY=\"{}\" OLDFILEUID=\"{}\" NEWFILEUID=\"{}\"?>\r\n",
            header.version,
            header_value(&header.security),
            header_value(&header.old_file_uid),
            header_value(&header.new_file_uid)
        );
        out.extend_from_slice(line.as_bytes());
    } else {
        let text = format!(
            "OFXHEADER:100\r\nDATA:OFXSGML\r\nVERSION:{}\r\nSECURITY:{}\r\nENCODING:{}\r\nCHARSET:{}\r\n\
             COMPRESSION:NONE\r\nOLDFILEUID:{}\r\nNEWFILEUID:{}\r\n\r\n",
            header.version,
            header_value(&header.security),
            encoding,
            charset,
            header_value(&header.old_file_uid),
            header_value(&header.new_file_uid)
        );
        out.extend_from_slice(text.as_bytes());
    }
}

/// Keeps a header value to one token of printable ASCII, so a caller-supplied file UID cannot
/// break the header's line structure.
fn header_value(value: &str) -> String {
    let cleaned: String = value.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>')).collect();
    if cleaned.is_empty() { "NONE".into() } else { cleaned }
}
