//! Text the harness does not control (engine messages, which quote names
//! from a module's name section; case ids, which are file names; backend
//! versions) escaped for the medium it is shown in, so that it is shown
//! and never acts: no `</script>` ends a script element, no escape
//! sequence moves a terminal's cursor. Markdown is escaped where it is
//! written (`streamconform-publish`'s `markdown`), HTML text by the site's
//! and the reproducer's writers.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `value` as JSON to embed in an HTML `<script>` element: `<`, `>`, `&`,
/// U+2028 and U+2029 written as `\uXXXX` escapes. A JSON or JavaScript
/// parser reads the same value, but nothing in it can close the element
/// (`</script>`), open a comment (`<!--`) or end a line of the script.
pub fn script_json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let json = serde_json::to_string(value)?;
    // Outside strings JSON has none of these characters, so each is in a
    // string, where the escape means the character itself.
    let mut escaped = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(escaped, "\\u{:04x}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    Ok(escaped)
}

/// `text` for one place on a terminal line: every control character
/// (C0 including newline and tab, DEL, C1) and every bidirectional
/// formatting character shown escaped (`\x1b`, `\r`, `\n`, `\u{202e}`),
/// so that a file name or an engine message can neither move the cursor,
/// erase a line, set the window title nor reorder what is shown.
pub fn terminal(text: &str) -> Cow<'_, str> {
    escape_controls(text, |_| false)
}

/// Like [`terminal`] for output already made of lines: newlines and tabs
/// (the separators of lines and columns) are kept.
pub fn terminal_lines(text: &str) -> Cow<'_, str> {
    escape_controls(text, |c| c == '\n' || c == '\t')
}

/// Whether `c` changes what a terminal shows beyond printing itself.
pub(crate) fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        // Bidirectional embeddings, overrides and isolates (Trojan Source).
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape_controls(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| acts_on_terminal(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !acts_on_terminal(c) || keep(c) {
            escaped.push(c);
            continue;
        }
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if (c as u32) < 0x80 => {
                let _ = write!(escaped, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_end_the_script_element_and_reads_back_the_same() {
        let hostile = "</script><svg onload=title=1337><!-- & \u{2028}\u{2029} \"'\\";
        let json = script_json(hostile).unwrap();
        for forbidden in ["<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!json.contains(forbidden), "{forbidden:?} in {json}");
        }
        assert!(json.contains("\\u003c/script\\u003e"), "{json}");
        assert!(json.contains("\\u2028\\u2029"), "{json}");
        let back: String = serde_json::from_str(&json).unwrap();
        assert_eq!(back, hostile);
        // Structures too, with their keys.
        let list = vec!["a<b", "c>d"];
        assert_eq!(script_json(&list).unwrap(), r#"["a\u003cb","c\u003ed"]"#);
        let plain = script_json(&[1, 2, 3]).unwrap();
        assert_eq!(plain, "[1,2,3]");
    }

    #[test]
    fn terminal_shows_control_characters_escaped() {
        assert_eq!(
            terminal("a\x1b[2K\rb\n\tc\x7f\u{9b}d\u{202e}e"),
            "a\\x1b[2K\\rb\\n\\tc\\x7f\\u{9b}d\\u{202e}e"
        );
        assert_eq!(terminal_lines("a\tb\x1b]0;t\x07\n"), "a\tb\\x1b]0;t\\x07\n");
        // Plain text, non-ASCII included, is borrowed as it is.
        assert!(matches!(terminal("spec/ünï.wast:3"), Cow::Borrowed(_)));
    }
}
