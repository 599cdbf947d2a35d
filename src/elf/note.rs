/*!
`.note.dlopen` metadata: the libraries an object says it may `dlopen()` at run time.

The format is the UAPI group's "ELF dlopen metadata" (systemd writes it): a note of owner `FDO` and
type [`NT_FDO_DLOPEN_METADATA`] whose descriptor is a NUL-terminated UTF-8 JSON array of objects
`{"soname": [...], "feature": ..., "description": ..., "priority": ...}`. The sonames of one object are
alternatives: the program tries them in order and the first that loads wins.

The notes are found by type in the PT_NOTE segments, as the program headers describe them (section
headers may be stripped). Everything here is untrusted: the JSON is read with fixed bounds (see the
`MAX_*` constants), a bad name or entry is dropped with a warning, and a bad note costs only its own
entries, never the file's other facts. Warnings are in our words and never quote the note's bytes.
*/

use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::name::ByteStr;

/// The note type of dlopen metadata (owner `FDO`).
pub const NT_FDO_DLOPEN_METADATA: u32 = 0x407c_0c0a;

/// The note owner (`n_name` without its NUL).
pub const NOTE_OWNER: &[u8] = b"FDO";

/// The most PT_NOTE bytes read per file. Real notes are a few hundred bytes (systemd's largest
/// libraries carry a few KiB); the bound keeps a crafted segment from costing more.
pub const MAX_NOTE_BYTES: u64 = 1024 * 1024;

/// The most dlopen entries kept per file, over all its notes.
pub const MAX_ENTRIES: usize = 4096;

/// The most sonames (alternatives) kept per entry.
pub const MAX_SONAMES: usize = 64;

/// The longest soname kept, in bytes (NAME_MAX: a soname is looked up as one file name).
pub const MAX_SONAME_LEN: usize = 255;

/// The most warnings listed per file; the rest are counted in one last warning, so a note of
/// thousands of bad names cannot flood the report.
pub const MAX_WARNINGS: usize = 16;

/// How much the program needs what an entry names.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Priority {
    /// The program does not work without it.
    Required,
    /// A feature most users expect needs it (the spec's default).
    #[default]
    Recommended,
    /// An optional feature needs it.
    Suggested,
}

impl Priority {
    fn parse(s: &str) -> Option<Priority> {
        match s {
            "required" => Some(Priority::Required),
            "recommended" => Some(Priority::Recommended),
            "suggested" => Some(Priority::Suggested),
            _ => None,
        }
    }
}

/// One entry of a `.note.dlopen` note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DlopenNote {
    /// Alternatives in the order the program tries them; the first that loads wins.
    pub sonames: Vec<ByteStr>,
    /// The feature that needs the library (`feature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// What the feature is (`description`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How much the program needs it (`priority`, default `recommended`).
    pub priority: Priority,
}

/// What is wrong with a note or one of its entries. The messages are what users see.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteWarning {
    /// The descriptor is not valid UTF-8 JSON (or nests deeper than the parser allows).
    #[error(
        "the .note.dlopen note of this file is not valid JSON; its dlopen dependencies are ignored"
    )]
    NotJson,
    /// Valid JSON, but not an array.
    #[error(
        "the .note.dlopen note of this file is not a JSON array; its dlopen dependencies are ignored"
    )]
    NotArray,
    /// An element of the array is not an object.
    #[error("entry {0} of the .note.dlopen note is not a JSON object; it is ignored")]
    EntryNotObject(usize),
    /// An entry has no usable `soname` list.
    #[error("entry {0} of the .note.dlopen note has no soname list; it is ignored")]
    NoSoname(usize),
    /// An entry's every soname was dropped.
    #[error("entry {0} of the .note.dlopen note has no usable soname; it is ignored")]
    NoUsableSoname(usize),
    /// One soname was dropped.
    #[error(
        "entry {entry} of the .note.dlopen note names a soname that {why}; that name is ignored"
    )]
    BadSoname {
        /// The entry's index in its note.
        entry: usize,
        /// Why, in words.
        why: &'static str,
    },
    /// More alternatives than [`MAX_SONAMES`].
    #[error(
        "entry {0} of the .note.dlopen note lists more than {MAX_SONAMES} sonames; the rest are ignored"
    )]
    TooManySonames(usize),
    /// A field of the wrong type, or a priority the spec does not define.
    #[error("entry {entry} of the .note.dlopen note has an invalid {field}; {consequence}")]
    BadField {
        /// The entry's index in its note.
        entry: usize,
        /// `feature`, `description` or `priority`.
        field: &'static str,
        /// What we do instead.
        consequence: &'static str,
    },
    /// More entries than [`MAX_ENTRIES`] in the file.
    #[error(
        "the .note.dlopen notes of this file list more than {MAX_ENTRIES} entries; the rest are ignored"
    )]
    TooManyEntries,
    /// The PT_NOTE segments are larger than [`MAX_NOTE_BYTES`].
    #[error(
        "the note segments of this file are larger than {MAX_NOTE_BYTES} bytes; notes past that are not read"
    )]
    TooManyNoteBytes,
    /// A PT_NOTE segment cannot be read (it lies outside the file, or a read limit was hit).
    #[error(
        "a note segment of this file cannot be read (it lies outside the file, or a read limit was hit); its notes are ignored"
    )]
    Unreadable,
    /// A note header claims more bytes than its segment holds.
    #[error(
        "a note in this file runs past the end of its segment; the notes after it are not read"
    )]
    Malformed,
    /// The count of warnings not listed.
    #[error("{0} more problems with the .note.dlopen notes of this file are not listed")]
    More(usize),
}

