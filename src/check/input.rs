/*!
What every check reads: a resolved root and the probes' results, with the indexes several checks
share. Built without any read of the root, so a test makes one from objects, resolutions and a
tree held in memory.
*/

use crate::elf::Machine;
use std::cell::OnceCell;
use std::collections::HashMap;

use super::RootLibc;
use super::hint::LibraryIndex;
use super::is_program;
use super::libc::{Flavor, LibcInfo};
use super::musl_imports::{self, MuslSession};
use super::probe::Probes;
use crate::resolve::{Resolution, Resolved};
use crate::scan::Object;

/// The input of the checks.
pub struct Input<'a> {
    /// The objects, their resolutions and the walked tree.
    pub root: Resolved<'a>,
    /// What the probes read.
    pub probes: &'a Probes,
    /// Where a library of a given name lives (by file name and by soname): built on first use,
    /// since only a missing library asks, and indexing takes a pass over every walked path.
    libraries: std::cell::OnceCell<LibraryIndex<'a>>,
    /// The programs whose sessions load each object (by canonical path).
    loaded_by: HashMap<&'a [u8], Vec<usize>>,
    musl_sessions: OnceCell<Vec<MuslSession<'a>>>,
}

/// The libc families `root_libcs` provides for `machine`, in the order of their loaders (a run of
/// the same family counted once).
pub fn families_of(root_libcs: &[RootLibc], machine: Machine) -> Vec<Flavor> {
    let mut f: Vec<Flavor> = root_libcs
        .iter()
        .filter(|l| l.machine == machine)
        .map(|l| l.flavor)
        .collect();
    f.dedup();
    f
}

impl<'a> Input<'a> {
    /// The input for `root`, whose objects `probes` read (`probes.libc` is index-aligned with
    /// `root.objects`).
    pub fn new(root: Resolved<'a>, probes: &'a Probes) -> Input<'a> {
        // Probes::gather classifies every object of the same root.
        debug_assert_eq!(
            probes.libc.len(),
            root.objects.len(),
            "one libc classification per object"
        );
        let mut loaded_by: HashMap<&[u8], Vec<usize>> = HashMap::new();
        for (i, o, r) in root.iter() {
            if !is_program(o) {
                continue;
            }
            for c in &r.closure {
                loaded_by.entry(c.as_bytes()).or_default().push(i);
            }
        }
        Input {
            root,
            probes,
            libraries: std::cell::OnceCell::new(),
            loaded_by,
            musl_sessions: OnceCell::new(),
        }
    }

    /// Where a library of a given name lives (by file name and by soname).
    pub fn libraries(&self) -> &LibraryIndex<'a> {
        self.libraries.get_or_init(|| {
            let missing: std::collections::HashSet<&[u8]> = self
                .root
                .resolutions
                .iter()
                .flat_map(|r| r.missing.iter().map(|m| m.as_bytes()))
                .collect();
            LibraryIndex::new(self.root.objects, self.root.tree, Some(&missing))
        })
    }

    /// Each object with its index, resolution and libc.
    pub fn objects(
        &self,
    ) -> impl Iterator<Item = (usize, &'a Object, &'a Resolution, &'a LibcInfo)> + use<'a> {
        let libc = &self.probes.libc;
        self.root.iter().map(move |(i, o, r)| (i, o, r, &libc[i]))
    }

    /// Object `i`.
    pub fn object(&self, i: usize) -> &'a Object {
        &self.root.objects[i]
    }

    /// The libc object `i` was built against.
    pub fn libc(&self, i: usize) -> &'a LibcInfo {
        &self.probes.libc[i]
    }

    /// The index of the object at `path`.
    pub fn index_of(&self, path: &[u8]) -> Option<usize> {
        self.root.object_at(path)
    }

    /// The programs whose sessions load the object at `path` (`None`: no program loads it).
    pub fn loaded_by(&self, path: &[u8]) -> Option<&[usize]> {
        self.loaded_by.get(path).map(Vec::as_slice)
    }

    /// The libc families the root provides for `machine`, in the order of its loaders (a run of
    /// the same family counted once).
    pub fn families(&self, machine: Machine) -> Vec<Flavor> {
        families_of(&self.probes.root_libcs, machine)
    }

    /// The programs that run on musl, with what their sessions import (computed once, for all
    /// the musl advisories).
    pub fn musl_sessions(&self) -> &[MuslSession<'a>] {
        self.musl_sessions
            .get_or_init(|| musl_imports::sessions(self))
    }

    /// What the root provides for `machine`, for messages: `glibc`, `glibc and musl`, or
    /// `no libc for MACHINE`.
    pub fn root_desc(&self, machine: Machine) -> String {
        let fams = self.families(machine);
        if fams.is_empty() {
            format!("no libc for {machine}")
        } else {
            fams.iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        }
    }

    /// The machines the root has a loader for, sorted.
    pub fn loader_machines(&self) -> Vec<String> {
        let mut m: Vec<String> = self
            .probes
            .root_libcs
            .iter()
            .map(|l| l.machine.to_string())
            .collect();
        m.sort_unstable();
        m.dedup();
        m
    }
}
