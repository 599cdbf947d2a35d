//! `libc-symbols-missing`: an object built against one libc in a root whose libc (for its
//! machine) is the other one, listing the imports that root's libc does not define: what a
//! compatibility layer (gcompat on Alpine) would have to provide, and the "Error relocating ...
//! symbol not found" the loader would give once the interpreter is there. Computed from the
//! root's real libc, never from a list of known differences.
//!
//! - a glibc object: its non-weak imports bound to a `GLIBC_*` version (those glibc's libraries
//!   provide: `libc.so.6`, `libm.so.6`, ...; the others, `GLIBCXX_*` or unversioned, come from
//!   other libraries), against the names musl's libc (its loader) defines: musl binds by name;
//! - a musl object: its non-weak imports that no library it needs besides libc defines (found in
//!   the root by soname), against the default-version definitions of glibc's libraries beside the
//!   root's glibc loader (musl's one libc holds what glibc spreads over these).
//!
//! An error, like `libc-mismatch` about the same object (the loader fails on any one of them).

use std::collections::HashSet;

use super::input::{Input, families_of as families};
use super::libc::{Flavor, LibcInfo};
use super::libc_mismatch::other_libc;
use super::{Code, Finding, RootLibc, Severity};
use crate::elf::Machine;
use crate::name::ByteStr;
use crate::resolve::Resolved;
use crate::resolve::env::dirname;

/// glibc's libraries whose contents musl's single libc has (beside the loader itself).
pub const GLIBC_LIBS: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libanl.so.1",
];

/// The objects that make up the root's libc of `flavor` for `machine` (indices): musl's loader,
/// or glibc's loader and [`GLIBC_LIBS`] beside it.
fn libc_objects(
    root: Resolved<'_>,
    root_libcs: &[RootLibc],
    flavor: Flavor,
    machine: Machine,
) -> Vec<usize> {
    let Some(l) = root_libcs
        .iter()
        .find(|l| l.flavor == flavor && l.machine == machine)
    else {
        return Vec::new();
    };
    let mut out: Vec<usize> = root.object_at(l.loader.as_bytes()).into_iter().collect();
    if flavor == Flavor::Glibc {
        let dir = dirname(l.loader.as_bytes());
        for name in GLIBC_LIBS {
            let path = [dir, b"/", name.as_bytes()].concat();
            if let Some(i) = root
                .tree
                .resolve(&path, true)
                .ok()
                .and_then(|c| root.object_at(c.as_bytes()))
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
    }
    out
}

/// The libraries a musl object `i` needs besides libc, as the root has them (by soname, same
/// machine and class): their definitions are not libc's to provide. Also the needed names the
/// root has no library for (whose symbols cannot be told from libc's).
fn other_needed(root: Resolved<'_>, i: usize) -> (Vec<usize>, Vec<ByteStr>) {
    let o = &root.objects[i];
    let mut found = Vec::new();
    let mut absent = Vec::new();
    for n in o
        .facts
        .needed
        .iter()
        .filter(|n| n.as_bytes() != b"libc.so" && !n.as_bytes().starts_with(b"libc.musl-"))
    {
        match root.objects.iter().position(|x| {
            x.facts.soname.as_ref() == Some(n)
                && x.facts.machine == o.facts.machine
                && x.facts.class == o.facts.class
        }) {
            Some(j) => found.push(j),
            None => absent.push(n.clone()),
        }
    }
    (found, absent)
}

/// What the check compares for one object: the object, the root libc's objects, the other
/// libraries it needs (musl objects only).
struct Plan {
    object: usize,
    flavor: Flavor,
    libc: Vec<usize>,
    others: Vec<usize>,
    absent: Vec<ByteStr>,
}

fn plans(root: Resolved<'_>, libc: &[LibcInfo], root_libcs: &[RootLibc]) -> Vec<Plan> {
    let mut out = Vec::new();
    for (i, o, _) in root.iter() {
        let info = &libc[i];
        let Some(other) = other_libc(info, &families(root_libcs, o.facts.machine)) else {
            continue;
        };
        let libc = libc_objects(root, root_libcs, other, o.facts.machine);
        if libc.is_empty() {
            continue;
        }
        let (others, absent) = if info.flavor == Flavor::Musl {
            other_needed(root, i)
        } else {
            (Vec::new(), Vec::new())
        };
        out.push(Plan {
            object: i,
            flavor: info.flavor,
            libc,
            others,
            absent,
        });
    }
    out
}

/// Every object whose dynamic symbols the check compares (each once): the probes read them.
pub fn objects_needed(
    root: Resolved<'_>,
    libc: &[LibcInfo],
    root_libcs: &[RootLibc],
) -> Vec<usize> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in plans(root, libc, root_libcs) {
        for j in std::iter::once(p.object).chain(p.libc).chain(p.others) {
            if seen.insert(j) {
                out.push(j);
            }
        }
    }
    out
}

