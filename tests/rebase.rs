//! `elfdeps check BASE --add SRC:DEST`: every verdict equals the real loader's in the combined root.
//!
//! Ground truth: the base is copied (an overlayfs mount over the cached root, or `cp -a` where
//! overlayfs cannot be mounted), the added files are copied into it as a Dockerfile COPY would (by
//! the base's own `cp -a`, run in a chroot, so DEST is resolved through the base's symlinks exactly
//! as there), then the base's loader is run in a chroot: glibc's ld.so in trace mode (what `ldd`
//! runs), `ld-musl-x86_64.so.1 --list` (tests/ground_truth). A program whose interpreter elfdeps
//! calls missing is started in the chroot, and must fail with "No such file or directory".
//!
//! Every added ELF file elfdeps reports, and every base program it reports as newly broken, is
//! compared: status, closure, missing names, missing versions. Needs uid 0 (chroot, mount) and the
//! cached roots (scripts/prepare-roots); gcc, musl-gcc and zig (python3 -m ziglang) build the
//! programs. Each says so loudly when it cannot run, and fails under CI=true.

mod ground_truth;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Loader {
    Glibc,
    Musl,
}

/// A copy of a base root that the test may write: an overlayfs mount (unmounted on drop) or a
/// `cp -a` copy.
struct Copy {
    dir: tempfile::TempDir,
    merged: PathBuf,
    mounted: bool,
}

impl Copy {
    fn of(base: &Path) -> Copy {
        let dir = tempfile::tempdir().expect("tempdir");
        let (upper, work, merged) = (
            dir.path().join("u"),
            dir.path().join("w"),
            dir.path().join("m"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d).expect("mkdir");
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            base.display(),
            upper.display(),
            work.display()
        );
        let mounted = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&merged)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            support::loud(&format!(
                "rebase: overlayfs cannot be mounted here; copying {} with cp -a",
                base.display()
            ));
            std::fs::remove_dir(&merged).expect("rmdir");
            run(
                Command::new("cp").arg("-a").arg(base).arg(&merged),
                "cp -a BASE",
            );
        }
        Copy {
            dir,
            merged,
            mounted,
        }
    }

    /// `SRC` copied to `DEST` as BuildKit's COPY does (tonistiigi/fsutil's copy): DEST resolved
    /// in the root through every symlink, its last component's included (what does not exist is
    /// created as directories); a file SRC lands at DEST, or in it when DEST is a directory or is
    /// written with a trailing `/`; a directory SRC's entries land in DEST, each file or symlink
    /// replacing what is there (a symlink there is replaced, not written through), each
    /// directory merging with one there. Done here rather than by the root's `cp -a`, whose
    /// handling of an existing symlink differs between GNU and BusyBox.
    fn add(&self, src: &Path, dest: &str) {
        let root = self.merged.canonicalize().expect("canonical root");
        let dest_c = resolve_existing(&root, dest);
        let at = root.join(dest_c.trim_start_matches('/'));
        if src.is_dir() {
            std::fs::create_dir_all(&at).expect("mkdir DEST");
            copy_into(&root, src, &at);
        } else {
            let target = if dest.ends_with('/') || at.is_dir() {
                std::fs::create_dir_all(&at).expect("mkdir DEST");
                at.join(src.file_name().expect("a file name"))
            } else {
                std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir parent");
                at
            };
            copy_entry(&root, src, &target);
        }
    }
}

/// `dest` resolved inside `root` as far as it exists (symlinks followed, the last one too), the
/// rest appended as written.
fn resolve_existing(root: &Path, dest: &str) -> String {
    let comps: Vec<&str> = dest.split('/').filter(|c| !c.is_empty()).collect();
    for i in (0..=comps.len()).rev() {
        let prefix = format!("/{}", comps[..i].join("/"));
        if let Ok(c) = ground_truth::resolve_in_root(root, prefix.as_bytes()) {
            let mut out = c.trim_end_matches('/').to_string();
            for rest in &comps[i..] {
                out.push('/');
                out.push_str(rest);
            }
            return if out.is_empty() { "/".into() } else { out };
        }
    }
    dest.to_string()
}

