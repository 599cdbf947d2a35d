/*!
The `diff A B` report: each side's libcs and glibc floor, sonames added and removed, objects newly
broken or fixed, package changes and the gate. JSON: schema `elfdeps-diff/1` (docs/json.md).
*/

use std::io::{self, Write};

use super::rebase::{change_lines, status};
use crate::diff::{DiffReport, PackageChange, SCHEMA, Side};
use crate::name::ByteStr;
use std::collections::{BTreeMap, BTreeSet};

use crate::check::libc::{glibc_floor, glibc_version};
use crate::diff::{DiffGate, Floor, Gated, PackageDiff, Soname, SonameDiff};
use crate::pkgdb::{self, DbFormat, DbKind, Scope};
use crate::rebase::{Verdict, change, fix};
use crate::report::Report;

/// Writes the report as the `elfdeps-diff/1` JSON document.
pub fn render_json(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::write_document(SCHEMA, None, r, out)
}

fn floor(s: &Side) -> String {
    match &s.glibc_floor {
        Some(f) => format!(
            "{} ({} objects, e.g. {})",
            f.version.display_escaped(),
            f.objects,
            f.example.display_escaped()
        ),
        None => "none (no object needs a GLIBC_ version)".into(),
    }
}

fn side(label: &str, s: &Side, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{label}: {}", s.root.display_escaped())?;
    if s.libcs.is_empty() {
        writeln!(out, "  libc: none (no glibc or musl loader)")?;
    }
    for l in &s.libcs {
        writeln!(
            out,
            "  libc: {} {} ({}, {})",
            l.flavor.as_str(),
            l.version.as_deref().unwrap_or("(release unknown)"),
            l.loader.display_escaped(),
            l.machine
        )?;
    }
    writeln!(out, "  glibc floor: {}", floor(s))?;
    let pkgs = match (s.package_db, s.packages) {
        (Some(db), Some(n)) => format!("{n} packages ({db})"),
        _ => "no package database".into(),
    };
    writeln!(
        out,
        "  {} ELF objects, {} unreadable, {pkgs}",
        s.objects, s.errors
    )
}

fn names(list: &[crate::diff::Soname]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|s| s.soname.display_escaped())
        .collect::<Vec<_>>()
        .join(" ")
}

fn version(v: &Option<ByteStr>) -> String {
    v.as_ref().map_or_else(String::new, |v| v.display_escaped())
}

fn package(p: &PackageChange) -> String {
    match &p.arch {
        Some(a) => format!("{}:{}", p.name.display_escaped(), a.display_escaped()),
        None => p.name.display_escaped(),
    }
}

/// Writes the report for people.
pub fn render_human(r: &DiffReport, out: &mut dyn Write) -> io::Result<()> {
    side("A", &r.a, out)?;
    side("B", &r.b, out)?;
    if r.floor_raised {
        let v = |s: &Side| {
            s.glibc_floor
                .as_ref()
                .map_or_else(|| "none".to_string(), |f| f.version.display_escaped())
        };
        writeln!(out, "glibc floor raised: {} -> {}", v(&r.a), v(&r.b))?;
    }
    if r.libc_changed {
        writeln!(out, "libc flavors changed")?;
    }
    writeln!(
        out,
        "sonames added ({}): {}",
        r.sonames.added.len(),
        names(&r.sonames.added)
    )?;
    writeln!(
        out,
        "sonames removed ({}): {}",
        r.sonames.removed.len(),
        names(&r.sonames.removed)
    )?;
    writeln!(
        out,
        "objects at the same path in both: {}; newly broken in B: {}; fixed in B: {}",
        r.compared,
        r.newly_broken.len(),
        r.fixed.len()
    )?;
    for c in &r.newly_broken {
        writeln!(
            out,
            "  broken {}: {} (was {})",
            c.path.display_escaped(),
            status(c.after.status),
            status(c.before.status)
        )?;
        change_lines(c, out)?;
    }
    for f in &r.fixed {
        writeln!(
            out,
            "  fixed {}: {} (was {})",
            f.path.display_escaped(),
            status(f.after.status),
            status(f.before.status)
        )?;
    }
    match &r.packages {
        None => writeln!(
            out,
            "packages: not compared (both sides need a package database)"
        )?,
        Some(p) => {
            writeln!(
                out,
                "packages: {} added, {} removed, {} changed",
                p.added.len(),
                p.removed.len(),
                p.changed.len()
            )?;
            for x in &p.added {
                writeln!(out, "  + {} {}", package(x), version(&x.after))?;
            }
            for x in &p.removed {
                writeln!(out, "  - {} {}", package(x), version(&x.before))?;
            }
            for x in &p.changed {
                writeln!(
                    out,
                    "  ~ {} {} -> {}",
                    package(x),
                    version(&x.before),
                    version(&x.after)
                )?;
            }
        }
    }
    let list =
        |g: &[crate::diff::Gated]| g.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(",");
    if r.gate.gated.is_empty() {
        writeln!(out, "gate: none (--gate not given)")
    } else if r.gate.passed {
        writeln!(out, "gate: passed ({} did not occur)", list(&r.gate.gated))
    } else {
        writeln!(out, "gate: failed ({})", list(&r.gate.triggered))
    }
}

