/*!
The `diff A B` report: each side's libcs and glibc floor, sonames added and removed, objects newly
broken or fixed, package changes and the gate. JSON: schema `elfdeps-diff/1` (docs/json.md).
*/

use std::io::{self, Write};

use super::rebase::status;
use crate::diff::{DiffReport, PackageChange, SCHEMA, Side};
use crate::name::{ByteStr, escape_controls};

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
        if c.after.interpreter_missing
            && let Some(i) = &c.after.interpreter
        {
            writeln!(out, "    interpreter missing: {}", i.display_escaped())?;
        }
        for m in &c.new_missing {
            writeln!(out, "    missing: {}", m.display_escaped())?;
        }
        for e in &c.new_version_errors {
            writeln!(
                out,
                "    version {} not defined by {} (required by {})",
                e.version.display_escaped(),
                e.library.display_escaped(),
                e.required_by.display_escaped()
            )?;
        }
        if let Some(f) = &c.after.fatal {
            writeln!(out, "    loader gives up: {}", escape_controls(f))?;
        }
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
