//! What the packages declare they need: relations ([`Relation`]), the installed package that
//! satisfies one ([`PackageDb::satisfier`]), and everything reachable from some packages through
//! their declared dependencies ([`PackageDb::declared_closure`]).
//!
//! Each reader parses its own syntax into the same [`Relation`]; the matching here is shared.
//! Lookups go through an index of names and provided names built once per database, so a closure
//! costs one hash lookup per alternative it tries, whatever the database holds.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use serde::Serialize;

use super::{DbFormat, PackageDb};
use crate::name::ByteStr;

/// Relations kept per database: real ones hold tens of thousands (a full Debian install, a Fedora
/// workstation). Past it the rest are dropped with a warning, so a hostile database cannot turn
/// each byte of its file into a relation's worth of memory.
pub const MAX_RELATIONS: usize = 1 << 20;

/// One alternative of a declared dependency, as the database wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Relation {
    /// What is needed: a package name, a virtual name (dpkg `debconf-2.0`, APK `so:libz.so.1`,
    /// `cmd:sh`, `pc:zlib`, RPM `libc.so.6()(64bit)`), or a path (`/bin/sh`).
    pub name: ByteStr,
    /// dpkg's architecture qualifier (`any`, `native`, `amd64`); `None` elsewhere.
    pub arch: Option<ByteStr>,
    /// The version constraint: operator (`>=`, `<<`, `~`, ...) and version, as written.
    pub version: Option<(ByteStr, ByteStr)>,
    /// Needed before the package is unpacked or its scripts run: dpkg `Pre-Depends`, RPM
    /// `Requires(pre)` and `PreReq`. Every alternative of such a group has it set.
    pub pre: bool,
    /// Whose syntax [`Display`](fmt::Display) writes it in.
    pub syntax: DbFormat,
}

impl Relation {
    /// A relation on `name` with no qualifier, in `syntax`.
    pub fn named(name: impl Into<ByteStr>, syntax: DbFormat) -> Relation {
        Relation {
            name: name.into(),
            arch: None,
            version: None,
            pre: false,
            syntax,
        }
    }
}

/// Written as its database writes it: dpkg `libc6:amd64 (>= 2.34)`, APK `musl>=1.2.3`, RPM
/// `glibc >= 2.34`.
impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(a) = &self.arch {
            write!(f, ":{a}")?;
        }
        if let Some((op, v)) = &self.version {
            match self.syntax {
                DbFormat::Dpkg => write!(f, " ({op} {v})")?,
                DbFormat::Apk => write!(f, "{op}{v}")?,
                DbFormat::Rpm => write!(f, " {op} {v}")?,
            }
        }
        Ok(())
    }
}

/// A group of alternatives written as the database writes it (`debconf (>= 0.5) | debconf-2.0`).
pub fn group_text(group: &[Relation]) -> String {
    let mut out = String::new();
    for (i, r) in group.iter().enumerate() {
        if i > 0 {
            out.push_str(" | ");
        }
        out.push_str(&r.to_string());
    }
    out
}

/// Why a package is in a [`DeclaredClosure`]: a package that declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredBy {
    /// The declaring package (an index into [`PackageDb::packages`]).
    pub from: usize,
    /// The group of alternatives as written (`libc6 (>= 2.34)`, `debconf | debconf-2.0`).
    pub relation: String,
}

/// A declared dependency that no installed package satisfies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unsatisfied {
    /// The declaring package.
    pub from: usize,
    /// The group of alternatives as written.
    pub relation: String,
}

/// Everything reachable from some packages through their declared dependencies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeclaredClosure {
    /// Each package reached (by index), with the packages that declared it (the seeds' lists are
    /// empty: they are there because they were asked for).
    pub packages: BTreeMap<usize, Vec<DeclaredBy>>,
    /// Groups of the reached packages that no installed package satisfies.
    pub unsatisfied: Vec<Unsatisfied>,
}

/// Architectures that stand for "any machine": a package of one is installable beside any other.
fn independent(arch: Option<&ByteStr>) -> bool {
    arch.is_none_or(|a| a.as_bytes() == b"all" || a.as_bytes() == b"noarch")
}

/// The packages that answer to one name, in the order a choice among them is made, condensed to
/// what an architecture rule asks for: the first of all, the first independent one, the first of
/// each architecture. Each is `(rank, package)`, the rank being the position in that order.
#[derive(Debug, Default)]
struct Candidates {
    first: Option<(usize, usize)>,
    independent: Option<(usize, usize)>,
    by_arch: HashMap<ByteStr, (usize, usize)>,
}

impl Candidates {
    fn add(&mut self, rank: usize, package: usize, arch: Option<&ByteStr>) {
        self.first.get_or_insert((rank, package));
        if independent(arch) {
            self.independent.get_or_insert((rank, package));
        } else if let Some(a) = arch {
            self.by_arch.entry(a.clone()).or_insert((rank, package));
        }
    }

