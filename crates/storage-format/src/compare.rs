//! Two bodies compared as documents, not as bytes: the same elements with the same
//! attributes (in any order, quoted either way), the same text (entities and CDATA
//! resolved, runs of white space as one), and no regard for comments or for the
//! inline-comment markers a site places around the text its comments highlight.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::inline::character_data;
use super::Malformed;

/// One piece of a body, as compared.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    Open(String, Vec<(String, String)>),
    Close(String),
    Text(String),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Open(name, attributes) => {
                write!(f, "<{name}")?;
                for (k, v) in attributes {
                    write!(f, " {k}=\"{v}\"")?;
                }
                f.write_str(">")
            }
            Token::Close(name) => write!(f, "</{name}>"),
            Token::Text(text) => write!(f, "the text \"{}\"", shorten(text)),
        }
    }
}

/// At most 80 characters of `text`, marked when cut.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

const MARKER: &[u8] = b"ac:inline-comment-marker";

fn tokens(body: &str) -> Result<Vec<Token>, Malformed> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut out = Vec::new();
    let mut text = String::new();
    let flush = |text: &mut String, out: &mut Vec<Token>| {
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !collapsed.is_empty() {
            out.push(Token::Text(collapsed));
        }
        text.clear();
    };
    loop {
        let event = reader.read_event().map_err(|e| Malformed { at: reader.error_position(), message: e.to_string() })?;
        let at = reader.buffer_position();
        let marker = match &event {
            Event::Start(e) | Event::Empty(e) => e.name().as_ref() == MARKER,
            Event::End(e) => e.name().as_ref() == MARKER,
            _ => false,
        };
        if marker {
            continue;
        }
        match &event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                flush(&mut text, &mut out);
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let mut attributes = Vec::new();
                for attribute in e.attributes() {
                    let attribute = attribute.map_err(|e| Malformed { at, message: e.to_string() })?;
                    let value = attribute.unescape_value().map_err(|e| Malformed { at, message: e.to_string() })?;
                    attributes.push((String::from_utf8_lossy(attribute.key.as_ref()).into_owned(), value.into_owned()));
                }
                attributes.sort();
                out.push(Token::Open(name.clone(), attributes));
                if matches!(event, Event::Empty(_)) {
                    out.push(Token::Close(name));
                }
            }
            Event::End(e) => {
                flush(&mut text, &mut out);
                out.push(Token::Close(String::from_utf8_lossy(e.name().as_ref()).into_owned()));
            }
            other => {
                if let Some(t) = character_data(other).map_err(|message| Malformed { at, message })? {
                    text.push_str(&t);
                }
            }
        }
    }
    flush(&mut text, &mut out);
    Ok(out)
}

/// The first place where `actual` reads otherwise than `expected`, in words (`None`:
/// they are the same document). A body that does not parse is an error.
pub fn first_difference(expected: &str, actual: &str) -> Result<Option<String>, Malformed> {
    let (expected, actual) = (tokens(expected)?, tokens(actual)?);
    for (n, pair) in expected.iter().zip(actual.iter()).enumerate() {
        if pair.0 != pair.1 {
            let before = n.checked_sub(1).and_then(|p| expected.get(p)).map(|t| format!(" after {t}")).unwrap_or_default();
            return Ok(Some(format!("{} where {} was expected{before}", pair.1, pair.0)));
        }
    }
    let some = |tokens: &[Token]| tokens.iter().take(3).map(ToString::to_string).collect::<Vec<_>>().join(", ");
    Ok(match expected.len().cmp(&actual.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(format!("it ends where {} was expected", some(&expected[actual.len()..]))),
        std::cmp::Ordering::Less => Some(format!("it goes on with {}", some(&actual[expected.len()..]))),
    })
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn the_same_document_written_otherwise_is_the_same() {
        let a = r#"<p>Hello &amp; <strong class="x" id='y'>world</strong></p><ac:image><ri:attachment ri:filename="a.png"/></ac:image>"#;
        let b = r#"<p>Hello &#38;  <strong id="y" class="x">world</strong></p>
                   <ac:image><ri:attachment ri:filename="a.png"></ri:attachment></ac:image>"#;
        assert_eq!(first_difference(a, b).unwrap(), None);
    }

    #[test]
    fn a_sites_inline_comment_markers_are_not_a_difference() {
        let a = "<p>The quick brown fox</p>";
        let b = r#"<p>The <ac:inline-comment-marker ac:ref="5d1c">quick</ac:inline-comment-marker> brown fox</p>"#;
        assert_eq!(first_difference(a, b).unwrap(), None);
    }

    #[test]
    fn changed_text_and_attributes_are_named() {
        let why = first_difference("<p>one</p><p>two</p>", "<p>one</p><p>three</p>").unwrap().unwrap();
        assert_eq!(why, "the text \"three\" where the text \"two\" was expected after <p>");
        let why = first_difference(r#"<ri:page ri:content-id="1"/>"#, r#"<ri:page ri:content-id="2"/>"#).unwrap().unwrap();
        assert!(why.contains("ri:content-id=\"2\"") && why.contains("ri:content-id=\"1\""), "{why}");
        assert_eq!(first_difference("<p>a</p><p>b</p>", "<p>a</p>").unwrap().unwrap(), "it ends where <p>, the text \"b\", </p> was expected");
        assert_eq!(first_difference("<p>a</p>", "<p>a</p><p>new</p>").unwrap().unwrap(), "it goes on with <p>, the text \"new\", </p>");
        assert!(first_difference("<p>a</b>", "<p>a</p>").is_err());
    }
}
