//! Text for a terminal: what ferry prints for humans can neither hide nor fake a line.

/// Text from a plugin, a manifest, a Server database or a destination, made safe for a
/// terminal: control characters (escape sequences, carriage returns, ...) are shown as
/// visible escapes such as `\u{1b}` or `\u{a}`, so they can neither hide nor fake a line.
/// JSON output is never passed through this.
pub fn shown(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