    /// The first candidate the qualifier `want` allows, for a relation declared by a package of
    /// architecture `from`.
    fn pick(&self, want: Option<&ByteStr>, from: Option<&ByteStr>) -> Option<usize> {
        let arch = match want.map(|a| a.as_bytes()) {
            Some(b"any") => return self.first.map(|(_, p)| p),
            // dpkg resolves an unqualified (or `:native`) relation against the declaring
            // package's architecture; an independent package's against any.
            Some(b"native") | None if independent(from) => return self.first.map(|(_, p)| p),
            Some(b"native") | None => from,
            Some(_) => want,
        };
        let same = arch.and_then(|a| self.by_arch.get(a));
        [same.copied(), self.independent]
            .into_iter()
            .flatten()
            .min()
            .map(|(_, p)| p)
    }
}

/// The database's names, for matching relations.
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    /// Package name → packages of that name, in index order.
    packages: HashMap<ByteStr, Candidates>,
    /// Provided name (APK's `=version` stripped) → providers, by package name then index.
    provides: HashMap<ByteStr, Candidates>,
}

/// A provided name without APK's `=version`.
fn provided_name(p: &[u8]) -> &[u8] {
    p.split(|&b| b == b'=').next().unwrap_or(p)
}

impl NameIndex {
    fn build(db: &PackageDb) -> NameIndex {
        let mut index = NameIndex::default();
        for (i, p) in db.packages.iter().enumerate() {
            index
                .packages
                .entry(p.name.clone())
                .or_default()
                .add(i, i, p.arch.as_ref());
        }
        let mut provided: Vec<(&[u8], &[u8], usize)> = db
            .packages
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.provides
                    .iter()
                    .map(move |v| (provided_name(v.as_bytes()), p.name.as_bytes(), i))
            })
            .collect();
        provided.sort_unstable();
        provided.dedup();
        for (rank, (name, _, i)) in provided.into_iter().enumerate() {
            let arch = db.packages.get(i).and_then(|p| p.arch.as_ref());
            index
                .provides
                .entry(ByteStr::from(name))
                .or_default()
                .add(rank, i, arch);
        }
        index
    }
}

impl PackageDb {
    fn names(&self) -> &NameIndex {
        self.names.get_or_init(|| NameIndex::build(self))
    }

    /// The installed package that satisfies `r`, declared by package `from`: a package named
    /// `r.name`, else one that provides that name (dpkg `Provides`, APK `p:` with its `=version`
    /// stripped, RPM provides), else, for a path (`/bin/sh`), the package owning that file.
    ///
    /// Architecture: `:any` takes any; no qualifier (or `:native`) the declaring package's
    /// architecture or an independent one (`all`, `noarch`), any when the declaring package is
    /// itself independent; an explicit one (`:amd64`) that one or an independent one.
    ///
    /// Versions are not compared: the installed set is one the package manager accepted, so a
    /// package of the name is taken as the one that satisfies it. When several qualify the first
    /// by name (then by position in the database) is taken, so the answer is deterministic.
    ///
    /// The names are indexed on the first call; change [`PackageDb::packages`] before it, not
    /// after.
    pub fn satisfier(&self, r: &Relation, from: usize) -> Option<usize> {
        let names = self.names();
        let from_arch = self.packages.get(from).and_then(|p| p.arch.as_ref());
        let want = r.arch.as_ref();
        let name = r.name.as_bytes();
        names
            .packages
            .get(name)
            .and_then(|c| c.pick(want, from_arch))
            .or_else(|| {
                names
                    .provides
                    .get(name)
                    .and_then(|c| c.pick(want, from_arch))
            })
            .or_else(|| {
                if !name.starts_with(b"/") {
                    return None;
                }
                // Read time resolved the path through the root's symlinks (`/bin/sh` ->
                // `/usr/bin/sh` under merged /usr), as the file lists were.
                let key = self.required_paths.get(name).map_or(name, |k| k.as_bytes());
                self.owner_index(key)
            })
    }

