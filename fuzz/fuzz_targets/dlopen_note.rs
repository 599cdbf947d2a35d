//! `.note.dlopen` metadata over arbitrary bytes (`elfdeps::elf::note`): the first byte picks how the
//! rest is read, as a descriptor (the JSON) or as a PT_NOTE segment of either byte order and
//! alignment. Must never panic, overflow the stack on nesting, or keep more than the bounds allow.
#![no_main]

use elfdeps::elf::note::{
    DlopenNotes, MAX_ENTRIES, MAX_SONAME_LEN, MAX_SONAMES, MAX_WARNINGS, parse_descriptor,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let notes = if mode & 1 == 0 {
        parse_descriptor(rest)
    } else {
        let mut notes = DlopenNotes::default();
        let align = if mode & 2 == 0 { 4 } else { 8 };
        notes.add_segment(rest, mode & 4 != 0, align);
        notes
    };
    assert!(notes.entries.len() <= MAX_ENTRIES);
    for e in &notes.entries {
        assert!(!e.sonames.is_empty() && e.sonames.len() <= MAX_SONAMES);
        for s in &e.sonames {
            let b = s.as_bytes();
            assert!(!b.is_empty() && b.len() <= MAX_SONAME_LEN);
            assert!(!b.contains(&b'/') && !b.contains(&0) && b != b"." && b != b"..");
        }
    }
    assert!(notes.warning_messages().len() <= MAX_WARNINGS + 1);
});