// The comparison of two reports (`elfdeps diff`): here beside the Report model it reads, so
// that `diff` (the model of the result) does not depend on `report`.

/// A glibc version as numbers: `GLIBC_2.2.5` is `(2, 2, 5)`.
type Level = (u32, u32, u32);

/// The floor of a side's objects.
fn floor_of(report: &Report) -> Option<Floor> {
    // Objects are sorted by path, so the first found at the floor is the first by path.
    let mut best: Option<(Level, Floor)> = None;
    for o in &report.inventory.objects {
        let Some(v) = glibc_floor(&o.facts) else {
            continue;
        };
        let Some(t) = glibc_version(v.as_bytes()) else {
            continue;
        };
        match &mut best {
            Some((bt, f)) if *bt == t => f.objects += 1,
            Some((bt, _)) if *bt > t => {}
            _ => {
                let f = Floor {
                    version: v,
                    objects: 1,
                    example: o.path.clone(),
                };
                best = Some((t, f));
            }
        }
    }
    best.map(|(_, f)| f)
}

/// Each soname a side's objects provide, with the objects.
fn sonames_of(report: &Report) -> BTreeMap<ByteStr, Vec<ByteStr>> {
    let mut out: BTreeMap<ByteStr, Vec<ByteStr>> = BTreeMap::new();
    for o in &report.inventory.objects {
        if let Some(s) = &o.facts.soname {
            out.entry(s.clone()).or_default().push(o.path.clone());
        }
    }
    out
}

/// The installed packages by (name, architecture), with their version.
type Installed = BTreeMap<(ByteStr, Option<ByteStr>), ByteStr>;

fn database_of(report: &Report) -> Option<(DbFormat, Installed)> {
    let inv = &report.inventory;
    // Only the installed packages are compared: no file is indexed.
    let none = std::collections::HashSet::new();
    let db = pkgdb::detect_scoped(&inv.rootfs, &inv.tree, DbKind::Auto, Scope::Paths(&none))?;
    let installed = db
        .packages
        .iter()
        .map(|p| ((p.name.clone(), p.arch.clone()), p.version.clone()))
        .collect();
    Some((db.kind, installed))
}

fn side_of(report: &Report, db: Option<&(DbFormat, Installed)>) -> Side {
    let libcs = match report.resolved() {
        Some(r) => crate::check::probe::root_libcs(r, &report.inventory.rootfs),
        None => Vec::new(),
    };
    Side {
        root: report.root_name(),
        libcs,
        glibc_floor: floor_of(report),
        objects: report.inventory.objects.len(),
        errors: report.errors.len(),
        package_db: db.map(|(k, _)| *k),
        packages: db.map(|(_, p)| p.len()),
    }
}

