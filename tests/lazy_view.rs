//! The lazy view (no walk: each path looked up when first asked) resolves every ELF object of the
//! real test roots exactly as the walked snapshot does: the same status, loader, closure, missing
//! names, version errors, dependencies with their skipped candidates, notes and session edges.

mod support;

use std::path::Path;

use elfdeps::progress::Progress;
use elfdeps::resolve::{self, LazyView, ObjectId, ResolveOptions, Snapshot};
use elfdeps::scan::{self, ScanOptions};

/// Compares the two views on `root`; returns how many objects agreed, after printing the figures.
fn compare(what: &str, root: &Path) {
    let opts = ScanOptions::default();
    let inv = scan::scan(root, &opts, &Progress::hidden()).expect("scan");
    assert!(!inv.objects.is_empty(), "{what}: no ELF object");
    let ropts = ResolveOptions::default();
    let snapshot = Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
    let all: Vec<ObjectId> = (0..inv.objects.len()).collect();
    let walked = resolve::resolve(&snapshot, &all, &ropts);

    let lazy = LazyView::new(&inv.rootfs, opts.limits);
    let ids: Vec<ObjectId> = inv
        .objects
        .iter()
        .map(|o| {
            lazy.object_at(o.path.as_bytes()).unwrap_or_else(|e| {
                panic!("{what}: the lazy view has no object at {}: {e}", o.path)
            })
        })
        .collect();
    let looked = resolve::resolve(&lazy, &ids, &ropts);

    let mut agree = 0;
    let mut first_diff = None;
    for ((o, a), b) in inv.objects.iter().zip(&walked).zip(&looked) {
        if a == b {
            agree += 1;
        } else if first_diff.is_none() {
            first_diff = Some(format!(
                "{}:\n  walked snapshot: {a:#?}\n  lazy view: {b:#?}",
                o.path
            ));
        }
    }
    support::loud(&format!(
        "lazy view on {what}: agree {agree}/{} with the walked snapshot ({} paths looked up)",
        inv.objects.len(),
        lazy.lookups()
    ));
    if let Some(d) = first_diff {
        panic!("{what}: the lazy view disagrees with the snapshot on {d}");
    }
    // One question about one program looks at a small part of the root.
    let one = LazyView::new(&inv.rootfs, opts.limits);
    let first_program = inv
        .objects
        .iter()
        .position(|o| o.facts.interp.is_some())
        .expect("a dynamic program");
    let id = one
        .object_at(inv.objects[first_program].path.as_bytes())
        .expect("object");
    let r = resolve::resolve(&one, &[id], &ropts);
    assert_eq!(r[0], walked[first_program], "{what}: one program alone");
    assert!(
        one.lookups() < inv.summary.paths() as usize / 4 + 64,
        "{what}: {} lookups for one program in a root of {} paths",
        one.lookups(),
        inv.summary.paths() as usize
    );
}

#[test]
fn lazy_view_agrees_on_debian() {
    if let Some(r) = support::root("debian") {
        compare("debian", r);
    }
}

#[test]
fn lazy_view_agrees_on_alpine() {
    for key in ["alpine-x86_64", "alpine-aarch64"] {
        if let Some(r) = support::root(key) {
            compare(key, r);
        }
    }
}

#[test]
fn lazy_view_agrees_on_the_hard_cases() {
    if let Some(base) = support::root("hard-cases") {
        compare("hard-cases/glibc", &base.join("glibc"));
        compare("hard-cases/musl", &base.join("musl"));
    }
}

/// The configuration resolving `root`, its walked and resolved report, and its programs (objects
/// with an interpreter).
fn walked(
    root: &Path,
) -> (
    elfdeps::pipeline::Config,
    elfdeps::report::Report,
    Vec<String>,
) {
    let config = elfdeps::pipeline::Config {
        root: root.to_path_buf(),
        resolve: Some(ResolveOptions::default()),
        ..Default::default()
    };
    let report = elfdeps::pipeline::run(&config, &Progress::hidden()).expect("pipeline");
    let programs = report
        .inventory
        .objects
        .iter()
        .filter(|o| o.facts.interp.is_some())
        .map(|o| o.path.to_string())
        .collect();
    (config, report, programs)
}

