//! The library as a program would use it: `pipeline::run` from a configuration to a report with
//! every stage's table, the policy's own findings and its verdict, and the reports built on it
//! (tree, why, packages), without the binary.

use std::path::{Path, PathBuf};

use elfdeps::check::policy::Policy;
use elfdeps::check::{CheckOptions, Code};
use elfdeps::pipeline::{self, Config};
use elfdeps::progress::Progress;
use elfdeps::resolve::{ResolveOptions, Status};

mod support;

/// The sample root, built once for this test binary. `None` after a loud skip.
fn sample() -> Option<PathBuf> {
    support::sample_root(
        "library-sample-rootfs",
        "the library tests on the sample root",
    )
}

fn config(root: &Path) -> Config {
    Config {
        root: root.to_path_buf(),
        resolve: Some(ResolveOptions::default()),
        checks: Some(CheckOptions::default()),
        ..Config::default()
    }
}

#[test]
fn the_pipeline_gives_every_table_findings_and_the_verdict() {
    let Some(root) = sample() else { return };
    let mut policy = Policy::default();
    policy.deny_libc.push(elfdeps::check::libc::Flavor::Musl);
    let cfg = Config {
        policy: Some(policy),
        ..config(&root)
    };
    let report = pipeline::run(&cfg, &Progress::hidden()).expect("pipeline");
    let n = report.inventory.objects.len();
    assert!(n >= 7, "{n} objects");
    assert_eq!(report.resolutions.as_ref().map(Vec::len), Some(n));
    assert_eq!(report.libc.as_ref().map(Vec::len), Some(n));
    let checks = report.checks.as_ref().expect("checks ran");
    // A finding of the analysis and one of the policy, and a verdict that counts them.
    let codes: Vec<Code> = checks.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&Code::LibraryMissing), "{codes:?}");
    assert!(codes.contains(&Code::LibcDenied), "{codes:?}");
    let gate = pipeline::gate(&report).expect("a policy ran");
    assert!(!gate.passed);
    assert!(gate.violations >= 2, "{gate:?}");
    // The resolution of one program, by path.
    let i = pipeline::find_object(&report, "/usr/bin/needs-missing", &root).expect("object");
    let r = &report.resolutions.as_ref().expect("resolved")[i];
    assert_eq!(r.status, Status::Error);
    assert_eq!(r.missing.len(), 1, "{r:?}");
}

#[test]
fn tree_why_and_lookups_come_from_the_library() {
    let Some(root) = sample() else { return };
    let report = pipeline::run(&config(&root), &Progress::hidden()).expect("pipeline");
    let t = pipeline::tree(&report, "/usr/bin/hello", &root).expect("tree");
    assert!(
        t.needs.iter().any(|n| n.name.as_bytes() == b"libc.so.6"),
        "{:?}",
        t.needs
    );
    let w = pipeline::why(&report, "libc.so.6").expect("why");
    assert!(
        w.programs
            .iter()
            .any(|p| p.program.as_bytes() == b"/usr/bin/hello"),
        "{:?}",
        w.programs
    );
    let e = pipeline::find_object(&report, "/usr/bin/nothing-here", &root).unwrap_err();
    assert!(e.to_string().contains("does not exist inside"), "{e}");
    let e = pipeline::find_object(&report, "/usr/bin", &root).unwrap_err();
    assert!(e.to_string().contains("is a directory"), "{e}");
}