/// The dlopen entries of one file and the warnings about them, as they are collected note by note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlopenNotes {
    /// Entries in file order, at most [`MAX_ENTRIES`].
    pub entries: Vec<DlopenNote>,
    /// Warnings, at most [`MAX_WARNINGS`] and then one [`NoteWarning::More`].
    pub warnings: Vec<NoteWarning>,
    /// Warnings past [`MAX_WARNINGS`].
    unlisted: usize,
    /// Whether [`NoteWarning::TooManyEntries`] was given.
    full: bool,
}

impl DlopenNotes {
    /// Records a warning (counted once the list is full).
    pub fn warn(&mut self, w: NoteWarning) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        } else {
            self.unlisted = self.unlisted.saturating_add(1);
        }
    }

    /// The warnings as users see them, with the count of unlisted ones last.
    pub fn warning_messages(&self) -> Vec<String> {
        let mut out: Vec<String> = self.warnings.iter().map(|w| w.to_string()).collect();
        if self.unlisted > 0 {
            out.push(NoteWarning::More(self.unlisted).to_string());
        }
        out
    }

    fn room(&self) -> usize {
        MAX_ENTRIES.saturating_sub(self.entries.len())
    }

    /// Parses one note descriptor (the JSON, up to its NUL) and adds its entries.
    pub fn add_descriptor(&mut self, desc: &[u8]) {
        // The descriptor ends at its NUL; bytes after it are padding, not JSON.
        let json = match memchr::memchr(0, desc) {
            Some(end) => desc.get(..end).unwrap_or(desc),
            None => desc,
        };
        // A note is taken whole or not at all, as a reader that checks the document first would:
        // what an entry of a broken note says is not trusted, and its warnings would only confuse.
        let before = (
            self.entries.len(),
            self.warnings.len(),
            self.unlisted,
            self.full,
        );
        let mut de = serde_json::Deserializer::from_slice(json);
        let parsed = de
            .deserialize_seq(TopVisitor { notes: self })
            .and_then(|()| de.end());
        if let Err(e) = parsed {
            self.entries.truncate(before.0);
            self.warnings.truncate(before.1);
            self.unlisted = before.2;
            self.full = before.3;
            // A syntax error (also: invalid UTF-8, nesting past serde_json's recursion limit)
            // against a valid document of the wrong shape. The parse stops at the first byte of a
            // non-array, so whether the rest is JSON takes a second look (skipped, not built).
            let valid = e.is_data() && serde_json::from_slice::<IgnoredAny>(json).is_ok();
            self.warn(if valid {
                NoteWarning::NotArray
            } else {
                NoteWarning::NotJson
            });
        }
    }

    /// Walks one PT_NOTE segment's bytes and parses each dlopen note in it. `align` is the segment's
    /// `p_align`: 8 means 8-byte padding of names and descriptors (as readelf and the kernel read
    /// it), anything else 4.
    pub fn add_segment(&mut self, bytes: &[u8], big_endian: bool, align: u64) {
        let pad = if align == 8 { 8 } else { 4 };
        let word = |at: usize| -> Option<u32> {
            let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            })
        };
        let mut at = 0usize;
        // Fewer bytes than a header left: trailing padding, not a note.
        while bytes.len().saturating_sub(at) >= 12 {
            let (Some(namesz), Some(descsz), Some(n_type)) = (word(at), word(at + 4), word(at + 8))
            else {
                break;
            };
            let name_at = at + 12;
            // Offsets are padded relative to the note's start (readelf's ELF_NOTE_DESC_OFFSET):
            // with 8-byte alignment the 12-byte header and the name are padded together.
            let desc_at = (12usize)
                .checked_add(namesz as usize)
                .map(|n| round_up(n, pad))
                .and_then(|n| at.checked_add(n));
            let next = desc_at
                .and_then(|d| d.checked_add(descsz as usize))
                .map(|end| at + round_up(end - at, pad));
            let (Some(desc_at), Some(next)) = (desc_at, next) else {
                self.warn(NoteWarning::Malformed);
                return;
            };
            let name = name_at
                .checked_add(namesz as usize)
                .and_then(|end| bytes.get(name_at..end));
            let desc = desc_at
                .checked_add(descsz as usize)
                .and_then(|end| bytes.get(desc_at..end));
            let (Some(name), Some(desc)) = (name, desc) else {
                self.warn(NoteWarning::Malformed);
                return;
            };
            let owner = name.strip_suffix(b"\0").unwrap_or(name);
            if n_type == NT_FDO_DLOPEN_METADATA && owner == NOTE_OWNER {
                self.add_descriptor(desc);
            }
            // The last note's padding may be missing at the segment end.
            at = next;
        }
    }
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to).saturating_mul(to)
}

