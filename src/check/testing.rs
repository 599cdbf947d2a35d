//! Fixtures for the checks' unit tests: a root held in memory (objects with their facts, their
//! resolutions and libcs, the walked tree) and hand-made probe results, from which an [`Input`]
//! is built as from a real root, without any file.

use std::collections::BTreeMap;

use super::input::Input;
use super::libc::{Confidence, Flavor, LibcInfo};
use super::probe::Probes;
use super::{Finding, RootLibc};
use crate::elf::{Class, ElfFacts, ElfType, Endian, Kind, Machine};
use crate::name::ByteStr;
use crate::resolve::env::Family;
use crate::resolve::{LoaderRef, Resolution, Resolved, Status};
use crate::scan::Object;
use crate::tree::{Entry, Tree};

/// The glibc loader of the fixtures' x86-64 roots.
pub const LD: &str = "/usr/lib64/ld-linux-x86-64.so.2";
/// The musl loader of the fixtures' x86-64 roots.
pub const LD_MUSL: &str = "/lib/ld-musl-x86_64.so.1";

/// Facts of a dynamically linked object of `kind` for `machine` (64-bit, little-endian).
pub fn facts(kind: Kind, machine: Machine) -> ElfFacts {
    ElfFacts {
        class: Class::Elf64,
        endian: Endian::Little,
        machine,
        e_machine: 0,
        e_flags: 0,
        osabi: "SYSV".into(),
        ei_osabi: 0,
        e_type: ElfType::Dyn,
        kind,
        interp: None,
        needed: Vec::new(),
        soname: None,
        rpath: None,
        runpath: None,
        flags: None,
        flags_1: None,
        version_needs: Vec::new(),
        version_defs: Vec::new(),
        dlopen: Vec::new(),
        note_warnings: Vec::new(),
        has_dynamic: true,
        has_load: true,
        libc_markers: None,
    }
}

/// An x86-64 PIE program started by `interp`.
pub fn program(interp: &str) -> ElfFacts {
    let mut f = facts(Kind::Pie, Machine::X86_64);
    f.interp = Some(ByteStr::from(interp));
    f
}

/// An x86-64 shared library with `soname`.
pub fn library(soname: &str) -> ElfFacts {
    let mut f = facts(Kind::SharedLibrary, Machine::X86_64);
    f.soname = Some(ByteStr::from(soname));
    f
}

/// The loader of a session.
pub fn loader(family: Family, path: &str) -> LoaderRef {
    LoaderRef {
        family,
        path: ByteStr::from(path),
    }
}

/// A session with `status`, loaded by `loader`, that loads nothing.
pub fn session(status: Status, loader: Option<LoaderRef>) -> Resolution {
    Resolution {
        status,
        loader,
        closure: Vec::new(),
        missing: Vec::new(),
        version_errors: Vec::new(),
        fatal: None,
        deps: Vec::new(),
        notes: Vec::new(),
        limit: None,
        edges: Vec::new(),
    }
}

/// A session of glibc's loader [`LD`] that went well.
pub fn glibc_ok() -> Resolution {
    session(Status::Ok, Some(loader(Family::Glibc, LD)))
}

/// An object's libc, as the classification gives it.
pub fn libc(flavor: Flavor, confidence: Confidence) -> LibcInfo {
    LibcInfo {
        flavor,
        confidence,
        evidence: format!("evidence for {}", flavor.as_str()),
        glibc_floor: None,
    }
}

/// A libc of the root.
pub fn root_libc(flavor: Flavor, loader: &str, version: Option<&str>) -> RootLibc {
    RootLibc {
        flavor,
        loader: ByteStr::from(loader),
        machine: Machine::X86_64,
        version: version.map(str::to_string),
    }
}

/// A root held in memory: objects (each with its resolution and libc), the other entries of its
/// tree (parent directories are added), and the probes' results.
#[derive(Default)]
pub struct Fixture {
    objects: Vec<Object>,
    resolutions: Vec<Resolution>,
    entries: BTreeMap<ByteStr, Entry>,
    /// What the probes would have read (`libc` is filled by [`Fixture::object`]).
    pub probes: Probes,
    tree: Tree,
}

impl Fixture {
    /// An empty root with no libc.
    pub fn new() -> Fixture {
        Fixture::default()
    }

    /// A root whose libc is glibc 2.36 (loader [`LD`], no file for it).
    pub fn glibc() -> Fixture {
        let mut f = Fixture::new();
        f.probes
            .root_libcs
            .push(root_libc(Flavor::Glibc, LD, Some("2.36")));
        f
    }

    /// A root whose libc is musl (loader [`LD_MUSL`], no file for it).
    pub fn musl() -> Fixture {
        let mut f = Fixture::new();
        f.probes
            .root_libcs
            .push(root_libc(Flavor::Musl, LD_MUSL, Some("1.2.5")));
        f
    }

    fn put(&mut self, path: &str, entry: Entry) {
        for (i, b) in path.bytes().enumerate().skip(1) {
            if b == b'/' {
                self.entries
                    .entry(ByteStr::from(&path[..i]))
                    .or_insert(Entry::Dir);
            }
        }
        self.entries.insert(ByteStr::from(path), entry);
    }

    /// Adds an object at `path`; returns its index.
    pub fn object(
        &mut self,
        path: &str,
        facts: ElfFacts,
        resolution: Resolution,
        libc: LibcInfo,
    ) -> usize {
        self.put(path, Entry::File);
        self.objects.push(Object {
            path: ByteStr::from(path),
            facts: Box::new(facts),
            inode: (0, self.objects.len() as u64),
        });
        self.resolutions.push(resolution);
        self.probes.libc.push(libc);
        self.objects.len() - 1
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str) -> &mut Fixture {
        self.put(path, Entry::Dir);
        self
    }

    /// Adds a symlink.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Fixture {
        self.put(path, Entry::Symlink(ByteStr::from(target)));
        self
    }

    /// Adds a regular file that is not an object.
    pub fn file(&mut self, path: &str) -> &mut Fixture {
        self.put(path, Entry::File);
        self
    }

    /// The resolved root as the checks see it.
    pub fn root(&mut self) -> Resolved<'_> {
        self.tree = Tree::from_sorted(
            self.entries
                .iter()
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
        );
        Resolved {
            objects: &self.objects,
            tree: &self.tree,
            resolutions: &self.resolutions,
        }
    }

    /// The input of the checks.
    pub fn input(&mut self) -> Input<'_> {
        self.root();
        let root = Resolved {
            objects: &self.objects,
            tree: &self.tree,
            resolutions: &self.resolutions,
        };
        Input::new(root, &self.probes)
    }

    /// What `check` finds in this root.
    pub fn run(&mut self, check: fn(&Input<'_>, &mut Vec<Finding>)) -> Vec<Finding> {
        let mut out = Vec::new();
        check(&self.input(), &mut out);
        out
    }
}
