//! What a person sees: colors that keep the columns, names as JSON spells them, grouped check
//! findings, the tree of a program whose interpreter is missing, the warning for a ROOT that is not
//! a root filesystem, the progress line only for work that lasts, and a README whose quick start
//! and example are true. Most run on the sample root (`sample-rootfs/build.sh`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;
use support::elfdeps;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The sample root, built once per test binary under Cargo's per-target temporary directory.
/// `None` after a loud skip (a failure in CI) when it cannot be built.
fn sample() -> Option<&'static Path> {
    static SAMPLE: OnceLock<Option<PathBuf>> = OnceLock::new();
    SAMPLE
        .get_or_init(|| support::sample_root("output-sample-rootfs", "tests on the sample root"))
        .as_deref()
}

/// A private copy of the sample root, to add files to.
fn sample_copy() -> Option<tempfile::TempDir> {
    let s = sample()?;
    let t = tempfile::tempdir().expect("tempdir");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", s.display()))
        .arg(t.path())
        .status()
        .expect("cp");
    assert!(copied.success(), "cp -a of the sample root");
    Some(t)
}

/// `text` without its ANSI escape sequences (CSI: ESC `[` parameters, one final byte).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn colors_do_not_move_the_columns() {
    let Some(s) = sample() else { return };
    let r = s.to_str().expect("utf-8");
    let hello = format!("{r}/usr/bin/hello");
    let cases: [&[&str]; 6] = [
        &["scan", r],
        &["check", r],
        &["check", r, "--all"],
        &["tree", r, "/usr/bin/greet"],
        &["why", r, "libc.so.6"],
        &["check", "--files", &hello],
    ];
    for args in cases {
        let with = |c: &str| {
            let mut a = args.to_vec();
            a.extend(["--color", c]);
            elfdeps(&a)
        };
        let (on, off) = (with("always"), with("never"));
        assert_eq!(on.status.code(), off.status.code(), "{args:?}");
        let (on, off) = (stdout(&on), stdout(&off));
        assert!(on.contains('\x1b'), "{args:?}: --color always colors");
        assert!(!off.contains('\x1b'), "{args:?}: --color never does not");
        assert_eq!(strip_ansi(&on), off, "{args:?}: colors changed the layout");
    }
}

#[test]
fn human_output_spells_names_as_json_does() {
    let Some(s) = sample() else { return };
    let hello = s.join("usr/bin/hello");
    let o = elfdeps(&["check", "--files", hello.to_str().expect("utf-8")]);
    let text = stdout(&o);
    assert!(
        text.contains("glibc (high: interpreter /lib64/ld-linux-x86-64.so.2)"),
        "{text}"
    );
    assert!(!text.contains("High"), "Rust Debug names: {text}");
    let scan = stdout(&elfdeps(&["scan", s.to_str().expect("utf-8")]));
    assert!(scan.contains("    class     ELF64 13\n"), "{scan}");
}

/// The findings of a `check --format json` document: (code, path).
fn findings(doc: &Value) -> Vec<(String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn check_groups_findings_by_code_and_directory_unless_all() {
    let Some(t) = sample_copy() else { return };
    let root = t.path();
    let bin = root.join("usr/bin");
    for n in ["needs-missing2", "needs-missing3"] {
        std::fs::copy(bin.join("needs-missing"), bin.join(n)).expect("copy");
    }
    std::fs::create_dir_all(root.join("usr/local/bin")).expect("mkdir");
    std::fs::copy(
        bin.join("needs-missing"),
        root.join("usr/local/bin/needs-missing4"),
    )
    .expect("copy");
    let r = root.to_str().expect("utf-8");

    let grouped = elfdeps(&["check", r]);
    assert_eq!(grouped.status.code(), Some(1), "{}", stderr(&grouped));
    let text = stdout(&grouped);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("library-missing"))
        .collect();
    assert_eq!(
        lines,
        [
            "    error   library-missing  3 in /usr/bin, e.g. /usr/bin/needs-missing",
            "    error   library-missing  /usr/local/bin/needs-missing4",
        ],
        "{text}"
    );
    assert!(!text.contains("needs-missing2"), "{text}");
    assert!(
        text.contains(
            "7 findings in 5 groups by code and directory, one example each (--all lists every finding)"
        ),
        "{text}"
    );
    // The example keeps its message and hint.
    assert!(
        text.contains("            needs libabsent.so.1, which the loader does not find\n"),
        "{text}"
    );

    let all = elfdeps(&["check", r, "--all"]);
    assert_eq!(all.status.code(), Some(1));
    let text = stdout(&all);
    for p in [
        "/usr/bin/needs-missing\n",
        "/usr/bin/needs-missing2\n",
        "/usr/bin/needs-missing3\n",
        "/usr/local/bin/needs-missing4\n",
    ] {
        assert!(
            text.contains(&format!("library-missing  {p}")),
            "{p}: {text}"
        );
    }
    assert!(!text.contains("groups by code"), "{text}");

    // The machine formats list every finding.
    let json = elfdeps(&["check", r, "-f", "json"]);
    let doc: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let missing = findings(&doc)
        .into_iter()
        .filter(|(c, _)| c == "library-missing")
        .count();
    assert_eq!(missing, 4);
    let sarif = elfdeps(&["check", r, "-f", "sarif"]);
    let doc: Value = serde_json::from_slice(&sarif.stdout).expect("SARIF");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), 7, "{results:?}");
}

