//! `.note.dlopen` metadata in `elfdeps scan --format json`: the fixture `tests/runtime_src/dlopen_note.c`
//! compiled here with gcc (and musl-gcc) into a temporary root, with a good note, a note that is not
//! JSON, and a note naming paths instead of sonames.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/runtime_src/dlopen_note.c")
}

/// Compiles the fixture with `cc` and the given `-D` definitions to `out`.
fn build(cc: &str, defines: &[&str], out: &Path) {
    let o = Command::new(cc)
        .args(defines)
        .arg("-o")
        .arg(out)
        .arg(fixture())
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(
        o.status.success(),
        "{cc} {defines:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A root with `usr/bin` (so it looks like a root filesystem) and the programs built into it.
fn root_with(programs: &[(&str, &str, &[&str])]) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("tempdir");
    let bin = t.path().join("usr/bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for (cc, name, defines) in programs {
        build(cc, defines, &bin.join(name));
    }
    t
}

fn object<'d>(doc: &'d Value, path: &str) -> &'d Value {
    support::objects_by_path(doc)
        .get(path)
        .copied()
        .unwrap_or_else(|| panic!("{path} is not an object of the scan: {doc:#}"))
}

fn expected_good() -> Value {
    json!([
        {
            "sonames": ["libz.so.1", "libz.so"],
            "feature": "compression",
            "description": "Compressed input",
            "priority": "required"
        },
        {"sonames": ["libmissing-example.so.3"], "priority": "recommended"}
    ])
}

#[test]
fn dlopen_notes_are_facts_with_priority_and_alternatives() {
    if !support::require_tool_or_skip("gcc", "gcc", "dlopen notes") {
        return;
    }
    let musl = support::require_tool_or_skip("musl-gcc", "musl-tools", "dlopen notes (musl)");
    let mut programs: Vec<(&str, &str, &[&str])> = vec![
        ("gcc", "good", &[]),
        ("gcc", "plain", &["-DNOTE_JSON=\"[]\""]),
    ];
    if musl {
        programs.push(("musl-gcc", "good-musl", &[]));
    }
    let root = root_with(&programs);
    let doc = support::scan_json(root.path());
    let good = object(&doc, "/usr/bin/good");
    assert_eq!(good["dlopen"], expected_good(), "{good:#}");
    assert!(good.get("note_warnings").is_none(), "{good:#}");
    assert_eq!(good["needed"], json!(["libc.so.6"]));
    // An empty array is a valid note with nothing in it: no field, no warning.
    let plain = object(&doc, "/usr/bin/plain");
    assert!(plain.get("dlopen").is_none() && plain.get("note_warnings").is_none());
    if musl {
        let m = object(&doc, "/usr/bin/good-musl");
        assert_eq!(m["dlopen"], expected_good(), "{m:#}");
    }
}

#[test]
fn a_hostile_note_is_a_warning_and_the_file_stays_an_object() {
    if !support::require_tool_or_skip("gcc", "gcc", "hostile dlopen notes") {
        return;
    }
    let root = root_with(&[
        ("gcc", "not-json", &["-DNOTE_JSON=\"{not json \\x01\""]),
        (
            "gcc",
            "not-array",
            &["-DNOTE_JSON=\"{\\\"soname\\\":[\\\"a.so\\\"]}\""],
        ),
        (
            "gcc",
            "paths",
            &[
                "-DNOTE_JSON=\"[{\\\"soname\\\":[\\\"../../etc/passwd\\\",\\\"/lib/x.so\\\",\\\"libok.so.1\\\"]},{\\\"soname\\\":[\\\"..\\\"]}]\"",
            ],
        ),
    ]);
    let doc = support::scan_json(root.path());
    assert_eq!(doc["errors"], json!([]), "no per-file error: {doc:#}");

    let o = object(&doc, "/usr/bin/not-json");
    assert!(o.get("dlopen").is_none());
    assert_eq!(
        o["note_warnings"],
        json!([
            "the .note.dlopen note of this file is not valid JSON; its dlopen dependencies are ignored"
        ])
    );
    // The rest of the facts stand.
    assert_eq!(o["needed"], json!(["libc.so.6"]));
    assert_eq!(o["kind"], "pie");

    let o = object(&doc, "/usr/bin/not-array");
    assert_eq!(
        o["note_warnings"],
        json!([
            "the .note.dlopen note of this file is not a JSON array; its dlopen dependencies are ignored"
        ])
    );

    let o = object(&doc, "/usr/bin/paths");
    assert_eq!(
        o["dlopen"],
        json!([{"sonames": ["libok.so.1"], "priority": "recommended"}])
    );
    let warnings: Vec<&str> = o["note_warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        warnings,
        [
            "entry 0 of the .note.dlopen note names a soname that contains a slash; that name is ignored",
            "entry 0 of the .note.dlopen note names a soname that contains a slash; that name is ignored",
            "entry 1 of the .note.dlopen note names a soname that is . or ..; that name is ignored",
            "entry 1 of the .note.dlopen note has no usable soname; it is ignored",
        ]
    );
    // The warnings speak of the note, never quote it.
    assert!(!warnings.iter().any(|w| w.contains("passwd")));
}

/// The file offsets of the PT_NOTE program headers of a little-endian ELF64 file.
fn note_headers(elf: &[u8]) -> Vec<usize> {
    let u = |at: usize, n: usize| -> u64 {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&elf[at..at + n]);
        u64::from_le_bytes(b)
    };
    let (phoff, phentsize, phnum) = (
        u(0x20, 8) as usize,
        u(0x36, 2) as usize,
        u(0x38, 2) as usize,
    );
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .filter(|&ph| u(ph, 4) == 4 /* PT_NOTE */)
        .collect()
}

#[test]
fn a_note_segment_outside_the_file_is_a_warning() {
    if !support::require_tool_or_skip("gcc", "gcc", "a PT_NOTE outside the file") {
        return;
    }
    let root = root_with(&[("gcc", "good", &[])]);
    let path = root.path().join("usr/bin/good");
    let mut elf = std::fs::read(&path).expect("read");
    let notes = note_headers(&elf);
    assert!(!notes.is_empty(), "gcc's output has PT_NOTE segments");
    for ph in notes {
        // p_offset far past the end of the file.
        elf[ph + 8..ph + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    }
    std::fs::write(&path, &elf).expect("write");
    let doc = support::scan_json(root.path());
    let o = object(&doc, "/usr/bin/good");
    assert!(o.get("dlopen").is_none());
    let warnings = o["note_warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().all(|w| w
            .as_str()
            .is_some_and(|w| w.starts_with("a note segment of this file cannot be read"))),
        "{o:#}"
    );
    assert_eq!(o["needed"], json!(["libc.so.6"]));
    assert_eq!(doc["errors"], json!([]));
}