/// Parses one `.note.dlopen` descriptor on its own: the fuzz target's and the unit tests' entry.
pub fn parse_descriptor(desc: &[u8]) -> DlopenNotes {
    let mut notes = DlopenNotes::default();
    notes.add_descriptor(desc);
    notes
}

/// The top-level array: each element is read by [`EntrySeed`], which never fails on a wrong type,
/// so one bad entry does not take the others down.
struct TopVisitor<'n> {
    notes: &'n mut DlopenNotes,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of dlopen entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            if self.notes.room() == 0 {
                // Past the bound the rest is still consumed (the document must end cleanly), but
                // without building anything.
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                if !self.notes.full {
                    self.notes.full = true;
                    self.notes.warn(NoteWarning::TooManyEntries);
                }
                continue;
            }
            let Some(entry) = seq.next_element_seed(EntrySeed)? else {
                break;
            };
            if let Some(e) = entry.finish(index, self.notes) {
                self.notes.entries.push(e);
            }
            index = index.saturating_add(1);
        }
        Ok(())
    }
}

/// One array element as read, before it is checked.
#[derive(Default)]
struct RawEntry {
    /// Not a JSON object.
    not_object: bool,
    /// `None`: no `soname` key. `Some(Err)`: not an array.
    sonames: Option<Result<RawSonames, ()>>,
    feature: Option<Option<String>>,
    description: Option<Option<String>>,
    priority: Option<Option<String>>,
}

#[derive(Default)]
struct RawSonames {
    /// Each element: `None` when not a string.
    names: Vec<Option<String>>,
    /// Elements past [`MAX_SONAMES`], not kept.
    dropped: usize,
}