    /// Every package reachable from `seeds` through declared dependencies, breadth-first: for
    /// each group the first alternative that has a [`satisfier`](PackageDb::satisfier) is
    /// followed. Each package is visited once, so the work is one pass over the reached packages'
    /// relations. A package depending on itself adds nothing; indexes beyond the database are
    /// ignored.
    pub fn declared_closure(&self, seeds: &[usize]) -> DeclaredClosure {
        let mut out = DeclaredClosure::default();
        let mut queue = VecDeque::new();
        for &s in seeds {
            if s < self.packages.len() && !out.packages.contains_key(&s) {
                out.packages.insert(s, Vec::new());
                queue.push_back(s);
            }
        }
        let seed_set: std::collections::HashSet<usize> = queue.iter().copied().collect();
        while let Some(i) = queue.pop_front() {
            let Some(p) = self.packages.get(i) else {
                continue;
            };
            for group in &p.depends {
                let Some(j) = group.iter().find_map(|r| self.satisfier(r, i)) else {
                    if !group.is_empty() {
                        out.unsatisfied.push(Unsatisfied {
                            from: i,
                            relation: group_text(group),
                        });
                    }
                    continue;
                };
                if j == i {
                    continue;
                }
                let declared = out.packages.entry(j).or_insert_with(|| {
                    queue.push_back(j);
                    Vec::new()
                });
                // One reason per declaring package (its first group that leads here), and none for
                // the seeds.
                if !seed_set.contains(&j) && declared.last().is_none_or(|d| d.from != i) {
                    declared.push(DeclaredBy {
                        from: i,
                        relation: group_text(group),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkgdb::dpkg::tests::db;

    #[test]
    fn display_in_each_syntax() {
        let r = |syntax| Relation {
            name: ByteStr::from("libc6"),
            arch: None,
            version: Some((ByteStr::from(">="), ByteStr::from("2.34"))),
            pre: false,
            syntax,
        };
        assert_eq!(r(DbFormat::Dpkg).to_string(), "libc6 (>= 2.34)");
        assert_eq!(r(DbFormat::Apk).to_string(), "libc6>=2.34");
        assert_eq!(r(DbFormat::Rpm).to_string(), "libc6 >= 2.34");
        let any = Relation {
            arch: Some(ByteStr::from("any")),
            ..Relation::named("python3", DbFormat::Dpkg)
        };
        assert_eq!(
            group_text(&[any, r(DbFormat::Dpkg)]),
            "python3:any | libc6 (>= 2.34)"
        );
        assert_eq!(group_text(&[]), "");
    }

    /// A million relations among 25,000 packages (each depends on the 20 after it, the last ones
    /// wrapping around, so every package is reached and most edges close cycles): read and
    /// walked in one pass each. Past [`MAX_RELATIONS`] the rest are dropped, with one warning.
    #[test]
    fn a_million_relations_finish_quickly() {
        const N: usize = 25_000;
        let mut text = String::new();
        for i in 0..N {
            text.push_str(&format!(
                "Package: p{i}\nStatus: install ok installed\nArchitecture: amd64\nDepends: "
            ));
            for k in 1..=20 {
                if k > 1 {
                    text.push_str(", ");
                }
                text.push_str(&format!("missing{k} | p{} (>= 1)", (i + k) % N));
            }
            text.push_str("\n\n");
        }
        let started = std::time::Instant::now();
        let db = db(text.as_bytes());
        assert_eq!(db.packages.len(), N);
        assert!(db.warnings.is_empty(), "{:?}", db.warnings);
        let closure = db.declared_closure(&[0]);
        assert_eq!(closure.packages.len(), N);
        assert!(closure.unsatisfied.is_empty());
        // p1 is declared by each of the 20 packages before it (wrapping around), once each.
        assert_eq!(closure.packages[&1].len(), 20);
        assert_eq!(closure.packages[&1][0].relation, "missing1 | p1 (>= 1)");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );

        let extra = (0..50_000).map(|i| format!("q{i}")).collect::<Vec<_>>();
        text.push_str(&format!(
            "Package: extra\nStatus: install ok installed\nDepends: {}\n\n\
             Package: late\nStatus: install ok installed\nDepends: p0\n",
            extra.join(", ")
        ));
        let db = crate::pkgdb::dpkg::tests::db(text.as_bytes());
        assert_eq!(db.packages.len(), N + 2);
        assert_eq!(db.warnings.len(), 1, "{:?}", db.warnings);
        assert!(db.warnings[0].contains("those of extra on are dropped"));
        let kept: usize = db
            .packages
            .iter()
            .flat_map(|p| &p.depends)
            .map(Vec::len)
            .sum();
        assert_eq!(kept, MAX_RELATIONS);
        assert!(db.packages[N + 1].depends.is_empty());
    }

    #[test]
    fn first_by_name_among_providers() {
        let db = db(b"\
Package: zsh
Status: install ok installed
Architecture: amd64
Provides: shell

Package: bash
Status: install ok installed
Architecture: amd64
Provides: shell, shell

Package: dash
Status: install ok installed
Architecture: amd64
Provides: shell
");
        let shell = Relation::named("shell", DbFormat::Dpkg);
        assert_eq!(db.satisfier(&shell, 0), Some(1), "bash, first by name");
        assert_eq!(db.satisfier(&shell, 99), Some(1), "an unknown declarer");
        let closure = db.declared_closure(&[5, 2, 2]);
        assert_eq!(closure.packages.keys().copied().collect::<Vec<_>>(), [2]);
    }
}
