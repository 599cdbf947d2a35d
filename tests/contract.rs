//! The output contract of `elfdeps scan`, `check`, `packages` and `packages --unneeded` with
//! `-f json`, pinned byte for byte by snapshots (insta) under tests/snapshots/: on the sample root
//! (sample-rootfs/build.sh) and on the glibc and musl hard-case roots (scripts/prepare-roots).
//! Each snapshot holds the exit status, stdout exactly as printed (key order, indentation and the
//! final newline included) and stderr. Only what varies between machines or runs is replaced:
//! the root's path (a temporary or cache directory) by `[ROOT]`, and the tool version of the
//! `tool` object by `[VERSION]`. Nothing in these outputs depends on time or on this CPU (the CPU
//! profile is the default baseline, not `host`).
//!
//! When a change of the output is deliberate, re-take the snapshots and review the diff:
//!
//! ```text
//! INSTA_UPDATE=always cargo test --test contract     # rewrites tests/snapshots/contract__*.snap
//! git diff tests/snapshots/                          # every change must be the intended one
//! ```
//!
//! or, with cargo-insta installed (`cargo install cargo-insta`), `cargo insta test --test contract`
//! then `cargo insta review` to accept or reject each change. Without either, a mismatch fails the
//! test: with `CI` set insta never writes a snapshot (INSTA_UPDATE=no), elsewhere it leaves the
//! new output beside the old one as a `.snap.new` file (git-ignored) and fails all the same.
//!
//! The roots are built on this machine from its compilers and its glibc (the sample root and the
//! glibc hard cases copy the host's ld.so, libc.so.6 and libm.so.6), so the snapshots hold for one
//! toolchain only: tests/snapshots/contract.toolchain records it. On another toolchain the tests do
//! not compare (a loud skip, a failure in CI) and say so; re-take the snapshots there from an
//! unchanged main first (INSTA_UPDATE=always also rewrites contract.toolchain), then compare.

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// The commands whose JSON is pinned: (snapshot name, arguments before ROOT).
const COMMANDS: [(&str, &[&str]); 4] = [
    ("scan", &["scan"]),
    ("check", &["check"]),
    ("packages", &["packages"]),
    ("packages_unneeded", &["packages", "--unneeded"]),
];

/// Commands pinned on the sample root only: (name, arguments before ROOT, after ROOT).
const SAMPLE_ONLY: [(&str, &[&str], &[&str]); 3] = [
    ("tree", &["tree"], &["/usr/bin/needs-missing"]),
    ("tree_musl", &["tree"], &["/usr/bin/hello-musl"]),
    ("why", &["why"], &["libc.so.6"]),
];

// ---------------------------------------------------------------------------------------------
// The toolchain the snapshots were taken with
// ---------------------------------------------------------------------------------------------

const TOOLCHAIN_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/snapshots/contract.toolchain"
);

