//! The command line as a user meets it: exit codes, formats, output file, serial = parallel.

mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Elfdeps, elfdeps};

/// A small tree with real ELF files from this machine, a hard link, symlinks and a non-ELF file.
fn small_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    std::fs::create_dir_all(r.join("usr/lib/x86_64-linux-gnu")).unwrap();
    std::fs::create_dir_all(r.join("etc")).unwrap();
    let ls = which("ls");
    std::fs::copy(&ls, r.join("usr/bin/ls")).unwrap();
    std::fs::hard_link(r.join("usr/bin/ls"), r.join("usr/bin/ls-again")).unwrap();
    let libc = Path::new("/lib/x86_64-linux-gnu/libc.so.6");
    if libc.exists() {
        std::fs::copy(libc, r.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    }
    symlink("usr/bin", r.join("bin")).unwrap();
    symlink("/", r.join("usr/bin/to-root")).unwrap();
    std::fs::write(r.join("etc/hostname"), "not an elf\n").unwrap();
    std::fs::write(r.join("etc/fake.so"), b"\x7fELF\x02\x01\x01").unwrap();
    dir
}

fn which(cmd: &str) -> std::path::PathBuf {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .unwrap();
    let p = String::from_utf8(out.stdout).unwrap().trim().to_string();
    std::fs::canonicalize(p).unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "elfdeps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn version_and_help() {
    let v = elfdeps(&["--version"]);
    assert!(v.status.success());
    assert!(
        String::from_utf8_lossy(&v.stdout)
            .starts_with(&format!("elfdeps {}", env!("CARGO_PKG_VERSION")))
    );
    let h = elfdeps(&["scan", "--help"]);
    let text = String::from_utf8_lossy(&h.stdout);
    for flag in [
        "--format",
        "--output",
        "--quiet",
        "--jobs",
        "--max-read",
        "--max-depth",
        "--color",
    ] {
        assert!(text.contains(flag), "scan --help lacks {flag}:\n{text}");
    }
}

#[test]
fn usage_and_input_errors_exit_2_with_a_message() {
    let none = elfdeps(&["scan"]);
    assert_eq!(none.status.code(), Some(2), "ROOT is required");
    let missing = elfdeps(&["scan", "/definitely/not/here"]);
    assert_eq!(missing.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&missing.stderr);
    assert!(
        msg.contains("/definitely/not/here") && msg.contains("no such directory"),
        "{msg}"
    );
    let file = elfdeps(&["scan", "/etc/hostname"]);
    assert_eq!(file.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&file.stderr).contains("not a directory"));
    let bad_size = elfdeps(&["scan", "/", "--max-read", "lots"]);
    assert_eq!(bad_size.status.code(), Some(2));
}

