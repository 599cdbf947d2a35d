//! Programs put on another base (issue 16, items 3 and 4): the imports a root's other libc lacks
//! (`libc-symbols-missing`), the versions an older glibc lacks with the symbols forcing each
//! (`version-missing`), and the musl advisories, on real roots: copies (hard-linked) of the cached
//! Alpine and Debian bullseye roots with programs built here or taken from Debian bookworm laid in.
//! Every list is checked against one computed here from the two roots with goblin, and where the
//! loader can say it, against the loader itself in a chroot (musl's `--list` prints each symbol it
//! cannot relocate; bullseye's `ldd` each version it lacks).

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::describe;

/// A program of glibc-only interfaces: fortified copies and printf (`__memcpy_chk`,
/// `__printf_chk` with `-O2 -D_FORTIFY_SOURCE=2`), `backtrace`, `error`, and a thread
/// (`pthread_create@GLIBC_2.34` when built against glibc 2.34 or newer).
const GLIBC_APP: &str = r#"#define _GNU_SOURCE
#include <error.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
static void *run(void *p) { return p; }
int main(int argc, char **argv) {
    char buf[16];
    void *frames[8];
    pthread_t t;
    int n = backtrace(frames, 8);
    size_t len = strlen(argv[0]);
    if (len > (size_t)argc * 4) len = (size_t)argc * 4; /* a length gcc cannot bound: __memcpy_chk */
    memcpy(buf, argv[0], len);
    buf[15] = 0;
    printf("%s %d\n", buf, n);
    if (pthread_create(&t, 0, run, 0) == 0) pthread_join(t, 0);
    if (argc > 5) error(1, 0, "too many arguments");
    return 0;
}
"#;

/// A musl program using what glibc 2.31 lacks (`strlcpy`, glibc 2.38) and what it has.
const MUSL_APP: &str = r#"#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char b[8];
    strlcpy(b, argv[0], sizeof b);
    printf("%s %d\n", b, argc);
    return 0;
}
"#;

fn run(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Compiles `src` with `cc` and `flags` into `out`.
fn build(cc: &str, flags: &[&str], src: &str, out: &Path) {
    let dir = out.parent().expect("parent");
    let c = dir.join("src.c");
    std::fs::write(&c, src).expect("write source");
    run(
        Command::new(cc).args(flags).arg("-o").arg(out).arg(&c),
        &format!("{cc} {flags:?}"),
    );
}

/// A copy of `root` in a new temporary directory (hard links: nothing of it is changed, files
/// are only added).
fn copy_root(root: &Path) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir_in(root.parent().expect("cache dir")).expect("tempdir");
    let dst = t.path().join("root");
    run(
        Command::new("cp").arg("-al").arg(root).arg(&dst),
        "cp -al the root",
    );
    (t, dst)
}

/// Puts `file` at `dest` (absolute in the root).
fn add(root: &Path, file: &Path, dest: &str) {
    let to = root.join(dest.trim_start_matches('/'));
    std::fs::create_dir_all(to.parent().unwrap()).expect("mkdir");
    std::fs::copy(file, &to).expect("copy into the root");
}

fn check_json(root: &Path) -> Value {
    let out = support::elfdeps(&[
        "check".as_ref(),
        root.as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
    ]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn findings<'a>(doc: &'a Value, code: &str, path: &str) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == code && f["path"] == path)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// One dynamic symbol, as goblin reads it.
#[derive(Debug)]
struct Sym {
    name: String,
    version: Option<String>,
    undefined: bool,
    weak: bool,
    hidden: bool,
}

