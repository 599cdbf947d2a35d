//! `elfdeps diff A B` on real roots, against oracles that share no code with elfdeps.
//!
//! - Debian bullseye to bookworm (scripts/prepare-roots): the libc releases are those of the
//!   roots' `libc6` packages (dpkg-query); the sonames added and removed are those of every ELF
//!   file of each root (found by the ground-truth walker, read with goblin); the glibc floors are
//!   the highest `GLIBC_x.y` those files need (goblin); the packages added, removed and changed
//!   are dpkg-query's (`--admindir=ROOT/var/lib/dpkg`), installed ones only; the objects newly
//!   broken and fixed are those glibc's loader (trace mode, in a chroot) fails on in one root and
//!   not the other, among the ELF files at the same path in both.
//! - Alpine x86_64 against a copy without zlib: libz.so.1 is the soname removed, and the objects
//!   newly broken are those the real musl loader (`ld-musl-x86_64.so.1 --list`, in a chroot of
//!   each root) loads in the original and cannot load in the copy.
//! - The gate's exit codes (0, 1) and usage errors (2).
//!
//! Needs the cached roots; the Alpine case needs uid 0 (chroot). Each says so loudly when it
//! cannot run, and fails under CI=true.

mod ground_truth;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn diff(args: &[&str]) -> (Value, i32, String) {
    let mut all = vec!["diff", "-q", "-f", "json"];
    all.extend_from_slice(args);
    let out = support::elfdeps(&all);
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("diff {args:?}: not JSON ({e}): {}", support::describe(&out)));
    (doc, code, stderr)
}

fn exit_of(args: &[&str]) -> i32 {
    let mut all = vec!["diff", "-q"];
    all.extend_from_slice(args);
    support::elfdeps(&all).status.code().unwrap_or(-1)
}

fn strs(v: &Value, key: &str) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x[key].as_str().expect("a string").to_string())
        .collect()
}

/// Every ELF file of `root` (the ground-truth walker), each read with goblin: its soname and the
/// highest `GLIBC_x.y` it needs.
fn oracle_elf(root: &Path) -> (BTreeSet<String>, Option<(u32, u32, u32)>) {
    let files = ground_truth::elf_files(root);
    let mut sonames = BTreeSet::new();
    let mut floor = None;
    for f in &files {
        let bytes = std::fs::read(support::host_path(root, f)).expect("read an ELF file");
        let facts =
            support::goblin_facts(&bytes).unwrap_or_else(|e| panic!("goblin cannot read {f}: {e}"));
        if let Some(s) = facts.soname {
            sonames.insert(s);
        }
        for need in &facts.version_needs {
            for (v, _) in &need.versions {
                let Some(rest) = v.strip_prefix("GLIBC_") else {
                    continue;
                };
                let n: Vec<u32> = rest.split('.').filter_map(|p| p.parse().ok()).collect();
                if n.len() == rest.split('.').count() && (2..=3).contains(&n.len()) {
                    let t = (n[0], n[1], n.get(2).copied().unwrap_or(0));
                    floor = floor.max(Some(t));
                }
            }
        }
    }
    (sonames, floor)
}

/// dpkg-query's installed packages of `root`: `name:arch` → version.
fn dpkg_installed(root: &Path) -> BTreeMap<String, String> {
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args([
            "-W",
            "-f",
            "${Package}\t${Architecture}\t${Version}\t${db:Status-Status}\n",
        ])
        .output()
        .expect("dpkg-query runs");
    assert!(out.status.success(), "dpkg-query: {out:?}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 4 && f[3] == "installed")
                .then(|| (format!("{}:{}", f[0], f[1]), f[2].to_string()))
        })
        .collect()
}