impl RawEntry {
    fn finish(self, index: usize, notes: &mut DlopenNotes) -> Option<DlopenNote> {
        if self.not_object {
            notes.warn(NoteWarning::EntryNotObject(index));
            return None;
        }
        let raw = match self.sonames {
            Some(Ok(raw)) => raw,
            None | Some(Err(())) => {
                notes.warn(NoteWarning::NoSoname(index));
                return None;
            }
        };
        if raw.dropped > 0 {
            notes.warn(NoteWarning::TooManySonames(index));
        }
        let mut sonames = Vec::new();
        for name in raw.names {
            match soname_problem(name.as_deref()) {
                Some(why) => notes.warn(NoteWarning::BadSoname { entry: index, why }),
                None => {
                    if let Some(n) = name {
                        sonames.push(ByteStr::from(n.as_str()));
                    }
                }
            }
        }
        if sonames.is_empty() {
            notes.warn(NoteWarning::NoUsableSoname(index));
            return None;
        }
        let mut text = |field: &'static str, v: Option<Option<String>>| match v {
            None => None,
            Some(Some(s)) => Some(s),
            Some(None) => {
                notes.warn(NoteWarning::BadField {
                    entry: index,
                    field,
                    consequence: "it is ignored",
                });
                None
            }
        };
        let feature = text("feature", self.feature);
        let description = text("description", self.description);
        let priority = match self.priority {
            None => Priority::default(),
            Some(p) => match p.as_deref().and_then(Priority::parse) {
                Some(p) => p,
                None => {
                    notes.warn(NoteWarning::BadField {
                        entry: index,
                        field: "priority",
                        consequence: "it is taken as recommended",
                    });
                    Priority::default()
                }
            },
        };
        Some(DlopenNote {
            sonames,
            feature,
            description,
            priority,
        })
    }
}

/// Why a soname cannot be a name the loader looks up in its search path, or `None` when it can.
fn soname_problem(name: Option<&str>) -> Option<&'static str> {
    let Some(name) = name else {
        return Some("is not a string");
    };
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_SONAME_LEN {
        Some("is longer than 255 bytes")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name.contains('/') {
        // dlopen() takes a name with a slash as a path, searched nowhere: not a soname.
        Some("contains a slash")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else {
        None
    }
}

struct EntrySeed;

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = RawEntry;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawEntry, D::Error> {
        d.deserialize_any(EntryVisitor)
    }
}

struct EntryVisitor;

