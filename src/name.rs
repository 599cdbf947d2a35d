/*!
Byte strings for paths and ELF names, and the small text helpers every stage may use.

Paths in a root filesystem and strings in an ELF string table are bytes, not text. The loader does not
care whether `DT_NEEDED` is valid UTF-8, so neither may we: one stray byte must never cost us the file
(goblin's strict parse drops the whole object over it, which lets an attacker hide a dependency).

[`ByteStr`] keeps the bytes and escapes them only when rendered: valid UTF-8 is written as is, every byte
that is not part of valid UTF-8 as `\xNN`, and a backslash as `\\`, so the original bytes can always be
recovered. The human renderer additionally escapes control characters (a newline in a file name must not
forge an output line).
*/

use std::fmt;

use serde::{Serialize, Serializer};

/// The path of `name` in directory `dir`, an absolute in-root path (`/` has no slash added).
pub fn child_of(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir == b"/" {
        [b"/", name].concat()
    } else {
        [dir, b"/", name].concat()
    }
}

/// `path`'s directory and last component (`/a` is `/` and `a`); `None` for `/`, relative paths and
/// a trailing slash.
pub fn split_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.first() != Some(&b'/') {
        return None;
    }
    let slash = path.iter().rposition(|&b| b == b'/')?;
    let name = &path[slash + 1..];
    if name.is_empty() {
        return None;
    }
    Some((if slash == 0 { b"/" } else { &path[..slash] }, name))
}

/// An owned byte string (a path inside the root, or a name from an ELF string table).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteStr(Box<[u8]>);

impl ByteStr {
    /// Wraps the given bytes.
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        ByteStr(bytes.into())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as `&str` when they are valid UTF-8.
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The escaped form used in JSON (see the module documentation).
    pub fn escaped(&self) -> String {
        escape(&self.0, false)
    }

    /// The escaped form used in terminal output: like [`ByteStr::escaped`], and control characters too.
    pub fn display_escaped(&self) -> String {
        escape(&self.0, true)
    }
}

impl std::borrow::Borrow<[u8]> for ByteStr {
    fn borrow(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for ByteStr {
    fn from(b: &[u8]) -> Self {
        ByteStr(b.into())
    }
}

impl From<Vec<u8>> for ByteStr {
    fn from(b: Vec<u8>) -> Self {
        ByteStr(b.into_boxed_slice())
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        ByteStr(s.as_bytes().into())
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.escaped())
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_escaped())
    }
}

impl Serialize for ByteStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_str() {
            // The common case: no allocation unless a backslash needs doubling.
            Some(text) if !text.contains('\\') => s.serialize_str(text),
            _ => s.serialize_str(&self.escaped()),
        }
    }
}

/// Escapes `bytes` as described in the module documentation.
pub fn escape(bytes: &[u8], control: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if control && (c.is_control()) => push_hex_char(&mut out, c),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Escapes the control characters of free text (a message that may quote a name) as `\xNN` of
/// their UTF-8 bytes, for the terminal. Backslashes are left alone: names inside messages are
/// already in their escaped form, and doubling them again would change what they say.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            push_hex_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn push_hex_char(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("\\x{b:02x}"));
    }
}

/// `12345` as `12,345` (counts in human output and the progress line).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Reverses [`escape`] (without the control-character form): used by tests and by readers of our JSON.
pub fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            if bytes[i + 1] == b'\\' {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if bytes[i + 1] == b'x'
                && i + 3 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&text[i + 2..i + 4], 16)
            {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_invalid_utf8_and_backslash_reversibly() {
        let raw: &[u8] = b"lib\xffx\\y\xc3\xa9.so";
        let e = escape(raw, false);
        assert_eq!(e, "lib\\xffx\\\\y\u{e9}.so");
        assert_eq!(unescape(&e), raw);
    }

    #[test]
    fn display_escapes_control_characters() {
        let n = ByteStr::from(&b"evil\nname"[..]);
        assert_eq!(n.display_escaped(), "evil\\x0aname");
        assert_eq!(n.escaped(), "evil\nname");
    }

    #[test]
    fn escape_controls_leaves_backslashes() {
        assert_eq!(
            escape_controls("a\\xff \x1b[2J\r\u{9b}"),
            "a\\xff \\x1b[2J\\x0d\\xc2\\x9b"
        );
        assert!(matches!(
            escape_controls("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn serializes_as_escaped_string() {
        let n = ByteStr::from(&b"a\xfe"[..]);
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"a\\\\xfe\"");
    }
}
