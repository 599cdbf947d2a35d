//! What the musl advisories (`musl-dns-no-tcp`, `musl-thread-stack`, `musl-locale`,
//! `musl-dlclose-noop`, `musl-iconv`) share: the programs musl's loader starts, each with the
//! symbols it and the libraries it loads import (read by the probes), and the musl release of its
//! loader. An advisory is about what a process does, so a symbol imported by any object of the
//! session counts (curl resolves names through libcurl's imports, not its own).

use std::collections::{BTreeMap, HashSet};

use super::input::Input;
use super::is_program;
use crate::name::ByteStr;
use crate::resolve::env::Family;
use crate::resolve::{Resolution, Resolved, Status};
use crate::scan::Object;

/// A program that runs on musl, with what its session imports.
#[derive(Clone, Debug)]
pub struct MuslSession<'a> {
    /// The program (an index into the objects).
    pub program: usize,
    /// The musl release of its loader (`1.2.5`), when the loader file says it.
    pub version: Option<&'a str>,
    /// Each symbol imported (undefined, weak or not: musl's libc defines them, so they bind) by
    /// the program or a library it loads, with the objects importing it, the program first, then
    /// in load order.
    pub imports: BTreeMap<&'a [u8], Vec<&'a ByteStr>>,
    /// The largest `PT_GNU_STACK` size of the program and its libraries (`-Wl,-z,stack-size=N`),
    /// which musl's loader makes the default thread stack size when it is larger than its own.
    pub stack_size: Option<u64>,
}

impl<'a> MuslSession<'a> {
    /// Which of `names` the session imports, in the order given, each with its importers.
    pub fn imported(&self, names: &[&str]) -> Vec<(&'a [u8], &[&'a ByteStr])> {
        names
            .iter()
            .filter_map(|n| {
                self.imports
                    .get_key_value(n.as_bytes())
                    .map(|(k, v)| (*k, v.as_slice()))
            })
            .collect()
    }

    /// Whether the session imports any of `names`.
    pub fn imports_any(&self, names: &[&str]) -> bool {
        names
            .iter()
            .any(|n| self.imports.contains_key(n.as_bytes()))
    }
}

/// Whether `o` is a program musl's loader starts (its interpreter exists, it is not static).
fn runs_on_musl(o: &Object, r: &Resolution) -> bool {
    is_program(o)
        && !matches!(r.status, Status::Static | Status::InterpMissing)
        && r.loader.as_ref().is_some_and(|l| l.family == Family::Musl)
}

/// The objects of every musl session (each once): the probes read their dynamic symbols.
pub fn objects_needed(root: Resolved<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, o, r) in root.iter() {
        if !runs_on_musl(o, r) {
            continue;
        }
        let members = std::iter::once(i).chain(
            r.closure
                .iter()
                .filter_map(|c| root.object_at(c.as_bytes())),
        );
        for j in members {
            if seen.insert(j) {
                out.push(j);
            }
        }
    }
    out
}

/// Every program of `input` that runs on musl, with its imports.
pub fn sessions<'a>(input: &Input<'a>) -> Vec<MuslSession<'a>> {
    let tables = &input.probes.imports;
    let mut out = Vec::new();
    for (i, o, r, _) in input.objects() {
        if !runs_on_musl(o, r) {
            continue;
        }
        let loader = r.loader.as_ref().map(|l| &l.path);
        let version = input
            .probes
            .root_libcs
            .iter()
            .find(|l| Some(&l.loader) == loader)
            .and_then(|l| l.version.as_deref());
        let mut imports: BTreeMap<&[u8], Vec<&ByteStr>> = BTreeMap::new();
        let members: Vec<usize> = std::iter::once(i)
            .chain(
                r.closure
                    .iter()
                    .filter_map(|c| input.index_of(c.as_bytes())),
            )
            .collect();
        let stack_size = members
            .iter()
            .filter_map(|j| input.probes.stack_sizes.get(j).copied())
            .max();
        for &j in &members {
            let path = &input.object(j).path;
            for s in tables.get(&j).into_iter().flatten() {
                if s.undefined {
                    let by = imports.entry(s.name.as_bytes()).or_default();
                    if by.last() != Some(&path) {
                        by.push(path);
                    }
                }
            }
        }
        out.push(MuslSession {
            program: i,
            version,
            imports,
            stack_size,
        });
    }
    out
}

