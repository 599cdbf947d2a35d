//! The differential harness: for every ELF file of a real root, what elfdeps says the loader loads
//! must equal what the root's real loader says when asked inside the root (tests/ground_truth:
//! glibc's ld.so in trace mode, exactly what `ldd` runs; musl's `ld-musl-ARCH.so.1 --list`, through
//! qemu-user-static for a foreign architecture).
//!
//! Compared per file: the closure (canonical in-root paths of every object loaded, without the file
//! itself and the interpreter), the needed names not found, and the missing symbol versions
//! (library, version, requiring object; paths canonicalised). When the real loader gives up
//! (`error while loading shared libraries`, `Not a valid dynamic program`), elfdeps must report a
//! failure too: status `error` with the failing need, or, for files that are not loadable programs
//! at all, status `static`.
//!
//! Roots: the Debian root (with `$ORIGIN` users: OpenJDK, LibreOffice, numpy, PostgreSQL), the
//! Alpine x86_64 and aarch64 minirootfs, and the two generated roots of hard cases
//! (tests/hard_cases/build.sh). Each prints `agree N/M` and must agree on every file.
//!
//! glibc-hwcaps: the real loader picks subdirectories by this machine's CPU, so elfdeps is given the
//! same levels (`--hwcaps`), read from the host ld.so's `--help` (the roots' glibc is the host's).

mod ground_truth;
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use elfdeps::name::ByteStr;
use elfdeps::progress::Progress;
use elfdeps::resolve::{ResolveOptions, Status};
use elfdeps::scan::{self, Object, ScanOptions, ScanReport};
use ground_truth::Truth;

#[derive(Clone, Copy)]
enum Loader {
    Glibc,
    Musl(&'static str),
}

#[test]
fn debian_agrees_with_ld_so() {
    check("debian", None, Loader::Glibc, 1000);
}

#[test]
fn alpine_x86_64_agrees_with_ld_musl() {
    check("alpine-x86_64", None, Loader::Musl("x86_64"), 10);
}

#[test]
fn alpine_aarch64_agrees_with_ld_musl_under_qemu() {
    check("alpine-aarch64", None, Loader::Musl("aarch64"), 10);
}

#[test]
fn hard_cases_glibc_agree_with_ld_so() {
    check("hard-cases", Some("glibc"), Loader::Glibc, 30);
}

#[test]
fn hard_cases_musl_agree_with_ld_musl() {
    check("hard-cases", Some("musl"), Loader::Musl("x86_64"), 25);
}

/// The hard-case roots hold what the issue lists, with the outcomes the real loaders give
/// (asserted here on elfdeps' side, so a regression names the case, not just a count).
#[test]
fn hard_case_outcomes() {
    if !support::require_root_or_skip("hard-case outcomes") {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let g = scan_root(&base.join("glibc"));
    let status = |r: &ScanReport, p: &str| resolution(r, p).0;
    let missing = |r: &ScanReport, p: &str| resolution(r, p).1;
    let closure = |r: &ScanReport, p: &str| resolution(r, p).2;
    // RPATH inherited, RUNPATH not.
    assert_eq!(status(&g, "/opt/rp/bin/rpath-chain"), Status::Ok);
    assert_eq!(missing(&g, "/opt/rp/bin/runpath-chain"), ["liby.so"]);
    // Stale cache: moved (found in a default dir), deleted, added without ldconfig.
    assert!(
        closure(&g, "/usr/bin/uses-moved")
            .contains(&"/usr/lib/x86_64-linux-gnu/libmoved.so.1".into())
    );
    assert_eq!(missing(&g, "/usr/bin/uses-gone"), ["libgone.so.1"]);
    assert_eq!(missing(&g, "/usr/bin/uses-new"), ["libnew.so.1"]);
    // Wrong class and machine skipped; bad OSABI and a text file stop the search.
    assert!(closure(&g, "/opt/wc/bin/wrong-first").contains(&"/opt/wc/ok/libwc.so".into()));
    assert_eq!(missing(&g, "/usr/bin/uses-wc32only"), ["libwc32only.so"]);
    assert_eq!(status(&g, "/opt/wc/bin/osabi-first"), Status::Error);
    assert_eq!(status(&g, "/opt/wc/bin/text-first"), Status::Error);
    // Absolute and escaping symlinks resolve inside the root.
    let abs = closure(&g, "/opt/abs/bin/abs-links");
    assert!(
        abs.contains(&"/opt/abs/real/libabs.so.1.0".into()),
        "{abs:?}"
    );
    assert!(
        abs.contains(&"/opt/abs/real/libesc.so.1.0".into()),
        "{abs:?}"
    );
    // NEEDED with a slash.
    assert!(closure(&g, "/usr/bin/slash-needed").contains(&"/opt/slash/libslash.so".into()));
    assert_eq!(
        missing(&g, "/usr/bin/slash-needed"),
        ["/opt/slash/libnothere.so"]
    );
    // A version the library does not define.
    let o = object(&g, "/usr/bin/needs-vers2");
    let errs = &o.resolution.as_ref().expect("resolved").version_errors;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].version.as_bytes(), b"VERS_2");
    // A musl program in a glibc root.
    assert_eq!(status(&g, "/usr/bin/musl-hello"), Status::InterpMissing);
    // $ORIGIN through a symlinked file in another directory does not find its neighbour.
    assert_eq!(missing(&g, "/opt/app/bin/app-via-link"), ["libr.so"]);
    assert_eq!(status(&g, "/opt/app/bin/app"), Status::Ok);
    // Legacy capability subdirectories of glibc 2.36.
    assert_eq!(status(&g, "/opt/legacy/bin/legacy"), Status::Ok);
    // NODEFLIB.
    assert_eq!(missing(&g, "/usr/bin/nodeflib"), ["libm.so.6", "libc.so.6"]);