fn glibc_of(side: &Value) -> BTreeSet<String> {
    side["libcs"]
        .as_array()
        .expect("libcs")
        .iter()
        .filter(|l| l["flavor"] == "glibc")
        .map(|l| l["version"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn floor_text(t: Option<(u32, u32, u32)>) -> Option<String> {
    t.map(|(a, b, c)| {
        if c == 0 {
            format!("GLIBC_{a}.{b}")
        } else {
            format!("GLIBC_{a}.{b}.{c}")
        }
    })
}

fn pkg_key(p: &Value) -> String {
    format!(
        "{}:{}",
        p["name"].as_str().expect("name"),
        p["arch"].as_str().expect("arch")
    )
}

#[test]
fn bullseye_to_bookworm() {
    let (Some(old), Some(new)) = (support::root("debian-bullseye"), support::root("debian")) else {
        return;
    };
    if !support::require_tool_or_skip("dpkg-query", "dpkg", "diff bullseye bookworm") {
        return;
    }
    let (a, b) = (old.to_str().expect("utf-8"), new.to_str().expect("utf-8"));
    let (doc, code, stderr) = diff(&[a, b]);
    assert_eq!(code, 0, "no --gate: exit 0; stderr: {stderr}");
    assert_eq!(doc["schema"], "elfdeps-diff/1");
    assert_eq!(doc["a"]["errors"], 0);
    assert_eq!(doc["b"]["errors"], 0);

    // The acceptance line: glibc 2.31 and 2.36, as the roots' libc6 packages say.
    let upstream = |root: &Path| {
        let v = dpkg_installed(root)["libc6:amd64"].clone();
        v.split('-').next().expect("upstream").to_string()
    };
    assert_eq!(upstream(old), "2.31");
    assert_eq!(upstream(new), "2.36");
    assert_eq!(glibc_of(&doc["a"]), BTreeSet::from(["2.31".to_string()]));
    assert_eq!(glibc_of(&doc["b"]), BTreeSet::from(["2.36".to_string()]));
    let human = support::elfdeps(&["diff", "-q", a, b]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("libc: glibc 2.31 ") && text.contains("libc: glibc 2.36 "),
        "human output names both releases:\n{text}"
    );

    // Sonames and floors, from every ELF file of each root.
    let (sa, fa) = oracle_elf(old);
    let (sb, fb) = oracle_elf(new);
    let added: BTreeSet<String> = sb.difference(&sa).cloned().collect();
    let removed: BTreeSet<String> = sa.difference(&sb).cloned().collect();
    assert!(!added.is_empty() && !removed.is_empty());
    assert_eq!(strs(&doc["sonames"]["added"], "soname"), added);
    assert_eq!(strs(&doc["sonames"]["removed"], "soname"), removed);
    assert_eq!(
        doc["a"]["glibc_floor"]["version"]
            .as_str()
            .map(String::from),
        floor_text(fa)
    );
    assert_eq!(
        doc["b"]["glibc_floor"]["version"]
            .as_str()
            .map(String::from),
        floor_text(fb)
    );
    assert!(fb > fa);
    assert_eq!(doc["floor_raised"], true);

    // Packages, from dpkg-query.
    let (pa, pb) = (dpkg_installed(old), dpkg_installed(new));
    let p = &doc["packages"];
    let keys =
        |k: &str| -> BTreeSet<String> { p[k].as_array().expect(k).iter().map(pkg_key).collect() };
    let want_added: BTreeSet<String> = pb
        .keys()
        .filter(|k| !pa.contains_key(*k))
        .cloned()
        .collect();
    let want_removed: BTreeSet<String> = pa
        .keys()
        .filter(|k| !pb.contains_key(*k))
        .cloned()
        .collect();
    let want_changed: BTreeSet<String> = pa
        .iter()
        .filter(|(k, v)| pb.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(keys("added"), want_added);
    assert_eq!(keys("removed"), want_removed);
    assert_eq!(keys("changed"), want_changed);
    for c in p["changed"].as_array().expect("changed") {
        let k = pkg_key(c);
        assert_eq!(c["before"].as_str(), Some(pa[&k].as_str()), "{k}");
        assert_eq!(c["after"].as_str(), Some(pb[&k].as_str()), "{k}");
    }

    // Newly broken and fixed: glibc's loader (trace mode, in a chroot of each root) on every ELF
    // file at the same path in both.
    if support::require_root_or_skip("diff bullseye bookworm: glibc's loader in a chroot") {
        let both: Vec<String> = {
            let in_b: BTreeSet<String> = ground_truth::elf_files(new).into_iter().collect();
            ground_truth::elf_files(old)
                .into_iter()
                .filter(|f| in_b.contains(f))
                .collect()
        };
        assert_eq!(doc["compared"], both.len());
        let before = ground_truth::glibc_truth(old, &both);
        let after = ground_truth::glibc_truth(new, &both);
        let fails = |t: &ground_truth::Truth| {
            !t.missing.is_empty() || !t.version_errors.is_empty() || t.fatal.is_some()
        };
        let broken: BTreeSet<String> = both
            .iter()
            .filter(|f| !fails(&before[*f]) && fails(&after[*f]))
            .cloned()
            .collect();
        let fixed: BTreeSet<String> = both
            .iter()
            .filter(|f| fails(&before[*f]) && !fails(&after[*f]))
            .cloned()
            .collect();
        assert_eq!(strs(&doc["newly_broken"], "path"), broken);
        assert_eq!(strs(&doc["fixed"], "path"), fixed);
    }

    // The gate: what occurred fails it, what did not passes.
    assert_eq!(exit_of(&[a, b, "--gate", "floor-raised"]), 1);
    assert_eq!(
        exit_of(&[a, b, "--gate", "soname-removed,package-removed"]),
        1
    );
    assert_eq!(exit_of(&[a, b, "--gate", "libc-changed"]), 0);
    assert_eq!(
        exit_of(&[b, a, "--gate", "floor-raised"]),
        0,
        "the floor goes down"
    );
    let broken = !doc["newly_broken"]
        .as_array()
        .expect("newly_broken")
        .is_empty();
    assert_eq!(
        exit_of(&[a, b, "--gate", "newly-broken"]),
        i32::from(broken)
    );
    let (g, code, _) = diff(&[a, b, "--gate", "floor-raised", "--gate", "libc-changed"]);
    assert_eq!(code, 1);
    assert_eq!(g["gate"]["triggered"], serde_json::json!(["floor-raised"]));
    assert_eq!(g["gate"]["passed"], false);
}

/// `cp -a` of `root` into a new temporary directory.
fn copy_of(root: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let to = dir.path().join("root");
    let ok = Command::new("cp")
        .arg("-a")
        .arg(root)
        .arg(&to)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp -a {}", root.display());
    (dir, to)
}

#[test]
fn alpine_without_zlib() {
    let Some(orig) = support::root("alpine-x86_64") else {
        return;
    };
    if !support::require_root_or_skip(
        "diff of Alpine and a copy without zlib (musl's loader in a chroot)",
    ) {
        return;
    }
    let (_keep, copy) = copy_of(orig);
    for f in ["lib/libz.so.1", "lib/libz.so.1.3.1"] {
        std::fs::remove_file(copy.join(f)).expect("remove zlib");
    }
    let (a, b) = (orig.to_str().expect("utf-8"), copy.to_str().expect("utf-8"));
    let (doc, code, stderr) = diff(&[a, b]);
    assert_eq!(code, 0, "{stderr}");

    // The soname removed, from the files.
    let (sa, _) = oracle_elf(orig);
    let (sb, fb) = oracle_elf(&copy);
    let removed: BTreeSet<String> = sa.difference(&sb).cloned().collect();
    assert_eq!(removed, BTreeSet::from(["libz.so.1".to_string()]));
    assert_eq!(strs(&doc["sonames"]["removed"], "soname"), removed);
    assert!(
        doc["sonames"]["added"]
            .as_array()
            .expect("added")
            .is_empty()
    );
    assert_eq!(fb, None, "musl objects need no GLIBC_ version");
    assert!(doc["b"]["glibc_floor"].is_null());
    let musl: Vec<&Value> = doc["b"]["libcs"]
        .as_array()
        .expect("libcs")
        .iter()
        .collect();
    assert_eq!(musl.len(), 1);
    assert_eq!(musl[0]["flavor"], "musl");

    // Newly broken: what musl's loader loads in the original and not in the copy.
    let opts = ground_truth::Options {
        cache: false,
        ..ground_truth::Options::default()
    };
    let files: Vec<String> = ground_truth::elf_files(&copy);
    let before = ground_truth::try_musl_truth_with(orig, "x86_64", &files, &opts)
        .unwrap_or_else(|e| panic!("musl's loader in {a}: {e}"));
    let after = ground_truth::try_musl_truth_with(&copy, "x86_64", &files, &opts)
        .unwrap_or_else(|e| panic!("musl's loader in {b}: {e}"));
    let fails = |t: &ground_truth::Truth| !t.missing.is_empty() || t.fatal.is_some();
    let want: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .filter(|f| !fails(&before[*f]) && fails(&after[*f]))
        .map(|f| (f.clone(), after[f].missing.clone()))
        .collect();
    assert!(
        want.contains_key("/sbin/apk"),
        "the loader says apk breaks without zlib: {want:?}"
    );
    let got: BTreeMap<String, BTreeSet<String>> = doc["newly_broken"]
        .as_array()
        .expect("newly_broken")
        .iter()
        .map(|c| {
            let missing = c["new_missing"]
                .as_array()
                .expect("new_missing")
                .iter()
                .map(|m| m.as_str().expect("a name").to_string())
                .collect();
            (c["path"].as_str().expect("path").to_string(), missing)
        })
        .collect();
    assert_eq!(got, want, "newly broken objects and what they miss");
    assert!(doc["fixed"].as_array().expect("fixed").is_empty());
    // The reverse: what broke is fixed.
    let (back, _, _) = diff(&[b, a]);
    let fixed: BTreeSet<String> = strs(&back["fixed"], "path");
    assert_eq!(fixed, want.keys().cloned().collect());
    assert_eq!(strs(&back["sonames"]["added"], "soname"), removed);

    // The database still lists zlib: no package change.
    let p = &doc["packages"];
    for k in ["added", "removed", "changed"] {
        assert!(p[k].as_array().expect(k).is_empty(), "packages {k}: {p}");
    }

    // The gate.
    assert_eq!(exit_of(&[a, b, "--gate", "soname-removed"]), 1);
    assert_eq!(exit_of(&[a, b, "--gate", "newly-broken"]), 1);
    assert_eq!(
        exit_of(&[a, b, "--gate", "floor-raised,package-removed,libc-changed"]),
        0
    );
    assert_eq!(exit_of(&[b, a, "--gate", "newly-broken,soname-removed"]), 0);
    assert_eq!(exit_of(&[a, b, "--gate", "all"]), 1);
}

#[test]
fn usage_and_input_errors_exit_2() {
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let a = alpine.to_str().expect("utf-8");
    let out = support::elfdeps(&["diff", a, a, "--gate", "floor-lowered"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    let out = support::elfdeps(&["diff", a]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    let missing = "/nonexistent/elfdeps-diff-b";
    let out = support::elfdeps(&["diff", "-q", a, missing]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("B (") && err.contains(missing),
        "says which side: {err}"
    );
    let out = support::elfdeps(&["diff", "-q", a, a, "--add", "/etc/hostname:/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", support::describe(&out));
    // The same root on both sides: nothing changed, every gate passes.
    let (doc, code, _) = diff(&[a, a, "--gate", "all"]);
    assert_eq!(code, 0);
    assert_eq!(doc["gate"]["passed"], true);
    assert!(
        doc["newly_broken"]
            .as_array()
            .expect("newly_broken")
            .is_empty()
    );
    assert_eq!(doc["compared"], doc["a"]["objects"]);
}

/// Any form ROOT takes: the minirootfs tarball the Alpine root was unpacked from is the same root.
#[test]
fn a_tarball_and_its_unpacked_root_do_not_differ() {
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let shared = std::env::var_os("ELFDEPS_SHARED")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let tarball = shared.join("fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    if !tarball.is_file() {
        support::skip(
            "diff of a tarball and its root",
            &format!("{} is missing", tarball.display()),
        );
        return;
    }
    let (a, b) = (
        alpine.to_str().expect("utf-8"),
        tarball.to_str().expect("utf-8"),
    );
    let (doc, code, stderr) = diff(&[a, b, "--gate", "all"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["b"]["root"], b);
    assert_eq!(doc["a"]["objects"], doc["b"]["objects"]);
    assert_eq!(doc["compared"], doc["a"]["objects"]);
    assert_eq!(doc["a"]["libcs"], doc["b"]["libcs"]);
    assert_eq!(doc["a"]["libcs"][0]["version"], "1.2.5");
    for k in ["added", "removed"] {
        assert!(doc["sonames"][k].as_array().expect(k).is_empty());
    }
    for k in ["added", "removed", "changed"] {
        assert!(doc["packages"][k].as_array().expect(k).is_empty());
    }
    assert!(
        doc["newly_broken"]
            .as_array()
            .expect("newly_broken")
            .is_empty()
    );
    assert!(doc["fixed"].as_array().expect("fixed").is_empty());
}
