//! elfdeps against independent oracles on real root file systems, over every file in them.
//!
//! For each root built by scripts/prepare-roots (Debian bookworm; Alpine x86_64, aarch64, s390x):
//! 1. the set of ELF paths elfdeps reports equals the set scanelf finds;
//! 2. for every ELF file, needed (in order), soname, interp, rpath, runpath and version_needs
//!    equal what `readelf -dlVW` prints;
//! 3. the same facts equal what goblin parses (files goblin cannot parse are listed, and must be
//!    few).
//!
//! And `usr_matches_scanelf` compares the ELF path set of this machine's own /usr.
//!
//! Without the roots or the oracle tools these tests skip loudly, except in CI (CI=true), where
//! that is a failure. Each prints a one-line summary on stderr, even when it passes.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::ElfFacts;

/// How many mismatching files a failure report shows.
const SHOW: usize = 30;

/// At most this share of ELF files may be unparsable for goblin (in per mille), and at least this
/// many are always tolerated: goblin is a second opinion, not the reference.
const GOBLIN_UNPARSABLE_PER_MILLE: usize = 20;
const GOBLIN_UNPARSABLE_MIN: usize = 3;

#[test]
fn debian() {
    check_root("debian");
}

#[test]
fn alpine_x86_64() {
    check_root("alpine-x86_64");
}

#[test]
fn alpine_aarch64() {
    check_root("alpine-aarch64");
}

#[test]
fn alpine_s390x() {
    check_root("alpine-s390x");
}

/// This machine's /usr (100k+ files): the ELF path set equals scanelf's.
#[test]
fn usr_matches_scanelf() {
    if !support::require_tool_or_skip("scanelf", "pax-utils", "usr_matches_scanelf") {
        return;
    }
    let root = Path::new("/usr");
    let started = Instant::now();
    let doc = support::scan_json(root);
    let objects = support::objects_by_path(&doc);
    let errors = support::errors_by_path(&doc);
    let check = compare_with_scanelf(root, &objects.keys().cloned().collect(), &errors);
    let mounts = support::mount_points_inside(&root.canonicalize().unwrap());
    let mounts: Vec<String> = mounts.iter().map(|m| support::escape_name(m)).collect();
    support::loud(&format!(
        "/usr: {} ELF files, scanelf {} ({} malformed ELF files that scanelf lists and elfdeps \
         reports as errors, {} per-file errors in all; mount points inside, walked by neither: \
         {mounts:?}) in {:.1}s",
        objects.len(),
        if check.diff.is_none() {
            "agrees"
        } else {
            "DIFFERS"
        },
        check.malformed.len(),
        errors.len(),
        started.elapsed().as_secs_f64()
    ));
    if let Some(diff) = check.diff {
        panic!("/usr: {diff}\n(files may also have changed between the two walks)");
    }
}

/// What comparing elfdeps's ELF path set with scanelf's found.
struct ScanelfCheck {
    /// The differences, if any.
    diff: Option<String>,
    /// Paths scanelf lists that elfdeps reports as malformed ELF (set aside, not a difference).
    malformed: Vec<String>,
}

/// Compares elfdeps's ELF paths (`objects[].path`) with scanelf's (see
/// `support::scanelf_elf_paths` for the walk normalisation). scanelf calls a file ELF when its
/// e_ident is acceptable, without validating the header tables, so a file that elfdeps reports as
/// an `elf-truncated` or `elf-invalid` error instead of an object (a 40-byte file with an ELF
/// magic, a program header table past the end of the file) can be in scanelf's list: such paths
/// are set aside and counted, not reported as differences. Any other difference is.
fn compare_with_scanelf(
    root: &Path,
    mine: &BTreeSet<String>,
    errors: &BTreeMap<String, support::FileError>,
) -> ScanelfCheck {
    let is_malformed = |p: &String| {
        errors
            .get(p)
            .is_some_and(|e| matches!(e.code.as_str(), "elf-truncated" | "elf-invalid"))
    };
    let (malformed, scanelf): (BTreeSet<String>, BTreeSet<String>) =
        support::scanelf_elf_paths(root)
            .into_iter()
            .partition(is_malformed);
    let diff = support::diff_path_sets("elfdeps", mine, "scanelf", &scanelf, &|p| {
        errors.get(p).map(|e| format!("elfdeps error {e}"))
    });
    ScanelfCheck {
        diff,
        malformed: malformed.into_iter().collect(),
    }
}

