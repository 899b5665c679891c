//! Inline comments as the public API places them. A Server body marks the highlighted
//! text of each inline comment with `<ac:inline-comment-marker ac:ref="…">`; a Cloud site
//! makes its own marker when an inline comment is created, from the text to highlight and
//! which of its occurrences on the page is meant (`textSelection`,
//! `textSelectionMatchIndex`, `textSelectionMatchCount`). So the server's markers are taken
//! out of every body sent, each inline comment's place is said as text and occurrence, and
//! a body saved again over one that has the cloud's markers keeps them.
//!
//! "The text of a body" is its character data in order (entities resolved, CDATA
//! included), without macro parameters, which a reader does not see. Occurrences are
//! counted without overlap, from the start.

use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

use super::Malformed;

const MARKER: &[u8] = b"ac:inline-comment-marker";

/// Where an inline comment's highlight is: its text, and which occurrence of it in the
/// text of the body (zero-based, of `count`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The highlighted text.
    pub text: String,
    /// Which occurrence, from zero.
    pub index: usize,
    /// How many occurrences the body's text has.
    pub count: usize,
}

/// One piece of a body as read: an event, and the text it adds (if any) at `offset` of
/// the body's text.
struct Piece<'b> {
    event: Event<'b>,
    offset: usize,
    text: Option<String>,
}

/// The named entities a storage-format body uses beyond XML's own.
fn entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => "\u{a0}",
        "ndash" => "\u{2013}",
        "mdash" => "\u{2014}",
        "hellip" => "\u{2026}",
        "lsquo" => "\u{2018}",
        "rsquo" => "\u{2019}",
        "ldquo" => "\u{201c}",
        "rdquo" => "\u{201d}",
        "bull" => "\u{2022}",
        "middot" => "\u{b7}",
        "copy" => "\u{a9}",
        "reg" => "\u{ae}",
        "trade" => "\u{2122}",
        _ => return None,
    })
}

fn is_parameter(name: &[u8]) -> bool {
    name == b"ac:parameter"
}

/// Read `body` into pieces, with the text of the whole body.
fn read(body: &str) -> Result<(Vec<Piece<'_>>, String), Malformed> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut hidden = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| Malformed { at: reader.error_position(), message: e.to_string() })?;
        let added = match &event {
            Event::Eof => break,
            Event::Start(e) if is_parameter(e.name().as_ref()) => {
                hidden += 1;
                None
            }
            Event::End(e) if is_parameter(e.name().as_ref()) => {
                hidden = hidden.saturating_sub(1);
                None
            }
            _ if hidden > 0 => None,
            event => character_data(event).map_err(|message| Malformed { at: reader.buffer_position(), message })?,
        };
        let offset = text.len();
        if let Some(t) = &added {
            text.push_str(t);
        }
        pieces.push(Piece { event, offset, text: added });
    }
    Ok((pieces, text))
}

/// The characters an event stands for (text, CDATA, an entity resolved), if any.
pub(crate) fn character_data(event: &Event<'_>) -> Result<Option<String>, String> {
    Ok(match event {
        Event::Text(t) => Some(t.decode().map_err(|e| e.to_string())?.into_owned()),
        Event::CData(c) => Some(String::from_utf8_lossy(c.as_ref()).into_owned()),
        Event::GeneralRef(r) => {
            let name = String::from_utf8_lossy(r.as_ref()).into_owned();
            Some(match r.resolve_char_ref() {
                Ok(Some(c)) => c.to_string(),
                _ => entity(&name).map(str::to_string).unwrap_or_else(|| format!("&{name};")),
            })
        }
        _ => None,
    })
}

fn marker_ref(e: &BytesStart<'_>) -> Option<String> {
    e.try_get_attribute("ac:ref").ok().flatten().and_then(|a| a.unescape_value().ok()).map(|v| v.into_owned())
}