/// The dynamic symbols of `path` with their versions, read by goblin (the independent oracle).
fn goblin_syms(path: &Path) -> Vec<Sym> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let elf = goblin::elf::Elf::parse(&bytes).expect("goblin parses it");
    let strtab = &elf.dynstrtab;
    let name_at = |i: usize| strtab.get_at(i).expect("dynstr").to_string();
    let mut versions: HashMap<u16, String> = HashMap::new();
    if let Some(vn) = &elf.verneed {
        for need in vn.iter() {
            for aux in need.iter() {
                versions.insert(aux.vna_other, name_at(aux.vna_name));
            }
        }
    }
    if let Some(vd) = &elf.verdef {
        for d in vd.iter() {
            if let Some(a) = d.iter().next() {
                versions.insert(d.vd_ndx, name_at(a.vda_name));
            }
        }
    }
    elf.dynsyms
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, s)| {
            let vs = elf.versym.as_ref().and_then(|v| v.get_at(i));
            Sym {
                name: name_at(s.st_name),
                version: vs
                    .as_ref()
                    .map(|v| v.version())
                    .filter(|&x| x >= 2)
                    .and_then(|x| versions.get(&x).cloned()),
                undefined: s.st_shndx == 0,
                weak: s.st_bind() == goblin::elf::sym::STB_WEAK,
                hidden: vs.as_ref().is_some_and(|v| v.is_hidden()),
            }
        })
        .collect()
}

/// The names `files` define (default versions only, as an unversioned reference binds).
fn defined(files: &[PathBuf]) -> BTreeSet<String> {
    files
        .iter()
        .flat_map(|f| goblin_syms(f))
        .filter(|s| !s.undefined && !s.hidden)
        .map(|s| s.name)
        .collect()
}

/// The version definitions of `file`.
fn version_defs(file: &Path) -> BTreeSet<String> {
    let bytes = std::fs::read(file).expect("read");
    let elf = goblin::elf::Elf::parse(&bytes).expect("goblin");
    let mut out = BTreeSet::new();
    if let Some(vd) = &elf.verdef {
        for d in vd.iter() {
            if let Some(a) = d.iter().next() {
                out.insert(elf.dynstrtab.get_at(a.vda_name).unwrap().to_string());
            }
        }
    }
    out
}

/// `(file, version)` of each version need of `file`.
fn version_needs(file: &Path) -> Vec<(String, String)> {
    let bytes = std::fs::read(file).expect("read");
    let elf = goblin::elf::Elf::parse(&bytes).expect("goblin");
    let s = |i| elf.dynstrtab.get_at(i).unwrap().to_string();
    let mut out = Vec::new();
    if let Some(vn) = &elf.verneed {
        for need in vn.iter() {
            for aux in need.iter() {
                out.push((s(need.vn_file), s(aux.vna_name)));
            }
        }
    }
    out
}

fn tools(what: &str, needs: &[(&str, &str)]) -> bool {
    support::require_root_or_skip(what)
        && needs
            .iter()
            .all(|(tool, pkg)| support::require_tool_or_skip(tool, pkg, what))
}

/// A glibc program built here and Debian bookworm's curl on a copy of Alpine: the imports musl's
/// libc lacks, as goblin computes them from the program and Alpine's libc, and for the program
/// built here exactly the symbols musl's loader fails to relocate.
#[test]
fn glibc_programs_on_alpine_list_what_musl_lacks() {
    let what = "libc-symbols-missing on Alpine";
    if !tools(what, &[("gcc", "gcc")]) {
        return;
    }
    let (Some(alpine), Some(debian)) = (support::root("alpine-x86_64"), support::root("debian"))
    else {
        return;
    };
    let (t, root) = copy_root(alpine);
    let app = t.path().join("app");
    build("gcc", &["-O2", "-D_FORTIFY_SOURCE=2"], GLIBC_APP, &app);
    add(&root, &app, "/usr/local/bin/app");
    add(&root, &debian.join("usr/bin/curl"), "/usr/local/bin/curl");
    let doc = check_json(&root);
    let musl_defs = defined(&[root.join("lib/ld-musl-x86_64.so.1")]);
    for (dest, host) in [
        ("/usr/local/bin/app", app.clone()),
        ("/usr/local/bin/curl", debian.join("usr/bin/curl")),
    ] {
        let want: BTreeSet<String> = goblin_syms(&host)
            .into_iter()
            .filter(|s| s.undefined && !s.weak)
            .filter(|s| {
                s.version
                    .as_deref()
                    .is_some_and(|v| v.starts_with("GLIBC_"))
            })
            .filter(|s| !musl_defs.contains(&s.name))
            .map(|s| s.name)
            .collect();
        assert!(!want.is_empty(), "{dest}: musl lacks nothing it imports?");
        let f = findings(&doc, "libc-symbols-missing", dest);
        assert_eq!(f.len(), 1, "{dest}: {doc:#}");
        assert_eq!(f[0]["severity"], "error");
        assert_eq!(f[0]["library"], "/lib/ld-musl-x86_64.so.1");
        let got: Vec<String> = strings(&f[0]["symbols"]);
        assert_eq!(
            got,
            want.iter().cloned().collect::<Vec<_>>(),
            "{dest}: sorted, each once"
        );
        // The loader's interpreter is missing: libc-mismatch and interpreter-missing stay.
        assert_eq!(findings(&doc, "interpreter-missing", dest).len(), 1);
    }
    let app_syms =
        strings(&findings(&doc, "libc-symbols-missing", "/usr/local/bin/app")[0]["symbols"]);
    for s in ["__memcpy_chk", "__printf_chk", "backtrace", "error"] {
        assert!(app_syms.iter().any(|x| x == s), "{s} not in {app_syms:?}");
    }
    // Ground truth: musl's loader, asked to load the program as musl satisfies its libc.so.6,
    // names each symbol it cannot relocate.
    let out = Command::new("chroot")
        .arg(&root)
        .args(["/lib/ld-musl-x86_64.so.1", "--list", "/usr/local/bin/app"])
        .output()
        .expect("chroot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let loader: BTreeSet<String> = stderr
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Error relocating /usr/local/bin/app: ")?
                .strip_suffix(": symbol not found")
                .map(str::to_string)
        })
        .collect();
    assert_eq!(
        loader,
        app_syms.into_iter().collect::<BTreeSet<_>>(),
        "musl's loader said:\n{stderr}"
    );
}

