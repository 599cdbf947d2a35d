/*!
Views derived from another view, for questions the loader models answer about a changed root:

- [`dlopen`]: what `dlopen(NAME)` called by an object would load. The object's search rules
  (its RUNPATH or RPATH, `$ORIGIN`, the cache, the default directories; musl's path) are those of
  its own needs, so the object is resolved with `NAME` as its only need ([`Dlopener`] changes its
  facts and nothing else) and the session says where `NAME` was found and what it brought.
- [`Filtered`]: the root holding only some of its files (a package set, see `packages`' verification):
  a regular file or symlink the filter refuses is absent; directories and symlinks to directories
  stay (an empty directory changes nothing a loader does).
*/

use super::view::{FileKind, FsView, ObjectId};
use super::{LoaderCache, Resolution, ResolveOptions};
use crate::elf::{ElfFacts, Limits};
use crate::error::FileError;
use crate::name::ByteStr;
use crate::tree::PathLookup;

/// `inner`, except that object `caller` needs exactly `needs`.
pub struct Dlopener<'v> {
    inner: &'v dyn FsView,
    caller: ObjectId,
    facts: ElfFacts,
}

impl<'v> Dlopener<'v> {
    /// A view of `inner` in which object `caller` needs `needs` (in that order) instead of its own.
    pub fn new(inner: &'v dyn FsView, caller: ObjectId, needs: Vec<ByteStr>) -> Dlopener<'v> {
        let mut facts = inner.facts(caller).clone();
        facts.needed = needs;
        // The versions it requires are those of its own needs, not of the dlopened object.
        facts.version_needs.clear();
        Dlopener {
            inner,
            caller,
            facts,
        }
    }
}

impl FsView for Dlopener<'_> {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        self.inner.kind(path)
    }
    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        self.inner.read_link(path)
    }
    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        self.inner.identity(path)
    }
    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        self.inner.children(dir)
    }
    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        self.inner.read(path, max)
    }
    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        self.inner.read_prefix(path, max)
    }
    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
        self.inner.read_elf(path, limits)
    }
    fn object(&self, path: &[u8]) -> Option<ObjectId> {
        self.inner.object(path)
    }
    fn facts(&self, id: ObjectId) -> &ElfFacts {
        if id == self.caller {
            &self.facts
        } else {
            self.inner.facts(id)
        }
    }
    fn object_path(&self, id: ObjectId) -> &ByteStr {
        self.inner.object_path(id)
    }
}

/// What `dlopen` of one of `names` (alternatives, tried in order) by object `caller` loads: the
/// first name found, the object it is, and the session (its closure is what the dlopened object
/// brings); `None` when none is found. `cache` keeps the loaders' configuration between calls
/// on the same root.
pub fn dlopen(
    view: &dyn FsView,
    caller: ObjectId,
    names: &[ByteStr],
    opts: &ResolveOptions,
    cache: &LoaderCache,
) -> Option<(ByteStr, ObjectId, Resolution)> {
    for name in names {
        let derived = Dlopener::new(view, caller, vec![name.clone()]);
        let Some(r) = super::resolve_cached(&derived, &[caller], opts, cache).pop() else {
            continue;
        };
        let found = r
            .deps
            .first()
            .and_then(|d| d.found.as_ref())
            .and_then(|f| view.object(f.as_bytes()));
        if let Some(id) = found {
            return Some((name.clone(), id, r));
        }
    }
    None
}

/// `inner` holding only the regular files and symlinks `keep(canonical path)` accepts.
pub struct Filtered<'v, F> {
    inner: &'v dyn FsView,
    keep: F,
}