/// `tree` answers about one program through the lazy view: the same report as the one built on
/// the whole walked and resolved root, for every program of the Debian root, looking at a few
/// hundred paths of a root of tens of thousands.
#[test]
fn tree_without_a_walk_equals_tree_on_the_walked_root() {
    use elfdeps::pipeline;
    let Some(root) = support::root("debian") else {
        return;
    };
    let (config, report, programs) = walked(root);
    assert!(programs.len() > 100, "{} programs", programs.len());
    let mut most = 0;
    for p in &programs {
        let walked = pipeline::tree(&report, p, root).expect("tree on the walked root");
        let lazy = pipeline::tree_of(&config, p).expect("tree without a walk");
        assert_eq!(
            serde_json::to_value(&lazy.tree).expect("json"),
            serde_json::to_value(&walked).expect("json"),
            "{p}"
        );
        most = most.max(lazy.lookups);
    }
    support::loud(&format!(
        "tree without a walk on debian: {} programs agree with the walked root; at most {most} \
         paths looked up (the root has {})",
        programs.len(),
        report.inventory.summary.paths() as usize
    ));
    assert!(
        most < report.inventory.summary.paths() as usize / 20,
        "{most} lookups"
    );
    // Errors name what is wrong as before.
    let e = pipeline::tree_of(&config, "/usr/bin/no-such-program").unwrap_err();
    assert_eq!(
        e.to_string(),
        pipeline::find_object(&report, "/usr/bin/no-such-program", root)
            .unwrap_err()
            .to_string()
    );
    for p in ["/etc/passwd", "/usr/bin", "/etc/ld.so.cache"] {
        let lazy = pipeline::tree_of(&config, p).unwrap_err().to_string();
        let walked = pipeline::find_object(&report, p, root)
            .unwrap_err()
            .to_string();
        assert_eq!(lazy, walked, "{p}");
    }
}

/// `packages PROGRAM...` answers without a walk: the same set as on the walked and resolved root,
/// for programs one at a time and together, on the Debian (dpkg) and Alpine (apk) roots.
#[test]
fn packages_without_a_walk_equal_packages_on_the_walked_root() {
    use elfdeps::pipeline::{self, PackagesQuery};
    use elfdeps::pkgdb::DbKind;
    for key in ["debian", "alpine-x86_64"] {
        let Some(root) = support::root(key) else {
            return;
        };
        let (config, report, programs) = walked(root);
        // Every seventh program alone (all of them on a small root), then all of them at once.
        let step = if programs.len() > 50 { 7 } else { 1 };
        let mut queries: Vec<Vec<String>> = programs
            .iter()
            .step_by(step)
            .map(|p| vec![p.clone()])
            .collect();
        queries.push(programs.clone());
        for paths in &queries {
            let q = PackagesQuery {
                db: DbKind::Auto,
                paths: paths.clone(),
                ..PackagesQuery::default()
            };
            let lazy = pipeline::packages_run(&config, &q, &Progress::hidden()).expect("lazy");
            assert!(!lazy.walked, "{key}: {paths:?} should not need the walk");
            let (walked, warnings) = pipeline::packages(
                &report,
                &q,
                root,
                &config.resolve.clone().unwrap_or_default(),
            )
            .expect("walked");
            assert_eq!(
                serde_json::to_value(&lazy.set).expect("json"),
                serde_json::to_value(&walked).expect("json"),
                "{key}: {}",
                if paths.len() == 1 {
                    &paths[0]
                } else {
                    "every program"
                }
            );
            assert_eq!(lazy.warnings, warnings, "{key}");
        }
        support::loud(&format!(
            "packages without a walk on {key}: {} queries agree with the walked root",
            queries.len()
        ));
    }
}
