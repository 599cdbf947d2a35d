//! Self-test of the loader ground truth (tests/ground_truth/mod.rs), the oracle of the
//! differential tests: it must classify every line the real loaders print, resolve paths like
//! `realpath` inside the root, agree with the real `ldd`, and be fast enough (and cached) to run
//! over every ELF file of the real roots.
//!
//! - samples from the Debian and Alpine roots, with facts known about them;
//! - the direct ld.so run against the root's real `ldd` script;
//! - small synthetic roots (a few files copied out of the real roots, some with a patched string)
//!   for the error forms the real roots do not contain: a missing library, a version error, an
//!   undefined symbol (musl), a file that is no ELF; a hanging "loader" (killed at the time
//!   limit); cache hits, and misses after the root changed;
//! - every ELF file of the Debian root and of the Alpine roots (x86_64 natively, aarch64 and s390x
//!   under qemu-user-static), timed, with nothing left unclassified, every closure path checked
//!   against the root's own `realpath -e`, and a second run served from the cache.
//!
//! Needs uid 0 (chroot) and the cached roots; otherwise each test skips loudly, and fails when CI
//! is set. Each prints a summary on stderr.

#[path = "ground_truth/mod.rs"]
mod ground_truth;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use ground_truth::Truth;

const LIBDIR: &str = "/usr/lib/x86_64-linux-gnu";

/// The root `key` when this test can run (uid 0, roots built); otherwise a loud skip (a panic
/// in CI).
fn setup(key: &str, what: &str) -> Option<&'static Path> {
    if !support::require_root_or_skip(what) {
        return None;
    }
    support::root(key)
}

fn get<'a>(truths: &'a BTreeMap<String, Truth>, file: &str) -> &'a Truth {
    truths
        .get(file)
        .unwrap_or_else(|| panic!("no ground truth for {file}"))
}

/// `realpath -e` of in-root paths, run by the root's own coreutils inside it: an oracle for the
/// module's root-confined resolver.
fn realpath_in_root(root: &Path, paths: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for chunk in paths.chunks(500) {
        let result = Command::new("/usr/sbin/chroot")
            .arg(root)
            .args(["/usr/bin/realpath", "-e", "--"])
            .args(chunk)
            .env_clear()
            .stdin(Stdio::null())
            .output()
            .expect("run chroot realpath");
        assert!(
            result.status.success(),
            "realpath -e in {}: {}",
            root.display(),
            String::from_utf8_lossy(&result.stderr)
        );
        let lines: Vec<String> = String::from_utf8(result.stdout)
            .expect("UTF-8 paths")
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), chunk.len(), "one realpath line per path");
        for (p, r) in chunk.iter().zip(lines) {
            out.insert((*p).to_owned(), r);
        }
    }
    out
}

/// For throw-away roots: their cache entries could never be hit again.
fn no_cache() -> ground_truth::Options {
    ground_truth::Options {
        cache: false,
        ..ground_truth::Options::default()
    }
}

