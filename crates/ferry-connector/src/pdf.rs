//! Plain text documents as real PDF files (Letter pages, Helvetica, paginated), for connectors
//! whose institutions describe statements as data rather than handing over documents. The
//! output depends only on the lines given: the same statement always has the same bytes.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

const PAGE_WIDTH: f32 = 612.0;
const PAGE_HEIGHT: f32 = 792.0;
const MARGIN: f32 = 54.0;
const LEADING: f32 = 13.0;
const FONT_SIZE: f32 = 9.5;
const TITLE_SIZE: f32 = 14.0;

/// A PDF whose first line is a title and the rest body text, one line per entry.
pub fn text_document(title: &str, lines: &[String]) -> Vec<u8> {
    let per_page = ((PAGE_HEIGHT - 2.0 * MARGIN - 2.0 * LEADING) / LEADING) as usize;
    let pages: Vec<&[String]> = if lines.is_empty() { vec![&[][..]] } else { lines.chunks(per_page).collect() };

    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let page_ref = |n: usize| Ref::new(4 + 2 * n as i32);
    let content_ref = |n: usize| Ref::new(5 + 2 * n as i32);

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids((0..pages.len()).map(page_ref)).count(pages.len() as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));
    for (n, chunk) in pages.iter().enumerate() {
        let mut page = pdf.page(page_ref(n));
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_ref(n));
        page.resources().fonts().pair(Name(b"F1"), font);
        page.finish();

        let mut content = Content::new();
        content.begin_text();
        content.set_font(Name(b"F1"), TITLE_SIZE);
        content.next_line(MARGIN, PAGE_HEIGHT - MARGIN);
        let heading =
            if pages.len() > 1 { format!("{title} (page {} of {})", n + 1, pages.len()) } else { title.into() };
        content.show(Str(ascii(&heading).as_bytes()));
        content.set_font(Name(b"F1"), FONT_SIZE);
        content.next_line(0.0, -2.0 * LEADING);
        for line in chunk.iter() {
            content.show(Str(ascii(line).as_bytes()));
            content.next_line(0.0, -LEADING);
        }
        content.end_text();
        pdf.stream(content_ref(n), &content.finish());
    }
    pdf.finish()
}

/// Helvetica's standard encoding covers ASCII; anything else is shown as `?`.
fn ascii(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_pdf_and_deterministic() {
        let lines: Vec<String> = (0..120).map(|i| format!("Line {i} (with parentheses) and a caf\u{e9}")).collect();
        let a = text_document("Statement", &lines);
        assert!(a.starts_with(b"%PDF-"));
        assert!(a.trim_ascii_end().ends_with(b"%%EOF"));
        assert_eq!(a, text_document("Statement", &lines));
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains("/Count 3"), "120 lines make three pages");
        assert!(text_document("Empty", &[]).starts_with(b"%PDF-"));
    }
}
