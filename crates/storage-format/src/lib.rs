//! Rewriting the references in a Confluence storage-format body that name server ids:
//! user mentions (`<ri:user ri:userkey>`), links by page id (`viewpage.action?pageId=N`),
//! short links (`/x/…`) and macro parameters that name a page (`<ac:parameter
//! ac:name="pageId">`). A streaming XML pass: everything else (namespaced elements,
//! entities, CDATA, comments, whitespace) is written back as it was read.
#![deny(missing_docs)]

use std::collections::HashMap;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, Writer};

mod compare;
mod inline;
pub use compare::first_difference;
pub use inline::{keep_markers, place, selection_of, text_of, without_markers, Placed, Selection};

/// What the references of a body resolve to.
#[derive(Debug, Default, Clone)]
pub struct Resolved {
    /// User key → cloud account id (absent or `None`: no cloud account, a former user).
    pub accounts: HashMap<String, Option<String>>,
    /// User key → username, of the people with no cloud account (a mention of one is
    /// written as text naming them).
    pub names: HashMap<String, String>,
    /// Server page or blog post id → cloud id (absent: not migrated, left as it is).
    pub pages: HashMap<i64, i64>,
    /// The destination's base URL, for rewritten links.
    pub base_url: String,
    /// Which links are the Server site's own (only those name its page ids).
    pub server: ServerLinks,
}

/// Which links in a body are the Server site's own: relative ones (`/x/…`,
/// `/pages/viewpage.action?pageId=…`) and absolute ones under the site's base URL. A
/// link to another site (`https://confluence.atlassian.com/x/…`) names none of this
/// site's pages, whatever its id decodes to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServerLinks {
    base: Option<url::Url>,
}

impl ServerLinks {
    /// The links of a site whose base URL is `base_url` (none known: only relative links
    /// are its own).
    pub fn new(base_url: Option<&str>) -> ServerLinks {
        ServerLinks { base: base_url.and_then(|u| url::Url::parse(u.trim()).ok()).filter(|u| u.host_str().is_some()) }
    }

    /// Whether `href` points into this site.
    pub fn owns(&self, href: &str) -> bool {
        let href = href.trim();
        let absolute = if href.starts_with("//") { url::Url::parse(&format!("https:{href}")) } else { url::Url::parse(href) };
        let link = match absolute {
            Ok(link) => link,
            // No scheme and host: a link within the site.
            Err(url::ParseError::RelativeUrlWithoutBase) => return true,
            Err(_) => return false,
        };
        let Some(base) = &self.base else { return false };
        let same_port = link.scheme() != base.scheme() || link.port_or_known_default() == base.port_or_known_default();
        let base_path = base.path().trim_end_matches('/');
        link.host_str().is_some_and(|h| Some(h) == base.host_str())
            && same_port
            && (link.path() == base_path || link.path().starts_with(&format!("{base_path}/")))
    }
}

/// The server ids a body refers to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct References {
    /// User keys mentioned.
    pub users: Vec<String>,
    /// Page and blog post ids linked or named.
    pub pages: Vec<i64>,
}

/// A body after rewriting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new body.
    pub body: String,
    /// References left as they were because their page did not migrate (server ids, or
    /// the short link as written).
    pub unresolved: Vec<String>,
}

/// Why a body could not be read as storage format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the body is not well-formed storage format at byte {at}: {message}")]
pub struct Malformed {
    /// Byte offset of the problem.
    pub at: u64,
    /// What the parser said.
    pub message: String,
}