/// Where each occurrence of `needle` starts in `text` (without overlap).
fn occurrences(text: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    text.match_indices(needle).map(|(at, _)| at).collect()
}

/// The text of `body`, as a site matches a selection against it.
pub fn text_of(body: &str) -> Result<String, Malformed> {
    Ok(read(body)?.1)
}

/// Where the inline comment whose marker is `marker` is highlighted in `body`: `None` when
/// the body has no such marker, or it highlights no text.
pub fn selection_of(body: &str, marker: &str) -> Option<Selection> {
    let (pieces, text) = read(body).ok()?;
    let mut start = None;
    let mut depth = 0usize;
    for piece in &pieces {
        match &piece.event {
            Event::Start(e) if e.name().as_ref() == MARKER => {
                if start.is_some() {
                    depth += 1;
                } else if marker_ref(e).as_deref() == Some(marker) {
                    start = Some(piece.offset);
                }
            }
            Event::End(e) if e.name().as_ref() == MARKER && start.is_some() => {
                if depth == 0 {
                    let from = start?;
                    let selected = &text[from..piece.offset];
                    if selected.trim().is_empty() {
                        return None;
                    }
                    let all = occurrences(&text, selected);
                    let index = all.iter().rposition(|at| *at <= from)?;
                    return Some(Selection { text: selected.to_string(), index, count: all.len() });
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    None
}

/// `body` without inline-comment markers (what they highlighted stays).
pub fn without_markers(body: &str) -> Result<String, Malformed> {
    if !body.contains("ac:inline-comment-marker") {
        return Ok(body.to_string());
    }
    let (pieces, _) = read(body)?;
    write(
        pieces
            .into_iter()
            .filter(|p| !matches!(&p.event, Event::Start(e) | Event::Empty(e) if e.name().as_ref() == MARKER))
            .filter(|p| !matches!(&p.event, Event::End(e) if e.name().as_ref() == MARKER))
            .map(|p| p.event),
    )
}

fn write<'b>(events: impl Iterator<Item = Event<'b>>) -> Result<String, Malformed> {
    let mut writer = Writer::new(Vec::new());
    for event in events {
        writer.write_event(event).map_err(|e| Malformed { at: 0, message: e.to_string() })?;
    }
    String::from_utf8(writer.into_inner()).map_err(|e| Malformed { at: 0, message: e.to_string() })
}

/// What happened when a selection was looked for in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// The body with the occurrence wrapped in a marker named as asked.
    Marked(String),
    /// The occurrence is there but crosses formatting (or an entity): the body stays as
    /// it is, and the comment keeps its selection without a marker.
    Unmarked,
    /// The body's text has the selection another number of times than said (the
    /// selection is stale), or not at all.
    Mismatch {
        /// How many times the body's text has it.
        found: usize,
    },
}

/// Wrap the `selection.index`-th occurrence of `selection.text` in `body` in a marker
/// named `marker`, as a site does when an inline comment is created.
pub fn place(body: &str, selection: &Selection, marker: &str) -> Result<Placed, Malformed> {
    let (pieces, text) = read(body)?;
    let all = occurrences(&text, &selection.text);
    if all.len() != selection.count || selection.index >= all.len() {
        return Ok(Placed::Mismatch { found: all.len() });
    }
    let (from, to) = (all[selection.index], all[selection.index] + selection.text.len());
    let Some(at) =
        pieces.iter().position(|p| matches!(p.event, Event::Text(_)) && p.offset <= from && p.text.as_ref().is_some_and(|t| p.offset + t.len() >= to))
    else {
        return Ok(Placed::Unmarked);
    };
    let own = pieces[at].text.clone().unwrap_or_default();
    let (before, rest) = own.split_at(from - pieces[at].offset);
    let (inside, after) = rest.split_at(to - from);
    let mut start = BytesStart::new("ac:inline-comment-marker");
    start.push_attribute(("ac:ref", marker));
    let end = start.to_end().into_owned();
    let wrapped = [
        Event::Text(BytesText::new(before).into_owned()),
        Event::Start(start.clone()),
        Event::Text(BytesText::new(inside).into_owned()),
        Event::End(end),
        Event::Text(BytesText::new(after).into_owned()),
    ];
    let mut events: Vec<Event<'_>> = Vec::with_capacity(pieces.len() + 4);
    for (n, piece) in pieces.into_iter().enumerate() {
        if n == at {
            events.extend(wrapped.iter().filter(|&e| !matches!(e, Event::Text(t) if t.is_empty())).cloned());
        } else {
            events.push(piece.event);
        }
    }
    Ok(Placed::Marked(write(events.into_iter())?))
}

/// `new` with the inline-comment markers `current` has put back around the same
/// occurrences of the same text: a body saved over the cloud's keeps its inline comments
/// highlighted. A marker whose text `new` no longer has (or has another number of times)
/// is left out.
pub fn keep_markers(current: &str, new: &str) -> Result<String, Malformed> {
    let Ok((pieces, _)) = read(current) else { return Ok(new.to_string()) };
    let markers: Vec<String> = pieces
        .iter()
        .filter_map(|p| match &p.event {
            Event::Start(e) if e.name().as_ref() == MARKER => marker_ref(e),
            _ => None,
        })
        .collect();
    let mut body = without_markers(new)?;
    for marker in markers {
        let Some(selection) = selection_of(current, &marker) else { continue };
        if let Placed::Marked(marked) = place(&body, &selection, &marker)? {
            body = marked;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "<p>the plan is the plan, <ac:inline-comment-marker ac:ref=\"m-2\">the plan</ac:inline-comment-marker> &amp; more</p>\
                        <ac:structured-macro ac:name=\"x\"><ac:parameter ac:name=\"title\">the plan</ac:parameter></ac:structured-macro>";

    #[test]
    fn a_markers_place_is_its_text_and_which_occurrence() {
        assert_eq!(text_of(BODY).unwrap(), "the plan is the plan, the plan & more", "parameters are not text");
        assert_eq!(selection_of(BODY, "m-2"), Some(Selection { text: "the plan".into(), index: 2, count: 3 }));
        assert_eq!(selection_of(BODY, "nope"), None);
    }

    #[test]
    fn markers_come_out_and_a_site_puts_its_own_back_at_the_same_place() {
        let plain = without_markers(BODY).unwrap();
        assert!(!plain.contains("inline-comment-marker") && plain.contains("the plan, the plan &amp; more"), "{plain}");
        let selection = selection_of(BODY, "m-2").unwrap();
        let Placed::Marked(marked) = place(&plain, &selection, "cloud-1").unwrap() else { panic!("not placed") };
        assert!(marked.contains("the plan, <ac:inline-comment-marker ac:ref=\"cloud-1\">the plan</ac:inline-comment-marker> &amp; more"), "{marked}");
        assert_eq!(selection_of(&marked, "cloud-1"), Some(selection.clone()));
        assert_eq!(place(&plain, &Selection { count: 2, ..selection.clone() }, "x").unwrap(), Placed::Mismatch { found: 3 });
        let spanning = Selection { text: "plan & more".into(), index: 0, count: 1 };
        assert_eq!(place(&plain, &spanning, "x").unwrap(), Placed::Unmarked, "across an entity the body stays");
    }

    #[test]
    fn a_body_saved_again_keeps_the_clouds_markers() {
        let plain = without_markers(BODY).unwrap();
        let Placed::Marked(cloud) = place(&plain, &Selection { text: "is".into(), index: 0, count: 1 }, "c-9").unwrap() else { panic!() };
        let again = keep_markers(&cloud, &plain.replace("more", "more, with a fixed link")).unwrap();
        assert!(again.contains("<ac:inline-comment-marker ac:ref=\"c-9\">is</ac:inline-comment-marker>"), "{again}");
        assert!(again.contains("with a fixed link"));
    }
}