/// What the roots are built from, besides this repository: the host glibc files they copy and
/// the compilers and linker that build their programs.
fn toolchain() -> String {
    let mut out = String::new();
    for file in [
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-musl/libc.a",
    ] {
        let hash = std::fs::read(file).map_or_else(
            |e| format!("unreadable ({})", e.kind()),
            |bytes| {
                let hex: String = Sha256::digest(bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!("sha256 {hex}")
            },
        );
        writeln!(out, "{file}: {hash}").unwrap();
    }
    for tool in ["gcc", "ld"] {
        let version = Command::new(tool)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .ok()
            .and_then(|o| {
                let text = String::from_utf8_lossy(&o.stdout).into_owned();
                text.lines().next().map(str::to_owned)
            })
            .unwrap_or_else(|| "not found".to_owned());
        writeln!(out, "{tool} --version: {version}").unwrap();
    }
    out
}

fn updating() -> bool {
    std::env::var("INSTA_UPDATE").is_ok_and(|v| v == "always")
}

static SAME_TOOLCHAIN: OnceLock<Result<(), String>> = OnceLock::new();

/// True when this machine's toolchain is the one of the snapshots (after INSTA_UPDATE=always
/// records it). Otherwise a loud skip, a failure in CI.
fn same_toolchain_or_skip(what: &str) -> bool {
    let verdict = SAME_TOOLCHAIN.get_or_init(|| {
        let here = toolchain();
        if updating() {
            let dir = Path::new(TOOLCHAIN_FILE).parent().expect("a directory");
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            std::fs::write(TOOLCHAIN_FILE, &here)
                .unwrap_or_else(|e| panic!("cannot write {TOOLCHAIN_FILE}: {e}"));
            return Ok(());
        }
        let recorded = std::fs::read_to_string(TOOLCHAIN_FILE).unwrap_or_default();
        if recorded == here {
            Ok(())
        } else {
            Err(format!(
                "the snapshots were taken with another toolchain, so they cannot be compared \
                 here. Recorded in {TOOLCHAIN_FILE}:\n{recorded}\nThis machine:\n{here}\
                 Re-take them from an unchanged main (INSTA_UPDATE=always cargo test --test \
                 contract), then compare"
            ))
        }
    });
    match verdict {
        Ok(()) => true,
        Err(reason) => {
            support::skip(what, reason);
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The roots
// ---------------------------------------------------------------------------------------------

/// The sample root, built once per test binary under Cargo's per-target temporary directory (a
/// directory of its own: tests/output.rs builds another). `None` after a loud skip.
fn sample() -> Option<PathBuf> {
    support::sample_root("contract-sample-rootfs", "the contract on the sample root")
}

/// One of the hard-case roots (`glibc`, `musl`). `None` after a loud skip.
fn hard_case(sub: &str) -> Option<PathBuf> {
    Some(support::root("hard-cases")?.join(sub))
}

// ---------------------------------------------------------------------------------------------
// The snapshot text
// ---------------------------------------------------------------------------------------------

/// The run as the snapshot holds it: exit status, stdout, stderr, with the root's path and the
/// tool version replaced.
fn contract_text(out: &Output, root: &Path) -> String {
    let root = root.to_str().expect("a UTF-8 root path");
    // The path appears in the JSON as it is only when it needs no escaping.
    assert!(
        root.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'),
        "the root path {root:?} would be escaped in JSON; use a plain one"
    );
    let stdout = String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8");
    // Empty after an input error (exit 2: `packages` on a root without a package database).
    let doc: serde_json::Value = if stdout.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", support::describe(out)))
    };
    let mut stdout = stdout.replace(root, "[ROOT]");
    if doc.get("tool").is_some() {
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            doc["tool"],
            serde_json::json!({"name": "elfdeps", "version": version}),
            "the tool object"
        );
        let start = stdout.find("\"tool\": {").expect("the tool object");
        let field = format!("\"version\": \"{version}\"");
        let at = start + stdout[start..].find(&field).expect("the tool version");
        stdout.replace_range(at..at + field.len(), "\"version\": \"[VERSION]\"");
    }
    let stderr = String::from_utf8_lossy(&out.stderr).replace(root, "[ROOT]");
    format!(
        "{}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}",
        out.status
    )
}

/// Runs `elfdeps CMD ROOT -f json -q` and compares with the snapshot `ROOTNAME__CMD`.
fn pin(root_name: &str, root: Option<PathBuf>, command: &str) {
    let what = format!("the contract of {command} on the {root_name} root");
    let Some(root) = root else {
        return;
    };
    if !same_toolchain_or_skip(&what) {
        return;
    }
    let (args, after): (&[&str], &[&str]) = COMMANDS
        .iter()
        .find(|(name, _)| *name == command)
        .map(|(_, a)| (*a, &[][..]))
        .or_else(|| {
            SAMPLE_ONLY
                .iter()
                .find(|(name, _, _)| *name == command)
                .map(|(_, a, b)| (*a, *b))
        })
        .expect("a pinned command");
    let out = support::Elfdeps::new(args)
        .arg(&root)
        .args(after)
        .args(["-f", "json", "-q"])
        .output();
    let text = contract_text(&out, &root);
    insta::with_settings!({
        description => format!("elfdeps {} [ROOT] {} -f json -q, on the {root_name} root", args.join(" "), after.join(" ")),
        omit_expression => true,
        prepend_module_to_snapshot => true,
    }, {
        insta::assert_snapshot!(format!("{root_name}__{command}"), text);
    });
}

/// One test per root and command, so that every mismatch shows at once.
macro_rules! contract {
    ($($test:ident: $root_name:literal, $root:expr, $command:literal;)*) => {
        $(
            #[test]
            fn $test() {
                pin($root_name, $root, $command);
            }
        )*
    };
}

contract! {
    sample_scan: "sample", sample(), "scan";
    sample_check: "sample", sample(), "check";
    sample_packages: "sample", sample(), "packages";
    sample_packages_unneeded: "sample", sample(), "packages_unneeded";
    hard_glibc_scan: "hard_glibc", hard_case("glibc"), "scan";
    hard_glibc_check: "hard_glibc", hard_case("glibc"), "check";
    hard_glibc_packages: "hard_glibc", hard_case("glibc"), "packages";
    hard_glibc_packages_unneeded: "hard_glibc", hard_case("glibc"), "packages_unneeded";
    hard_musl_scan: "hard_musl", hard_case("musl"), "scan";
    hard_musl_check: "hard_musl", hard_case("musl"), "check";
    hard_musl_packages: "hard_musl", hard_case("musl"), "packages";
    hard_musl_packages_unneeded: "hard_musl", hard_case("musl"), "packages_unneeded";
    sample_tree: "sample", sample(), "tree";
    sample_tree_musl: "sample", sample(), "tree_musl";
    sample_why: "sample", sample(), "why";
}

/// The snapshot files are all referenced: a pinned command or root dropped from the lists above
/// must take its snapshot with it, or it would silently pin nothing.
#[test]
fn every_snapshot_is_pinned() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let roots = ["sample", "hard_glibc", "hard_musl"];
    let mut want: Vec<String> = roots
        .iter()
        .flat_map(|r| {
            COMMANDS
                .iter()
                .map(move |(c, _)| format!("contract__{r}__{c}.snap"))
        })
        .chain(
            SAMPLE_ONLY
                .iter()
                .map(|(c, _, _)| format!("contract__sample__{c}.snap")),
        )
        .collect();
    want.sort();
    let mut have: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("contract__") && n.ends_with(".snap"))
        .collect();
    have.sort();
    assert_eq!(have, want, "snapshot files in {}", dir.display());
}