/// A musl program on a copy of Debian bullseye: the imports glibc 2.31's libraries do not define,
/// as goblin computes them.
#[test]
fn a_musl_program_on_debian_lists_what_glibc_lacks() {
    let what = "libc-symbols-missing on Debian";
    if !tools(what, &[("musl-gcc", "musl-tools")]) {
        return;
    }
    let Some(bullseye) = support::root("debian-bullseye") else {
        return;
    };
    let (t, root) = copy_root(bullseye);
    let app = t.path().join("app");
    build("musl-gcc", &["-O2"], MUSL_APP, &app);
    add(&root, &app, "/usr/local/bin/app");
    let doc = check_json(&root);
    let dir = root.join("lib/x86_64-linux-gnu");
    let mut glibc: Vec<PathBuf> = [
        "ld-linux-x86-64.so.2",
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libanl.so.1",
    ]
    .iter()
    .map(|n| dir.join(n))
    .filter(|p| p.exists())
    .collect();
    glibc.dedup();
    let defs = defined(&glibc);
    let want: Vec<String> = goblin_syms(&app)
        .into_iter()
        .filter(|s| s.undefined && !s.weak)
        .filter(|s| !defs.contains(&s.name))
        .map(|s| s.name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(want.contains(&"strlcpy".to_string()), "{want:?}");
    let f = findings(&doc, "libc-symbols-missing", "/usr/local/bin/app");
    assert_eq!(f.len(), 1, "{doc:#}");
    assert_eq!(strings(&f[0]["symbols"]), want);
}

/// Programs built for a newer glibc on a copy of bullseye (glibc 2.31): one `version-missing` per
/// version the root's library lacks, each with the program's imports bound to it, as goblin
/// computes them from the program and the root's libraries, and the versions bullseye's ldd names.
#[test]
fn newer_glibc_programs_on_bullseye_name_the_symbols_forcing_each_version() {
    let what = "version-missing on bullseye";
    if !tools(what, &[("gcc", "gcc")]) {
        return;
    }
    let (Some(bullseye), Some(debian)) =
        (support::root("debian-bullseye"), support::root("debian"))
    else {
        return;
    };
    let (t, root) = copy_root(bullseye);
    let app = t.path().join("app");
    build("gcc", &["-O2"], GLIBC_APP, &app);
    add(&root, &app, "/usr/local/bin/app");
    add(&root, &debian.join("usr/bin/curl"), "/usr/local/bin/curl");
    // The same program built by zig for glibc 2.17 needs nothing bullseye lacks.
    let zig_ok = Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let old = t.path().join("old");
    if zig_ok {
        let dir = t.path().join("zig");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("src.c"), GLIBC_APP).expect("write");
        run(
            Command::new("python3")
                .args([
                    "-m",
                    "ziglang",
                    "cc",
                    "-target",
                    "x86_64-linux-gnu.2.17",
                    "-O2",
                    "-o",
                ])
                .arg(&old)
                .arg(dir.join("src.c"))
                .env("ZIG_GLOBAL_CACHE_DIR", t.path().join("zig-cache"))
                .env("ZIG_LOCAL_CACHE_DIR", t.path().join("zig-cache")),
            "zig cc for glibc 2.17",
        );
        add(&root, &old, "/usr/local/bin/old");
    } else {
        support::skip(
            "a zig-built glibc 2.17 program on bullseye",
            "zig is not installed (pip install ziglang, or run scripts/test)",
        );
    }
    let doc = check_json(&root);
    if zig_ok {
        for code in ["version-missing", "libc-symbols-missing", "library-missing"] {
            assert!(
                findings(&doc, code, "/usr/local/bin/old").is_empty(),
                "{code}: {doc:#}"
            );
        }
        let out = Command::new("chroot")
            .arg(&root)
            .args(["ldd", "/usr/local/bin/old"])
            .output()
            .expect("chroot ldd");
        assert!(out.status.success(), "{}", describe(&out));
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("not found"), "{text}");
    }
    // glibc 2.31's loader is ld-2.31.so (its libc.so.6 defines nothing newer than GLIBC_2.30).
    let libcs = doc["libcs"].as_array().expect("libcs");
    assert_eq!(libcs.len(), 1, "{libcs:?}");
    assert_eq!(libcs[0]["flavor"], "glibc");
    assert_eq!(libcs[0]["version"], "2.31");
    // Where bullseye's loader finds them (its ld.so.cache holds these two directories).
    let provider = |file: &str| {
        ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"]
            .iter()
            .map(|d| root.join(d).join(file))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("bullseye has no {file}"))
    };
    for (dest, host) in [
        ("/usr/local/bin/app", app.clone()),
        ("/usr/local/bin/curl", debian.join("usr/bin/curl")),
    ] {
        let syms = goblin_syms(&host);
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (file, version) in version_needs(&host) {
            if version_defs(&provider(&file)).contains(&version) {
                continue;
            }
            let mut s: Vec<String> = syms
                .iter()
                .filter(|s| s.undefined && s.version.as_deref() == Some(version.as_str()))
                .map(|s| s.name.clone())
                .collect();
            s.sort();
            s.dedup();
            want.insert(version, s);
        }
        assert!(want.contains_key("GLIBC_2.34"), "{dest}: {want:?}");
        let got: BTreeMap<String, Vec<String>> = findings(&doc, "version-missing", dest)
            .into_iter()
            .map(|f| {
                (
                    f["version"].as_str().unwrap().to_string(),
                    strings(&f["symbols"]),
                )
            })
            .collect();
        assert_eq!(got, want, "{dest}");
        // Ground truth: the versions bullseye's own ldd says are missing.
        let out = Command::new("chroot")
            .arg(&root)
            .args(["ldd", dest])
            .output()
            .expect("chroot ldd");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        let ldd: BTreeSet<String> = text
            .lines()
            .filter(|l| l.contains(&format!("(required by {dest})")))
            .filter_map(|l| Some(l.split('`').nth(1)?.split('\'').next()?.to_string()))
            .collect();
        assert_eq!(
            ldd,
            want.keys().cloned().collect::<BTreeSet<_>>(),
            "{dest}: ldd said:\n{text}"
        );
    }
    let app_f = findings(&doc, "version-missing", "/usr/local/bin/app");
    let v234 = app_f
        .iter()
        .find(|f| f["version"] == "GLIBC_2.34")
        .expect("GLIBC_2.34");
    assert!(
        strings(&v234["symbols"]).contains(&"pthread_create".to_string()),
        "{v234:#}"
    );
}