/// `name (by PATH, PATH)` for each of `hits`, for messages: the evidence, readable.
pub fn describe(hits: &[(&[u8], &[&ByteStr])]) -> String {
    hits.iter()
        .map(|(name, by)| {
            let by: Vec<String> = by.iter().take(3).map(|p| p.to_string()).collect();
            format!("{} (by {})", ByteStr::from(*name), by.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(major, minor, patch)` of a musl release string.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    let out = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(out)
}

#[cfg(test)]
pub mod testing {
    //! A musl session for the advisories' unit tests.
    use super::super::testing::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::elf::symbols::DynSym;
    use crate::resolve::Status;
    use crate::resolve::env::Family;

    /// An import of `name`.
    pub fn import(name: &str) -> DynSym {
        DynSym {
            name: name.into(),
            version: None,
            undefined: true,
            weak: false,
            hidden: false,
        }
    }

    /// A definition of `name`.
    pub fn export(name: &str) -> DynSym {
        DynSym {
            undefined: false,
            ..import(name)
        }
    }

    /// A musl root (release `version`) with `/usr/bin/app` importing `app`, loading
    /// `/usr/lib/libdep.so.1` importing `dep`.
    pub fn musl_app(version: Option<&str>, app: &[&str], dep: &[&str]) -> Fixture {
        let mut r = Fixture::musl();
        r.probes.root_libcs[0].version = version.map(str::to_string);
        let mut s = session(Status::Ok, Some(loader(Family::Musl, LD_MUSL)));
        s.closure = vec!["/usr/lib/libdep.so.1".into(), LD_MUSL.into()];
        let musl = || libc(Flavor::Musl, Confidence::High);
        let a = r.object("/usr/bin/app", program(LD_MUSL), s, musl());
        let d = r.object(
            "/usr/lib/libdep.so.1",
            library("libdep.so.1"),
            session(Status::Ok, Some(loader(Family::Musl, LD_MUSL))),
            musl(),
        );
        r.probes
            .imports
            .insert(a, app.iter().map(|n| import(n)).collect());
        r.probes.imports.insert(
            d,
            dep.iter()
                .map(|n| import(n))
                .chain([export("dep_function")])
                .collect(),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::testing::*;

    /// A session's imports are the program's and its libraries', each with its importers; the
    /// version is its loader's; programs of glibc or without their interpreter have none.
    #[test]
    fn a_session_gathers_the_imports_of_its_closure() {
        let mut r = musl_app(Some("1.2.3"), &["dlclose", "printf"], &["printf", "iconv"]);
        r.object(
            "/usr/sbin/gnu",
            program(LD),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        r.object(
            "/usr/sbin/orphan",
            program(LD_MUSL),
            session(crate::resolve::Status::InterpMissing, None),
            libc(Flavor::Musl, Confidence::High),
        );
        let input = r.input();
        let s = sessions(&input);
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].version, Some("1.2.3"));
        let by = |n: &str| -> Vec<String> {
            s[0].imports[n.as_bytes()]
                .iter()
                .map(|p| p.to_string())
                .collect()
        };
        assert_eq!(by("printf"), ["/usr/bin/app", "/usr/lib/libdep.so.1"]);
        assert_eq!(by("iconv"), ["/usr/lib/libdep.so.1"]);
        assert!(
            !s[0].imports.contains_key(&b"dep_function"[..]),
            "a definition"
        );
        assert_eq!(
            describe(&s[0].imported(&["iconv", "absent", "dlclose"])),
            "iconv (by /usr/lib/libdep.so.1), dlclose (by /usr/bin/app)"
        );
        assert_eq!(objects_needed(r.root()), [0, 1]);
        assert_eq!(parse_version("1.2.4"), Some((1, 2, 4)));
        assert_eq!(parse_version("1.2"), None);
        assert_eq!(parse_version("1.2.4.1"), None);
    }
}