fn show(truth: &Truth) -> String {
    serde_json::to_string_pretty(truth).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Samples with known facts
// ---------------------------------------------------------------------------------------------

#[test]
fn glibc_debian_samples() {
    let Some(root) = setup("debian", "glibc_debian_samples") else {
        return;
    };
    let curl = "/usr/bin/curl";
    let postgres = "/usr/lib/postgresql/15/bin/postgres";
    let lo = "/usr/lib/libreoffice/program/libsdbtlo.so";
    let awt = "/usr/lib/jvm/java-17-openjdk-amd64/lib/libawt.so";
    let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    let ldconfig = "/usr/sbin/ldconfig";
    let files: Vec<String> = [curl, postgres, lo, awt, libc, ldconfig]
        .map(str::to_owned)
        .to_vec();
    let truths = ground_truth::glibc_truth(root, &files);

    let real = realpath_in_root(
        root,
        &[
            "/lib/x86_64-linux-gnu/libcurl.so.4",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/x86_64-linux-gnu/libssl.so.3",
        ],
    );
    let t = get(&truths, curl);
    let libcurl = &real["/lib/x86_64-linux-gnu/libcurl.so.4"];
    assert_eq!(libcurl, "/usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0");
    assert!(t.closure.contains(libcurl), "curl: {}", show(t));
    assert_eq!(t.resolved.get("libcurl.so.4"), Some(libcurl));
    assert!(t.closure.contains(&real["/lib/x86_64-linux-gnu/libc.so.6"]));
    assert!(
        t.closure
            .contains(&real["/lib/x86_64-linux-gnu/libssl.so.3"])
    );
    assert!(t.missing.is_empty() && t.other.is_empty() && t.fatal.is_none());
    assert_eq!(t.status, Some(0));
    // Neither the vdso nor the interpreter nor the file itself.
    assert!(
        t.closure
            .iter()
            .all(|p| !p.contains("linux-vdso") && !p.ends_with("/ld-linux-x86-64.so.2")),
        "{}",
        show(t)
    );
    assert_eq!(
        t.resolved
            .get("/lib64/ld-linux-x86-64.so.2")
            .map(String::as_str),
        Some("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        "the interpreter is resolved (through the absolute /usr/lib64 link) but not in the closure"
    );

    let t = get(&truths, postgres);
    assert!(t.closure.len() > 10, "postgres: {}", show(t));
    assert!(
        t.missing.is_empty() && t.other.is_empty(),
        "postgres: {}",
        show(t)
    );

    // libc.so.6 needs only ld.so: an empty closure, but a listing ("statically linked" is only
    // printed for objects without any DT_NEEDED).
    let t = get(&truths, libc);
    assert!(
        t.closure.is_empty() && !t.statically_linked,
        "libc: {}",
        show(t)
    );
    assert_eq!(t.status, Some(0));

    let t = get(&truths, ldconfig);
    assert!(
        t.statically_linked && t.closure.is_empty(),
        "ldconfig: {}",
        show(t)
    );

    // Observed: LibreOffice's libsdbtlo.so needs libdbalo.so, which is in libreoffice-base-core,
    // not installed; the rest resolves through RUNPATH $ORIGIN.
    let t = get(&truths, lo);
    assert!(
        t.closure
            .contains("/usr/lib/libreoffice/program/libmergedlo.so"),
        "libsdbtlo: {}",
        show(t)
    );
    let t_awt = get(&truths, awt);
    assert!(
        t_awt.missing.contains("libjvm.so")
            != t_awt.closure.iter().any(|p| p.ends_with("/libjvm.so")),
        "libjvm.so is either missing or loaded: {}",
        show(t_awt)
    );
    support::loud(&format!(
        "glibc_debian_samples: curl loads {} objects, postgres {}, libsdbtlo.so {} (missing {:?}), \
         libawt.so {} (missing {:?}), libc.so.6 {}, ldconfig statically linked",
        get(&truths, curl).closure.len(),
        get(&truths, postgres).closure.len(),
        t.closure.len(),
        t.missing,
        t_awt.closure.len(),
        t_awt.missing,
        get(&truths, libc).closure.len(),
    ));
}

#[test]
fn glibc_matches_real_ldd() {
    let Some(root) = setup("debian", "glibc_matches_real_ldd") else {
        return;
    };
    let files: Vec<String> = [
        "/usr/bin/curl",
        "/usr/lib/postgresql/15/bin/postgres",
        "/usr/lib/libreoffice/program/libsdbtlo.so",
        "/usr/lib/jvm/java-17-openjdk-amd64/lib/libawt.so",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/usr/sbin/ldconfig",
        "/usr/lib/postgresql/15/lib/tcn.so",
        "/usr/bin/python3.11",
        "/usr/sbin/nginx",
        "/etc/passwd", // not ELF: ldd says "not a dynamic executable", ld.so "invalid ELF header"
    ]
    .map(str::to_owned)
    .to_vec();
    let direct = ground_truth::glibc_truth(root, &files);
    for file in &files {
        let ldd = ground_truth::ldd_truth(root, file).expect("ldd runs");
        let d = get(&direct, file);
        let what = format!("{file}:\nld.so: {}\nldd: {}", show(d), show(&ldd));
        assert_eq!(d.closure, ldd.closure, "{what}");
        assert_eq!(d.missing, ldd.missing, "{what}");
        assert_eq!(d.resolved, ldd.resolved, "{what}");
        assert_eq!(d.version_errors, ldd.version_errors, "{what}");
        assert_eq!(d.statically_linked, ldd.statically_linked, "{what}");
        assert_eq!(d.fatal.is_some(), ldd.fatal.is_some(), "{what}");
        assert!(d.other.is_empty() && ldd.other.is_empty(), "{what}");
    }
    let passwd = get(&direct, "/etc/passwd");
    assert_eq!(passwd.status, Some(127));
    assert_eq!(
        passwd.fatal.as_deref(),
        Some("/etc/passwd: invalid ELF header")
    );
    support::loud(&format!(
        "glibc_matches_real_ldd: {} files, ld.so with LD_TRACE_LOADED_OBJECTS=1 == ldd",
        files.len()
    ));
}

/// `glibc_matches_real_ldd` over every ELF file of the Debian root (all 1327 agree). About 8 s on
/// 2 CPUs, uncached, for what the samples above already show, hence ignored; run it with
/// `--ignored` after changing how the loader is run or parsed.
#[test]
fn glibc_matches_real_ldd_everywhere() {
    let Some(root) = setup("debian", "glibc_matches_real_ldd_everywhere") else {
        return;
    };
    let files = ground_truth::elf_files(root);
    let direct = ground_truth::glibc_truth(root, &files);
    let started = Instant::now();
    let diffs: Vec<String> = support::parallel_map(&files, |file| {
        let ldd = ground_truth::ldd_truth(root, file).expect("ldd runs");
        let d = get(&direct, file);
        let same = d.closure == ldd.closure
            && d.missing == ldd.missing
            && d.resolved == ldd.resolved
            && d.version_errors == ldd.version_errors
            && d.statically_linked == ldd.statically_linked
            && d.fatal.is_some() == ldd.fatal.is_some()
            && ldd.other.is_empty();
        (!same).then(|| format!("{file}:\nld.so: {}\nldd: {}", show(d), show(&ldd)))
    })
    .into_iter()
    .flatten()
    .collect();
    support::loud(&format!(
        "glibc_matches_real_ldd_everywhere: ldd on {} files in {:.2?}, {} differ",
        files.len(),
        started.elapsed(),
        diffs.len()
    ));
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn musl_alpine_samples() {
    for arch in ["x86_64", "aarch64"] {
        let what = format!("musl_alpine_samples ({arch})");
        let Some(root) = setup(&format!("alpine-{arch}"), &what) else {
            return;
        };
        let files: Vec<String> = ["/bin/busybox", "/sbin/apk", "/lib/libz.so.1"]
            .map(str::to_owned)
            .to_vec();
        let truths = match ground_truth::try_musl_truth(root, arch, &files) {
            Ok(t) => t,
            Err(e) => {
                support::skip(&what, &e);
                continue;
            }
        };
        // busybox needs only libc, which is the loader itself: nothing else is loaded.
        let t = get(&truths, "/bin/busybox");
        assert!(t.closure.is_empty(), "busybox: {}", show(t));
        assert_eq!(t.status, Some(0));
        assert_eq!(
            t.resolved
                .get(&format!("libc.musl-{arch}.so.1"))
                .map(String::as_str),
            Some(format!("/lib/ld-musl-{arch}.so.1").as_str())
        );
        let t = get(&truths, "/sbin/apk");
        // /lib/libz.so.1 is a link to libz.so.1.3.1; /usr/lib/libcrypto.so.3 links to /lib's.
        let expected = BTreeSet::from(
            [
                "/lib/libcrypto.so.3",
                "/lib/libz.so.1.3.1",
                "/lib/libapk.so.2.14.0",
                "/lib/libssl.so.3",
            ]
            .map(str::to_owned),
        );
        assert_eq!(t.closure, expected, "apk: {}", show(t));
        assert!(t.missing.is_empty() && t.other.is_empty() && t.undefined_symbols.is_empty());
        // Through a symlink: libz needs only libc.
        let t = get(&truths, "/lib/libz.so.1");
        assert!(
            t.closure.is_empty() && t.other.is_empty(),
            "libz: {}",
            show(t)
        );
        support::loud(&format!(
            "musl_alpine_samples ({arch}): busybox loads nothing but musl; apk loads {:?}",
            get(&truths, "/sbin/apk").closure
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic roots for the error forms
// ---------------------------------------------------------------------------------------------

/// Copies `from` (host path) to `to`, replacing each NUL-delimited `old` string by `new` (same
/// length), at least once.
fn copy_patched(from: &Path, to: &Path, old: &str, new: &str) {
    assert_eq!(old.len(), new.len());
    let mut bytes = std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    let needle = [b"\0", old.as_bytes(), b"\0"].concat();
    let mut count = 0;
    let mut i = 0;
    while let Some(pos) = find(&bytes[i..], &needle) {
        let at = i + pos + 1;
        bytes[at..at + new.len()].copy_from_slice(new.as_bytes());
        count += 1;
        i = at + new.len();
    }
    assert!(count > 0, "{old:?} not found in {}", from.display());
    std::fs::write(to, bytes).unwrap();
    copy_mode(from, to);
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn copy_mode(from: &Path, to: &Path) {
    let perm = std::fs::metadata(from).unwrap().permissions();
    std::fs::set_permissions(to, perm).unwrap();
}

fn copy(from: &Path, to: &Path) {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

fn mkdirs(root: &Path, dirs: &[&str]) {
    for d in dirs {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
}

fn symlink(target: &str, link: &Path) {
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// A small glibc root made of files of the Debian root `deb`: ld.so, libc, `/usr/bin/true`, and
/// copies of `true` needing `libq.so.6` (missing) and `GLIBC_9.34` (a version error), and a file
/// that is no ELF. No ld.so.cache: ld.so falls back to its built-in system directories.
fn glibc_mini_root(deb: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    // Merged /usr like Debian, with the absolute /usr/lib64 interpreter link.
    mkdirs(
        r,
        &["usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/bin", "etc"],
    );
    symlink("usr/lib", &r.join("lib"));
    symlink("usr/lib64", &r.join("lib64"));
    symlink("usr/bin", &r.join("bin"));
    let src = |p: &str| deb.join(p.trim_start_matches('/'));
    copy(
        &src("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
        &r.join("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    );
    symlink(
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        &r.join("usr/lib64/ld-linux-x86-64.so.2"),
    );
    copy(
        &src("/usr/lib/x86_64-linux-gnu/libc.so.6"),
        &r.join("usr/lib/x86_64-linux-gnu/libc.so.6"),
    );
    let t = src("/usr/bin/true");
    copy(&t, &r.join("usr/bin/true"));
    copy_patched(&t, &r.join("usr/bin/missing"), "libc.so.6", "libq.so.6");
    copy_patched(&t, &r.join("usr/bin/version"), "GLIBC_2.34", "GLIBC_9.34");
    std::fs::write(r.join("usr/bin/notelf"), "#!/bin/sh\n".repeat(64)).unwrap();
    tmp
}

#[test]
fn glibc_synthetic_errors() {
    let Some(deb) = setup("debian", "glibc_synthetic_errors") else {
        return;
    };
    let tmp = glibc_mini_root(deb);
    let r = tmp.path();
    let files: Vec<String> = [
        "/usr/bin/true",
        "/usr/bin/missing",
        "/usr/bin/version",
        "/usr/bin/notelf",
    ]
    .map(str::to_owned)
    .to_vec();
    let truths = ground_truth::try_glibc_truth_with(r, &files, &no_cache()).unwrap();
    let libc = format!("{LIBDIR}/libc.so.6");

    let t = get(&truths, "/usr/bin/true");
    assert_eq!(t.closure, BTreeSet::from([libc.clone()]), "{}", show(t));
    assert_eq!(t.status, Some(0));

    let t = get(&truths, "/usr/bin/missing");
    assert_eq!(
        t.missing,
        BTreeSet::from(["libq.so.6".to_owned()]),
        "{}",
        show(t)
    );
    assert!(t.closure.is_empty() && t.other.is_empty(), "{}", show(t));
    assert_eq!(
        t.status,
        Some(0),
        "trace mode exits 0 despite a missing library"
    );

    let t = get(&truths, "/usr/bin/version");
    assert_eq!(t.closure, BTreeSet::from([libc.clone()]), "{}", show(t));
    let errors: Vec<_> = t.version_errors.iter().collect();
    assert_eq!(errors.len(), 1, "{}", show(t));
    let (obj, version, required_by) = errors[0];
    assert_eq!(version, "GLIBC_9.34");
    assert_eq!(required_by, "/usr/bin/version");
    assert_eq!(
        ground_truth::resolve_in_root(r, obj.as_bytes()).unwrap(),
        libc
    );
    assert!(t.other.is_empty(), "{}", show(t));
    assert_eq!(
        t.status,
        Some(0),
        "trace mode exits 0 despite a version error"
    );

    let t = get(&truths, "/usr/bin/notelf");
    assert_eq!(
        t.fatal.as_deref(),
        Some("/usr/bin/notelf: invalid ELF header"),
        "{}",
        show(t)
    );
    assert_eq!(t.status, Some(127));
    support::loud(&format!(
        "glibc_synthetic_errors: version error as seen: {errors:?}"
    ));
}

#[test]
fn musl_synthetic_errors() {
    for arch in ["x86_64", "aarch64"] {
        let what = format!("musl_synthetic_errors ({arch})");
        let Some(alpine) = setup(&format!("alpine-{arch}"), &what) else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        mkdirs(r, &["lib", "usr/bin"]);
        let src = |p: &str| alpine.join(p.trim_start_matches('/'));
        let ldso = format!("ld-musl-{arch}.so.1");
        let libc = format!("libc.musl-{arch}.so.1");
        copy(&src(&format!("/lib/{ldso}")), &r.join("lib").join(&ldso));
        symlink(&ldso, &r.join("lib").join(&libc));
        copy(&src("/lib/libz.so.1.3.1"), &r.join("lib/libz.so.1.3.1"));
        symlink("libz.so.1.3.1", &r.join("lib/libz.so.1"));
        let getconf = src("/usr/bin/getconf");
        copy(&getconf, &r.join("usr/bin/getconf"));
        copy_patched(
            &getconf,
            &r.join("usr/bin/missing"),
            &libc,
            &libc.replacen("libc", "libq", 1),
        );
        copy_patched(&getconf, &r.join("usr/bin/undef"), "confstr", "confstX");
        std::fs::write(r.join("usr/bin/notelf"), "#!/bin/sh\n".repeat(64)).unwrap();

        let files: Vec<String> = [
            "/usr/bin/getconf",
            "/usr/bin/missing",
            "/usr/bin/undef",
            "/usr/bin/notelf",
            "/lib/libz.so.1",
        ]
        .map(str::to_owned)
        .to_vec();
        let truths = match ground_truth::try_musl_truth_with(r, arch, &files, &no_cache()) {
            Ok(t) => t,
            Err(e) => {
                support::skip(&what, &e);
                continue;
            }
        };
        let t = get(&truths, "/usr/bin/getconf");
        assert!(t.closure.is_empty() && t.other.is_empty(), "{}", show(t));
        assert_eq!(t.status, Some(0));

        let t = get(&truths, "/usr/bin/missing");
        let qname = libc.replacen("libc", "libq", 1);
        assert_eq!(t.missing, BTreeSet::from([qname]), "{}", show(t));
        // Without libc every libc symbol is undefined; musl reports each and exits 127.
        assert!(
            t.undefined_symbols
                .contains(&("/usr/bin/missing".to_owned(), "printf".to_owned())),
            "{}",
            show(t)
        );
        assert!(t.other.is_empty(), "{}", show(t));
        assert_eq!(t.status, Some(127));

        let t = get(&truths, "/usr/bin/undef");
        assert_eq!(
            t.undefined_symbols,
            BTreeSet::from([("/usr/bin/undef".to_owned(), "confstX".to_owned())]),
            "{}",
            show(t)
        );
        assert!(t.missing.is_empty() && t.other.is_empty(), "{}", show(t));
        assert_eq!(t.status, Some(127));

        let t = get(&truths, "/usr/bin/notelf");
        assert!(
            t.fatal
                .as_deref()
                .is_some_and(|f| f.ends_with("/usr/bin/notelf: Not a valid dynamic program")),
            "{}",
            show(t)
        );
        assert_eq!(t.status, Some(1));

        let t = get(&truths, "/lib/libz.so.1");
        assert!(t.closure.is_empty() && t.other.is_empty(), "{}", show(t));
        support::loud(&format!(
            "musl_synthetic_errors ({arch}): missing, undefined symbol and fatal forms classified"
        ));
    }
}

/// The cache answers a repeated question, and notices a change of the root: a library added to a
/// default directory, a loaded library replaced.
#[test]
fn cache_hits_and_notices_changes() {
    let Some(deb) = setup("debian", "cache_hits_and_notices_changes") else {
        return;
    };
    let tmp = glibc_mini_root(deb);
    let r = tmp.path();
    let cache_dir = tempfile::tempdir().unwrap();
    let options = ground_truth::Options {
        cache: true,
        cache_dir: cache_dir.path().to_owned(),
        ..ground_truth::Options::default()
    };
    let files: Vec<String> = ["/usr/bin/true", "/usr/bin/missing"]
        .map(str::to_owned)
        .to_vec();
    let run = || ground_truth::try_glibc_truth_with(r, &files, &options).unwrap();
    let first = run();
    let libc = format!("{LIBDIR}/libc.so.6");
    assert_eq!(
        get(&first, "/usr/bin/true").closure,
        BTreeSet::from([libc.clone()])
    );
    assert_eq!(
        get(&first, "/usr/bin/missing").missing,
        BTreeSet::from(["libq.so.6".to_owned()])
    );

    // A hit: mark the stored entry, and the mark comes back.
    let entries: Vec<_> = std::fs::read_dir(cache_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one cache file: {entries:?}");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&entries[0]).unwrap()).unwrap();
    doc["results"]["/usr/bin/true"]["other"] = serde_json::json!(["from the cache"]);
    std::fs::write(&entries[0], serde_json::to_vec(&doc).unwrap()).unwrap();
    let second = run();
    assert_eq!(get(&second, "/usr/bin/true").other, ["from the cache"]);

    // A library appears in a default directory: the directory's mtime is in the key.
    std::fs::copy(
        r.join("usr/lib/x86_64-linux-gnu/libc.so.6"),
        r.join("usr/lib/x86_64-linux-gnu/libq.so.6"),
    )
    .unwrap();
    let third = run();
    assert!(
        get(&third, "/usr/bin/true").other.is_empty(),
        "re-run, not the marked entry"
    );
    let t = get(&third, "/usr/bin/missing");
    assert!(t.missing.is_empty(), "{}", show(t));
    assert_eq!(t.resolved["libq.so.6"], format!("{LIBDIR}/libq.so.6"));

    // A loaded library is replaced (same name, new inode and mtime): its stamp no longer matches.
    let again = run();
    assert_eq!(again, third, "a hit again");
    let libc_host = r.join("usr/lib/x86_64-linux-gnu/libc.so.6");
    let bytes = std::fs::read(&libc_host).unwrap();
    std::fs::remove_file(&libc_host).unwrap();
    std::fs::write(&libc_host, &bytes[..4096]).unwrap(); // a truncated libc: ld.so rejects it
    let fourth = run();
    let t = get(&fourth, "/usr/bin/true");
    assert_ne!(
        t,
        get(&third, "/usr/bin/true"),
        "re-run after libc changed: {}",
        show(t)
    );
    support::loud(&format!(
        "cache_hits_and_notices_changes: with a truncated libc.so.6, /usr/bin/true gives {}",
        serde_json::to_string(t).unwrap()
    ));
}

/// A loader that hangs (and leaves a child behind holding its output pipes) is killed, with its
/// whole process group, at the time limit. The "ld.so" here is a shell script run by Alpine's
/// busybox.
#[test]
fn hanging_loader_times_out() {
    let Some(alpine) = setup("alpine-x86_64", "hanging_loader_times_out") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    mkdirs(r, &["lib", "lib64", "bin", "usr/bin"]);
    copy(
        &alpine.join("lib/ld-musl-x86_64.so.1"),
        &r.join("lib/ld-musl-x86_64.so.1"),
    );
    copy(&alpine.join("bin/busybox"), &r.join("bin/busybox"));
    symlink("busybox", &r.join("bin/sh"));
    symlink("busybox", &r.join("bin/sleep"));
    // An x86-64 ELF file, so the x86-64 "ld.so" is picked for it.
    copy(&alpine.join("bin/busybox"), &r.join("usr/bin/x"));
    let ldso = r.join("lib64/ld-linux-x86-64.so.2");
    std::fs::write(&ldso, "#!/bin/sh\necho started\nsleep 60 &\nsleep 60\n").unwrap();
    copy_mode(&alpine.join("bin/busybox"), &ldso);
    let options = ground_truth::Options {
        cache: false,
        timeout: std::time::Duration::from_secs(1),
        jobs: 1,
        ..ground_truth::Options::default()
    };
    let started = Instant::now();
    let truths =
        ground_truth::try_glibc_truth_with(r, &["/usr/bin/x".to_owned()], &options).unwrap();
    let elapsed = started.elapsed();
    let t = get(&truths, "/usr/bin/x");
    assert!(t.timed_out, "{}", show(t));
    assert_eq!(t.status, None, "killed by a signal: {}", show(t));
    assert_eq!(
        t.other.first().map(String::as_str),
        Some("started"),
        "{}",
        show(t)
    );
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");
    support::loud(&format!(
        "hanging_loader_times_out: killed after {elapsed:.2?}"
    ));
}

// ---------------------------------------------------------------------------------------------
// Whole roots
// ---------------------------------------------------------------------------------------------

/// Summary of a whole-root run, failing on anything unclassified.
fn check_all(label: &str, truths: &BTreeMap<String, Truth>, elapsed: std::time::Duration) {
    let mut unclassified = String::new();
    let mut fatal = Vec::new();
    let mut by_status: BTreeMap<Option<i32>, usize> = BTreeMap::new();
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut with_missing, mut with_version_errors, mut with_undefined, mut static_) = (0, 0, 0, 0);
    for (file, t) in truths {
        *by_status.entry(t.status).or_default() += 1;
        if !t.other.is_empty() || t.timed_out {
            writeln!(unclassified, "  {file}: {:?}", t.other).unwrap();
        }
        if let Some(f) = &t.fatal {
            fatal.push(format!("{file}: {f}"));
        }
        with_missing += usize::from(!t.missing.is_empty());
        with_version_errors += usize::from(!t.version_errors.is_empty());
        with_undefined += usize::from(!t.undefined_symbols.is_empty());
        static_ += usize::from(t.statically_linked);
        for m in &t.missing {
            *missing.entry(m).or_default() += 1;
        }
    }
    support::loud(&format!(
        "{label}: {} files in {elapsed:.2?}; exit statuses {by_status:?}; {static_} \
         `statically linked`; {with_missing} with missing libraries {missing:?}; \
         {with_version_errors} with version errors; {with_undefined} with undefined symbols; \
         fatal: {fatal:?}",
        truths.len()
    ));
    assert!(
        unclassified.is_empty(),
        "{label}: unclassified loader output:\n{unclassified}"
    );
}

/// Every closure path equals what the root's own `realpath -e` makes of it (glibc roots have
/// coreutils).
fn check_resolver(root: &Path, truths: &BTreeMap<String, Truth>) {
    let mut printed: BTreeSet<&str> = BTreeSet::new();
    for t in truths.values() {
        // `resolved` maps names to canonical paths; re-resolving a canonical path must be the
        // identity, and realpath must agree.
        printed.extend(t.closure.iter().map(String::as_str));
        printed.extend(t.resolved.values().map(String::as_str));
    }
    let paths: Vec<&str> = printed.into_iter().collect();
    let real = realpath_in_root(root, &paths);
    for p in &paths {
        assert_eq!(
            &real[*p], p,
            "closure path {p} is not canonical per realpath"
        );
    }
    // And the paths as ld.so printed them (through /lib, /lib64 links) resolve like realpath.
    let raw = [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/jvm/java-17-openjdk-amd64/bin/../lib/libjava.so",
    ];
    let real = realpath_in_root(root, &raw);
    for p in raw {
        assert_eq!(
            ground_truth::resolve_in_root(root, p.as_bytes()).unwrap(),
            real[p],
            "resolver vs realpath for {p}"
        );
    }
}

#[test]
fn glibc_debian_all_files() {
    let Some(root) = setup("debian", "glibc_debian_all_files") else {
        return;
    };
    let started = Instant::now();
    let files = ground_truth::elf_files(root);
    let listed = started.elapsed();
    let scanelf: BTreeSet<String> = if Command::new("scanelf").arg("-V").output().is_ok() {
        support::scanelf_elf_paths(root)
    } else {
        files.iter().cloned().collect()
    };
    assert_eq!(
        files.iter().cloned().collect::<BTreeSet<_>>(),
        scanelf,
        "elf_files must list what scanelf lists"
    );
    let started = Instant::now();
    let truths = ground_truth::glibc_truth(root, &files);
    let first = started.elapsed();
    assert_eq!(truths.len(), files.len());
    check_all(
        &format!("glibc_debian_all_files (listing took {listed:.2?})"),
        &truths,
        first,
    );
    check_resolver(root, &truths);
    // No fatal error and no timeout anywhere in a consistent distribution.
    assert!(truths.values().all(|t| t.fatal.is_none() && !t.timed_out));

    let started = Instant::now();
    let again = ground_truth::glibc_truth(root, &files);
    let second = started.elapsed();
    assert_eq!(again, truths, "a cached run returns the same");
    support::loud(&format!(
        "glibc_debian_all_files: first call {first:.2?}, second call {second:.2?}"
    ));
}

#[test]
fn musl_alpine_all_files() {
    for arch in ["x86_64", "aarch64", "s390x"] {
        let what = format!("musl_alpine_all_files ({arch})");
        let Some(root) = setup(&format!("alpine-{arch}"), &what) else {
            return;
        };
        let files = ground_truth::elf_files(root);
        let started = Instant::now();
        let truths = match ground_truth::try_musl_truth(root, arch, &files) {
            Ok(t) => t,
            Err(e) => {
                support::skip(&what, &e);
                continue;
            }
        };
        let elapsed = started.elapsed();
        assert_eq!(truths.len(), files.len());
        check_all(&what, &truths, elapsed);
        for (file, t) in &truths {
            assert!(
                t.fatal.is_none() && t.missing.is_empty() && t.undefined_symbols.is_empty(),
                "{file}: {}",
                show(t)
            );
            // Closure paths are canonical: resolving them again changes nothing.
            for p in &t.closure {
                assert_eq!(
                    &ground_truth::resolve_in_root(root, p.as_bytes()).unwrap(),
                    p
                );
            }
        }
        let apk = get(&truths, "/sbin/apk");
        assert_eq!(apk.closure.len(), 4, "apk: {}", show(apk));
    }
}

/// The escaping of in-root names, and resolution that can never leave the root.
#[test]
fn resolver_stays_in_root() {
    let tmp = tempfile::tempdir().unwrap();
    let r = tmp.path();
    mkdirs(r, &["usr/lib/sub", "etc"]);
    std::fs::write(r.join("usr/lib/libx.so.1.0"), b"x").unwrap();
    symlink("libx.so.1.0", &r.join("usr/lib/libx.so.1"));
    symlink("usr/lib", &r.join("lib"));
    symlink("/lib/libx.so.1", &r.join("usr/lib/sub/abs"));
    symlink(
        "../../../../../../usr/lib/libx.so.1",
        &r.join("usr/lib/sub/up"),
    );
    symlink("loop2", &r.join("etc/loop1"));
    symlink("loop1", &r.join("etc/loop2"));
    std::fs::write(r.join("etc/file"), b"").unwrap();
    let res = |p: &str| ground_truth::resolve_in_root(r, p.as_bytes());
    assert_eq!(res("/lib/libx.so.1").unwrap(), "/usr/lib/libx.so.1.0");
    assert_eq!(res("/usr/lib/sub/abs").unwrap(), "/usr/lib/libx.so.1.0");
    assert_eq!(res("/usr/lib/sub/up").unwrap(), "/usr/lib/libx.so.1.0");
    assert_eq!(
        res("/../../lib/./sub/../libx.so.1").unwrap(),
        "/usr/lib/libx.so.1.0"
    );
    assert_eq!(
        res("lib/libx.so.1").unwrap(),
        "/usr/lib/libx.so.1.0",
        "relative: from /"
    );
    assert_eq!(res("/").unwrap(), "/");
    assert!(res("/etc/loop1").unwrap_err().contains("too many levels"));
    assert!(res("/etc/file/x").unwrap_err().contains("not a directory"));
    assert!(res("/nonexistent").is_err());
    let odd: &[u8] = b"/a\\b\xff";
    assert_eq!(ground_truth::escape_name(odd), "/a\\\\b\\xff");
    assert_eq!(ground_truth::unescape_name("/a\\\\b\\xff"), odd);
}
