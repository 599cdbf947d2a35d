//! Declared package dependencies on the real test roots, against the package managers' own view:
//! dpkg-query's fields and `apt-cache depends --recurse --installed` (run in the Debian root), and
//! on Alpine (no apk on this machine) a closure computed here from the installed database by a
//! separate few lines, plus a list checked by hand against the file.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use elfdeps::pkgdb::declared::group_text;
use elfdeps::pkgdb::{self, DbKind, PackageDb};
use elfdeps::resolve::LazyView;
use elfdeps::rootfs::RootFs;
use elfdeps::scan::ScanOptions;

fn read_db(root: &Path, kind: DbKind) -> PackageDb {
    let rootfs = RootFs::open(root).expect("root");
    let view = LazyView::new(&rootfs, ScanOptions::default().limits);
    let db = pkgdb::detect(&rootfs, &view, kind).expect("a database");
    assert!(db.warnings.is_empty(), "{:?}", db.warnings);
    db
}

fn index(db: &PackageDb, name: &str) -> usize {
    db.packages
        .iter()
        .position(|p| p.name.as_bytes() == name.as_bytes())
        .unwrap_or_else(|| panic!("no {name}"))
}

fn closure_names(db: &PackageDb, seed: &str) -> BTreeSet<String> {
    let c = db.declared_closure(&[index(db, seed)]);
    c.packages
        .keys()
        .map(|&i| db.packages[i].name.escaped())
        .collect()
}

/// Every installed package's relations, Essential and Installed-Size as dpkg-query prints them.
#[test]
fn dpkg_fields_equal_dpkg_query() {
    let Some(root) = support::root("debian") else {
        return;
    };
    if !support::require_tool_or_skip("dpkg-query", "dpkg", "declared dependencies") {
        return;
    }
    let db = read_db(root, DbKind::Dpkg);
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args([
            "-W",
            "-f",
            "${db:Status-Abbrev}\\t${Package}\\t${Architecture}\\t${Essential}\\t${Installed-Size}\
             \\t${Pre-Depends}\\t${Depends}\\t${Provides}\\n",
        ])
        .output()
        .expect("dpkg-query");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 8, "{line}");
        if f[0].trim() != "ii" {
            continue;
        }
        // Provides as names only (`libgcc1 (= 1:12.2.0-14)` → `libgcc1`).
        let provides: Vec<String> = f[7]
            .split(", ")
            .filter(|p| !p.is_empty())
            .map(|p| p.split(' ').next().unwrap_or(p).to_string())
            .collect();
        let size = f[4].parse::<u64>().ok().map(|k| k * 1024);
        want.insert(
            (f[1].to_string(), f[2].to_string()),
            (
                f[3] == "yes",
                size,
                f[5].to_string(),
                f[6].to_string(),
                provides,
            ),
        );
    }
    let mut got = BTreeMap::new();
    for p in &db.packages {
        let text = |pre: bool| {
            p.depends
                .iter()
                .filter(|g| g.iter().all(|r| r.pre == pre))
                .map(|g| group_text(g))
                .collect::<Vec<_>>()
                .join(", ")
        };
        got.insert(
            (
                p.name.escaped(),
                p.arch.as_ref().map(|a| a.escaped()).unwrap_or_default(),
            ),
            (
                p.essential,
                p.installed_size,
                text(true),
                text(false),
                p.provides.iter().map(|p| p.escaped()).collect::<Vec<_>>(),
            ),
        );
    }
    assert_eq!(got.len(), want.len());
    for (k, w) in &want {
        assert_eq!(got.get(k), Some(w), "{k:?}");
    }
    let essential = got.values().filter(|v| v.0).count();
    assert!(essential > 10, "{essential} essential packages");
    support::loud(&format!(
        "declared dependencies: {} dpkg packages' relations, Essential, Installed-Size and \
         Provides equal dpkg-query's ({essential} essential)",
        got.len()
    ));
}