/// Pins down the scanelf behaviour that `support::scanelf_elf_paths` relies on: with -R it reports
/// every hard-link path of a regular ELF file, and neither reports nor follows symlinks (to files
/// or directories). If a new scanelf changes this, the normalisation must be revisited.
#[test]
fn scanelf_walk_semantics() {
    if !support::require_tool_or_skip("scanelf", "pax-utils", "scanelf_walk_semantics") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("a")).unwrap();
    std::fs::write(r.join("a/elf"), minimal_elf64()).unwrap();
    std::fs::hard_link(r.join("a/elf"), r.join("a/hard")).unwrap();
    std::os::unix::fs::symlink("elf", r.join("a/sym")).unwrap();
    std::os::unix::fs::symlink("a", r.join("dirsym")).unwrap();
    std::fs::write(r.join("a/text"), "not an ELF file\n").unwrap();

    let out = Command::new("scanelf")
        .env("LC_ALL", "C")
        .args(["-R", "-m", "-B", "-F", "%F"])
        .arg(r)
        .output()
        .expect("run scanelf");
    assert!(out.status.success());
    let prefix = format!("{}/", r.display());
    let mut listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        ["a/elf", "a/hard"],
        "scanelf's walk changed (hard links / symlinks); revisit support::scanelf_elf_paths"
    );

    let doc = support::scan_json(r);
    let mine: Vec<String> = support::objects_by_path(&doc).into_keys().collect();
    assert_eq!(mine, ["/a/elf", "/a/hard"]);
}

/// The readelf parser on canned binutils 2.40 output: several files, a weak version, several
/// DT_RPATH entries, an empty DT_RUNPATH component, and a file readelf failed on (no header).
#[test]
fn readelf_parser_reads_canned_output() {
    let out = b"
File: /r/a

Elf file type is DYN (Position-Independent Executable file)
Program Headers:
  Type           Offset   VirtAddr           PhysAddr           FileSiz  MemSiz   Flg Align
  INTERP         0x000318 0x0000000000000318 0x0000000000000318 0x00001c 0x00001c R   0x1
      [Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]

Dynamic section at offset 0x2d80 contains 29 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libfoo.so.1]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000000f (RPATH)              Library rpath: [$ORIGIN:/opt/x]
 0x000000000000000f (RPATH)              Library rpath: [/opt/y]
 0x000000000000001d (RUNPATH)            Library runpath: [/a::/b]
 0x000000006ffffffb (FLAGS_1)            Flags: NOW PIE

Version symbols section '.gnu.version' contains 3 entries:
 Addr: 0x000000000000161a  Offset: 0x0000161a  Link: 6 (.dynsym)
  000:   0 (*local*)       2 (GLIBC_2.3)     3 (FOO_1)

Version needs section '.gnu.version_r' contains 2 entries:
 Addr: 0x0000000000001718  Offset: 0x00001718  Link: 7 (.dynstr)
  000000: Version: 1  File: libfoo.so.1  Cnt: 1
  0x0010:   Name: FOO_1  Flags: WEAK  Version: 3
  0x0020: Version: 1  File: libc.so.6  Cnt: 2
  0x0030:   Name: GLIBC_2.3  Flags: none  Version: 2
  0x0040:   Name: GLIBC_2.34  Flags: BASE | WEAK  Version: 4

File: /r/b

Dynamic section at offset 0x2d80 contains 3 entries:
 0x000000000000000e (SONAME)             Library soname: [libb.so.2]

No version information found in this file.
";
    let files = [
        PathBuf::from("/r/a"),
        PathBuf::from("/r/b"),
        PathBuf::from("/r/failed"),
    ];
    let facts = support::parse_readelf(out, &files);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let need = |file: &str, versions: &[(&str, bool)]| support::VersionNeed {
        file: file.into(),
        versions: versions.iter().map(|(n, w)| (n.to_string(), *w)).collect(),
    };
    assert_eq!(
        facts[&files[0]],
        ElfFacts {
            needed: s(&["libfoo.so.1", "libc.so.6"]),
            soname: None,
            interp: Some("/lib64/ld-linux-x86-64.so.2".into()),
            rpath: Some(s(&["$ORIGIN", "/opt/x", "/opt/y"])),
            runpath: Some(s(&["/a", "", "/b"])),
            version_needs: vec![
                need("libfoo.so.1", &[("FOO_1", true)]),
                need("libc.so.6", &[("GLIBC_2.3", false), ("GLIBC_2.34", true)]),
            ],
        }
    );
    assert_eq!(
        facts[&files[1]],
        ElfFacts {
            soname: Some("libb.so.2".into()),
            ..ElfFacts::default()
        }
    );
    assert!(!facts.contains_key(&files[2]));

    // A single file has no header, and no output means readelf failed on it.
    let one = &files[..1];
    assert_eq!(support::parse_readelf(out, one)[&files[0]].needed.len(), 2);
    assert!(support::parse_readelf(b"", one).is_empty());
}