    let m = scan_root(&base.join("musl"));
    // A glibc program (no interpreter here) and a glibc module: musl satisfies libc.so.6 itself.
    assert_eq!(status(&m, "/usr/bin/glibc-hello"), Status::InterpMissing);
    assert_eq!(status(&m, "/usr/lib/glibc-module.so"), Status::Ok);
    // The path file drops /usr/local/lib and adds /opt/mp.
    assert_eq!(missing(&m, "/usr/bin/uses-local"), ["liblocal.so"]);
    assert_eq!(status(&m, "/usr/bin/uses-pathfile"), Status::Ok);
    // RUNPATH inherited on musl; a $LIB path list ignored whole; no soname matching.
    assert_eq!(status(&m, "/opt/rp/bin/runpath-chain"), Status::Ok);
    assert_eq!(missing(&m, "/opt/rp/bin/lib-token"), ["libx.so"]);
    assert_eq!(missing(&m, "/opt/sn/bin/soname-match"), ["libcommon.so.1"]);
    assert_eq!(status(&m, "/opt/wc/bin/text-first"), Status::Error);
    assert_eq!(status(&m, "/opt/wc/bin/machine-first"), Status::Ok);
}

fn object<'a>(r: &'a ScanReport, path: &str) -> &'a Object {
    r.objects
        .iter()
        .find(|o| o.path.as_bytes() == path.as_bytes())
        .unwrap_or_else(|| panic!("{path} is not an object of {}", r.root.display()))
}

fn resolution(r: &ScanReport, path: &str) -> (Status, Vec<String>, Vec<String>) {
    let res = object(r, path)
        .resolution
        .as_ref()
        .unwrap_or_else(|| panic!("{path} was not resolved"));
    (
        res.status,
        res.missing.iter().map(ByteStr::escaped).collect(),
        res.closure.iter().map(ByteStr::escaped).collect(),
    )
}