/// A page id named by an `href` into the Server site: `…pageId=N…` or a short link
/// `…/x/CODE`.
fn page_of_href(href: &str, server: &ServerLinks) -> Option<i64> {
    if !server.owns(href) {
        return None;
    }
    if let Some(at) = href.find("pageId=") {
        let digits: String = href[at + 7..].chars().take_while(char::is_ascii_digit).collect();
        return digits.parse().ok();
    }
    let at = href.find("/x/")?;
    let code: String = href[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    short_link_id(&code)
}

/// The short link codes (`/x/CODE`) into the Server site that a body uses, read as text
/// (a body that does not parse keeps its links too).
pub fn short_link_codes(body: &str, server: &ServerLinks) -> Vec<String> {
    let mut codes: Vec<String> = body
        .match_indices("/x/")
        .filter(|(at, _)| {
            // The link starts after the quote, bracket or space before it.
            let start = body[..*at].rfind(|c: char| c.is_whitespace() || "\"'<>()[]=".contains(c)).map_or(0, |s| s + 1);
            server.owns(&body[start..*at + 3])
        })
        .map(|(at, _)| body[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect::<String>())
        .filter(|code| !code.is_empty())
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The page id of a Confluence short link code: the id's little-endian bytes in base64,
/// with `-` for `/`, `_` for `+`, and trailing `A`s and padding dropped.
pub fn short_link_id(code: &str) -> Option<i64> {
    if code.is_empty() || code.len() > 11 {
        return None;
    }
    let mut bytes = [0u8; 8];
    let (mut acc, mut have, mut out) = (0u32, 0, 0);
    for c in code.bytes().chain(std::iter::repeat(b'A')).take(11) {
        let c = match c {
            b'-' => b'/',
            b'_' => b'+',
            c => c,
        };
        acc = (acc << 6) | BASE64.iter().position(|b| *b == c)? as u32;
        have += 6;
        if have >= 8 && out < 8 {
            have -= 8;
            bytes[out] = (acc >> have) as u8;
            out += 1;
            acc &= (1 << have) - 1;
        }
    }
    let id = i64::from_le_bytes(bytes);
    (id > 0).then_some(id)
}

/// The short link code of a page id (the inverse of [`short_link_id`]).
pub fn short_link_code(id: i64) -> String {
    let bytes = id.to_le_bytes();
    let mut out = String::new();
    let mut acc: u32 = 0;
    let mut have = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        have += 8;
        while have >= 6 {
            have -= 6;
            out.push(BASE64[((acc >> have) & 63) as usize] as char);
        }
    }
    if have > 0 {
        out.push(BASE64[((acc << (6 - have)) & 63) as usize] as char);
    }
    out.trim_end_matches('A').replace('/', "-").replace('+', "_")
}

fn attr_value(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.as_ref() == key).map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

fn is_page_parameter(e: &BytesStart<'_>) -> bool {
    e.name().as_ref() == b"ac:parameter" && attr_value(e, b"ac:name").is_some_and(|n| n == "pageId" || n == "page-id" || n == "contentId")
}

/// The user keys and page ids `body` refers to (page ids only through links into the
/// Server site, `server`).
pub fn references(body: &str, server: &ServerLinks) -> Result<References, Malformed> {
    let mut refs = References::default();
    walk(body, |event, in_page_param| {
        match event {
            Event::Start(e) | Event::Empty(e) => {
                if e.name().as_ref() == b"ri:user" {
                    refs.users.extend(attr_value(e, b"ri:userkey"));
                }
                if e.name().as_ref() == b"a" {
                    refs.pages.extend(attr_value(e, b"href").as_deref().and_then(|href| page_of_href(href, server)));
                }
            }
            Event::Text(t) if in_page_param => {
                refs.pages.extend(String::from_utf8_lossy(t.as_ref()).trim().parse::<i64>().ok());
            }
            _ => {}
        }
        None
    })?;
    refs.users.sort();
    refs.users.dedup();
    refs.pages.sort();
    refs.pages.dedup();
    Ok(refs)
}

/// `body` with every reference that names a server id rewritten through `resolved`.
pub fn rewrite(body: &str, resolved: &Resolved) -> Result<Rewritten, Malformed> {
    let mut unresolved = Vec::new();
    let out = walk(body, |event, in_page_param| match event {
        Event::Start(e) | Event::Empty(e) => {
            let replaced = rewrite_element(e, resolved, &mut unresolved)?;
            Some(if matches!(event, Event::Start(_)) { Event::Start(replaced) } else { Event::Empty(replaced) })
        }
        Event::Text(t) if in_page_param => {
            let text = String::from_utf8_lossy(t.as_ref()).into_owned();
            let id: i64 = text.trim().parse().ok()?;
            match resolved.pages.get(&id) {
                Some(cloud) => Some(Event::Text(BytesText::from_escaped(text.replace(&id.to_string(), &cloud.to_string())))),
                None => {
                    unresolved.push(id.to_string());
                    None
                }
            }
        }
        _ => None,
    })?;
    // What still names a user key names someone with no cloud account.
    let out = if out.contains("ri:userkey") { former_mentions(&out, resolved)? } else { out };
    Ok(Rewritten { body: out, unresolved })
}

/// `body` with people who have no cloud account named in text: a link to one
/// (`<ac:link><ri:user ri:userkey/>…</ac:link>`) becomes its own link text, or `@username`
/// (there is no account to point at, and an id the site does not know would not show);
/// such a user anywhere else (a macro's parameter) is left out.
fn former_mentions(body: &str, resolved: &Resolved) -> Result<String, Malformed> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut writer = Writer::new(Vec::with_capacity(body.len()));
    let error = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| Malformed { at: reader.buffer_position(), message: e.to_string() };
    // The events of an `ac:link` being read, and how deep in `ac:link`s they are.
    let mut link: Vec<Event<'_>> = Vec::new();
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| Malformed { at: reader.error_position(), message: e.to_string() })?;
        if let Event::Eof = event {
            break;
        }
        match &event {
            Event::Start(e) if e.name().as_ref() == b"ac:link" => depth += 1,
            Event::End(e) if e.name().as_ref() == b"ac:link" => depth = depth.saturating_sub(1),
            Event::Empty(e) if depth == 0 && former_key(e).is_some() => continue,
            _ => {}
        }
        if depth == 0 && link.is_empty() {
            writer.write_event(event).map_err(|e| error(&reader, &e))?;
            continue;
        }
        link.push(event);
        if depth > 0 {
            continue;
        }
        let events = std::mem::take(&mut link);
        match mention_text(&events, resolved) {
            Some(text) => writer.write_event(Event::Text(BytesText::new(&text))).map_err(|e| error(&reader, &e))?,
            None => {
                for event in events {
                    writer.write_event(event).map_err(|e| error(&reader, &e))?;
                }
            }
        }
    }
    String::from_utf8(writer.into_inner()).map_err(|e| Malformed { at: 0, message: e.to_string() })
}

