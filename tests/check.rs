//! `elfdeps check`: libc flavors, findings and the policy gate, on artifacts built here (gcc,
//! musl-gcc, zig cc for an old-glibc-incompatible program) and on the real test roots.

mod ground_truth;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{describe, elfdeps};

const MAIN: &str = "int main(void) { return 0; }\n";
/// strlcpy arrived in glibc 2.38: a program using it needs GLIBC_2.38.
const STRLCPY: &str = "#include <string.h>\n#include <stdio.h>\nint main(int c, char **v) { char b[8]; strlcpy(b, v[0], sizeof b); puts(b); return c > 5; }\n";

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_src(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write source");
    p
}

/// Builds the artifacts: `glibc/` (gcc), `musl/` (musl-gcc), `zig/` (zig cc for glibc 2.39).
/// `None` after a loud skip when a compiler is missing (a failure in CI).
fn artifacts() -> Option<tempfile::TempDir> {
    if !support::require_tool_or_skip("gcc", "gcc", "check --files")
        || !support::require_tool_or_skip("musl-gcc", "musl-tools", "check --files")
    {
        return None;
    }
    let zig_ok = Command::new("python3")
        .args(["-m", "ziglang", "version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !zig_ok {
        support::skip(
            "check --files with a zig-built artifact",
            "zig is not installed (pip install ziglang, or run scripts/test)",
        );
        return None;
    }
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path().join("src");
    for d in ["src", "glibc", "musl", "zig", "mixed"] {
        std::fs::create_dir(t.path().join(d)).expect("mkdir");
    }
    let main = write_src(&src, "main.c", MAIN);
    let strl = write_src(&src, "strl.c", STRLCPY);
    let g = t.path().join("glibc");
    run(
        Command::new("gcc")
            .arg("-o")
            .arg(g.join("hello"))
            .arg(&main),
        "gcc",
    );
    run(
        Command::new("gcc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(g.join("libhello.so"))
            .arg(&main),
        "gcc -shared",
    );
    let m = t.path().join("musl");
    run(
        Command::new("musl-gcc")
            .arg("-o")
            .arg(m.join("hello-musl"))
            .arg(&main),
        "musl-gcc",
    );
    run(
        Command::new("musl-gcc")
            .arg("-static")
            .arg("-o")
            .arg(m.join("hello-musl-static"))
            .arg(&main),
        "musl-gcc -static",
    );
    let z = t.path().join("zig");
    run(
        Command::new("python3")
            .args([
                "-m",
                "ziglang",
                "cc",
                "-target",
                "x86_64-linux-gnu.2.39",
                "-o",
            ])
            .arg(z.join("strl-2.39"))
            .arg(&strl),
        "zig cc -target x86_64-linux-gnu.2.39",
    );
    // A mixed directory: everything.
    for (from, name) in [
        (g.join("hello"), "hello"),
        (m.join("hello-musl"), "hello-musl"),
        (m.join("hello-musl-static"), "hello-musl-static"),
        (z.join("strl-2.39"), "strl-2.39"),
    ] {
        std::fs::copy(&from, t.path().join("mixed").join(name)).expect("copy artifact");
    }
    Some(t)
}

fn findings(doc: &Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn files_deny_musl_names_only_musl_artifacts() {
    let Some(t) = artifacts() else { return };
    let mixed = t.path().join("mixed");
    let m = mixed.to_str().expect("utf-8 tempdir");
    let out = elfdeps(&["check", "--files", m, "--deny-libc", "musl", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let denied: Vec<String> = findings(&doc)
        .into_iter()
        .filter(|(c, _, _)| c == "libc-denied")
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(
        denied,
        vec![format!("{m}/hello-musl"), format!("{m}/hello-musl-static")],
        "{}",
        describe(&out)
    );
    // Each artifact is classified.
    let flavors: Vec<(String, String)> = doc["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| {
            (
                a["path"]
                    .as_str()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string(),
                a["libc"]["flavor"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        flavors,
        [
            ("hello", "glibc"),
            ("hello-musl", "musl"),
            ("hello-musl-static", "musl"),
            ("strl-2.39", "glibc")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // A glibc-only directory passes.
    let g = t.path().join("glibc");
    let out = elfdeps(&[
        "check",
        "--files",
        g.to_str().expect("utf-8"),
        "--deny-libc",
        "musl",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // Single files work too, and the human output names the musl file.
    let out = elfdeps(&[
        "check",
        "--files",
        &format!("{m}/hello"),
        &format!("{m}/hello-musl"),
        "--deny-libc",
        "musl",
        "--color",
        "never",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("libc-denied  ") && stdout.contains("hello-musl"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn files_max_glibc_names_the_version_and_the_symbol() {
    let Some(t) = artifacts() else { return };
    let mixed = t.path().join("mixed");
    let m = mixed.to_str().expect("utf-8 tempdir");
    let out = elfdeps(&["check", "--files", m, "--max-glibc", "2.36", "-f", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let f: Vec<&Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "glibc-too-new")
        .collect();
    assert_eq!(f.len(), 1, "only the zig-built program: {}", describe(&out));
    assert_eq!(f[0]["path"], format!("{m}/strl-2.39").as_str());
    assert_eq!(f[0]["version"], "GLIBC_2.38");
    assert!(
        f[0]["symbols"]
            .as_array()
            .expect("symbols")
            .iter()
            .any(|s| s == "strlcpy"),
        "{}",
        f[0]
    );
    let msg = f[0]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("GLIBC_2.38") && msg.contains("strlcpy"),
        "{msg}"
    );
    // 2.38 allows it; the gcc one (2.34) passes 2.36.
    let out = elfdeps(&["check", "--files", m, "--max-glibc", "2.38"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check", "/nonexistent-root-for-elfdeps"][..],
        &["check", "--files", "/", "--max-glibc", "two"],
        &["check", "--files", "/", "--deny-libc", "bionic"],
        &["check", "--files", "/", "--deny", "no-such-code"],
        &["check", "/", "--format", "dot"],
    ] {
        let out = elfdeps(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(!out.stderr.is_empty(), "{args:?} must say why");
    }
}

/// Copies the glibc hard-case root (small) to a tempdir, adds `add`, and checks it.
fn hard(sub: &str) -> Option<PathBuf> {
    if !support::require_root_or_skip("check on the hard-case roots") {
        return None;
    }
    Some(support::root("hard-cases")?.join(sub))
}

fn check_json(root: &Path, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec![
        "check",
        root.to_str().expect("utf-8 root"),
        "-f",
        "json",
        "-q",
    ];
    args.extend_from_slice(extra);
    let out = elfdeps(&args);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json from check: {e}\n{}", describe(&out)));
    (out.status.code(), doc, describe(&out))
}

fn has(doc: &Value, code: &str, path: &str) -> bool {
    findings(doc).iter().any(|(c, p, _)| c == code && p == path)
}

#[test]
fn musl_program_in_a_glibc_root() {
    let Some(root) = hard("glibc") else { return };
    let (code, doc, _) = check_json(&root, &[]);
    assert_eq!(code, Some(1));
    assert!(
        has(&doc, "interpreter-missing", "/usr/bin/musl-hello"),
        "{doc:#}"
    );
    assert!(has(&doc, "libc-mismatch", "/usr/bin/musl-hello"));
    // A library added to /usr/local/lib without ldconfig: missing, with the stale cache as hint.
    let f = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "library-missing" && f["path"] == "/usr/bin/uses-new")
        .expect("library-missing for /usr/bin/uses-new");
    assert_eq!(f["severity"], "error");
    let hint = f["hint"].as_str().unwrap_or("");
    assert!(
        hint.contains("stale") && hint.contains("ldconfig"),
        "{hint}"
    );
    assert!(has(&doc, "stale-ld-cache", "/etc/ld.so.cache"));
    // Per-object libc and the root's libc.
    let libcs = doc["libcs"].as_array().expect("libcs");
    assert_eq!(libcs[0]["flavor"], "glibc");
    assert_eq!(libcs[0]["version"], "2.36");
}

#[test]
fn glibc_program_and_module_in_a_musl_root() {
    let Some(root) = hard("musl") else { return };
    let (code, doc, _) = check_json(&root, &[]);
    assert_eq!(code, Some(1));
    assert!(
        has(&doc, "interpreter-missing", "/usr/bin/glibc-hello"),
        "{doc:#}"
    );
    assert!(has(&doc, "libc-mismatch", "/usr/bin/glibc-hello"));
    assert!(has(&doc, "libc-mismatch", "/usr/lib/glibc-module.so"));
    assert!(!has(
        &doc,
        "interpreter-missing",
        "/usr/lib/glibc-module.so"
    ));
    // The module's import musl's libc lacks, read from the root's libc.
    let sym = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "libc-symbols-missing" && f["path"] == "/usr/lib/glibc-module.so")
        .unwrap_or_else(|| panic!("libc-symbols-missing for the module: {doc:#}"));
    assert_eq!(sym["symbols"], serde_json::json!(["__strdup"]));
    // Alpine's own objects are musl and fine (but for the musl advisories, info).
    let objects = doc["objects"].as_array().expect("objects");
    let apk = objects
        .iter()
        .find(|o| o["path"] == "/sbin/apk")
        .expect("/sbin/apk");
    assert_eq!(apk["libc"]["flavor"], "musl");
    assert!(
        !findings(&doc)
            .iter()
            .any(|(c, p, _)| p == "/sbin/apk" && !c.starts_with("musl-"))
    );
}

#[test]
fn glibc_2_38_program_on_a_bookworm_root() {
    let Some(base) = hard("glibc") else { return };
    let Some(t) = artifacts() else { return };
    // A copy of the (small) glibc hard-case root with the zig-built program added.
    let copy = tempfile::tempdir().expect("tempdir");
    let root = copy.path().join("root");
    run(
        Command::new("cp").arg("-a").arg(&base).arg(&root),
        "cp -a the hard-case root",
    );
    std::fs::copy(
        t.path().join("zig/strl-2.39"),
        root.join("usr/bin/strl-2.39"),
    )
    .expect("copy");
    let (code, doc, out) = check_json(&root, &[]);
    assert_eq!(code, Some(1), "{out}");
    let f = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "version-missing" && f["path"] == "/usr/bin/strl-2.39")
        .unwrap_or_else(|| panic!("no version-missing for the 2.38 program: {out}"));
    assert_eq!(f["version"], "GLIBC_2.38");
    assert!(
        f["symbols"]
            .as_array()
            .expect("symbols")
            .iter()
            .any(|s| s == "strlcpy")
    );
    assert!(f["message"].as_str().unwrap_or("").contains("2.36"), "{f}");
}

#[test]
fn debian_root_has_no_error_findings() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let (code, doc, out) = check_json(root, &[]);
    let errors: Vec<_> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert!(
        errors.is_empty(),
        "error findings on a healthy Debian root: {errors:#?}"
    );
    assert_eq!(code, Some(0), "{out}");
    // The JDK libraries needing libjvm.so are explained, not failed.
    assert!(
        doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["code"] == "library-missing"
                && f["severity"] == "info"
                && f["library"] == "libjvm.so"),
        "expected info findings for libjvm.so users"
    );
    // Every ELF object got a libc.
    assert!(
        doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .all(|o| o["libc"]["flavor"].is_string())
    );
}

#[test]
fn policy_file_allow_baseline_and_unmatched_allow() {
    let Some(root) = hard("glibc") else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("elfdeps.toml");
    std::fs::write(
        &policy,
        r#"
fail-on = "error"
[[allow]]
code = "library-missing"
path = "/usr/bin/**"
reason = "test programs"
[[allow]]
path = "/never/matches/**"
"#,
    )
    .expect("write policy");
    let (code, doc, out) = check_json(&root, &["--policy", policy.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "other errors remain: {out}");
    let gate = &doc["gate"];
    assert!(gate["suppressed"].as_u64().unwrap_or(0) >= 4, "{gate}");
    assert_eq!(
        gate["unmatched_allows"],
        serde_json::json!(["/never/matches/**"])
    );
    // A baseline of this very report accepts everything: the gate passes.
    let baseline = dir.path().join("baseline.json");
    std::fs::write(&baseline, serde_json::to_vec(&doc).expect("json")).expect("write");
    let (code, doc2, out) = check_json(&root, &["--baseline", baseline.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(doc2["gate"]["violations"], 0);
    // --fail-on warning makes the stale cache fail too; --deny a code fails on info findings.
    let out = elfdeps(&[
        "check",
        root.to_str().expect("utf-8"),
        "--baseline",
        baseline.to_str().expect("utf-8"),
        "--deny",
        "stale-ld-cache",
    ]);
    assert_eq!(out.status.code(), Some(0), "baselined: {}", describe(&out));
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let Some(root) = hard("glibc") else { return };
    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schemas/sarif-schema-2.1.0.json");
    assert!(
        schema.is_file(),
        "{} is missing (../shared beside the clone)",
        schema.display()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let sarif = dir.path().join("out.sarif");
    let out = elfdeps(&[
        "check",
        root.to_str().expect("utf-8"),
        "-f",
        "sarif",
        "-o",
        sarif.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let v = Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
             jsonschema.validators.validator_for(schema)(schema).validate(doc)\n\
             print(len(doc['runs'][0]['results']))",
        )
        .arg(&schema)
        .arg(&sarif)
        .output()
        .expect("python3");
    if !v.status.success()
        && String::from_utf8_lossy(&v.stderr).contains("No module named 'jsonschema'")
    {
        support::skip(
            "SARIF schema validation",
            "python3 jsonschema is missing (pip install jsonschema, or run scripts/test)",
        );
        return;
    }
    assert!(
        v.status.success(),
        "SARIF does not validate: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let n: usize = String::from_utf8_lossy(&v.stdout)
        .trim()
        .parse()
        .expect("count");
    assert!(n >= 10, "{n} results");
    let doc: Value = serde_json::from_slice(&std::fs::read(&sarif).expect("read")).expect("json");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(rules.iter().any(|r| r["id"] == "interpreter-missing"));
    assert!(
        run["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["ruleId"] == "interpreter-missing"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    == "usr/bin/musl-hello")
    );
    // scan writes SARIF too.
    let out = elfdeps(&["scan", root.to_str().expect("utf-8"), "-f", "sarif", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let _: Value = serde_json::from_slice(&out.stdout).expect("scan sarif is json");
}

#[test]
fn junit_parses_with_the_expected_failures() {
    let Some(root) = hard("musl") else { return };
    let out = elfdeps(&["check", root.to_str().expect("utf-8"), "-f", "junit", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let dir = tempfile::tempdir().expect("tempdir");
    let xml = dir.path().join("junit.xml");
    std::fs::write(&xml, &out.stdout).expect("write");
    let v = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             for tc in root.iter('testcase'):\n\
             \x20   f = tc.find('failure')\n\
             \x20   if f is not None: print(tc.get('name'), f.get('type'))\n\
             print('tests', root.get('tests'))",
        )
        .arg(&xml)
        .output()
        .expect("python3");
    assert!(
        v.status.success(),
        "JUnit does not parse: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    let listing = String::from_utf8_lossy(&v.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("/usr/bin/glibc-hello ")
                && l.contains("interpreter-missing")
                && l.contains("libc-mismatch")),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l == "/usr/lib/glibc-module.so libc-mismatch,libc-symbols-missing"),
        "{listing}"
    );
    assert!(!listing.contains("/sbin/apk "), "{listing}");
    let tests: usize = listing
        .lines()
        .find_map(|l| l.strip_prefix("tests "))
        .and_then(|n| n.parse().ok())
        .expect("tests count");
    assert!(tests >= 30, "one testcase per object: {tests}");
}

#[test]
fn symbols_finds_what_nothing_defines() {
    let Some(root) = hard("glibc") else { return };
    let (_, doc, out) = check_json(&root, &["--symbols"]);
    let unresolved: Vec<&Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "unresolved-symbol")
        .collect();
    assert_eq!(unresolved.len(), 1, "{out}");
    assert_eq!(unresolved[0]["path"], "/usr/bin/needs-vers2");
    assert_eq!(unresolved[0]["symbols"], serde_json::json!(["vf"]));
    assert_eq!(unresolved[0]["version"], "VERS_2");
    // Without --symbols, nothing is read for it.
    let (_, doc, _) = check_json(&root, &[]);
    assert!(
        !findings(&doc)
            .iter()
            .any(|(c, _, _)| c == "unresolved-symbol")
    );
}

/// A copy of a cached test root in a tempdir, to break.
fn copy_of(key: &str, sub: Option<&str>) -> Option<(tempfile::TempDir, PathBuf)> {
    let mut base = support::root(key)?.to_path_buf();
    if let Some(s) = sub {
        base = base.join(s);
    }
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    run(
        Command::new("cp").arg("-a").arg(&base).arg(&root),
        "cp -a the test root",
    );
    Some((t, root))
}

/// A fresh Alpine x86_64 minirootfs from ../shared/fixtures, unpacked in a tempdir to break (the
/// tarball, not the cached root: these tests must start from the real image, whatever else ran).
fn fresh_alpine() -> (tempfile::TempDir, PathBuf) {
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz");
    assert!(tarball.is_file(), "missing fixture {}", tarball.display());
    let t = tempfile::tempdir().expect("tempdir");
    let root = t.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&root)
            .arg("--no-same-owner"),
        "unpack the Alpine minirootfs",
    );
    (t, root)
}

/// The `library-missing` finding for `path` needing `library`.
fn missing_finding(doc: &Value, path: &str, library: &str) -> Value {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == "library-missing" && f["path"] == path && f["library"] == library)
        .unwrap_or_else(|| panic!("no library-missing for {path} needing {library}: {doc:#}"))
        .clone()
}

/// Alpine with `/lib/libssl.so.3` deleted: `/usr/lib/libssl.so.3` is a symlink to it, now
/// dangling. The hint used to say "libssl.so.3 exists at /usr/lib/libssl.so.3: add its directory
/// to the RUNPATH ... or to ld.so.conf and run ldconfig": a file that does not resolve, a directory
/// musl already searches, and tools musl does not have.
#[test]
fn alpine_deleted_library_hint_follows_musl_and_the_file() {
    let (_t, root) = fresh_alpine();
    assert!(
        std::fs::symlink_metadata(root.join("usr/lib/libssl.so.3"))
            .expect("usr/lib/libssl.so.3")
            .file_type()
            .is_symlink()
            && std::fs::symlink_metadata(root.join("lib/libssl.so.3"))
                .expect("lib/libssl.so.3")
                .file_type()
                .is_file(),
        "the Alpine minirootfs changed its libssl layout"
    );
    std::fs::remove_file(root.join("lib/libssl.so.3")).expect("delete /lib/libssl.so.3");
    let (code, doc, out) = check_json(&root, &[]);
    assert_eq!(code, Some(1), "{out}");
    for p in ["/sbin/apk", "/usr/bin/ssl_client", "/lib/libapk.so.2.14.0"] {
        let f = missing_finding(&doc, p, "libssl.so.3");
        let hint = f["hint"].as_str().unwrap_or("");
        assert_eq!(
            hint,
            "/usr/lib/libssl.so.3 is a symlink to ../../lib/libssl.so.3, which does not exist in the root: reinstall the package that provides libssl.so.3",
            "{p}"
        );
    }
}

/// musl: a library moved to a directory musl does not search. The hint names what musl honours
/// (the RUNPATH, the path file, which replaces its default path), never ld.so.conf or ldconfig;
/// following it makes the real musl loader find the library.
#[test]
fn musl_hint_names_the_path_file_and_following_it_works() {
    if !support::require_root_or_skip("running musl's loader in the root") {
        return;
    }
    let (_t, root) = fresh_alpine();
    std::fs::create_dir_all(root.join("opt/ssl")).expect("mkdir");
    std::fs::rename(
        root.join("lib/libssl.so.3"),
        root.join("opt/ssl/libssl.so.3"),
    )
    .expect("mv");
    std::fs::remove_file(root.join("usr/lib/libssl.so.3")).expect("rm the /usr/lib link");
    let (_, doc, out) = check_json(&root, &[]);
    let f = missing_finding(&doc, "/sbin/apk", "libssl.so.3");
    assert_eq!(f["severity"], "error", "{out}");
    let hint = f["hint"].as_str().unwrap_or("");
    assert_eq!(
        hint,
        "libssl.so.3 exists at /opt/ssl/libssl.so.3: add /opt/ssl to the RUNPATH ($ORIGIN-relative), or create /etc/ld-musl-x86_64.path listing /lib, /usr/local/lib, /usr/lib and /opt/ssl (musl has no ld.so.conf or ldconfig; that file replaces its default path)"
    );
    // Do what it says, and ask musl.
    let before = ground_truth::musl_truth(&root, "x86_64", &["/sbin/apk".to_string()]);
    assert!(before["/sbin/apk"].missing.contains("libssl.so.3"));
    std::fs::write(
        root.join("etc/ld-musl-x86_64.path"),
        "/lib\n/usr/local/lib\n/usr/lib\n/opt/ssl\n",
    )
    .expect("write the path file");
    let after = ground_truth::musl_truth(&root, "x86_64", &["/sbin/apk".to_string()]);
    assert!(
        after["/sbin/apk"].closure.contains("/opt/ssl/libssl.so.3"),
        "{:?}",
        after["/sbin/apk"]
    );
    let (_, doc, out) = check_json(&root, &[]);
    assert!(!has(&doc, "library-missing", "/sbin/apk"), "{out}");
    // With a path file present, the hint names that file.
    std::fs::write(root.join("etc/ld-musl-x86_64.path"), "/lib\n/usr/lib\n").expect("write");
    let (_, doc, _) = check_json(&root, &[]);
    let f = missing_finding(&doc, "/sbin/apk", "libssl.so.3");
    assert_eq!(
        f["hint"],
        "libssl.so.3 exists at /opt/ssl/libssl.so.3: add /opt/ssl to the RUNPATH ($ORIGIN-relative) or to /etc/ld-musl-x86_64.path, musl's system path"
    );
}

/// glibc: a library whose file has only its full version name in a default directory (`/usr/lib`
/// here, which ld.so searches and ldconfig scans, but which is not in ld.so.conf). The hint used to
/// say "add its directory to the RUNPATH or to ld.so.conf"; the directory is already searched, by
/// file name: ldconfig creates the soname link. Following the hint makes the real loader find it.
/// A dangling link in an ld.so.conf directory is not "in an ld.so.conf directory" either.
#[test]
fn glibc_hint_only_adds_directories_not_searched() {
    let Some(_) = hard("glibc") else { return };
    let Some((t, root)) = copy_of("hard-cases", Some("glibc")) else {
        return;
    };
    let aside = t.path().join("libnew.so.1.0.0");
    // A dangling link in an ld.so.conf directory: running ldconfig would not help (it deletes
    // such links); the package lost its file.
    std::fs::rename(root.join("usr/local/lib/libnew.so.1"), &aside).expect("mv");
    std::os::unix::fs::symlink("libnew.so.1.0.0", root.join("usr/local/lib/libnew.so.1"))
        .expect("symlink");
    let (_, doc, out) = check_json(&root, &[]);
    let f = missing_finding(&doc, "/usr/bin/uses-new", "libnew.so.1");
    assert_eq!(
        f["hint"],
        "/usr/local/lib/libnew.so.1 is a symlink to libnew.so.1.0.0, which does not exist in the root: reinstall the package that provides libnew.so.1",
        "{out}"
    );
    // The library as a versioned file in /usr/lib only.
    std::fs::remove_file(root.join("usr/local/lib/libnew.so.1")).expect("rm");
    std::fs::rename(&aside, root.join("usr/lib/libnew.so.1.0.0")).expect("mv");
    let (_, doc, out) = check_json(&root, &[]);
    let f = missing_finding(&doc, "/usr/bin/uses-new", "libnew.so.1");
    assert_eq!(
        f["hint"],
        "/usr/lib/libnew.so.1.0.0 has the soname libnew.so.1, but no file of that name leads to it: run ldconfig in the root (/usr/lib is a directory it scans; it creates the link libnew.so.1 -> libnew.so.1.0.0 and caches it)",
        "{out}"
    );
    let before = ground_truth::glibc_truth(&root, &["/usr/bin/uses-new".to_string()]);
    assert!(before["/usr/bin/uses-new"].missing.contains("libnew.so.1"));
    run(
        Command::new("ldconfig").arg("-r").arg(&root),
        "ldconfig -r ROOT",
    );
    let after = ground_truth::glibc_truth(&root, &["/usr/bin/uses-new".to_string()]);
    assert!(
        after["/usr/bin/uses-new"]
            .closure
            .contains("/usr/lib/libnew.so.1.0.0"),
        "{:?}",
        after["/usr/bin/uses-new"]
    );
    let (_, doc, out) = check_json(&root, &[]);
    assert!(!has(&doc, "library-missing", "/usr/bin/uses-new"), "{out}");
}

#[test]
fn files_that_are_not_elf_or_none_at_all_are_no_pass() {
    let t = tempfile::tempdir().expect("tempdir");
    let text_file = t.path().join("passwd");
    std::fs::write(&text_file, "root:x:0:0:root:/root:/bin/bash\n").expect("write");
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let tf = text_file.to_str().expect("utf-8");
    // A file that is not ELF: said so, not called unreadable, and no PASS before the exit 2.
    for format in ["human", "json"] {
        let out = elfdeps(&["check", "--files", tf, "-f", format, "--color", "never"]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{tf} is not an ELF file")),
            "{}",
            describe(&out)
        );
        assert!(err.contains("found no ELF file"), "{}", describe(&out));
        assert!(!err.contains("could be read"), "{}", describe(&out));
        assert!(
            out.stdout.is_empty(),
            "no report, no PASS: {}",
            describe(&out)
        );
    }
    // A directory without ELF files: a gate that passes on nothing is refused.
    for format in ["human", "json", "sarif", "junit"] {
        let out = elfdeps(&[
            "check",
            "--files",
            empty.to_str().expect("utf-8"),
            "-f",
            format,
        ]);
        assert_eq!(out.status.code(), Some(2), "{format}: {}", describe(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("found no ELF file in"),
            "{format}: {}",
            describe(&out)
        );
        assert!(
            err.contains("nothing to judge"),
            "{format}: {}",
            describe(&out)
        );
        assert!(out.stdout.is_empty(), "{format}: {}", describe(&out));
    }
    // Next to an ELF file, a file that is not ELF is skipped with a note, not an error.
    let elf = support::elfdeps_bin().to_str().expect("utf-8");
    let out = elfdeps(&["check", "--files", tf, elf, "-f", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["errors"], serde_json::json!([]), "{}", describe(&out));
    assert_eq!(doc["skipped"][0]["path"], tf, "{}", describe(&out));
    assert_eq!(doc["skipped"][0]["code"], "not-elf", "{}", describe(&out));
    assert_eq!(doc["artifacts"].as_array().map(Vec::len), Some(1));
    let out = elfdeps(&["check", "--files", tf, elf, "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("unreadable"),
        "{}",
        describe(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("note: {tf}: not an ELF file")),
        "{}",
        describe(&out)
    );
}