/// Asserts that `path` (host) lies inside `root` once its parents are resolved: the copy never
/// writes outside the root copy.
fn inside(root: &Path, path: &Path) {
    let parent = path
        .parent()
        .expect("parent")
        .canonicalize()
        .expect("canonical parent");
    assert!(
        parent.starts_with(root),
        "{} leaves the root",
        path.display()
    );
}

fn copy_into(root: &Path, dir: &Path, at: &Path) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for e in entries {
        let target = at.join(e.file_name().expect("name"));
        let meta = std::fs::symlink_metadata(&e).expect("lstat");
        if meta.is_dir() {
            match std::fs::symlink_metadata(&target) {
                Ok(t) => assert!(
                    t.is_dir(),
                    "{} would land on a non-directory (COPY refuses that)",
                    e.display()
                ),
                Err(_) => {
                    inside(root, &target);
                    std::fs::create_dir(&target).expect("mkdir");
                }
            }
            copy_into(root, &e, &target);
        } else {
            copy_entry(root, &e, &target);
        }
    }
}

fn copy_entry(root: &Path, src: &Path, target: &Path) {
    inside(root, target);
    if let Ok(t) = std::fs::symlink_metadata(target) {
        assert!(!t.is_dir(), "{} is a directory", target.display());
        std::fs::remove_file(target).expect("remove the replaced entry");
    }
    let meta = std::fs::symlink_metadata(src).expect("lstat");
    if meta.file_type().is_symlink() {
        let to = std::fs::read_link(src).expect("readlink");
        std::os::unix::fs::symlink(to, target).expect("symlink");
    } else {
        std::fs::copy(src, target).expect("copy");
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.merged).status();
        }
        let _ = &self.dir;
    }
}