/// `readelf --dyn-syms -W`'s undefined symbols of `file` (names without their version).
fn readelf_imports(file: &Path) -> BTreeSet<String> {
    let out = run(
        Command::new("readelf").args(["--dyn-syms", "-W"]).arg(file),
        "readelf --dyn-syms",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8 && f[6] == "UND").then(|| f[7].split('@').next().unwrap().to_string())
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// The musl advisories on the real Alpine root (musl 1.2.5): on busybox, ssl_client and iconv,
/// each with the symbols that trigger it, which readelf finds imported by the objects the
/// message names; none about DNS (musl 1.2.5 has DNS over TCP).
#[test]
fn musl_advisories_on_the_alpine_root() {
    if !support::require_tool_or_skip("readelf", "binutils", "musl advisories") {
        return;
    }
    let Some(root) = support::root("alpine-x86_64") else {
        return;
    };
    let doc = check_json(root);
    let imports = |p: &str| readelf_imports(&root.join(p.trim_start_matches('/')));
    let expect = [
        ("musl-locale", "/bin/busybox", vec!["setlocale", "strcoll"]),
        (
            "musl-thread-stack",
            "/usr/bin/ssl_client",
            vec!["pthread_create"],
        ),
        ("musl-dlclose-noop", "/usr/bin/ssl_client", vec!["dlclose"]),
        ("musl-iconv", "/usr/bin/iconv", vec!["iconv_open"]),
    ];
    for (code, path, syms) in expect {
        let f = findings(&doc, code, path);
        assert_eq!(f.len(), 1, "{code} {path}: {doc:#}");
        assert!(
            matches!(f[0]["severity"].as_str(), Some("info")),
            "{:#}",
            f[0]
        );
        assert_eq!(strings(&f[0]["symbols"]), syms, "{code} {path}");
        // Each symbol is imported by the objects the message names (`NAME (by PATH, ...)`).
        let message = f[0]["message"].as_str().unwrap();
        for s in &syms {
            let by = message
                .split(&format!("{s} (by "))
                .nth(1)
                .and_then(|r| r.split(')').next())
                .unwrap_or_else(|| panic!("{message}"));
            for p in by.split(", ") {
                assert!(imports(p).contains(*s), "{p} does not import {s}");
            }
        }
    }
    // ssl_client's session (it, libssl, libcrypto) never sets a stack size.
    for p in [
        "/usr/bin/ssl_client",
        "/lib/libssl.so.3",
        "/lib/libcrypto.so.3",
    ] {
        let i = imports(p);
        assert!(!i.contains("pthread_attr_setstacksize"), "{p}");
        assert!(!i.contains("pthread_setattr_default_np"), "{p}");
    }
    let dns: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "musl-dns-no-tcp")
        .collect();
    assert!(dns.is_empty(), "musl 1.2.5 has DNS over TCP: {dns:?}");
    assert_eq!(
        doc["gate"]["passed"], true,
        "advisories never fail the gate: {doc:#}"
    );
}

