//! Minimal package sets: the packages whose files the given programs load (the program, its
//! closure, its interpreter), and the installed packages nothing needs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::name::ByteStr;
use crate::pkgdb::PackageDb;
use crate::scan::ScanReport;

/// Subpackage suffixes that are never runtime dependencies (unless a loaded file lives there).
pub const NEVER_NEEDED: &[&str] = &[
    "-dev",
    "-doc",
    "-dbg",
    "-static",
    "-openrc",
    "-lang",
    "-bash-completion",
    "-zsh-completion",
    "-fish-completion",
    "-tests",
];

/// Whether a package name has a never-needed suffix.
pub fn is_never_needed(name: &[u8]) -> bool {
    NEVER_NEEDED.iter().any(|s| name.ends_with(s.as_bytes()))
}

/// Why a package is in the set: which object needs which of its files.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reason {
    /// The program (or library) the set was computed for.
    pub program: ByteStr,
    /// The file of the package it loads (or the program itself).
    pub file: ByteStr,
    /// program, library or interpreter.
    pub role: &'static str,
}

/// One package of the set.
#[derive(Clone, Debug, Serialize)]
pub struct Needed {
    /// Name.
    pub name: ByteStr,
    /// Version.
    pub version: ByteStr,
    /// Origin.
    pub origin: Option<ByteStr>,
    /// Why (up to a few).
    pub reasons: Vec<Reason>,
    /// How many reasons in all.
    pub reason_count: usize,
    /// Set when the package has a never-needed suffix (-dev, -doc, ...) and yet a loaded file
    /// lives in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// A needed file no package owns, or a soname found nowhere.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    /// The program.
    pub program: ByteStr,
    /// The file (unowned) or the soname (missing).
    pub what: ByteStr,
    /// unowned or missing.
    pub kind: &'static str,
    /// For a missing soname: packages that provide it (installed ones, and those of the
    /// `--apk-index` files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ByteStr>,
}

/// An installed package nothing needs, with what it contains.
#[derive(Clone, Debug, Serialize)]
pub struct Unneeded {
    /// Name.
    pub name: ByteStr,
    /// Files by kind: elf, certificates, scripts, data, directories/other.
    pub contents: BTreeMap<&'static str, usize>,
}

/// The result.
#[derive(Clone, Debug, Serialize)]
pub struct PackageSet {
    /// The database read (`apk`, `dpkg`).
    pub database: &'static str,
    /// The programs it is for.
    pub programs: Vec<ByteStr>,
    /// The packages, sorted by name.
    pub packages: Vec<Needed>,
    /// Loaded files no package owns, and sonames found nowhere.
    pub gaps: Vec<Gap>,
    /// With `--unneeded`: installed packages nothing in the set needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unneeded: Option<Vec<Unneeded>>,
}

const MAX_REASONS: usize = 8;

/// Computes the set for objects `targets` (indexes into `report.objects`). `index`: packages of
/// APK repository indexes, which name the subpackages providing missing sonames.
pub fn compute(
    report: &ScanReport,
    db: &PackageDb,
    index: &[crate::pkgdb::Package],
    targets: &[usize],
) -> PackageSet {
    let mut reasons: BTreeMap<usize, BTreeSet<Reason>> = BTreeMap::new();
    let mut gaps = Vec::new();
    for &t in targets {
        let o = &report.objects[t];
        let mut files: Vec<(ByteStr, &'static str)> = vec![(o.path.clone(), "program")];
        if let Some(r) = &o.resolution {
            files.extend(r.closure.iter().map(|c| (c.clone(), "library")));
            if let Some(l) = &r.loader {
                files.push((l.path.clone(), "interpreter"));
            }
            for m in &r.missing {
                gaps.push(Gap {
                    program: o.path.clone(),
                    what: m.clone(),
                    kind: "missing",
                    providers: {
                        let mut v: Vec<ByteStr> = db
                            .providers(m.as_bytes())
                            .into_iter()
                            .chain(crate::pkgdb::apkindex::providers(index, m.as_bytes()))
                            .map(|p| p.name.clone())
                            .collect();
                        v.sort();
                        v.dedup();
                        v
                    },
                });
            }
        }
        for (f, role) in files {
            match db.owner_index(f.as_bytes()) {
                Some(i) => {
                    reasons.entry(i).or_default().insert(Reason {
                        program: o.path.clone(),
                        file: f,
                        role,
                    });
                }
                None => gaps.push(Gap {
                    program: o.path.clone(),
                    what: f,
                    kind: "unowned",
                    providers: Vec::new(),
                }),
            }
        }
    }
    let mut packages: Vec<Needed> = reasons
        .into_iter()
        .map(|(i, rs)| {
            let p = &db.packages[i];
            let warning = is_never_needed(p.name.as_bytes()).then(|| {
                format!(
                    "{} is a {} subpackage, but a loaded file lives in it",
                    p.name,
                    NEVER_NEEDED
                        .iter()
                        .find(|s| p.name.as_bytes().ends_with(s.as_bytes()))
                        .unwrap_or(&"-dev")
                )
            });
            Needed {
                name: p.name.clone(),
                version: p.version.clone(),
                origin: p.origin.clone(),
                reason_count: rs.len(),
                reasons: rs.into_iter().take(MAX_REASONS).collect(),
                warning,
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    PackageSet {
        database: db.kind,
        programs: targets
            .iter()
            .map(|&t| report.objects[t].path.clone())
            .collect(),
        packages,
        gaps,
        unneeded: None,
    }
}

/// Installed packages not in `set`, with their contents by kind.
pub fn unneeded(report: &ScanReport, db: &PackageDb, set: &PackageSet) -> Vec<Unneeded> {
    let needed: BTreeSet<&ByteStr> = set.packages.iter().map(|p| &p.name).collect();
    let elf: BTreeSet<&[u8]> = report.objects.iter().map(|o| o.path.as_bytes()).collect();
    let mut out = Vec::new();
    for p in &db.packages {
        if needed.contains(&p.name) {
            continue;
        }
        let mut contents: BTreeMap<&'static str, usize> = BTreeMap::new();
        for f in &p.files {
            let canonical = report
                .tree
                .resolve(f.as_bytes(), false)
                .unwrap_or_else(|_| f.clone());
            let c = canonical.as_bytes();
            let kind = match report.tree.get(c) {
                Some(crate::tree::Entry::Dir) => continue,
                None => "absent",
                _ if elf.contains(c) => "elf",
                _ if c.ends_with(b".crt")
                    || c.ends_with(b".pem")
                    || c.starts_with(b"/etc/ssl/") =>
                {
                    "certificates"
                }
                _ if c.starts_with(b"/etc/init.d/")
                    || c.ends_with(b".sh")
                    || c.starts_with(b"/usr/bin/")
                    || c.starts_with(b"/bin/")
                    || c.starts_with(b"/sbin/")
                    || c.starts_with(b"/usr/sbin/") =>
                {
                    "scripts"
                }
                _ => "data",
            };
            *contents.entry(kind).or_default() += 1;
        }
        out.push(Unneeded {
            name: p.name.clone(),
            contents,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}