/// tree's exit codes (README, `tree --help`): 0 when everything is found, 1 when something the
/// loader needs is missing (the report still written, in every format), 2 on an input error.
#[test]
fn tree_exit_codes_say_whether_the_file_would_start() {
    let Some(s) = sample() else { return };
    let r = s.to_str().expect("utf-8");
    let ok = elfdeps(&["tree", r, "/usr/bin/hello"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    for args in [
        &["tree", r, "/usr/bin/needs-missing"][..],
        &["tree", r, "/usr/bin/needs-missing", "--flat"],
        &["tree", r, "/usr/bin/needs-missing", "-f", "json"],
    ] {
        let o = elfdeps(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains("not found"), "{args:?}: {}", stdout(&o));
    }
    let input = elfdeps(&["tree", r, "/usr/bin/no-such-file"]);
    assert_eq!(input.status.code(), Some(2), "{}", stderr(&input));
    let help = stdout(&elfdeps(&["tree", "--help"]));
    assert!(
        help.contains("Exit 0 when the loader finds everything") && help.contains(", 1 when"),
        "tree --help does not document its exit codes:\n{help}"
    );
}

#[test]
fn tree_of_a_musl_program_without_its_interpreter() {
    let Some(s) = sample() else { return };
    let o = elfdeps(&["tree", s.to_str().expect("utf-8"), "/usr/bin/hello-musl"]);
    // It cannot start: tree answers "no" with 1, the tree still written.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "/usr/bin/hello-musl (pie, x86_64) [musl loader /lib/ld-musl-x86_64.so.1: missing]",
            "  cannot start: its interpreter /lib/ld-musl-x86_64.so.1 cannot be opened inside the \
             root: /usr/lib/ld-musl-x86_64.so.1 does not exist",
            "  what the root's glibc loader /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 would \
             load for it (what ldd shows):",
            "└── libc.so => not found: cannot open shared object file: No such file or directory",
        ],
        "{text}"
    );
}