/// The user key of a `<ri:user>` that still names one (a person with no cloud account).
fn former_key(e: &BytesStart<'_>) -> Option<String> {
    if e.name().as_ref() != b"ri:user" {
        return None;
    }
    attr_value(e, b"ri:userkey")
}

/// The text an `ac:link` (its events) is written as when it links to a person with no
/// cloud account: its link text, or `@username`; `None` when it links elsewhere.
fn mention_text(events: &[Event<'_>], resolved: &Resolved) -> Option<String> {
    let key = events.iter().find_map(|event| match event {
        Event::Empty(e) | Event::Start(e) => former_key(e),
        _ => None,
    })?;
    let mut text = String::new();
    let mut in_body = false;
    for event in events {
        match event {
            Event::Start(e) if e.name().as_ref().ends_with(b"link-body") => in_body = true,
            Event::End(e) if e.name().as_ref().ends_with(b"link-body") => in_body = false,
            event if in_body => text.push_str(&inline::character_data(event).ok().flatten().unwrap_or_default()),
            _ => {}
        }
    }
    let text = text.trim();
    Some(match (text.is_empty(), resolved.names.get(&key)) {
        (false, _) => text.to_string(),
        (true, Some(name)) => format!("@{name}"),
        (true, None) => "@former user".to_string(),
    })
}

fn rewrite_element(e: &BytesStart<'_>, resolved: &Resolved, unresolved: &mut Vec<String>) -> Option<BytesStart<'static>> {
    let name = e.name();
    let (target, new_value): (&[u8], String) = if name.as_ref() == b"ri:user" {
        // One with no cloud account keeps its key here: it is written as text after.
        let key = attr_value(e, b"ri:userkey")?;
        let account = resolved.accounts.get(&key).cloned().flatten()?;
        (b"ri:userkey", account)
    } else if name.as_ref() == b"a" {
        let href = attr_value(e, b"href")?;
        let id = page_of_href(&href, &resolved.server)?;
        let Some(cloud) = resolved.pages.get(&id) else {
            unresolved.push(if href.contains("/x/") { href } else { id.to_string() });
            return None;
        };
        let fragment = href.find('#').map(|at| href[at..].to_string()).unwrap_or_default();
        (b"href", format!("{}/wiki/pages/viewpage.action?pageId={cloud}{fragment}", resolved.base_url.trim_end_matches('/')))
    } else {
        return None;
    };
    let mut out = BytesStart::new(String::from_utf8_lossy(name.as_ref()).into_owned());
    for a in e.attributes().flatten() {
        if a.key.as_ref() == target {
            let key: &[u8] = if target == b"ri:userkey" { b"ri:account-id" } else { b"href" };
            let escaped = quick_xml::escape::escape(new_value.as_str()).into_owned();
            out.push_attribute(Attribute { key: QName(key), value: escaped.into_bytes().into() });
        } else {
            out.push_attribute(Attribute { key: a.key, value: a.value.into_owned().into() });
        }
    }
    Some(out)
}

/// Stream `body` through `visit`, which may replace an event; returns the written body.
/// `visit` learns whether a text event is the value of a parameter that names a page.
fn walk<'b>(body: &'b str, mut visit: impl FnMut(&Event<'b>, bool) -> Option<Event<'static>>) -> Result<String, Malformed> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().check_end_names = true;
    let mut writer = Writer::new(Vec::with_capacity(body.len() + 64));
    let mut in_page_param = false;
    loop {
        let event = reader.read_event().map_err(|e| Malformed { at: reader.error_position(), message: e.to_string() })?;
        if let Event::Eof = event {
            break;
        }
        let replacement = visit(&event, in_page_param);
        match &event {
            Event::Start(e) => in_page_param = is_page_parameter(e),
            Event::End(_) => in_page_param = false,
            _ => {}
        }
        let written = match replacement {
            Some(new) => writer.write_event(new),
            None => writer.write_event(event),
        };
        written.map_err(|e| Malformed { at: reader.buffer_position(), message: e.to_string() })?;
    }
    String::from_utf8(writer.into_inner()).map_err(|e| Malformed { at: 0, message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolved {
        Resolved {
            accounts: [("k1".to_string(), Some("acc-1".to_string())), ("gone".to_string(), None)].into_iter().collect(),
            names: [("gone".to_string(), "jdoe".to_string())].into_iter().collect(),
            pages: [(1001, 9001), (1002, 9002)].into_iter().collect(),
            base_url: "https://cloud.example".into(),
            server: ServerLinks::new(Some("https://wiki.example")),
        }
    }

    #[test]
    fn short_link_codes_round_trip() {
        for id in [1, 98_308, 100_028, 123_456_789, 4_294_967_297] {
            assert_eq!(short_link_id(&short_link_code(id)), Some(id), "{id} → {}", short_link_code(id));
        }
        assert_eq!(short_link_code(98_308), "BIAB");
    }

    #[test]
    fn mentions_links_short_links_and_page_parameters_are_rewritten_and_the_rest_kept() {
        let short = short_link_code(1002);
        let body = format!(
            "<p>Hi <ac:link><ri:user ri:userkey=\"k1\" /></ac:link>&nbsp;and <ac:link><ri:user ri:userkey=\"gone\"/></ac:link>.</p>\
             <p><a href=\"https://wiki.example/pages/viewpage.action?pageId=1001&amp;focus=1#top\">one</a> \
             <a href=\"https://wiki.example/x/{short}\">two</a> <a href=\"/pages/viewpage.action?pageId=5555\">gone</a></p>\
             <ac:structured-macro ac:name=\"include\"><ac:parameter ac:name=\"pageId\">1002</ac:parameter></ac:structured-macro>\
             <ac:plain-text-body><![CDATA[pageId=1001 <not> rewritten]]></ac:plain-text-body><!-- pageId=1001 -->"
        );
        let out = rewrite(&body, &resolved()).unwrap();
        let expected = "<p>Hi <ac:link><ri:user ri:account-id=\"acc-1\"/></ac:link>&nbsp;and @jdoe.</p>\
             <p><a href=\"https://cloud.example/wiki/pages/viewpage.action?pageId=9001#top\">one</a> \
             <a href=\"https://cloud.example/wiki/pages/viewpage.action?pageId=9002\">two</a> <a href=\"/pages/viewpage.action?pageId=5555\">gone</a></p>\
             <ac:structured-macro ac:name=\"include\"><ac:parameter ac:name=\"pageId\">9002</ac:parameter></ac:structured-macro>\
             <ac:plain-text-body><![CDATA[pageId=1001 <not> rewritten]]></ac:plain-text-body><!-- pageId=1001 -->";
        assert_eq!(out.body, expected);
        assert_eq!(out.unresolved, vec!["5555".to_string()]);
        let refs = references(&body, &ServerLinks::new(Some("https://wiki.example"))).unwrap();
        assert_eq!(refs.users, ["gone", "k1"]);
        assert_eq!(refs.pages, [1001, 1002, 5555]);
    }

    #[test]
    fn people_with_no_cloud_account_are_named_in_text() {
        let body = "<p><ac:link><ri:user ri:userkey=\"gone\"/><ac:plain-text-link-body><![CDATA[Jane & co]]></ac:plain-text-link-body></ac:link> \
             <ac:link><ri:user ri:userkey=\"nobody\"/></ac:link> <ac:link><ri:page ri:content-title=\"Home\"/></ac:link></p>\
             <ac:structured-macro ac:name=\"profile\"><ac:parameter ac:name=\"user\"><ri:user ri:userkey=\"gone\"/></ac:parameter></ac:structured-macro>\
             <ac:structured-macro ac:name=\"profile\"><ac:parameter ac:name=\"user\"><ri:user ri:userkey=\"k1\"/></ac:parameter></ac:structured-macro>";
        let out = rewrite(body, &resolved()).unwrap();
        let expected = "<p>Jane &amp; co @former user <ac:link><ri:page ri:content-title=\"Home\"/></ac:link></p>\
             <ac:structured-macro ac:name=\"profile\"><ac:parameter ac:name=\"user\"></ac:parameter></ac:structured-macro>\
             <ac:structured-macro ac:name=\"profile\"><ac:parameter ac:name=\"user\"><ri:user ri:account-id=\"acc-1\"/></ac:parameter></ac:structured-macro>";
        assert_eq!(out.body, expected);
        assert!(!out.body.contains("userkey"));
    }

    #[test]
    fn short_link_codes_are_read_as_text() {
        let body = "<p><a href=\"/x/BIAB\">a</a> <a href=\"https://w.example/x/AbC0?x=1\">b</a> <b>/x/BIAB</b> /x/</p>";
        assert_eq!(short_link_codes(body, &ServerLinks::new(Some("https://w.example/"))), ["AbC0", "BIAB"]);
        assert_eq!(short_link_codes(body, &ServerLinks::new(None)), ["BIAB"], "without a base URL only relative links are the site's");
    }

    #[test]
    fn links_to_other_sites_name_none_of_this_sites_pages() {
        let server = ServerLinks::new(Some("https://wiki.example.com/confluence"));
        // Atlassian's own documentation, a real page's link: its code decodes to an id.
        let theirs = "https://confluence.atlassian.com/x/NgszKw";
        assert!(short_link_id("NgszKw").is_some());
        assert!(!server.owns(theirs));
        assert!(short_link_codes(&format!("<a href=\"{theirs}\">docs</a>"), &server).is_empty());
        assert!(server.owns("https://wiki.example.com/confluence/x/BIAB"));
        assert!(server.owns("http://WIKI.example.com/confluence/pages/viewpage.action?pageId=7"), "another scheme, same site");
        assert!(server.owns("/confluence/x/BIAB") && server.owns("//wiki.example.com/confluence/x/BIAB"));
        assert!(!server.owns("https://wiki.example.com/other/x/BIAB"), "outside the site's path");
        assert!(!server.owns("https://wiki.example.com:8443/confluence/x/BIAB"), "another port");
        assert!(!server.owns("mailto:someone@example.com"));
        let body = format!("<p><a href=\"{theirs}\">docs</a> <a href=\"https://elsewhere.example/pages/viewpage.action?pageId=1001\">x</a></p>");
        let out = rewrite(&body, &resolved()).unwrap();
        assert_eq!(out.body, body, "other sites' links are left alone");
        assert!(out.unresolved.is_empty(), "and not reported");
        assert!(references(&body, &server).unwrap().pages.is_empty());
    }

    #[test]
    fn inline_comment_markers_are_kept_by_the_rewrite() {
        let body = "<p>Keep <ac:inline-comment-marker ac:ref=\"3f2a-77\">this text</ac:inline-comment-marker> and <ac:link><ri:user ri:userkey=\"k1\"/></ac:link>.</p>";
        let out = rewrite(body, &resolved()).unwrap();
        assert!(out.body.contains("<ac:inline-comment-marker ac:ref=\"3f2a-77\">this text</ac:inline-comment-marker>"), "{}", out.body);
        assert_eq!(selection_of(body, "3f2a-77"), Some(Selection { text: "this text".into(), index: 0, count: 1 }));
    }

    #[test]
    fn a_malformed_body_is_refused_not_mangled() {
        let err = rewrite("<p>open <b>never closed</p>", &resolved()).unwrap_err();
        assert!(err.message.contains("expected `</b>`") || !err.message.is_empty(), "{err}");
    }
}