/// The glibc-hwcaps levels this CPU supports, best first, as the host's ld.so lists them.
fn host_hwcaps() -> Vec<ByteStr> {
    let out = Command::new("/lib64/ld-linux-x86-64.so.2")
        .arg("--help")
        .output()
        .expect("run the host's ld.so --help");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut levels = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Subdirectories of glibc-hwcaps") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with("  ") {
                break;
            }
            if line.contains("(supported, searched)") {
                levels.push(ByteStr::from(line.split_whitespace().next().unwrap_or("")));
            }
        }
    }
    levels
}

fn scan_root(root: &Path) -> ScanReport {
    let opts = ScanOptions {
        resolve: Some(ResolveOptions {
            hwcaps: host_hwcaps(),
        }),
        ..ScanOptions::default()
    };
    scan::scan(root, &opts, &Progress::hidden())
        .unwrap_or_else(|e| panic!("elfdeps scan {}: {e}", root.display()))
}

/// Diffs one root; `min` guards against a root that silently lost its files.
fn check(key: &str, sub: Option<&str>, loader: Loader, min: usize) {
    let what = format!(
        "loader differential on {key}{}",
        sub.map(|s| format!("/{s}")).unwrap_or_default()
    );
    if !support::require_root_or_skip(&what) {
        return;
    }
    let Some(base) = support::root(key) else {
        return;
    };
    let root = match sub {
        Some(s) => base.join(s),
        None => base.to_path_buf(),
    };
    let report = scan_root(&root);
    let files: Vec<String> = report.objects.iter().map(|o| o.path.escaped()).collect();
    assert!(
        files.len() >= min,
        "{what}: only {} ELF files (expected at least {min})",
        files.len()
    );
    let truth = match loader {
        Loader::Glibc => ground_truth::glibc_truth(&root, &files),
        Loader::Musl(arch) => ground_truth::musl_truth(&root, arch, &files),
    };
    let mut disagreements = Vec::new();
    for o in &report.objects {
        let name = o.path.escaped();
        let t = truth
            .get(&name)
            .unwrap_or_else(|| panic!("{what}: no ground truth for {name}"));
        if let Err(why) = compare(&root, &report, o, t) {
            disagreements.push(format!("{name}: {why}"));
        }
    }
    let n = report.objects.len();
    support::loud(&format!(
        "{what}: agree {}/{n} ({})",
        n - disagreements.len(),
        root.display()
    ));
    assert!(
        disagreements.is_empty(),
        "{what}: {} of {n} files disagree with the real loader:\n  {}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

/// One file: elfdeps against the loader's verdict.
fn compare(root: &Path, report: &ScanReport, o: &Object, t: &Truth) -> Result<(), String> {
    let Some(res) = &o.resolution else {
        return Err("not resolved".into());
    };
    if t.timed_out {
        return Err(format!("the real loader timed out: {:?}", t.other));
    }
    if let Some(fatal) = &t.fatal {
        // The loader stopped. Files it cannot load as a program at all (static executables under
        // musl, relocatable files, cores, debug files) are `static` for elfdeps, files for which
        // the root has no loader (another machine or class) `interp-missing` without a loader;
        // anything else must be an error saying why the loader gives up.
        return match res.status {
            Status::Static => Ok(()),
            Status::InterpMissing if res.loader.is_none() => Ok(()),
            Status::Error if res.fatal.is_some() => Ok(()),
            s => Err(format!(
                "loader gave up ({fatal}); elfdeps says {s:?}, fatal {:?}",
                res.fatal
            )),
        };
    }
    if let Some(f) = &res.fatal {
        return Err(format!(
            "elfdeps says the loader gives up ({f}); it listed {:?}",
            t.closure
        ));
    }
    let ours_closure: BTreeSet<String> = res.closure.iter().map(ByteStr::escaped).collect();
    let ours_missing: BTreeSet<String> = res.missing.iter().map(ByteStr::escaped).collect();
    let canon = |p: &str| {
        ground_truth::resolve_in_root(root, &ground_truth::unescape_name(p))
            .unwrap_or_else(|_| p.to_string())
    };
    let ours_versions: BTreeSet<(String, String, String)> = res
        .version_errors
        .iter()
        .map(|e| {
            let lib = report
                .tree
                .resolve(e.library.as_bytes(), true)
                .map(|c| c.escaped())
                .unwrap_or_else(|_| e.library.escaped());
            let req = report
                .tree
                .resolve(e.required_by.as_bytes(), true)
                .map(|c| c.escaped())
                .unwrap_or_else(|_| e.required_by.escaped());
            (lib, e.version.escaped(), req)
        })
        .collect();
    let truth_versions: BTreeSet<(String, String, String)> = t
        .version_errors
        .iter()
        .map(|(lib, v, req)| (canon(lib), v.clone(), canon(req)))
        .collect();
    let mut why = Vec::new();
    diff("closure", &ours_closure, &t.closure, &mut why);
    diff("missing", &ours_missing, &t.missing, &mut why);
    diff("version errors", &ours_versions, &truth_versions, &mut why);
    if why.is_empty() {
        Ok(())
    } else {
        why.push(format!("status {:?}", res.status));
        Err(why.join("; "))
    }
}

fn diff<T: Ord + std::fmt::Debug>(
    what: &str,
    ours: &BTreeSet<T>,
    truth: &BTreeSet<T>,
    why: &mut Vec<String>,
) {
    if ours != truth {
        let only_ours: Vec<_> = ours.difference(truth).collect();
        let only_truth: Vec<_> = truth.difference(ours).collect();
        why.push(format!(
            "{what}: only elfdeps {only_ours:?}, only the loader {only_truth:?}"
        ));
    }
}

/// `elfdeps tree ROOT /usr/bin/curl` shows every library the real `ldd` lists (the root's own ldd
/// script, run in the root), and nothing else but the loader.
#[test]
fn tree_of_curl_lists_what_ldd_lists() {
    if !support::require_root_or_skip("tree vs ldd on curl") {
        return;
    }
    let Some(root) = support::root("debian") else {
        return;
    };
    let ldd = ground_truth::ldd_truth(root, "/usr/bin/curl").expect("ldd runs in the root");
    assert!(ldd.closure.len() > 20, "ldd listed too little: {ldd:?}");
    let out = Command::new(support::elfdeps_bin())
        .args(["tree", "--color", "never", "-q"])
        .arg(root)
        .arg("/usr/bin/curl")
        .output()
        .expect("run elfdeps tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 tree");
    let mut shown = BTreeSet::new();
    for line in text.lines().skip(1) {
        // `├── NAME => AS-OPENED → CANONICAL [via]`
        let canonical = line
            .split_once(" → ")
            .and_then(|(_, rest)| rest.split_once(" ["))
            .map(|(c, _)| c.to_string())
            .unwrap_or_else(|| panic!("unexpected tree line {line:?}"));
        shown.insert(canonical);
    }
    shown.remove("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    assert_eq!(
        shown, ldd.closure,
        "elfdeps tree vs ldd on /usr/bin/curl:\n{text}"
    );
}

/// `elfdeps why ROOT libssl.so.3` shows curl's chain through libcurl.
#[test]
fn why_libssl_shows_curls_chain() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let out = Command::new(support::elfdeps_bin())
        .args(["why", "--color", "never", "-q"])
        .arg(root)
        .arg("libssl.so.3")
        .output()
        .expect("run elfdeps why");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let chain = "  /usr/bin/curl → /usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0 → /usr/lib/x86_64-linux-gnu/libssl.so.3\n";
    assert!(
        text.contains(&format!("/usr/bin/curl\n{chain}")),
        "curl's chain is missing from `elfdeps why {} libssl.so.3`:\n{text}",
        root.display()
    );
}