impl<'v, F: Fn(&[u8]) -> bool + Sync> Filtered<'v, F> {
    /// The view of `inner` where only what `keep` accepts (besides directories) exists.
    pub fn new(inner: &'v dyn FsView, keep: F) -> Filtered<'v, F> {
        Filtered { inner, keep }
    }

    fn kept(&self, path: &[u8]) -> bool {
        match self.inner.kind(path) {
            Some(FileKind::Dir) | Some(FileKind::OtherFs) | None => true,
            // A symlink to a directory stays as directories do (`/lib -> usr/lib` is not any
            // one package's, though a database may list `/lib` as a directory it uses).
            Some(FileKind::Symlink) if self.inner.is_dir(path) => true,
            Some(_) => (self.keep)(path),
        }
    }
}

impl<F: Fn(&[u8]) -> bool + Sync> FsView for Filtered<'_, F> {
    fn kind(&self, path: &[u8]) -> Option<FileKind> {
        self.inner.kind(path).filter(|_| self.kept(path))
    }
    fn read_link(&self, path: &[u8]) -> Option<ByteStr> {
        self.inner.read_link(path).filter(|_| self.kept(path))
    }
    fn identity(&self, path: &[u8]) -> Option<(u64, u64)> {
        self.inner.identity(path).filter(|_| self.kept(path))
    }
    fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        let mut out = self.inner.children(dir);
        out.retain(|name| {
            let full = crate::tree::child_of(dir, name.as_bytes());
            self.kept(&full)
        });
        out
    }
    fn read(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        if !self.kept(path) {
            return Err(absent());
        }
        self.inner.read(path, max)
    }
    fn read_prefix(&self, path: &[u8], max: u64) -> Result<Vec<u8>, FileError> {
        if !self.kept(path) {
            return Err(absent());
        }
        self.inner.read_prefix(path, max)
    }
    fn read_elf(&self, path: &[u8], limits: &Limits) -> Result<Option<ElfFacts>, FileError> {
        if !self.kept(path) {
            return Err(absent());
        }
        self.inner.read_elf(path, limits)
    }
    fn object(&self, path: &[u8]) -> Option<ObjectId> {
        self.inner.object(path).filter(|_| self.kept(path))
    }
    fn facts(&self, id: ObjectId) -> &ElfFacts {
        self.inner.facts(id)
    }
    fn object_path(&self, id: ObjectId) -> &ByteStr {
        self.inner.object_path(id)
    }
}

impl<F: Fn(&[u8]) -> bool + Sync> PathLookup for Filtered<'_, F> {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.resolve(path, follow_last)
    }
    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.kind(&crate::tree::child_of(dir, name)).is_some()
    }
}

fn absent() -> FileError {
    FileError::new(
        crate::error::ErrorCode::Vanished,
        "not in the reduced root (its package is not in the set)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::Kind;
    use crate::resolve::MemView;
    use crate::resolve::testing_facts as facts;

    #[test]
    fn dlopen_uses_the_callers_runpath_and_filtered_hides_files() {
        let mut v = MemView::new();
        v.dir("/usr/lib").dir("/opt/app/lib");
        let ld = "/lib64/ld-linux-x86-64.so.2";
        v.elf(
            ld,
            facts(Kind::SharedLibrary, None, Some("ld-linux-x86-64.so.2"), &[]),
        );
        let mut app = facts(Kind::Pie, Some(ld), None, &[]);
        app.runpath = Some(vec![ByteStr::from("/opt/app/lib")]);
        let caller = v.elf("/opt/app/app", app);
        let lib = facts(Kind::SharedLibrary, None, Some("libplug.so"), &[]);
        let plugin = v.elf("/opt/app/lib/libplug.so", lib);
        let r = dlopen(
            &v,
            caller,
            &[ByteStr::from("libplug.so")],
            &Default::default(),
            &LoaderCache::default(),
        );
        assert_eq!(r.map(|(_, id, _)| id), Some(plugin));
        let filtered = Filtered::new(&v, |p: &[u8]| p != b"/opt/app/lib/libplug.so");
        let r = dlopen(
            &filtered,
            caller,
            &[ByteStr::from("libplug.so")],
            &Default::default(),
            &LoaderCache::default(),
        );
        assert!(r.is_none());
    }
}
