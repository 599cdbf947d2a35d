//! The libc of a static object, decided from the sections the scan searches (elf::markers), equals
//! the libc decided from a search of the whole file, for every static object of the real test
//! roots, the hard-case roots and this machine's /usr (scripts/test installs qemu-user-static,
//! whose 30-odd static glibc programs of 5 to 20 MB are the large case).
//!
//! Without the roots the test fails in CI (CI=true) and skips loudly elsewhere.

mod support;

use std::path::Path;

use elfdeps::check::libc::{LibcInfo, classify};
use elfdeps::elf::markers::{LibcMarkers, MAX_SEARCHED, MarkerSet};
use elfdeps::elf::{Kind, Limits};
use elfdeps::progress::Progress;
use elfdeps::rootfs::RootFs;
use elfdeps::scan::{ScanOptions, scan};

/// The static objects of `root`: (path, verdict from the searched sections, verdict from the whole
/// file), and how many bytes the scan searched against how many a whole read takes.
fn compare(root: &Path) -> (Vec<(String, LibcInfo, LibcInfo)>, u64) {
    let inv = scan(root, &ScanOptions::default(), &Progress::hidden()).expect("scan the root");
    let rootfs = RootFs::open(root).expect("open the root");
    let mut out = Vec::new();
    let mut whole_bytes = 0;
    for o in &inv.objects {
        if !matches!(o.facts.kind, Kind::Static | Kind::StaticPie) {
            continue;
        }
        assert!(
            matches!(o.facts.libc_markers, Some(LibcMarkers::Found(_))),
            "{}: the scan did not search this static object ({:?})",
            o.path,
            o.facts.libc_markers
        );
        let searched = classify(&o.facts);
        // The oracle: every marker of the whole file searched as one buffer (of a file larger
        // than the search cap, its first MAX_SEARCHED bytes: Go's note is in its first page).
        let mut bare = o.facts.clone();
        let cap = Limits::default().max_read.min(MAX_SEARCHED);
        bare.libc_markers = Some(
            rootfs
                .read_prefix(o.path.as_bytes(), cap)
                .map_or(LibcMarkers::Unreadable, |b| {
                    LibcMarkers::Found(MarkerSet::of(&b))
                }),
        );
        let whole = classify(&bare);
        whole_bytes += std::fs::metadata(support::host_path(root, &o.path.to_string()))
            .map(|m| m.len())
            .unwrap_or(0);
        out.push((o.path.to_string(), searched, whole));
    }
    (out, whole_bytes)
}

#[test]
fn section_search_decides_as_the_whole_file() {
    let Some(roots) = support::roots() else {
        return;
    };
    let mut keys: Vec<&String> = roots.keys().collect();
    keys.sort();
    let mut dirs: Vec<(String, std::path::PathBuf)> = Vec::new();
    for k in keys {
        let p = &roots[k];
        if k == "hard-cases" {
            dirs.push((format!("{k}/glibc"), p.join("glibc")));
            dirs.push((format!("{k}/musl"), p.join("musl")));
        } else {
            dirs.push((k.clone(), p.clone()));
        }
    }
    // Taken as a root of its own: only the static objects' bytes matter here.
    dirs.push(("this machine's /usr".into(), "/usr".into()));
    let mut total = 0;
    let mut flavors = std::collections::BTreeMap::new();
    let mut mismatches = Vec::new();
    for (name, dir) in &dirs {
        let (objects, bytes) = compare(dir);
        eprintln!(
            "static_markers: {name}: {} static objects ({} MiB whole)",
            objects.len(),
            bytes >> 20
        );
        total += objects.len();
        for (path, searched, whole) in objects {
            *flavors.entry(whole.flavor.as_str()).or_insert(0) += 1;
            if searched != whole {
                mismatches.push(format!(
                    "{name}: {path}: sections say {searched:?}, the whole file {whole:?}"
                ));
            }
        }
    }
    eprintln!("static_markers: {total} static objects, by flavor {flavors:?}");
    assert!(
        mismatches.is_empty(),
        "{} of {total} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Both libcs' static programs are among them (the hard cases build both), so each rule ran.
    assert!(
        flavors.get("glibc").copied().unwrap_or(0) > 0,
        "{flavors:?}"
    );
    assert!(flavors.get("musl").copied().unwrap_or(0) > 0, "{flavors:?}");
}