/// The resolver entry points `musl-dns-no-tcp` looks for (docs/findings.md), in its order.
const RESOLVERS: &[&str] = &[
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "getnameinfo",
    "res_query",
    "res_search",
    "res_querydomain",
    "res_send",
];

/// `musl-dns-no-tcp` on a copy of Alpine whose musl is the host's (Debian's musl package, 1.2.3 on
/// bookworm): the release is the one the loader itself prints, and every Alpine program whose
/// session imports a resolver (readelf over the program and its closure) gets the warning, with
/// exactly those symbols. With a host musl of 1.2.4 or newer, no program gets it (and the test
/// says loudly that the warning itself was not seen).
#[test]
fn dns_without_tcp_on_a_musl_before_1_2_4() {
    let what = "musl-dns-no-tcp on a real musl loader";
    if !support::require_root_or_skip(what)
        || !support::require_tool_or_skip("readelf", "binutils", what)
    {
        return;
    }
    let host_musl = Path::new("/lib/ld-musl-x86_64.so.1");
    if !host_musl.exists() {
        support::skip(what, "the host has no musl loader (apt-get install musl)");
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let (_t, root) = copy_root(alpine);
    let ld = root.join("lib/ld-musl-x86_64.so.1");
    std::fs::remove_file(&ld).expect("unlink the hard link");
    std::fs::copy(host_musl, &ld).expect("copy the host's musl");
    // The loader says its release itself (on standard error, exit status 1).
    let out = Command::new("chroot")
        .arg(&root)
        .args(["/lib/ld-musl-x86_64.so.1", "--version"])
        .output()
        .expect("chroot");
    let said = String::from_utf8_lossy(&out.stderr);
    let release = said
        .lines()
        .find_map(|l| l.strip_prefix("Version "))
        .unwrap_or_else(|| panic!("no version from the loader: {said}"))
        .to_string();
    let doc = check_json(&root);
    assert_eq!(doc["libcs"][0]["version"], release.as_str());
    let parts: Vec<u32> = release.split('.').map(|p| p.parse().unwrap()).collect();
    let old = parts < vec![1, 2, 4];
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in doc["objects"].as_array().expect("objects") {
        let ok = o["status"] == "ok" && o["interp"] == "/lib/ld-musl-x86_64.so.1";
        if !ok {
            continue;
        }
        let path = o["path"].as_str().unwrap();
        let mut imports = readelf_imports(&root.join(path.trim_start_matches('/')));
        for c in strings(&o["closure"]) {
            imports.extend(readelf_imports(&root.join(c.trim_start_matches('/'))));
        }
        let hits: Vec<String> = RESOLVERS
            .iter()
            .filter(|r| imports.contains(**r))
            .map(|r| r.to_string())
            .collect();
        if old && !hits.is_empty() {
            want.insert(path.to_string(), hits);
        }
    }
    let got: BTreeMap<String, Vec<String>> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "musl-dns-no-tcp")
        .map(|f| {
            assert_eq!(f["severity"], "warning");
            (
                f["path"].as_str().unwrap().to_string(),
                strings(&f["symbols"]),
            )
        })
        .collect();
    assert_eq!(got, want);
    if old {
        for p in ["/bin/busybox", "/sbin/apk", "/usr/bin/ssl_client"] {
            assert!(want.contains_key(p), "{p} resolves names: {want:?}");
        }
    } else {
        // Not a skip: the negative case above was checked, and a newer host musl is no defect of
        // the machine (CI on a newer Debian has one).
        support::loud(&format!(
            "\n*** musl-dns-no-tcp: the host's musl is {release}, not older than 1.2.4: only the absence of the warning was checked\n"
        ));
    }
}