#[test]
fn json_document_has_the_contract_fields() {
    let root = small_root();
    let doc = json_of(&elfdeps(&[
        "scan",
        root.path().to_str().unwrap(),
        "--format",
        "json",
    ]));
    assert_eq!(doc["schema"], "elfdeps/1");
    assert_eq!(doc["root"], root.path().to_str().unwrap());
    let objects = doc["objects"].as_array().unwrap();
    let paths: Vec<&str> = objects
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    // Both hard-link paths, no path through the symlinks, sorted.
    assert!(
        paths.contains(&"/usr/bin/ls") && paths.contains(&"/usr/bin/ls-again"),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/bin/") || p.contains("to-root")),
        "{paths:?}"
    );
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    let ls = objects.iter().find(|o| o["path"] == "/usr/bin/ls").unwrap();
    for field in [
        "path",
        "class",
        "machine",
        "type",
        "interp",
        "needed",
        "soname",
        "rpath",
        "runpath",
        "version_needs",
        "version_defs",
    ] {
        assert!(ls.get(field).is_some(), "object lacks {field}: {ls}");
    }
    assert_eq!(ls["class"], "ELF64");
    assert!(
        ls["needed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "libc.so.6")
    );
    assert!(ls["interp"].as_str().unwrap().contains("ld-linux"));
    let again = objects
        .iter()
        .find(|o| o["path"] == "/usr/bin/ls-again")
        .unwrap();
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("path");
        v
    };
    assert_eq!(strip(ls), strip(again), "hard links report the same facts");
    // The truncated "ELF" is a per-file error, the text file is simply not ELF.
    let errors = doc["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], "/etc/fake.so");
    assert_eq!(errors[0]["code"], "elf-truncated");
    assert_eq!(doc["summary"]["symlinks"], 2);
}

#[test]
fn serial_and_parallel_scans_agree() {
    let root = small_root();
    let r = root.path().to_str().unwrap();
    let one = json_of(&elfdeps(&["scan", r, "-f", "json", "--jobs", "1"]));
    let many = json_of(&elfdeps(&["scan", r, "-f", "json", "--jobs", "8"]));
    assert_eq!(one, many);
    // And on a real tree with thousands of files.
    let one = elfdeps(&["scan", "/usr/lib/x86_64-linux-gnu", "-f", "json", "-j", "1"]);
    let many = elfdeps(&["scan", "/usr/lib/x86_64-linux-gnu", "-f", "json", "-j", "4"]);
    assert_eq!(json_of(&one), json_of(&many));
}

#[test]
fn output_file_and_human_summary() {
    let root = small_root();
    let out = root.path().join("report.txt");
    let run = elfdeps(&[
        "scan",
        root.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success());
    assert!(run.stdout.is_empty(), "--output leaves stdout empty");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("elfdeps scan "), "{text}");
    assert!(
        text.contains("ELF") && text.contains("x86_64") && text.contains("elf-truncated"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colors in a file: {text:?}");
    let forced = elfdeps(&["scan", root.path().to_str().unwrap(), "--color", "always"]);
    assert!(String::from_utf8_lossy(&forced.stdout).contains('\x1b'));
    // Not a terminal: no progress bar on stderr either.
    assert!(
        forced.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
}

#[test]
fn unwritable_output_is_an_input_error() {
    let root = small_root();
    let run = elfdeps(&[
        "scan",
        root.path().to_str().unwrap(),
        "-o",
        "/nonexistent-dir/report.json",
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("cannot create output file /nonexistent-dir/report.json")
    );
}

#[test]
fn paths_that_name_no_object_say_each_path_once() {
    let dir = small_root();
    let r = dir.path();
    symlink("libgone.so.1", r.join("usr/bin/libgone.so")).unwrap();
    // `packages` needs a package database; an apk one with one package will do.
    std::fs::create_dir_all(r.join("lib/apk/db")).unwrap();
    std::fs::write(r.join("lib/apk/db/installed"), "P:x\nV:1\n\n").unwrap();
    let root = r.to_str().unwrap();
    let refused = |args: &[&str]| {
        let out = elfdeps(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).trim_end().to_string()
    };
    for cmd in ["tree", "packages"] {
        let msg = |p: &str| refused(&[cmd, root, p, "-q"]);
        assert_eq!(
            msg("/usr/bin"),
            "elfdeps: /usr/bin is a directory, not an ELF file: name a program or library in it",
            "{cmd}"
        );
        // Through a symlink, the path it resolved to is said once.
        assert!(
            msg("/bin").starts_with("elfdeps: /bin (resolved to /usr/bin) is a directory"),
            "{cmd}"
        );
        assert_eq!(
            msg("/usr/bin/nope"),
            format!("elfdeps: /usr/bin/nope does not exist inside {root}"),
            "{cmd}"
        );
        assert_eq!(
            msg("/nope/x"),
            format!("elfdeps: /nope/x does not exist inside {root}: /nope does not exist"),
            "{cmd}"
        );
        assert_eq!(
            msg("/usr/bin/libgone.so"),
            format!(
                "elfdeps: /usr/bin/libgone.so is a symbolic link to libgone.so.1 inside {root}, \
                 and /usr/bin/libgone.so.1 does not exist"
            ),
            "{cmd}"
        );
        assert_eq!(
            msg("/etc/hostname"),
            "elfdeps: /etc/hostname is not an ELF file",
            "{cmd}"
        );
        assert!(
            msg("/etc/hostname/x").ends_with("/etc/hostname is not a directory"),
            "{cmd}"
        );
        assert!(
            msg("/etc/fake.so").starts_with("elfdeps: /etc/fake.so could not be read: "),
            "{cmd}"
        );
    }
}

/// `--exclude GLOB`: excluded paths are not walked (counted in the summary), what lies there is
/// unknown to resolution, as below a mount point, and `tree` (which walks nothing) answers the same.
#[test]
fn exclude_keeps_paths_out_of_the_walk() {
    let Some(root) = support::sample_root("cli-sample-rootfs", "--exclude on the sample root")
    else {
        return;
    };
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", "-q", "--format", "json"];
        args.extend_from_slice(extra);
        let out = Elfdeps::new(&args).arg(&root).output();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let paths = |doc: &serde_json::Value| -> Vec<String> {
        doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .map(|o| o["path"].as_str().expect("path").to_string())
            .collect()
    };
    let all = scan(&[]);
    assert!(
        all["summary"].get("excluded").is_none(),
        "absent without --exclude"
    );
    let cut = scan(&["--exclude", "/usr/lib/greet", "--exclude", "hello-*"]);
    assert_eq!(cut["summary"]["excluded"], 3, "{}", cut["summary"]);
    let kept = paths(&cut);
    assert!(
        kept.iter().all(|p| !p.starts_with("/usr/lib/greet/")),
        "{kept:?}"
    );
    assert!(
        !kept.contains(&"/usr/bin/hello-musl".to_string()),
        "{kept:?}"
    );
    assert!(kept.contains(&"/usr/bin/greet".to_string()), "{kept:?}");
    let greet = |doc: &serde_json::Value| {
        doc["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .find(|o| o["path"] == "/usr/bin/greet")
            .expect("greet")
            .clone()
    };
    assert_eq!(greet(&all)["missing"], serde_json::json!([]));
    assert_eq!(greet(&cut)["missing"], serde_json::json!(["libgreet.so.1"]));
    // tree looks nothing up where the walk would not go.
    let out = Elfdeps::new(["tree", "--format", "json", "--exclude", "/usr/lib/greet"])
        .arg(&root)
        .arg("/usr/bin/greet")
        .output();
    // Exit 1: with its library excluded, greet would not start.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(t["needs"][0]["name"], "libgreet.so.1");
    assert!(t["needs"][0]["found"].is_null(), "{}", t["needs"][0]);
    // A bad pattern is a usage error that says what is wrong.
    let out = Elfdeps::new(["scan", "-q", "--exclude", "/usr/[lib"])
        .arg(&root)
        .output();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--exclude /usr/[lib: not a valid pattern"),
        "{err}"
    );
}

/// The subcommands every completion script and the man page must name.
const SUBCOMMANDS: [&str; 8] = [
    "scan",
    "tree",
    "why",
    "check",
    "packages",
    "diff",
    "completions",
    "man",
];

/// `elfdeps completions SHELL`, which must succeed with a script on stdout.
fn completion_script(shell: &str) -> String {
    let out = elfdeps(&["completions", shell]);
    assert!(out.status.success(), "{}", support::describe(&out));
    String::from_utf8(out.stdout).expect("UTF-8 script")
}

/// The bash script names every subcommand and `--format`, and bash accepts it: sourcing it
/// registers a completion for `elfdeps`.
#[test]
fn bash_completions_name_the_subcommands_and_load() {
    let script = completion_script("bash");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "bash completions lack {sub}");
    }
    assert!(
        script.contains("--format"),
        "bash completions lack --format"
    );
    let bin = support::elfdeps_bin().display().to_string();
    let out = Command::new("bash")
        .args([
            "-c",
            &format!("source <('{bin}' completions bash) && complete -p elfdeps"),
        ])
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{}", support::describe(&out));
    let registered = String::from_utf8_lossy(&out.stdout);
    assert!(
        registered.contains("elfdeps"),
        "complete -p elfdeps printed {registered:?}"
    );
}

/// zsh and fish scripts name every subcommand and parse in their shell (checked only where the
/// shell is installed; elsewhere a loud skip).
#[test]
fn zsh_and_fish_completions_name_the_subcommands_and_parse() {
    for shell in ["zsh", "fish"] {
        let script = completion_script(shell);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
        if !support::require_tool_or_skip(shell, shell, &format!("{shell} -n on the completions")) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("elfdeps.{shell}"));
        std::fs::write(&file, &script).unwrap();
        let out = Command::new(shell).arg("-n").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "{shell} -n: {}",
            support::describe(&out)
        );
    }
}

/// `elfdeps man` is a roff man page: its title comes before any section, and it names each
/// subcommand.
#[test]
fn man_page_is_roff_and_names_the_subcommands() {
    let out = elfdeps(&["man"]);
    assert!(out.status.success(), "{}", support::describe(&out));
    let page = String::from_utf8(out.stdout).expect("UTF-8 roff");
    // clap_mangen opens with the string definitions groff and other troffs need for `'`
    // (`.ie`/`.el`), then the title: the first macro that is neither is `.TH`.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"))
        .unwrap_or_default();
    assert!(
        first.starts_with(".TH elfdeps 1"),
        "man page starts {first:?}"
    );
    assert!(page.contains("\n.SH SUBCOMMANDS\n"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("elfdeps\\-{sub}")),
            "the man page does not name {sub}:\n{page}"
        );
    }
}