fn package_diff(a: &Installed, b: &Installed) -> PackageDiff {
    let mut d = PackageDiff::default();
    let entry = |(name, arch): &(ByteStr, Option<ByteStr>), before, after| PackageChange {
        name: name.clone(),
        arch: arch.clone(),
        before,
        after,
    };
    for (k, va) in a {
        match b.get(k) {
            None => d.removed.push(entry(k, Some(va.clone()), None)),
            Some(vb) if vb != va => d.changed.push(entry(k, Some(va.clone()), Some(vb.clone()))),
            Some(_) => {}
        }
    }
    for (k, vb) in b {
        if !a.contains_key(k) {
            d.added.push(entry(k, None, Some(vb.clone())));
        }
    }
    d
}

/// Compares two walked and resolved reports, failing on the kinds of change in `gated`.
pub fn compare(a: &Report, b: &Report, gated: &[Gated]) -> DiffReport {
    let (dba, dbb) = (database_of(a), database_of(b));
    let (sa, sb) = (side_of(a, dba.as_ref()), side_of(b, dbb.as_ref()));
    let level = |s: &Side| {
        s.glibc_floor
            .as_ref()
            .and_then(|f| glibc_version(f.version.as_bytes()))
    };
    let floor_raised = level(&sb) > level(&sa);
    let flavors = |s: &Side| s.libcs.iter().map(|l| l.flavor).collect::<BTreeSet<_>>();
    let libc_changed = flavors(&sa) != flavors(&sb);

    let (na, nb) = (sonames_of(a), sonames_of(b));
    let only = |x: &BTreeMap<ByteStr, Vec<ByteStr>>, y: &BTreeMap<ByteStr, Vec<ByteStr>>| {
        x.iter()
            .filter(|(s, _)| !y.contains_key(*s))
            .map(|(s, p)| Soname {
                soname: s.clone(),
                paths: p.clone(),
            })
            .collect::<Vec<_>>()
    };
    let sonames = SonameDiff {
        added: only(&nb, &na),
        removed: only(&na, &nb),
    };

    let mut newly_broken = Vec::new();
    let mut fixed = Vec::new();
    let mut compared = 0;
    if let (Some(ra), Some(rb)) = (a.resolved(), b.resolved()) {
        for (i, o) in ra.objects.iter().enumerate() {
            let Some(j) = b.inventory.object_at(o.path.as_bytes()) else {
                continue;
            };
            compared += 1;
            let va = Verdict::of(&o.facts, &ra.resolutions[i]);
            let vb = Verdict::of(&rb.objects[j].facts, &rb.resolutions[j]);
            if let Some(c) = change(&o.path, &va, &vb) {
                newly_broken.push(c);
            } else if let Some(f) = fix(&o.path, &va, &vb) {
                fixed.push(f);
            }
        }
    }

    let packages = match (&dba, &dbb) {
        (Some((_, pa)), Some((_, pb))) => Some(package_diff(pa, pb)),
        _ => None,
    };
    let occurred = |g: Gated| match g {
        Gated::FloorRaised => floor_raised,
        Gated::NewlyBroken => !newly_broken.is_empty(),
        Gated::SonameRemoved => !sonames.removed.is_empty(),
        Gated::PackageRemoved => packages.as_ref().is_some_and(|p| !p.removed.is_empty()),
        Gated::LibcChanged => libc_changed,
    };
    let mut gated: Vec<Gated> = gated.to_vec();
    gated.sort();
    gated.dedup();
    let triggered: Vec<Gated> = gated.iter().copied().filter(|&g| occurred(g)).collect();
    DiffReport {
        a: sa,
        b: sb,
        floor_raised,
        libc_changed,
        sonames,
        compared,
        newly_broken,
        fixed,
        packages,
        gate: DiffGate {
            passed: triggered.is_empty(),
            gated,
            triggered,
        },
    }
}