/// The JSON escaping of names (docs/json.md) round-trips arbitrary bytes.
#[test]
fn name_escaping_round_trips() {
    let cases: [(&[u8], &str); 4] = [
        (b"/usr/bin/ls", "/usr/bin/ls"),
        (b"a\\b", "a\\\\b"),
        (b"caf\xc3\xa9 \xff\xfe", "caf\u{e9} \\xff\\xfe"),
        (b"\xc3", "\\xc3"),
    ];
    for (bytes, escaped) in cases {
        assert_eq!(support::escape_name(bytes), escaped);
        assert_eq!(support::unescape_name(escaped), bytes);
    }
}

/// A 64-byte ELF64 x86_64 executable header with no program or section headers: the smallest
/// file both scanelf and elfdeps accept as ELF.
fn minimal_elf64() -> Vec<u8> {
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&2u16.to_le_bytes()); // e_type ET_EXEC
    h.extend_from_slice(&62u16.to_le_bytes()); // e_machine EM_X86_64
    h.extend_from_slice(&1u32.to_le_bytes()); // e_version
    h.extend_from_slice(&[0; 24]); // e_entry, e_phoff, e_shoff
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, 0, 64, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        h.extend_from_slice(&half.to_le_bytes());
    }
    assert_eq!(h.len(), 64);
    h
}

/// One ELF object as elfdeps reported it.
struct Object {
    /// In-root JSON path, e.g. `/usr/bin/ls`.
    path: String,
    /// Where it is on this machine.
    host: PathBuf,
    facts: ElfFacts,
}

