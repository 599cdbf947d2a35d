//! `unresolved-symbol` (`--symbols`): for each program, every non-weak undefined symbol of it and
//! of its closure must be defined by the program, its closure or its loader (what `ldd -r` checks).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::hint::family_of;
use super::input::Input;
use super::{Code, Finding, Severity, is_program};
use crate::name::ByteStr;
use crate::resolve::env::Family;
use crate::resolve::{Resolution, Resolved, Status};
use crate::scan::Object;

/// Whether `o`'s session has a complete scope to look symbols up in: a program the loader starts
/// and does not give up on.
fn has_scope(o: &Object, r: &Resolution) -> bool {
    is_program(o)
        && !matches!(r.status, Status::Static | Status::InterpMissing)
        && r.loader.is_some()
        && r.fatal.is_none()
}

/// The paths of a session's scope: the program, its closure, its loader.
fn scope<'a>(o: &'a Object, r: &'a Resolution) -> impl Iterator<Item = &'a [u8]> {
    let loader = r.loader.as_ref().map(|l| l.path.as_bytes());
    std::iter::once(o.path.as_bytes())
        .chain(r.closure.iter().map(|c| c.as_bytes()))
        .chain(loader)
}

/// Every object some program's scope holds (indices, each once): the probes read their dynamic
/// symbols.
pub fn objects_needed(root: Resolved<'_>) -> Vec<usize> {
    let mut wanted = Vec::new();
    let mut seen = HashSet::new();
    for (_, o, r) in root.iter() {
        if !has_scope(o, r) {
            continue;
        }
        for p in scope(o, r) {
            if let Some(j) = root.object_at(p)
                && seen.insert(j)
            {
                wanted.push(j);
            }
        }
    }
    wanted
}

/// Adds the findings of `input` to `out` (none unless the probes read the symbol tables).
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let Some(tables) = &input.probes.dynamic_symbols else {
        return;
    };
    for (_, o, r, _) in input.objects() {
        if !has_scope(o, r) {
            continue;
        }
        // musl binds by name alone; glibc also by version.
        let musl = r
            .loader
            .as_ref()
            .is_some_and(|l| family_of(l) == Family::Musl);
        let members: Vec<usize> = scope(o, r).filter_map(|p| input.index_of(p)).collect();
        // name -> versions defined (None: unversioned).
        let mut defined: HashMap<&[u8], Vec<Option<&[u8]>>> = HashMap::new();
        for j in &members {
            for s in tables.get(j).into_iter().flatten() {
                if !s.undefined {
                    defined
                        .entry(s.name.as_bytes())
                        .or_default()
                        .push(s.version.as_ref().map(|v| v.as_bytes()));
                }
            }
        }
        let mut missing: BTreeMap<(ByteStr, Option<ByteStr>), Vec<ByteStr>> = BTreeMap::new();
        for j in &members {
            for s in tables.get(j).into_iter().flatten() {
                if !s.undefined || s.weak {
                    continue;
                }
                let ok = defined.get(s.name.as_bytes()).is_some_and(|defs| {
                    musl || match &s.version {
                        None => true,
                        Some(v) => defs.iter().any(|d| d.is_none() || *d == Some(v.as_bytes())),
                    }
                });
                if !ok {
                    missing
                        .entry((s.name.clone(), s.version.clone()))
                        .or_default()
                        .push(input.object(*j).path.clone());
                }
            }
        }
        for ((name, version), by) in missing {
            let shown = match &version {
                Some(v) => format!("{name}@{v}"),
                None => name.to_string(),
            };
            let mut f = Finding::new(
                Code::UnresolvedSymbol,
                Severity::Error,
                &o.path,
                format!(
                    "symbol {shown}, needed by {}, is defined by nothing it loads",
                    by.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
                ),
            )
            .hint(if musl {
                "musl fails on it at start-up (\"Error relocating ... symbol not found\"); provide a library that defines it or rebuild against musl".to_string()
            } else {
                "glibc fails when the symbol is first used (or at start-up with BIND_NOW); provide a library that defines it".to_string()
            });
            f.symbols = vec![name];
            f.version = version;
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::testing::*;
    use crate::elf::symbols::DynSym;

    fn sym(name: &str, version: Option<&str>, undefined: bool, weak: bool) -> DynSym {
        DynSym {
            name: name.into(),
            version: version.map(ByteStr::from),
            undefined,
            weak,
            hidden: false,
        }
    }

    /// A program importing `foo@V1` (and a weak `bar`) from libx.so, which defines `foo@V2`
    /// only, in a root whose loader is `family`'s.
    fn root(family: Family) -> Fixture {
        let (mut r, ld) = match family {
            Family::Glibc => (Fixture::glibc(), LD),
            Family::Musl => (Fixture::musl(), LD_MUSL),
        };
        let mut s = session(Status::Ok, Some(loader(family, ld)));
        s.closure = vec!["/usr/lib/libx.so".into()];
        let flavor = match family {
            Family::Glibc => Flavor::Glibc,
            Family::Musl => Flavor::Musl,
        };
        let app = r.object(
            "/usr/bin/app",
            program(ld),
            s,
            libc(flavor, Confidence::High),
        );
        let x = r.object(
            "/usr/lib/libx.so",
            library("libx.so"),
            session(Status::Ok, Some(loader(family, ld))),
            libc(flavor, Confidence::High),
        );
        r.probes.dynamic_symbols = Some(
            [
                (
                    app,
                    vec![
                        sym("foo", Some("V1"), true, false),
                        sym("bar", None, true, true),
                        sym("main", None, false, false),
                    ],
                ),
                (x, vec![sym("foo", Some("V2"), false, false)]),
            ]
            .into(),
        );
        r
    }

    #[test]
    fn glibc_binds_by_version() {
        let mut r = root(Family::Glibc);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::UnresolvedSymbol, Severity::Error)
        );
        assert_eq!(f.path, "/usr/bin/app".into());
        assert_eq!(
            f.message,
            "symbol foo@V1, needed by /usr/bin/app, is defined by nothing it loads"
        );
        assert_eq!(f.symbols, [ByteStr::from("foo")]);
        assert_eq!(f.version, Some("V1".into()));
        assert!(
            f.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("glibc fails"))
        );
        // The probes read the program's and its closure's tables (the loader is not an object
        // here).
        assert_eq!(objects_needed(r.root()), [0, 1]);
    }

    #[test]
    fn musl_binds_by_name_and_nothing_without_the_tables() {
        // musl takes foo@V2 for foo@V1: nothing unresolved.
        assert_eq!(root(Family::Musl).run(check), []);
        // Without --symbols the probes read no table: the check says nothing.
        let mut r = root(Family::Glibc);
        r.probes.dynamic_symbols = None;
        assert_eq!(r.run(check), []);
    }
}