#[test]
fn a_subtree_as_root_is_warned_about_and_a_root_is_not() {
    let Some(s) = sample() else { return };
    let usr = s.join("usr");
    let u = usr.to_str().expect("utf-8");
    for args in [
        vec!["scan", u],
        vec!["scan", u, "-f", "json"],
        vec!["check", u],
        vec!["check", u, "-f", "json"],
    ] {
        let o = elfdeps(&args);
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "elfdeps: warning: {u} has no usr directory: it does not look like a root filesystem"
            )) && err.contains("(not-a-root)")
                && err.contains("Give the root filesystem instead"),
            "{args:?}: {err}"
        );
        if args.contains(&"json") {
            let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
            let w = doc["warnings"].as_array().expect("warnings");
            assert_eq!(w.len(), 1, "{w:?}");
            assert_eq!(w[0]["code"], "not-a-root");
            assert!(w[0]["message"].as_str().unwrap_or("").contains(u));
        }
    }
    let r = s.to_str().expect("utf-8");
    let o = elfdeps(&["scan", r, "-f", "json"]);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["warnings"], serde_json::json!([]));
    // A root without a usr directory of its own but with one through a symlink is a root.
    let t = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(t.path().join("real/usr")).expect("mkdir");
    std::os::unix::fs::symlink("real/usr", t.path().join("usr")).expect("symlink");
    let o = elfdeps(&["scan", t.path().to_str().expect("utf-8"), "-f", "json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["warnings"], serde_json::json!([]), "{}", stderr(&o));
}

/// Runs `elfdeps ARGS` with a terminal as stdin, stdout and stderr (`script` from util-linux), and
/// returns everything written to it.
fn on_a_terminal(args: &[&str]) -> Option<String> {
    if !support::require_tool_or_skip("script", "util-linux", "progress on a terminal") {
        return None;
    }
    let mut cmd = shell_quote(&support::elfdeps_bin().to_string_lossy());
    for a in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("script");
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn progress_only_for_work_that_lasts_with_whole_rates() {
    let Some(s) = sample() else { return };
    let r = s.to_str().expect("utf-8");
    for args in [
        vec!["tree", r, "/usr/bin/hello"],
        vec!["why", r, "libc.so.6"],
        vec!["scan", r],
    ] {
        let Some(text) = on_a_terminal(&args) else {
            return;
        };
        assert!(
            text.contains("libc.so.6") || text.contains("walked"),
            "{args:?} ran: {text:?}"
        );
        assert!(
            !text.contains("scanning"),
            "{args:?}: a progress line for a 13-file root: {text:?}"
        );
    }
    // A scan that lasts (tens of thousands of files, with the unoptimized test binary) shows it,
    // with a whole number of files per second. A machine fast enough to finish within the delay
    // shows nothing, which is right too.
    let Some(text) = on_a_terminal(&["scan", "/usr/lib", "-f", "json", "-o", "/dev/null"]) else {
        return;
    };
    for rate in text
        .split(" files (")
        .skip(1)
        .filter_map(|r| r.split("/s").next())
    {
        assert!(
            !rate.is_empty() && rate.chars().all(|c| c.is_ascii_digit() || c == ','),
            "rate {rate:?} in {text:?}"
        );
    }
}

/// The lines of the first fenced block after `heading` in README.md.
fn readme_block(after: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let rest = &readme[readme
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in README"))..];
    let start = rest.find("```").expect("a fenced block");
    let body = &rest[start..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    let end = body.find("```").expect("closing fence");
    body[..end].lines().map(str::to_string).collect()
}

#[test]
fn readme_quick_start_scans_a_root() {
    let block = readme_block("## Quick start");
    let first = block[0].split('#').next().unwrap_or("").trim().to_string();
    let args: Vec<&str> = first
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| panic!("quick start's first command runs elfdeps: {first}"))
        .split_whitespace()
        .collect();
    assert_eq!(args.first(), Some(&"scan"), "{first}");
    // Whether ROOT looks like a root is decided on its top level: one level, facts only, keeps
    // this cheap on a big `/`.
    let mut cheap = args.clone();
    cheap.extend(["--max-depth", "1", "--no-resolve", "-f", "json", "-q"]);
    let o = elfdeps(&cheap);
    assert!(o.status.success(), "{first}: {}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(
        doc["warnings"],
        serde_json::json!([]),
        "the README's first command must scan a root: {first}"
    );
}

#[test]
fn readme_example_is_what_the_sample_root_gives() {
    let Some(s) = sample() else { return };
    let block = readme_block("Example (the [sample root]");
    let o = elfdeps(&["scan", s.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = stdout(&o).replacen(
        &format!("elfdeps scan {}", s.display()),
        "elfdeps scan target/sample-rootfs",
        1,
    );
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got, block, "README.md's example is not what elfdeps prints");
}

#[test]
fn release_binary_carries_no_debug_info() {
    // 44 MB with line tables against 7.7 MB without (figures in Cargo.toml's comment): users get
    // the small one; `--profile profiling` keeps line tables for perf and debuggers.
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("Cargo.toml parses");
    let release = &manifest["profile"]["release"];
    assert_eq!(
        release.get("debug"),
        Some(&toml::Value::Boolean(false)),
        "{release:?}"
    );
    assert_eq!(
        manifest["profile"]["profiling"]["debug"].as_str(),
        Some("line-tables-only")
    );
}