/// Any JSON value other than an object: consumed, and marked as not an entry.
fn not_object() -> RawEntry {
    RawEntry {
        not_object: true,
        ..RawEntry::default()
    }
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a dlopen entry")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEntry, A::Error> {
        let mut e = RawEntry::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Soname => e.sonames = Some(map.next_value_seed(SonamesSeed)?),
                Key::Feature => e.feature = Some(map.next_value_seed(MaybeString)?),
                Key::Description => e.description = Some(map.next_value_seed(MaybeString)?),
                Key::Priority => e.priority = Some(map.next_value_seed(MaybeString)?),
                // Unknown keys are allowed by the spec; their values are skipped unbuilt.
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(e)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawEntry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RawEntry, E> {
        Ok(not_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawEntry, E> {
        Ok(not_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawEntry, E> {
        Ok(not_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawEntry, E> {
        Ok(not_object())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RawEntry, E> {
        Ok(not_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawEntry, E> {
        Ok(not_object())
    }
}

/// The keys we read; any other key is [`Key::Other`].
enum Key {
    Soname,
    Feature,
    Description,
    Priority,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "soname" => Key::Soname,
                    "feature" => Key::Feature,
                    "description" => Key::Description,
                    "priority" => Key::Priority,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string, or `None` for a value of any other type (consumed without being built).
struct MaybeString;

impl<'de> DeserializeSeed<'de> for MaybeString {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(MaybeStringVisitor)
    }
}

struct MaybeStringVisitor;

impl<'de> Visitor<'de> for MaybeStringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<String>, E> {
        Ok(Some(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Option<String>, E> {
        Ok(Some(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
}

/// The `soname` value: an array of up to [`MAX_SONAMES`] kept elements, or `Err` for any other type.
struct SonamesSeed;

impl<'de> DeserializeSeed<'de> for SonamesSeed {
    type Value = Result<RawSonames, ()>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(SonamesVisitor)
    }
}

struct SonamesVisitor;

impl<'de> Visitor<'de> for SonamesVisitor {
    type Value = Result<RawSonames, ()>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of sonames")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawSonames::default();
        loop {
            if raw.names.len() >= MAX_SONAMES {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                raw.dropped = raw.dropped.saturating_add(1);
                continue;
            }
            match seq.next_element_seed(MaybeString)? {
                Some(n) => raw.names.push(n),
                None => break,
            }
        }
        Ok(Ok(raw))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(()))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &DlopenNote) -> Vec<String> {
        n.sonames.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_good_note_with_alternatives() {
        let got = parse_descriptor(
            br#"[{"soname":["libfoo.so.1","libfoo.so.0"],"feature":"foo","description":"Foo support","priority":"required"},
                 {"soname":["libbar.so.2"],"priority":"suggested"}]"#,
        );
        assert!(got.warnings.is_empty(), "{:?}", got.warnings);
        assert_eq!(got.entries.len(), 2);
        assert_eq!(names(&got.entries[0]), ["libfoo.so.1", "libfoo.so.0"]);
        assert_eq!(got.entries[0].feature.as_deref(), Some("foo"));
        assert_eq!(got.entries[0].description.as_deref(), Some("Foo support"));
        assert_eq!(got.entries[0].priority, Priority::Required);
        assert_eq!(got.entries[1].priority, Priority::Suggested);
        assert_eq!(got.entries[1].feature, None);
    }

    #[test]
    fn priority_defaults_to_recommended_and_prints_lowercase() {
        let got = parse_descriptor(b"[{\"soname\":[\"libz.so.1\"]}]\0\0\0");
        assert!(got.warnings.is_empty());
        assert_eq!(got.entries[0].priority, Priority::Recommended);
        assert_eq!(Priority::Recommended.to_string(), "recommended");
        assert_eq!(
            serde_json::to_value(Priority::Suggested).unwrap(),
            "suggested"
        );
    }

    #[test]
    fn unknown_keys_are_accepted() {
        let got = parse_descriptor(
            br#"[{"x-extra":{"deep":[1,2,{"a":null}]},"soname":["liba.so"],"other":true}]"#,
        );
        assert!(got.warnings.is_empty());
        assert_eq!(names(&got.entries[0]), ["liba.so"]);
    }

    #[test]
    fn not_json_and_not_an_array_warn() {
        for bad in [
            &b"not json"[..],
            b"",
            b"[{\"soname\":[\"a\"]",
            b"\xff\xfe",
            b"[1,]",
            br#"[{"soname":["a.so"]},{"soname":[}]"#,
            b"{not json",
            b"{}}",
            b"[] []",
        ] {
            let got = parse_descriptor(bad);
            assert_eq!(got.warnings, [NoteWarning::NotJson], "{bad:?}");
            assert!(
                got.entries.is_empty(),
                "a broken note is taken whole or not at all"
            );
        }
        for bad in [
            &br#"{"soname":["a"]}"#[..],
            b"42",
            b"\"s\"",
            b"null",
            b" {} ",
        ] {
            let got = parse_descriptor(bad);
            assert_eq!(got.warnings, [NoteWarning::NotArray], "{bad:?}");
            assert!(got.entries.is_empty());
        }
        // The message never quotes the bytes.
        assert!(!NoteWarning::NotJson.to_string().contains("not json"));
    }

    #[test]
    fn deep_nesting_is_refused_without_a_stack_overflow() {
        for open in [b'[', b'{'] {
            let mut deep = vec![b'['];
            for _ in 0..200_000 {
                if open == b'{' {
                    deep.extend_from_slice(b"{\"a\":");
                } else {
                    deep.push(b'[');
                }
            }
            let got = parse_descriptor(&deep);
            assert_eq!(got.warnings, [NoteWarning::NotJson]);
            // Deep inside an unknown key, too.
            let mut inner = br#"[{"soname":["a.so"],"x":"#.to_vec();
            inner.extend(std::iter::repeat_n(b'[', 200_000));
            let got = parse_descriptor(&inner);
            assert_eq!(got.warnings, [NoteWarning::NotJson]);
        }
    }

    #[test]
    fn bad_sonames_are_dropped_and_the_rest_kept() {
        let got = parse_descriptor(
            br#"[{"soname":["", ".", "..", "../x.so", "/lib/libc.so.6", "a\u0000b", 7, "libok.so.1"]}]"#,
        );
        assert_eq!(names(&got.entries[0]), ["libok.so.1"]);
        let whys: Vec<_> = got
            .warnings
            .iter()
            .map(|w| match w {
                NoteWarning::BadSoname { why, .. } => *why,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            whys,
            [
                "is empty",
                "is . or ..",
                "is . or ..",
                "contains a slash",
                "contains a slash",
                "contains a NUL byte",
                "is not a string"
            ]
        );
        let long = format!(r#"[{{"soname":["{}"]}}]"#, "a".repeat(256));
        let got = parse_descriptor(long.as_bytes());
        assert!(got.entries.is_empty());
        assert_eq!(got.warnings.len(), 2);
    }

    #[test]
    fn entries_without_sonames_are_dropped() {
        let got = parse_descriptor(
            br#"[{"feature":"x"}, {"soname":"libz.so.1"}, {"soname":[]}, {"soname":["/abs"]}, 5, [1], {"soname":["libok.so"],"feature":3,"priority":"urgent"}]"#,
        );
        assert_eq!(got.entries.len(), 1);
        assert_eq!(names(&got.entries[0]), ["libok.so"]);
        assert_eq!(got.entries[0].feature, None);
        assert_eq!(got.entries[0].priority, Priority::Recommended);
        assert_eq!(
            got.warnings[..6],
            [
                NoteWarning::NoSoname(0),
                NoteWarning::NoSoname(1),
                NoteWarning::NoUsableSoname(2),
                NoteWarning::BadSoname {
                    entry: 3,
                    why: "contains a slash"
                },
                NoteWarning::NoUsableSoname(3),
                NoteWarning::EntryNotObject(4),
            ]
        );
    }

    #[test]
    fn counts_are_bounded_and_warnings_capped() {
        let many: Vec<String> = (0..100).map(|i| format!("\"l{i}.so\"")).collect();
        let got = parse_descriptor(format!("[{{\"soname\":[{}]}}]", many.join(",")).as_bytes());
        assert_eq!(got.entries[0].sonames.len(), MAX_SONAMES);
        assert_eq!(got.warnings, [NoteWarning::TooManySonames(0)]);

        let one = r#"{"soname":["l.so"]}"#;
        let all = vec![one; MAX_ENTRIES + 10].join(",");
        let got = parse_descriptor(format!("[{all}]").as_bytes());
        assert_eq!(got.entries.len(), MAX_ENTRIES);
        assert_eq!(got.warnings, [NoteWarning::TooManyEntries]);

        let bad = vec!["{}"; 100].join(",");
        let got = parse_descriptor(format!("[{bad}]").as_bytes());
        let msgs = got.warning_messages();
        assert_eq!(msgs.len(), MAX_WARNINGS + 1);
        assert_eq!(
            msgs.last().map(String::as_str),
            Some("84 more problems with the .note.dlopen notes of this file are not listed")
        );
    }

    fn note(owner: &[u8], n_type: u32, desc: &[u8], pad: usize, big: bool) -> Vec<u8> {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend(w(owner.len() as u32 + 1));
        out.extend(w(desc.len() as u32));
        out.extend(w(n_type));
        out.extend(owner);
        out.push(0);
        while out.len() % pad != 0 {
            out.push(0);
        }
        out.extend(desc);
        while out.len() % pad != 0 {
            out.push(0);
        }
        out
    }

    #[test]
    fn segments_are_walked_by_type_and_owner() {
        let json = b"[{\"soname\":[\"libz.so.1\"]}]\0";
        for (pad, big) in [(4, false), (8, false), (4, true)] {
            let mut seg = note(b"GNU", 3, &[1; 20], pad, big);
            seg.extend(note(b"FDO", NT_FDO_DLOPEN_METADATA, json, pad, big));
            seg.extend(note(b"XYZ", NT_FDO_DLOPEN_METADATA, json, pad, big));
            seg.extend(note(b"FDO", 1, json, pad, big));
            let mut got = DlopenNotes::default();
            got.add_segment(&seg, big, pad as u64);
            assert!(got.warnings.is_empty());
            assert_eq!(got.entries.len(), 1, "pad {pad} big {big}");
        }
        // A header claiming more than the segment holds.
        let mut seg = note(b"FDO", NT_FDO_DLOPEN_METADATA, json, 4, false);
        seg[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut got = DlopenNotes::default();
        got.add_segment(&seg, false, 4);
        assert_eq!(got.warnings, [NoteWarning::Malformed]);
        // Trailing bytes shorter than a header are padding.
        let mut got = DlopenNotes::default();
        got.add_segment(&[0; 11], false, 4);
        assert!(got.warnings.is_empty());
    }
}
