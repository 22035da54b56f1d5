//! The generic reader and writer: headers, leaf closing rules, entities, limits and errors.

use ferry_connector_ofx::*;

fn body(text: &str) -> Element {
    parse(text.as_bytes()).unwrap().root
}

#[test]
fn unclosed_leaves_end_at_the_next_tag() {
    let root = body("<OFX><STATUS><CODE>0<SEVERITY>INFO</STATUS></OFX>");
    let status = root.child("STATUS").unwrap();
    assert_eq!(status.text("CODE"), Some("0"));
    assert_eq!(status.text("SEVERITY"), Some("INFO"));
    assert_eq!(root.find("STATUS/CODE").and_then(Element::as_text), Some("0"));
}

#[test]
fn end_tag_omission_closes_up_to_the_matching_aggregate() {
    // </B> closes the unclosed <C> too; </OFX> closes <A>'s missing end.
    let root = body("<OFX><A><B><C><D>1</B><E>2</A></OFX>");
    let a = root.child("A").unwrap();
    let b = a.child("B").unwrap();
    assert_eq!(b.all_children().len(), 2);
    assert_eq!(b.text("C"), None);
    assert_eq!(b.child("C").unwrap().as_text(), Some(""));
    assert_eq!(b.text("D"), Some("1"));
    assert_eq!(a.text("E"), Some("2"));
}

#[test]
fn empty_elements_read_as_empty_text() {
    let root = body("<OFX><A></A><B/><C> </C><D><E>x</E></D></OFX>");
    for name in ["A", "B", "C"] {
        assert_eq!(root.child(name).unwrap().as_text(), Some(""), "{name}");
        assert_eq!(root.text(name), None);
    }
    assert_eq!(root.find("D/E").unwrap().as_text(), Some("x"));
}

#[test]
fn entities_are_decoded_and_a_raw_ampersand_is_kept() {
    let root = body(
        "<OFX><A>Joe's Diner & Bar</A><B>&amp;&lt;&gt;&quot;&apos;&nbsp;&#65;&#x42;</B><C>AT&T &unknown; &#xZZ; &</C></OFX>",
    );
    assert_eq!(root.text("A"), Some("Joe's Diner & Bar"));
    assert_eq!(root.text("B"), Some("&<>\"'\u{A0}AB"));
    assert_eq!(root.text("C"), Some("AT&T &unknown; &#xZZ; &"));
}

#[test]
fn comments_processing_instructions_and_cdata() {
    let root = body("<OFX><!-- c --><?pi x?><A>x<!-- inner -->y</A><B><![CDATA[a<b&c]]></B></OFX>");
    assert_eq!(root.text("A"), Some("xy"));
    assert_eq!(root.text("B"), Some("a<b&c"));
    assert_eq!(root.all_children().len(), 2);
}

#[test]
fn no_header_means_v1_with_present_false() {
    let ofx = parse(b"\r\n<OFX><A>1</OFX>").unwrap();
    assert!(!ofx.header.present);
    assert_eq!(ofx.header.version, 102);
}

#[test]
fn header_errors_are_clear() {
    let v1 = |version: &str| format!("OFXHEADER:100\nDATA:OFXSGML\nVERSION:{version}\n\n<OFX><A>1</OFX>");
    assert!(matches!(parse(v1("999").as_bytes()), Err(ParseError::UnsupportedVersion(v)) if v == "999"));
    assert!(matches!(parse(v1("220").as_bytes()), Err(ParseError::Header(_))));
    for version in SUPPORTED_VERSIONS.iter().filter(|v| **v < 200) {
        assert_eq!(parse(v1(&version.to_string()).as_bytes()).unwrap().header.version, *version);
    }
    for version in SUPPORTED_VERSIONS.iter().filter(|v| **v >= 200) {
        let text =
            format!("<?xml version=\"1.0\"?>\n<?OFX OFXHEADER=\"200\" VERSION=\"{version}\"?>\n<OFX><A>1</A></OFX>");
        assert_eq!(parse(text.as_bytes()).unwrap().header.version, *version);
    }
    let v2 =
        |version: &str| format!("<?xml version=\"1.0\"?><?OFX OFXHEADER=\"200\" VERSION=\"{version}\"?><OFX></OFX>");
    assert!(matches!(parse(v2("230").as_bytes()), Err(ParseError::UnsupportedVersion(_))));
    assert!(matches!(parse(v2("102").as_bytes()), Err(ParseError::Header(_))));
    assert!(matches!(parse(b"<?xml version=\"1.0\"?><OFX></OFX>"), Err(ParseError::NotOfx(_))));
    assert!(matches!(parse(b"OFXHEADER:100\nCHARSET:KLINGON\nVERSION:102\n<OFX></OFX>"), Err(ParseError::Charset(_))));
}