fn run(cmd: &mut Command, what: &str) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        o.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `elfdeps check BASE --add ... --format json`, its document and exit code.
fn check_add(base: &Path, adds: &[(PathBuf, &str)]) -> (Value, i32) {
    let mut args: Vec<String> = vec!["check".into(), base.display().to_string()];
    for (src, dest) in adds {
        args.push("--add".into());
        args.push(format!("{}:{dest}", src.display()));
    }
    args.extend(["--format".into(), "json".into()]);
    let o = support::elfdeps(&args);
    let code = o.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "{}", support::describe(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["schema"], "elfdeps-add/1");
    (doc, code)
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// One verdict of elfdeps against the real loader's in `root` (the combined root).
fn compare(root: &Path, loader: Loader, path: &str, v: &Value) -> Result<(), String> {
    let status = v["status"].as_str().unwrap_or_default();
    if v["interpreter_missing"] == Value::Bool(true) {
        // Started in the chroot, it must fail for want of its interpreter.
        let o = Command::new("chroot")
            .arg(root)
            .arg(path)
            .output()
            .map_err(|e| format!("chroot {path}: {e}"))?;
        let err = String::from_utf8_lossy(&o.stderr);
        return if !o.status.success() && err.contains("No such file or directory") {
            Ok(())
        } else {
            Err(format!(
                "elfdeps says the interpreter is missing, but it started: {:?} {err}",
                o.status
            ))
        };
    }
    let files = vec![path.to_string()];
    let opts = ground_truth::Options {
        cache: false,
        ..ground_truth::Options::default()
    };
    let truths = match loader {
        Loader::Glibc => ground_truth::try_glibc_truth_with(root, &files, &opts),
        Loader::Musl => ground_truth::try_musl_truth_with(root, "x86_64", &files, &opts),
    }
    .map_err(|e| format!("ground truth: {e}"))?;
    let t = &truths[path];
    if t.fatal.is_some() {
        return if status == "error" && !v["fatal"].is_null() {
            Ok(())
        } else {
            Err(format!(
                "the loader gave up ({:?}); elfdeps says {status}",
                t.fatal
            ))
        };
    }
    let canon = |p: &str| {
        ground_truth::resolve_in_root(root, &ground_truth::unescape_name(p))
            .unwrap_or_else(|_| p.to_string())
    };
    let closure = strings(&v["closure"]);
    let missing = strings(&v["missing"]);
    let versions: BTreeSet<(String, String, String)> = v["version_errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        canon(e["library"].as_str().unwrap_or_default()),
                        e["version"].as_str().unwrap_or_default().to_string(),
                        canon(e["required_by"].as_str().unwrap_or_default()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let truth_versions: BTreeSet<(String, String, String)> = t
        .version_errors
        .iter()
        .map(|(l, ver, r)| (canon(l), ver.clone(), canon(r)))
        .collect();
    let mut why = Vec::new();
    if closure != t.closure {
        why.push(format!("closure: ours {closure:?}, loader {:?}", t.closure));
    }
    if missing != t.missing {
        why.push(format!("missing: ours {missing:?}, loader {:?}", t.missing));
    }
    if versions != truth_versions {
        why.push(format!(
            "versions: ours {versions:?}, loader {truth_versions:?}"
        ));
    }
    let broken = !t.missing.is_empty() || !t.version_errors.is_empty();
    let ours_broken = status == "error";
    if broken != ours_broken {
        why.push(format!("status {status}, loader broken: {broken}"));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// What a case expects of elfdeps' verdicts, besides agreeing with the loader.
#[derive(Default)]
struct Expect<'a> {
    /// Canonical path → status.
    status: &'a [(&'a str, &'a str)],
    /// Base programs that newly break.
    newly_broken: &'a [&'a str],
    /// The check's exit code.
    exit: i32,
    /// Also ask the real loader about every base program elfdeps compared, in the base and in the
    /// combined root: those it says newly break must be exactly elfdeps' (none missed).
    complete: bool,
}

/// Runs elfdeps and the real loader on BASE with `adds` laid over it; every added object and every
/// newly broken base program must agree; `expect` pins the outcome so the case tests something.
fn case(what: &str, base: &Path, adds: &[(PathBuf, &str)], loader: Loader, expect: Expect<'_>) {
    let (doc, code) = check_add(base, adds);
    let copy = Copy::of(base);
    for (src, dest) in adds {
        copy.add(src, dest);
    }
    let mut failures = Vec::new();
    let objects = doc["objects"].as_array().expect("objects");
    assert!(!objects.is_empty(), "{what}: no added object judged");
    for o in objects {
        let path = o["path"].as_str().expect("path");
        if let Err(e) = compare(&copy.merged, loader, path, o) {
            failures.push(format!("{path}: {e}"));
        }
    }
    let broken = doc["newly_broken"].as_array().expect("newly_broken");
    for c in broken {
        let path = c["path"].as_str().expect("path");
        if let Err(e) = compare(&copy.merged, loader, path, &c["after"]) {
            failures.push(format!("{path} (base program): {e}"));
        }
    }
    support::loud(&format!(
        "rebase {what}: {} added objects, {} base programs newly broken, agree with the loader: {}",
        objects.len(),
        broken.len(),
        failures.is_empty()
    ));
    assert!(
        failures.is_empty(),
        "{what}: elfdeps and the loader disagree:\n  {}\n{}",
        failures.join("\n  "),
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    );
    for (path, status) in expect.status {
        let o = objects
            .iter()
            .find(|o| o["path"] == *path)
            .unwrap_or_else(|| panic!("{what}: {path} not judged: {doc:#}"));
        assert_eq!(o["status"], *status, "{what}: {path}");
    }
    if expect.complete {
        let dirs = strings(&doc["base_scope"]["dirs"]);
        assert!(!dirs.is_empty(), "{what}: no base program compared");
        let files: Vec<String> = dirs
            .iter()
            .flat_map(|d| {
                let host = copy.merged.join(d.trim_start_matches('/'));
                std::fs::read_dir(host)
                    .map(|rd| {
                        rd.filter_map(Result::ok)
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                            .filter(|e| {
                                std::fs::read(e.path()).is_ok_and(|b| b.starts_with(b"\x7fELF"))
                            })
                            .map(|e| format!("{d}/{}", e.file_name().to_string_lossy()))
                            // Base programs: those the base has (not the added ones).
                            .filter(|f| {
                                std::fs::symlink_metadata(base.join(f.trim_start_matches('/')))
                                    .is_ok_and(|m| m.is_file())
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let truth = |root: &Path| {
            let opts = ground_truth::Options {
                cache: false,
                ..ground_truth::Options::default()
            };
            match loader {
                Loader::Glibc => ground_truth::try_glibc_truth_with(root, &files, &opts),
                Loader::Musl => ground_truth::try_musl_truth_with(root, "x86_64", &files, &opts),
            }
            .expect("ground truth")
        };
        let (before, after) = (truth(base), truth(&copy.merged));
        let worse: BTreeSet<&str> = files
            .iter()
            .filter(|f| {
                let (b, a) = (&before[*f], &after[*f]);
                let broken = |t: &ground_truth::Truth| {
                    !t.missing.is_empty() || !t.version_errors.is_empty() || t.fatal.is_some()
                };
                broken(a) && (!broken(b) || !a.missing.is_subset(&b.missing))
            })
            .map(String::as_str)
            .collect();
        let ours: BTreeSet<&str> = broken.iter().filter_map(|c| c["path"].as_str()).collect();
        assert_eq!(
            ours,
            worse,
            "{what}: base programs newly broken, elfdeps (left) and the loader (right), of {} compared",
            files.len()
        );
    }
    let got: BTreeSet<&str> = broken.iter().filter_map(|c| c["path"].as_str()).collect();
    let want: BTreeSet<&str> = expect.newly_broken.iter().copied().collect();
    assert_eq!(got, want, "{what}: newly broken base programs");
    assert_eq!(code, expect.exit, "{what}: exit code");
}

fn ready(what: &str) -> bool {
    support::require_root_or_skip(what)
}

fn roots(what: &str, keys: &[&str]) -> Option<Vec<&'static Path>> {
    if !ready(what) {
        return None;
    }
    keys.iter().map(|k| support::root(k)).collect()
}

const THREADS: &str = r#"
#include <pthread.h>
#include <stdio.h>
static void *run(void *a) { return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, run, 0); pthread_join(t, 0); puts("ok"); return 0; }
"#;

const LIB: &str = "int answer(void) { return 42; }\n";
const USES_LIB: &str = r#"
#include <stdio.h>
int answer(void);
int main(void) { printf("%d\n", answer()); return 0; }
"#;

fn compile(cc: &[&str], out: &Path, src: &str, extra: &[&str]) {
    let dir = out.parent().expect("parent");
    std::fs::create_dir_all(dir).expect("mkdir");
    let c = out.with_extension("c");
    std::fs::write(&c, src).expect("write source");
    let mut cmd = Command::new(cc[0]);
    cmd.args(&cc[1..]).arg("-o").arg(out).arg(&c).args(extra);
    run(&mut cmd, &format!("{} {}", cc.join(" "), out.display()));
    std::fs::remove_file(&c).expect("rm source");
}

fn tools(what: &str, tools: &[(&str, &str)]) -> bool {
    tools
        .iter()
        .all(|(t, p)| support::require_tool_or_skip(t, p, what))
}

fn zig_or_skip(what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        support::skip(
            what,
            "zig is not installed (pip install ziglang, or run scripts/test)",
        );
    }
    ok
}

/// bookworm's curl and libcurl over bullseye (glibc 2.31): the program misses versions and
/// libraries; its libcurl replaces bullseye's (through the libcurl.so.4 symlink, as a copy
/// writes through it), so bullseye's own curl newly breaks.
#[test]
fn bookworm_curl_onto_bullseye() {
    let what = "bookworm curl onto bullseye";
    let Some(r) = roots(what, &["debian", "debian-bullseye"]) else {
        return;
    };
    let (bookworm, bullseye) = (r[0], r[1]);
    let lib = bookworm.join("usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0");
    case(
        what,
        bullseye,
        &[
            (bookworm.join("usr/bin/curl"), "/usr/local/bin/"),
            (lib, "/usr/lib/x86_64-linux-gnu/libcurl.so.4"),
        ],
        Loader::Glibc,
        Expect {
            status: &[("/usr/local/bin/curl", "error")],
            newly_broken: &["/usr/bin/curl"],
            exit: 1,
            complete: true,
        },
    );
}

/// bullseye's curl (and its OpenSSL 1.1, which bookworm lacks) over bookworm: it runs there.
#[test]
fn bullseye_curl_onto_bookworm() {
    let what = "bullseye curl onto bookworm";
    let Some(r) = roots(what, &["debian", "debian-bullseye"]) else {
        return;
    };
    let (bookworm, bullseye) = (r[0], r[1]);
    let t = tempfile::tempdir().expect("tempdir");
    let app = t.path().join("app");
    std::fs::create_dir_all(app.join("bin")).expect("mkdir");
    std::fs::create_dir_all(app.join("lib")).expect("mkdir");
    run(
        Command::new("cp")
            .arg(bullseye.join("usr/bin/curl"))
            .arg(app.join("bin/curl")),
        "cp curl",
    );
    for l in ["libcurl.so.4", "libssl.so.1.1", "libcrypto.so.1.1"] {
        run(
            Command::new("cp")
                .arg("-L")
                .arg(bullseye.join("usr/lib/x86_64-linux-gnu").join(l))
                .arg(app.join("lib").join(l)),
            "cp lib",
        );
    }
    case(
        what,
        bookworm,
        &[
            (app.join("bin/curl"), "/usr/local/bin/curl"),
            (app.join("lib"), "/usr/local/lib/"),
        ],
        Loader::Glibc,
        Expect {
            status: &[("/usr/local/bin/curl", "ok")],
            newly_broken: &[],
            exit: 0,
            complete: false,
        },
    );
}

/// An application directory whose program finds its library by `$ORIGIN/../lib`, laid over
/// bookworm (built here, it needs glibc 2.34's `__libc_start_main`, so not bullseye); a second
/// copy without its library misses it.
#[test]
fn origin_app_dir_onto_bookworm() {
    let what = "$ORIGIN application directory onto bookworm";
    if !tools(what, &[("gcc", "gcc")]) {
        return;
    }
    let Some(r) = roots(what, &["debian"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let app = t.path().join("app");
    compile(
        &["gcc", "-shared", "-fPIC"],
        &app.join("lib/libanswer.so"),
        LIB,
        &[],
    );
    let link = [
        format!("-L{}", app.join("lib").display()),
        "-lanswer".into(),
        "-Wl,-rpath,$ORIGIN/../lib".into(),
        "-Wl,--enable-new-dtags".into(),
    ];
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    compile(&["gcc"], &app.join("bin/answer"), USES_LIB, &link);
    let lone = t.path().join("lone");
    std::fs::create_dir_all(lone.join("bin")).expect("mkdir");
    std::fs::copy(app.join("bin/answer"), lone.join("bin/answer")).expect("copy");
    case(
        what,
        r[0],
        &[(app, "/opt/app"), (lone, "/opt/lone")],
        Loader::Glibc,
        Expect {
            status: &[
                ("/opt/app/bin/answer", "ok"),
                ("/opt/app/lib/libanswer.so", "ok"),
                ("/opt/lone/bin/answer", "error"),
            ],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// Built here with gcc against glibc 2.36: pthread_create@GLIBC_2.34 breaks it on bullseye;
/// built by zig for glibc 2.17, the same source runs there.
#[test]
fn gcc_and_zig_programs_onto_bullseye() {
    let what = "gcc (GLIBC_2.34) and zig (glibc 2.17) programs onto bullseye";
    if !tools(what, &[("gcc", "gcc")]) || !zig_or_skip(what) {
        return;
    }
    let Some(r) = roots(what, &["debian-bullseye"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let gcc = t.path().join("gcc/threads");
    compile(&["gcc"], &gcc, THREADS, &["-lpthread"]);
    let zig = t.path().join("zig/threads-2.17");
    compile(
        &[
            "python3",
            "-m",
            "ziglang",
            "cc",
            "-target",
            "x86_64-linux-gnu.2.17",
        ],
        &zig,
        THREADS,
        &["-lpthread"],
    );
    case(
        what,
        r[0],
        &[(gcc, "/usr/local/bin/"), (zig, "/usr/local/bin/")],
        Loader::Glibc,
        Expect {
            status: &[
                ("/usr/local/bin/threads", "error"),
                ("/usr/local/bin/threads-2.17", "ok"),
            ],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// A musl program on Debian: no musl loader there.
#[test]
fn musl_program_onto_debian() {
    let what = "musl program onto bullseye";
    if !tools(what, &[("musl-gcc", "musl-tools")]) {
        return;
    }
    let Some(r) = roots(what, &["debian-bullseye"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let prog = t.path().join("hello-musl");
    compile(&["musl-gcc"], &prog, THREADS, &["-lpthread"]);
    case(
        what,
        r[0],
        &[(prog, "/usr/local/bin/")],
        Loader::Glibc,
        Expect {
            status: &[("/usr/local/bin/hello-musl", "interp-missing")],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// A glibc program (built here) on Alpine: no glibc loader there; a musl program built here
/// runs.
#[test]
fn glibc_and_musl_programs_onto_alpine() {
    let what = "glibc and musl programs onto Alpine";
    if !tools(what, &[("gcc", "gcc"), ("musl-gcc", "musl-tools")]) {
        return;
    }
    let Some(r) = roots(what, &["alpine-x86_64"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let g = t.path().join("threads-glibc");
    compile(&["gcc"], &g, THREADS, &["-lpthread"]);
    let m = t.path().join("threads-musl");
    compile(&["musl-gcc"], &m, THREADS, &["-lpthread"]);
    case(
        what,
        r[0],
        &[(g, "/usr/local/bin/"), (m, "/usr/local/bin/")],
        Loader::Musl,
        Expect {
            status: &[
                ("/usr/local/bin/threads-glibc", "interp-missing"),
                ("/usr/local/bin/threads-musl", "ok"),
            ],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// Alpine's apk laid over an Alpine root without libssl (the 3.20 root with it removed), and
/// over one whose libz was replaced by a library that lacks what apk needs is not a case musl
/// checks (musl has no symbol versions): only the absent library breaks it.
#[test]
fn alpine_program_onto_alpine_without_its_library() {
    let what = "Alpine apk onto an Alpine root without libssl";
    let Some(r) = roots(what, &["alpine-x86_64"]) else {
        return;
    };
    let alpine = r[0];
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("base");
    run(
        Command::new("cp").arg("-a").arg(alpine).arg(&base),
        "cp -a alpine",
    );
    std::fs::remove_file(base.join("lib/libssl.so.3")).expect("rm libssl");
    // The apk a newer build would copy in: the root's own, under another name.
    let apk = t.path().join("apk2");
    std::fs::copy(alpine.join("sbin/apk"), &apk).expect("copy apk");
    case(
        what,
        &base,
        &[(apk, "/usr/local/bin/")],
        Loader::Musl,
        Expect {
            status: &[("/usr/local/bin/apk2", "error")],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// A library laid over the one an Alpine root's programs load, built here with musl-gcc and
/// lacking what they need is still loaded (musl checks no versions); one named as a library a
/// base program needs but put in musl's first directory shadows the root's: apk, which loads
/// libz.so.1 from /lib, now loads the added one, and is reported when it newly breaks.
#[test]
fn alpine_library_shadowed_by_an_added_one() {
    let what = "an added library shadowing an Alpine root's";
    if !tools(what, &[("musl-gcc", "musl-tools")]) {
        return;
    }
    let Some(r) = roots(what, &["alpine-x86_64"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    // A libz.so.1 that itself needs a library the root does not have.
    let dep = t.path().join("dep/libgone.so");
    compile(&["musl-gcc", "-shared", "-fPIC"], &dep, LIB, &[]);
    let z = t.path().join("z/libz.so.1");
    let link = [
        format!("-L{}", t.path().join("dep").display()),
        "-lgone".to_string(),
        "-Wl,-soname,libz.so.1".to_string(),
    ];
    let link: Vec<&str> = link.iter().map(String::as_str).collect();
    compile(&["musl-gcc", "-shared", "-fPIC"], &z, LIB, &link);
    case(
        what,
        r[0],
        &[(z, "/lib/libz.so.1")],
        Loader::Musl,
        Expect {
            status: &[("/lib/libz.so.1.3.1", "error")],
            newly_broken: &["/sbin/apk"],
            exit: 1,
            complete: true,
        },
    );
}

/// `tree --add` and `packages --add` look the added program up in the combined root (the
/// loader session `check --add` judged; the base's packages that run it); `scan`, `why` (which
/// walk the root) refuse `--add` rather than answer without the added files.
#[test]
fn tree_and_packages_take_add_and_walking_commands_refuse_it() {
    let what = "tree and packages with --add";
    if !tools(what, &[("gcc", "gcc")]) {
        return;
    }
    let Some(r) = roots(what, &["debian-bullseye"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let prog = t.path().join("threads");
    compile(&["gcc"], &prog, THREADS, &["-lpthread"]);
    let add = format!("{}:/usr/local/bin/", prog.display());
    let base = r[0].display().to_string();
    let o = support::elfdeps(&[
        "tree",
        &base,
        "--add",
        &add,
        "/usr/local/bin/threads",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", support::describe(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["status"], "error");
    assert_eq!(doc["version_errors"][0]["version"], "GLIBC_2.34");
    let o = support::elfdeps(&[
        "packages",
        &base,
        "--add",
        &add,
        "/usr/local/bin/threads",
        "--elf-only",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", support::describe(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "libc6\n");
    for cmd in [
        vec!["scan", &base, "--add", &add],
        vec!["why", &base, "libc.so.6", "--add", &add],
    ] {
        let o = support::elfdeps(&cmd);
        assert_eq!(o.status.code(), Some(2), "{}", support::describe(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains("--add is not available"));
    }
    // SARIF and JUnit carry the same findings, for CI.
    let o = support::elfdeps(&["check", &base, "--add", &add, "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::describe(&o));
    let sarif: Value = serde_json::from_slice(&o.stdout).expect("SARIF");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "version-missing");
    let o = support::elfdeps(&["check", &base, "--add", &add, "--format", "junit"]);
    assert_eq!(o.status.code(), Some(1), "{}", support::describe(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("failure type=\"version-missing\""));
    // DEST must be absolute; a missing SRC is an input error.
    let o = support::elfdeps(&["check", &base, "--add", "nothing-here:relative"]);
    assert_eq!(o.status.code(), Some(2), "{}", support::describe(&o));
    let o = support::elfdeps(&["check", &base, "--add", "/nonexistent/app:/usr/bin/"]);
    assert_eq!(o.status.code(), Some(2), "{}", support::describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
}

/// An image as the base (an OCI layout umoci builds from the Alpine root, with libssl taken out
/// in a second layer): the added program is judged in the image's filesystem as in the same
/// root as a directory, and as the real loader judges it there.
#[test]
fn an_image_base_judges_as_its_unpacked_root() {
    let what = "check oci:LAYOUT --add";
    if !ready(what) || !tools(what, &[("umoci", "umoci")]) {
        return;
    }
    let Some(r) = roots(what, &["alpine-x86_64"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let layout = t.path().join("layout");
    let bundle = t.path().join("bundle");
    let umoci = |args: &[&str]| run(Command::new("umoci").args(args), "umoci");
    let l = layout.to_str().expect("utf-8");
    let b = bundle.to_str().expect("utf-8");
    let image = format!("{l}:base");
    umoci(&["init", "--layout", l]);
    umoci(&["new", "--image", &image]);
    umoci(&["unpack", "--image", &image, b]);
    let rootfs = bundle.join("rootfs");
    run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", r[0].display()))
            .arg(&rootfs),
        "cp -a alpine",
    );
    umoci(&["repack", "--image", &image, b]);
    std::fs::remove_file(rootfs.join("lib/libssl.so.3")).expect("rm libssl");
    umoci(&["repack", "--image", &image, b]);
    let apk = t.path().join("apk2");
    std::fs::copy(r[0].join("sbin/apk"), &apk).expect("copy apk");
    let adds = [(apk, "/usr/local/bin/")];
    let (from_image, code) = check_add(Path::new(&format!("oci:{image}")), &adds);
    let (from_dir, _) = check_add(&rootfs, &adds);
    assert_eq!(code, 1);
    assert_eq!(from_image["objects"], from_dir["objects"]);
    assert_eq!(from_image["objects"][0]["missing"][0], "libssl.so.3");
    // And the loader agrees, in a copy of the unpacked image with apk2 copied in.
    case(
        what,
        &rootfs,
        &adds,
        Loader::Musl,
        Expect {
            status: &[("/usr/local/bin/apk2", "error")],
            newly_broken: &[],
            exit: 1,
            complete: false,
        },
    );
}

/// `check APP --rebase-from OLD --onto NEW`: an application image (umoci: the Alpine root, then a
/// layer adding a copy of apk) rebased from that Alpine image onto one whose second layer removes
/// libssl. Its program newly breaks (exit 1); the real loader agrees on every verdict, in a copy
/// of NEW's filesystem with the application's files copied in; and a base the image was not built
/// on is refused (exit 2).
#[test]
fn rebase_onto_a_base_without_a_library() {
    let what = "check --rebase-from --onto";
    if !ready(what) || !tools(what, &[("umoci", "umoci")]) {
        return;
    }
    let Some(r) = roots(what, &["alpine-x86_64"]) else {
        return;
    };
    let t = tempfile::tempdir().expect("tempdir");
    let layout = t.path().join("layout");
    let l = layout.to_str().expect("utf-8").to_string();
    let umoci = |args: &[&str]| run(Command::new("umoci").args(args), "umoci");
    let bundle = |name: &str| t.path().join(name).to_str().expect("utf-8").to_string();
    umoci(&["init", "--layout", &l]);
    umoci(&["new", "--image", &format!("{l}:old")]);
    let b = bundle("b-old");
    umoci(&["unpack", "--image", &format!("{l}:old"), &b]);
    run(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", r[0].display()))
            .arg(format!("{b}/rootfs")),
        "cp -a alpine",
    );
    umoci(&["repack", "--image", &format!("{l}:old"), &b]);
    // NEW: OLD without libssl.
    let b = bundle("b-new");
    umoci(&["unpack", "--image", &format!("{l}:old"), &b]);
    std::fs::remove_file(Path::new(&b).join("rootfs/lib/libssl.so.3")).expect("rm libssl");
    umoci(&["repack", "--image", &format!("{l}:new"), &b]);
    let new_rootfs = Path::new(&b).join("rootfs");
    // APP: OLD plus apk2.
    let b = bundle("b-app");
    umoci(&["unpack", "--image", &format!("{l}:old"), &b]);
    std::fs::copy(
        r[0].join("sbin/apk"),
        Path::new(&b).join("rootfs/usr/local/bin/apk2"),
    )
    .expect("copy apk");
    umoci(&["repack", "--image", &format!("{l}:app"), &b]);
    let o = support::elfdeps(&[
        "check",
        &format!("oci:{l}:app"),
        "--rebase-from",
        &format!("oci:{l}:old"),
        "--onto",
        &format!("oci:{l}:new"),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", support::describe(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["schema"], "elfdeps-rebase/1");
    assert_eq!(doc["app_layers"], 1);
    let objects = doc["objects"].as_array().expect("objects");
    let paths: Vec<&str> = objects.iter().filter_map(|o| o["path"].as_str()).collect();
    assert_eq!(paths, ["/usr/local/bin/apk2"], "{doc:#}");
    let broken = doc["newly_broken"].as_array().expect("newly_broken");
    assert_eq!(broken.len(), 1, "{doc:#}");
    assert_eq!(broken[0]["before"]["status"], "ok");
    assert_eq!(broken[0]["new_missing"][0], "libssl.so.3");
    // The loader, over NEW with the application's file, and over OLD (the image as it is).
    let apk2 = t.path().join("apk2");
    std::fs::copy(r[0].join("sbin/apk"), &apk2).expect("copy");
    let copy = Copy::of(&new_rootfs);
    copy.add(&apk2, "/usr/local/bin/");
    compare(
        &copy.merged,
        Loader::Musl,
        "/usr/local/bin/apk2",
        &objects[0],
    )
    .unwrap_or_else(|e| panic!("over NEW: {e}"));
    let copy = Copy::of(r[0]);
    copy.add(&apk2, "/usr/local/bin/");
    compare(
        &copy.merged,
        Loader::Musl,
        "/usr/local/bin/apk2",
        &broken[0]["before"],
    )
    .unwrap_or_else(|e| panic!("over OLD: {e}"));
    // Not built on NEW: refused.
    let o = support::elfdeps(&[
        "check",
        &format!("oci:{l}:app"),
        "--rebase-from",
        &format!("oci:{l}:new"),
        "--onto",
        &format!("oci:{l}:old"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", support::describe(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("do not start with those of"));
}