/// A musl program that creates a thread with the default attributes and prints that thread's
/// stack size, as musl's `pthread_getattr_np` reports it.
const THREAD_APP: &str = r#"#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
static void *run(void *p) {
    pthread_attr_t a;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) pthread_attr_getstacksize(&a, &size);
    printf("%zu\n", size);
    return p;
}
int main(void) {
    pthread_t t;
    if (pthread_create(&t, 0, run, 0) != 0) return 1;
    return pthread_join(t, 0);
}
"#;

/// `musl-thread-stack` against the loader: two musl programs creating threads on a copy of Alpine,
/// one linked with `-Wl,-z,stack-size=1048576`; run in a chroot, the first's thread gets musl's
/// 128 KiB default and gets the finding, the second's gets 1 MiB and does not.
#[test]
fn thread_stacks_as_musl_gives_them() {
    let what = "musl-thread-stack against the loader";
    if !tools(what, &[("musl-gcc", "musl-tools")]) {
        return;
    }
    let Some(alpine) = support::root("alpine-x86_64") else {
        return;
    };
    let (t, root) = copy_root(alpine);
    for (name, flags) in [
        ("small", vec!["-O2", "-pthread"]),
        ("big", vec!["-O2", "-pthread", "-Wl,-z,stack-size=1048576"]),
    ] {
        let dir = t.path().join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        let bin = dir.join(name);
        build("musl-gcc", &flags, THREAD_APP, &bin);
        add(&root, &bin, &format!("/usr/local/bin/{name}"));
    }
    let doc = check_json(&root);
    for (name, stack, finding) in [("small", 128 * 1024, true), ("big", 1 << 20, false)] {
        let path = format!("/usr/local/bin/{name}");
        let out = run(
            Command::new("chroot").arg(&root).arg(&path),
            &format!("run {path} in the Alpine copy"),
        );
        let got: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a size");
        // musl may round up to whole pages and leave the guard page out: the order is what counts.
        assert!(
            got >= stack && got < stack + 64 * 1024,
            "{path}: its thread got {got} bytes"
        );
        let f = findings(&doc, "musl-thread-stack", &path);
        assert_eq!(f.len(), usize::from(finding), "{path}: {f:?}");
    }
}