/// The imports of object `plan.object` that the root's libc does not define, sorted, each once;
/// `None` when a symbol table could not be read (then nothing is claimed).
fn missing(input: &Input<'_>, plan: &Plan) -> Option<Vec<ByteStr>> {
    let tables = &input.probes.imports;
    let own = tables.get(&plan.object)?;
    let mut defined: HashSet<&[u8]> = HashSet::new();
    for j in &plan.libc {
        for s in tables.get(j)? {
            // glibc binds an unversioned reference to the default version only; musl's libc has
            // no versions.
            if !s.undefined && !s.hidden {
                defined.insert(s.name.as_bytes());
            }
        }
    }
    let mut from_others: HashSet<&[u8]> = HashSet::new();
    for j in &plan.others {
        for s in tables.get(j).into_iter().flatten() {
            if !s.undefined {
                from_others.insert(s.name.as_bytes());
            }
        }
    }
    let mut out: Vec<ByteStr> = own
        .iter()
        .filter(|s| s.undefined && !s.weak)
        .filter(|s| match plan.flavor {
            Flavor::Glibc => s
                .version
                .as_ref()
                .is_some_and(|v| v.as_bytes().starts_with(b"GLIBC_")),
            _ => !from_others.contains(s.name.as_bytes()),
        })
        .filter(|s| !defined.contains(s.name.as_bytes()))
        .map(|s| s.name.clone())
        .collect();
    out.sort();
    out.dedup();
    Some(out)
}

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let probes = input.probes;
    for plan in plans(input.root, &probes.libc, &probes.root_libcs) {
        let Some(syms) = missing(input, &plan) else {
            continue;
        };
        if syms.is_empty() {
            continue;
        }
        let o = input.object(plan.object);
        let root_libc = match plan.flavor {
            Flavor::Glibc => "musl",
            _ => "glibc",
        };
        let provider = &input.object(plan.libc[0]).path;
        let shown: Vec<String> = syms.iter().take(12).map(|s| s.to_string()).collect();
        let more = if syms.len() > shown.len() {
            format!(" and {} more", syms.len() - shown.len())
        } else {
            String::new()
        };
        // Symbols of a needed library the root lacks cannot be told from libc's: say so.
        let absent = if plan.absent.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = plan.absent.iter().map(|n| n.to_string()).collect();
            format!(
                " (it also needs {}, which this root lacks: some of them may be that library's)",
                names.join(", ")
            )
        };
        let mut f = Finding::new(
            Code::LibcSymbolsMissing,
            Severity::Error,
            &o.path,
            format!(
                "built against {}, it imports {} symbol{} this root's {root_libc} ({provider}) does not define: {}{more}{absent}",
                plan.flavor.as_str(),
                syms.len(),
                if syms.len() == 1 { "" } else { "s" },
                shown.join(", ")
            ),
        )
        .hint(format!(
            "rebuild it against {root_libc}, or use an image based on {}; a compatibility layer would have to define every listed symbol",
            plan.flavor.as_str()
        ));
        f.library = Some(provider.clone());
        f.symbols = syms;
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::Confidence;
    use crate::check::musl_imports::testing::{export, import};
    use crate::check::testing::*;
    use crate::elf::symbols::DynSym;
    use crate::resolve::Status;

    fn versioned(name: &str, version: &str) -> DynSym {
        DynSym {
            version: Some(version.into()),
            ..import(name)
        }
    }

    /// A glibc program on a musl root: its GLIBC_* imports musl lacks, not the others (a weak
    /// one, a libstdc++ one), not those musl defines.
    #[test]
    fn a_glibc_program_on_musl() {
        let mut r = Fixture::musl();
        let musl = r.object(
            LD_MUSL,
            library("libc.musl-x86_64.so.1"),
            session(Status::Ok, None),
            libc(Flavor::Musl, Confidence::High),
        );
        let app = r.object(
            "/usr/bin/app",
            program(LD),
            session(Status::InterpMissing, None),
            libc(Flavor::Glibc, Confidence::High),
        );
        r.probes
            .imports
            .insert(musl, vec![export("printf"), export("memcpy")]);
        let weak = DynSym {
            weak: true,
            ..versioned("__cxa_finalize", "GLIBC_2.2.5")
        };
        r.probes.imports.insert(
            app,
            vec![
                versioned("printf", "GLIBC_2.2.5"),
                versioned("__memcpy_chk", "GLIBC_2.3.4"),
                versioned("error", "GLIBC_2.2.5"),
                versioned("_ZdlPv", "GLIBCXX_3.4"),
                weak,
                versioned("backtrace", "GLIBC_2.2.5"),
            ],
        );
        assert_eq!(
            {
                let (l, rl) = (r.probes.libc.clone(), r.probes.root_libcs.clone());
                objects_needed(r.root(), &l, &rl)
            },
            [app, musl]
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::LibcSymbolsMissing, Severity::Error)
        );
        assert_eq!(
            f.symbols,
            [
                ByteStr::from("__memcpy_chk"),
                "backtrace".into(),
                "error".into()
            ]
        );
        assert_eq!(
            f.message,
            "built against glibc, it imports 3 symbols this root's musl (/lib/ld-musl-x86_64.so.1) does not define: __memcpy_chk, backtrace, error"
        );
        assert_eq!(f.library, Some(LD_MUSL.into()));
    }

    /// A musl program on a glibc root: what its other library defines is not libc's; a hidden
    /// (non-default) glibc definition does not bind; a table that could not be read claims
    /// nothing.
    #[test]
    fn a_musl_program_on_glibc() {
        let mut r = Fixture::glibc();
        // Objects are added in path order (the checks look them up by binary search).
        let mut facts = program(LD_MUSL);
        facts.needed = vec![
            "libz.so.1".into(),
            "libabsent.so.2".into(),
            "libc.so".into(),
        ];
        let app = r.object(
            "/usr/bin/app",
            facts,
            session(Status::InterpMissing, None),
            libc(Flavor::Musl, Confidence::High),
        );
        let z = r.object(
            "/usr/lib/libz.so.1",
            library("libz.so.1"),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        let ld = r.object(
            LD,
            library("ld-linux-x86-64.so.2"),
            session(Status::Ok, None),
            libc(Flavor::Glibc, Confidence::High),
        );
        let c6 = r.object(
            "/usr/lib64/libc.so.6",
            library("libc.so.6"),
            session(Status::Ok, None),
            libc(Flavor::Glibc, Confidence::High),
        );
        let hidden = DynSym {
            hidden: true,
            ..export("old_only")
        };
        r.probes.imports.insert(ld, vec![export("_dl_find_object")]);
        r.probes.imports.insert(c6, vec![export("printf"), hidden]);
        r.probes.imports.insert(z, vec![export("inflate")]);
        r.probes.imports.insert(
            app,
            vec![
                import("printf"),
                import("inflate"),
                import("old_only"),
                import("__stack_chk_fail"),
            ],
        );
        assert_eq!(
            {
                let (l, rl) = (r.probes.libc.clone(), r.probes.root_libcs.clone());
                objects_needed(r.root(), &l, &rl)
            },
            [app, ld, c6, z]
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].symbols,
            [ByteStr::from("__stack_chk_fail"), "old_only".into()]
        );
        assert_eq!(
            found[0].message,
            "built against musl, it imports 2 symbols this root's glibc (/usr/lib64/ld-linux-x86-64.so.2) does not define: __stack_chk_fail, old_only (it also needs libabsent.so.2, which this root lacks: some of them may be that library's)"
        );
        r.probes.imports.remove(&c6);
        assert_eq!(r.run(check), [], "an unread libc claims nothing");
    }

    #[test]
    fn nothing_when_the_libc_matches_or_defines_everything() {
        let mut r = Fixture::musl();
        let musl = r.object(
            LD_MUSL,
            library("libc.musl-x86_64.so.1"),
            session(Status::Ok, None),
            libc(Flavor::Musl, Confidence::High),
        );
        let app = r.object(
            "/usr/bin/app",
            program(LD),
            session(Status::InterpMissing, None),
            libc(Flavor::Glibc, Confidence::High),
        );
        let native = r.object(
            "/usr/bin/native",
            program(LD_MUSL),
            session(Status::Ok, None),
            libc(Flavor::Musl, Confidence::High),
        );
        r.probes.imports.insert(musl, vec![export("printf")]);
        r.probes
            .imports
            .insert(app, vec![versioned("printf", "GLIBC_2.2.5")]);
        r.probes.imports.insert(native, vec![import("absent")]);
        assert_eq!(r.run(check), []);
    }
}