/// The closure of `curl` (and of a few others) against `apt-cache depends --recurse --installed`.
#[test]
fn debian_closure_equals_apt_cache() {
    let Some(root) = support::root("debian") else {
        return;
    };
    if !support::require_root_or_skip("apt-cache in the Debian root (chroot)") {
        return;
    }
    let db = read_db(root, DbKind::Dpkg);
    for seed in ["curl", "libcurl4", "openssl"] {
        // No package cache is written into the root (the test roots are shared).
        let out = Command::new("chroot")
            .arg(root)
            .args([
                "apt-cache",
                "-o",
                "Dir::Cache::pkgcache=",
                "-o",
                "Dir::Cache::srcpkgcache=",
                "depends",
                "--recurse",
                "--no-recommends",
                "--no-suggests",
                "--no-conflicts",
                "--no-breaks",
                "--no-replaces",
                "--no-enhances",
                "--installed",
                seed,
            ])
            .output()
            .expect("chroot apt-cache");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Each package it reaches is a line of its own; virtual ones are `<name>`.
        let want: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('<') && !l.is_empty())
            .map(|l| l.split(':').next().unwrap_or(l).to_string())
            .collect();
        let got = closure_names(&db, seed);
        assert_eq!(got, want, "{seed}");
        support::loud(&format!(
            "declared closure of {seed} on Debian: {} packages, as apt-cache says",
            got.len()
        ));
    }
}

/// A separate computation of an APK closure from the installed database: names, provides with
/// their `=version` cut, dependencies with their operator cut, until nothing new is added.
fn apk_oracle(installed: &str, seed: &str) -> BTreeSet<String> {
    let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut providers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in installed.split("\n\n") {
        let field = |k: &'static str| {
            record
                .lines()
                .filter_map(move |l| l.strip_prefix(k))
                .flat_map(|v| v.split(' '))
                .filter(|t| !t.is_empty())
        };
        let Some(name) = field("P:").next() else {
            continue;
        };
        providers
            .entry(name.to_string())
            .or_default()
            .insert(name.to_string());
        for p in field("p:") {
            let p = p.split('=').next().unwrap_or(p);
            providers
                .entry(p.to_string())
                .or_default()
                .insert(name.to_string());
        }
        let d = field("D:")
            .filter(|d| !d.starts_with('!'))
            .map(|d| {
                let end = d.find(['<', '>', '=', '~']).unwrap_or(d.len());
                d[..end].to_string()
            })
            .collect();
        deps.insert(name.to_string(), d);
    }
    let mut set = BTreeSet::from([seed.to_string()]);
    loop {
        let before = set.len();
        for p in set.clone() {
            for d in deps.get(&p).into_iter().flatten() {
                let by = providers
                    .get(d)
                    .unwrap_or_else(|| panic!("nothing provides {d}"));
                // A real package of the name wins; otherwise its only provider.
                if by.contains(d) {
                    set.insert(d.clone());
                } else {
                    assert_eq!(by.len(), 1, "{d}: {by:?}");
                    set.extend(by.iter().cloned());
                }
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

#[test]
fn alpine_closures_equal_an_independent_computation() {
    let Some(root) = support::root("alpine-x86_64") else {
        return;
    };
    let db = read_db(root, DbKind::Apk);
    let installed =
        std::fs::read_to_string(root.join("lib/apk/db/installed")).expect("installed database");
    for p in &db.packages {
        let name = p.name.escaped();
        assert_eq!(
            closure_names(&db, &name),
            apk_oracle(&installed, &name),
            "{name}"
        );
        assert!(p.installed_size.is_some_and(|s| s > 0), "{name}");
        assert_eq!(
            p.arch.as_ref().map(|a| a.escaped()).as_deref(),
            Some("x86_64")
        );
    }
    // Checked by hand against the file: ssl_client needs musl (so:libc.musl-x86_64.so.1),
    // libcrypto3 (so:libcrypto.so.3) and libssl3 (so:libssl.so.3), which needs libcrypto3 again;
    // alpine-baselayout needs its -data and /bin/sh, which busybox-binsh provides.
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        closure_names(&db, "ssl_client"),
        set(&["libcrypto3", "libssl3", "musl", "ssl_client"])
    );
    assert_eq!(
        closure_names(&db, "alpine-baselayout"),
        set(&[
            "alpine-baselayout",
            "alpine-baselayout-data",
            "busybox",
            "busybox-binsh",
            "musl"
        ])
    );
    let c = db.declared_closure(&[index(&db, "apk-tools")]);
    assert!(c.unsatisfied.is_empty(), "{:?}", c.unsatisfied);
    support::loud(&format!(
        "declared closures of all {} Alpine packages equal the independent computation",
        db.packages.len()
    ));
}