#[test]
fn structural_errors_are_clear_and_never_panic() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"garbage",
        b"<html><body>Error</body></html>",
        b"<OFX>",
        b"<OFX><A><B>1</A>",
        b"<OFX><A>1</B></OFX>",
        b"<OFX><A>1</OFX></OFX>",
        b"<OFX><>",
        b"<OFX><A",
        b"<OFX><!-- never closed",
        b"<OFX><![CDATA[ never closed",
        b"<OFX>text</OFX>",
        b"<OFX><1A>x</1A></OFX>",
        b"\xff\xfe\x00<\x00O",
        // Found by cargo fuzz: an instruction whose `?>` overlaps its `<?`.
        b"<?>",
        b"<?xml?><?>",
        b"<?OFX?>",
    ];
    for bytes in cases {
        let _ = parse(bytes);
        let _ = parse_response(bytes);
        let _ = parse_request(bytes);
    }
    assert!(matches!(parse(b"<OFX><A>1</B></OFX>"), Err(ParseError::Syntax { .. })));
    assert!(matches!(parse(b"<OFX><A><B>1</A>"), Err(ParseError::Syntax { .. })));
}

#[test]
fn nesting_is_bounded() {
    let deep = "<A>".repeat(MAX_DEPTH + 5);
    let text = format!("<OFX>{deep}x");
    assert_eq!(parse(text.as_bytes()), Err(ParseError::TooDeep(MAX_DEPTH)));
    let ok = format!("<OFX>{}<B>x{}</OFX>", "<A>".repeat(10), "</A>".repeat(10));
    assert!(parse(ok.as_bytes()).is_ok());
}

#[test]
fn parsing_is_linear_on_hostile_inputs() {
    // Each would be quadratic in a naive reader; a few MB must stay well under a second.
    let n = 200_000;
    let inputs = [
        format!("<OFX>{}</OFX>", "<A>1".repeat(n)),
        format!("<OFX><A>{}</A></OFX>", "&".repeat(n * 5)),
        format!("<OFX><A>{}</A></OFX>", "&amp".repeat(n)),
        format!("<OFX>{}</OFX>", "<A></A>".repeat(n)),
        format!("<OFX>{}", "</".repeat(n)),
    ];
    let start = std::time::Instant::now();
    for input in &inputs {
        let _ = parse(input.as_bytes());
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(5), "took {:?}", start.elapsed());
}

#[test]
fn writer_escapes_and_chooses_the_character_set() {
    let mut ofx = parse(b"<OFX><A>x</A></OFX>").unwrap();
    ofx.root = Element::aggregate("OFX", vec![Element::leaf("NAME", "CAFÉ M&M <x>")]);
    let bytes = write(&ofx, Style::default());
    let text = encoding_rs::WINDOWS_1252.decode(&bytes).0;
    assert!(text.contains("CHARSET:1252"), "{text}");
    assert!(text.contains("<NAME>CAFÉ M&amp;M &lt;x&gt;<"), "{text}");
    assert!(bytes.contains(&0xC9));
    assert_eq!(parse(&bytes).unwrap().root, ofx.root);

    ofx.root = Element::aggregate("OFX", vec![Element::leaf("NAME", "Café \u{2603} 東京")]);
    let bytes = write(&ofx, Style { closed_leaves: true, pretty: true });
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("ENCODING:UTF-8\r\nCHARSET:NONE"), "{text}");
    assert!(text.contains("\r\n  <NAME>Café \u{2603} 東京</NAME>\r\n"), "{text}");
    assert_eq!(parse(&bytes).unwrap().root, ofx.root);

    ofx.header = Header::new(220);
    let text = String::from_utf8(write(&ofx, Style::default())).unwrap();
    assert!(text.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n<?OFX OFXHEADER=\"200\" VERSION=\"220\""
    ));
    assert!(text.ends_with("<OFX><NAME>Café \u{2603} 東京</NAME></OFX>"), "{text}");
}