/// All three comparisons on one root; every mismatch is collected before failing.
fn check_root(key: &str) {
    let what = format!("real-root test {key}");
    if !support::require_tool_or_skip("scanelf", "pax-utils", &what)
        || !support::require_tool_or_skip("readelf", "binutils", &what)
    {
        return;
    }
    let Some(root) = support::root(key) else {
        return;
    };
    let started = Instant::now();
    let doc = support::scan_json(root);
    let objects = support::objects_by_path(&doc);
    let errors = support::errors_by_path(&doc);
    assert!(
        !objects.is_empty(),
        "{key}: elfdeps found no ELF file in {}",
        root.display()
    );
    let mut failures = Vec::new();
    // A clean root has no per-file errors, except unreadable files when we are not root (scanelf
    // skips those silently, so the path sets still compare).
    let unexpected: Vec<String> = errors
        .iter()
        .filter(|(_, e)| support::euid() == 0 || e.code != "permission-denied")
        .map(|(p, e)| format!("{p}: {e}"))
        .collect();
    if !unexpected.is_empty() {
        failures.push(format!(
            "elfdeps reported {} per-file errors on a clean root:\n{}",
            unexpected.len(),
            first(&unexpected)
        ));
    }

    // 1. The ELF path set, against scanelf.
    let mine: BTreeSet<String> = objects.keys().cloned().collect();
    // Malformed ELF files are per-file errors, which already fail this test on a clean root.
    let check = compare_with_scanelf(root, &mine, &errors);
    let scanelf_agrees = check.diff.is_none();
    failures.extend(check.diff);

    let mut all = Vec::with_capacity(objects.len());
    for (path, o) in &objects {
        match ElfFacts::from_json(o) {
            Ok(facts) => all.push(Object {
                path: path.clone(),
                host: support::host_path(root, path),
                facts,
            }),
            Err(e) => failures.push(format!("{path}: unexpected JSON object: {e}\n{o:#}")),
        }
    }

    // 2. Dynamic facts, against readelf.
    let hosts: Vec<PathBuf> = all.iter().map(|o| o.host.clone()).collect();
    let readelf = support::readelf_facts(&hosts);
    let mut readelf_mismatches = Vec::new();
    for o in &all {
        match readelf.facts.get(&o.host) {
            None => readelf_mismatches.push(format!("{}: readelf printed nothing for it", o.path)),
            Some(theirs) => {
                let d = o.facts.differences("elfdeps", theirs, "readelf", true);
                if !d.is_empty() {
                    readelf_mismatches.push(format!("{}:\n      {}", o.path, d.join("\n      ")));
                }
            }
        }
    }
    let readelf_agree = all.len() - readelf_mismatches.len();
    if !readelf_mismatches.is_empty() {
        let mut report = format!(
            "readelf disagrees on {} of {} files:\n{}",
            readelf_mismatches.len(),
            all.len(),
            first(&readelf_mismatches)
        );
        let stderr: Vec<&str> = readelf.stderr.lines().take(10).collect();
        if !stderr.is_empty() {
            report.push_str("\nreadelf's stderr (first lines):\n  ");
            report.push_str(&stderr.join("\n  "));
        }
        failures.push(report);
    }

    // 3. The same facts, against goblin.
    let goblin = support::parallel_map(&all, |o| {
        std::fs::read(&o.host)
            .map_err(|e| format!("read: {e}"))
            .and_then(|bytes| support::goblin_facts(&bytes))
    });
    let mut unparsable = Vec::new();
    let mut goblin_mismatches = Vec::new();
    for (o, theirs) in all.iter().zip(&goblin) {
        match theirs {
            Err(e) => unparsable.push(format!("{}: {e}", o.path)),
            Ok(theirs) => {
                let d = o.facts.differences("elfdeps", theirs, "goblin", true);
                if !d.is_empty() {
                    goblin_mismatches.push(format!("{}:\n      {}", o.path, d.join("\n      ")));
                }
            }
        }
    }
    let goblin_agree = all.len() - unparsable.len() - goblin_mismatches.len();
    if !goblin_mismatches.is_empty() {
        failures.push(format!(
            "goblin disagrees on {} of {} files it could parse:\n{}",
            goblin_mismatches.len(),
            all.len() - unparsable.len(),
            first(&goblin_mismatches)
        ));
    }
    let tolerated = GOBLIN_UNPARSABLE_MIN.max(all.len() * GOBLIN_UNPARSABLE_PER_MILLE / 1000);
    if unparsable.len() > tolerated {
        failures.push(format!(
            "goblin cannot parse {} of {} files (more than {tolerated}); is elfdeps reporting \
             files that are not ELF?\n{}",
            unparsable.len(),
            all.len(),
            first(&unparsable)
        ));
    }

    // How much was compared, so that an agreement over nothing would show.
    let needed: usize = all.iter().map(|o| o.facts.needed.len()).sum();
    let versions: usize = all
        .iter()
        .flat_map(|o| &o.facts.version_needs)
        .map(|n| n.versions.len())
        .sum();
    let search_paths = all
        .iter()
        .filter(|o| o.facts.rpath.is_some() || o.facts.runpath.is_some())
        .count();
    support::loud(&format!(
        "{key}: {} ELF files, scanelf {}, readelf agree {readelf_agree}/{n}, goblin agree \
         {goblin_agree}/{n} ({} unparsable); compared {needed} needed, {versions} version needs, \
         {search_paths} files with rpath/runpath; {} per-file errors, in {:.1}s",
        mine.len(),
        if scanelf_agrees { "agrees" } else { "DIFFERS" },
        unparsable.len(),
        errors.len(),
        started.elapsed().as_secs_f64(),
        n = all.len(),
    ));
    if !unparsable.is_empty() {
        support::loud(&format!(
            "{key}: files goblin cannot parse (tolerated up to {tolerated}):\n  {}",
            unparsable.join("\n  ")
        ));
    }
    assert!(
        failures.is_empty(),
        "{key} ({}): {} problem(s):\n\n{}",
        root.display(),
        failures.len(),
        failures.join("\n\n")
    );
}

/// The first `SHOW` lines of a list, and how many more there are.
fn first(lines: &[String]) -> String {
    let mut out: Vec<String> = lines.iter().take(SHOW).map(|l| format!("  {l}")).collect();
    if lines.len() > SHOW {
        out.push(format!("  ... and {} more", lines.len() - SHOW));
    }
    out.join("\n")
}
