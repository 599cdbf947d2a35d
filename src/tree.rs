/*!
An in-memory snapshot of the walked tree: every path and what it is.

Resolution asks "what is at /lib64/ld-linux-x86-64.so.2 once symlinks are followed?" thousands of times
per root. Answering from the snapshot costs a hash lookup instead of system calls, and answers from the
same moment as the facts: a library that appears after the walk is not half-seen.
*/

use rustix::fs::FileType;
use rustix::io::Errno;

use crate::error::FileError;
use crate::name::ByteStr;
use crate::rootfs::{RootFs, resolve_in_root};

/// What a walked path is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Entry {
    /// A regular file (ELF or not).
    File,
    /// A directory.
    Dir,
    /// A symlink with its (unresolved) target.
    Symlink(ByteStr),
    /// A FIFO, socket or device: never opened, so never a usable library.
    Special,
    /// Not walked: a mount point inside the root, or a path `--exclude` names. What lies there
    /// is unknown.
    OtherFs,
    /// Listed, but it could not be opened or read.
    Unreadable,
}

/// Resolving paths inside a root as after `chroot(ROOT)`, whatever holds the root: the walked
/// [`Tree`], or a filesystem view of the resolver (`FsView`, which a lazy view answers without a
/// walk). What the package database readers need to key listed files by their canonical paths.
pub trait PathLookup: Sync {
    /// Resolves `path` inside the root (the last symlink followed only when `follow_last`).
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError>;

    /// Whether the directory at canonical `dir` has an entry `name` (of any type).
    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool;
}

impl PathLookup for Tree {
    fn lookup(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        self.resolve(path, follow_last)
    }

    /// Answered from the walk alone: a plain file's name hash is taken as its presence, without
    /// the check on disk [`Tree::get`] makes. Package databases ask this for every listed file
    /// (100k+ on a desktop root), and what it decides, whether a listed file is keyed by its
    /// directory's canonical path, matters only for files that exist: a colliding name that
    /// does not exist is keyed where nothing is ever looked up.
    fn has_entry(&self, dir: &[u8], name: &[u8]) -> bool {
        self.named(dir, name).is_some()
    }
}

pub use crate::name::child_of;
use crate::name::split_path as split;

/// Most directories whose paths share a hash that [`Tree::part`] compares one by one.
const MAX_SAME_HASH: usize = 8;

/// The hash of a directory's path, for [`Tree::part`] (FNV-1a, 64 bits: few collisions among
/// a root's directories, each settled by comparing the paths).
fn path_hash(path: &[u8]) -> u64 {
    path.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hash of a plain file's name, as a directory part keeps it (FNV-1a: stable, fast on short
/// names; a match is confirmed on disk, so a collision costs a system call, never a wrong answer).
pub fn name_hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811c_9dc5_u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// One directory of the walked tree: the entries resolution may need by name (directories,
/// symlinks, ELF objects, files that could not be read, special files), and for the other
/// regular files (text, data: most of a root) only hashes of their names.
///
/// The directory's path and the names of its kept entries share one buffer: a root has tens of
/// thousands of directories, and a buffer per name would cost an allocation each.
#[derive(Debug)]
pub struct DirPart {
    /// The path, then the kept names (in the order they were added).
    text: Box<[u8]>,
    /// Where the path ends in `text`.
    path_len: usize,
    /// What the directory itself is (its parent's entry for it says so too).
    status: DirState,
    /// The kept entries, sorted by name.
    entries: Box<[Slot]>,
    plain: Box<[u32]>,
}

/// What a listed directory is, in a byte (a root has tens of thousands).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DirState {
    /// Walked: [`Entry::Dir`].
    Walked,
    /// Not walked: [`Entry::OtherFs`].
    OtherFs,
    /// Could not be listed: [`Entry::Unreadable`] (or any other entry a part was given).
    Unreadable,
}

impl DirState {
    fn of(e: &Entry) -> DirState {
        match e {
            Entry::Dir => DirState::Walked,
            Entry::OtherFs => DirState::OtherFs,
            _ => DirState::Unreadable,
        }
    }

    fn entry(self) -> Entry {
        match self {
            DirState::Walked => Entry::Dir,
            DirState::OtherFs => Entry::OtherFs,
            DirState::Unreadable => Entry::Unreadable,
        }
    }
}

/// A kept entry: where its name lies in its directory's text, and what it is.
#[derive(Debug)]
struct Slot {
    start: u32,
    end: u32,
    entry: Entry,
}

/// A directory's path and kept names, gathered into one buffer as a walk hands them over.
#[derive(Debug)]
pub struct DirText {
    text: Vec<u8>,
    path_len: usize,
    slots: Vec<Slot>,
}

impl DirText {
    /// The buffer of directory `path`.
    pub fn new(path: &[u8]) -> DirText {
        DirText {
            text: path.to_vec(),
            path_len: path.len(),
            slots: Vec::new(),
        }
    }

    /// Keeps `entry` under `name`; `false` (nothing kept) when the buffer would pass 4 GiB, which
    /// only a hostile directory of tens of millions of kept names reaches (names are found by
    /// 32-bit offsets: a root has millions of them).
    pub fn push(&mut self, name: &[u8], entry: Entry) -> bool {
        let start = self.text.len();
        let (Ok(s), Ok(e)) = (u32::try_from(start), u32::try_from(start + name.len())) else {
            return false;
        };
        self.text.extend_from_slice(name);
        self.slots.push(Slot {
            start: s,
            end: e,
            entry,
        });
        true
    }
}

impl DirPart {
    /// A directory at `path` (absolute) with `entries` by name and the names of its plain regular
    /// files (kept as hashes only). `status`: [`Entry::Dir`] when it was walked.
    #[cfg(test)]
    fn new(
        path: ByteStr,
        status: Entry,
        entries: Vec<(ByteStr, Entry)>,
        plain: &[&[u8]],
    ) -> DirPart {
        let hashes = plain.iter().map(|n| name_hash(n)).collect();
        DirPart::with_hashes(path, status, entries, hashes)
    }

    /// A directory part: its path, its own state, its kept entries, and the name hashes of its
    /// plain files.
    pub fn with_hashes(
        path: ByteStr,
        status: Entry,
        entries: Vec<(ByteStr, Entry)>,
        hashes: Vec<u32>,
    ) -> DirPart {
        let mut text = DirText::new(path.as_bytes());
        for (name, entry) in entries {
            text.push(name.as_bytes(), entry);
        }
        DirPart::from_text(text, status, hashes)
    }

    /// The directory gathered in `text`, with the plain files' name hashes.
    pub fn from_text(text: DirText, status: Entry, mut hashes: Vec<u32>) -> DirPart {
        let DirText {
            text,
            path_len,
            mut slots,
        } = text;
        slots.sort_unstable_by(|a, b| {
            let name = |s: &Slot| &text[s.start as usize..s.end as usize];
            name(a).cmp(name(b))
        });
        hashes.sort_unstable();
        hashes.dedup();
        DirPart {
            text: text.into_boxed_slice(),
            path_len,
            status: DirState::of(&status),
            entries: slots.into_boxed_slice(),
            plain: hashes.into_boxed_slice(),
        }
    }

    /// The directory's path.
    fn path(&self) -> &[u8] {
        &self.text[..self.path_len]
    }

    /// The name of kept entry `i`.
    fn name(&self, i: usize) -> &[u8] {
        let s = &self.entries[i];
        &self.text[s.start as usize..s.end as usize]
    }

    /// The index of the entry kept by `name`.
    fn at(&self, name: &[u8]) -> Option<usize> {
        self.entries
            .binary_search_by(|s| self.text[s.start as usize..s.end as usize].cmp(name))
            .ok()
    }

    /// Whether the walk saw a plain file whose name hashes like `name`.
    fn may_hold_plain(&self, name: &[u8]) -> bool {
        self.plain.binary_search(&name_hash(name)).is_ok()
    }
}

/// What a directory holds under a name, as the walk recorded it.
enum Named<'t> {
    /// An entry kept by name.
    Kept(&'t Entry),
    /// A plain file's name hash only (to be confirmed on disk).
    Plain,
}

/// The walked tree, one [`DirPart`] per directory sorted by path: a lookup is a binary search for
/// the parent directory and one among its entries.
///
/// Memory grows with the directories, symlinks and ELF objects of a root, not with its plain files
/// (4 bytes of hash each): a root of a million text files costs a few MiB. The price is that a
/// plain file is confirmed on disk when asked for by name (a landmark such as python's `os.py`, a
/// configuration file, a linker script where a library was looked for), which is rare next to the
/// many names resolution looks up and does not find.
#[derive(Debug, Default)]
pub struct Tree {
    dirs: Vec<DirPart>,
    /// Each directory's path hash with its index in `dirs`, sorted: a directory is found by
    /// comparing integers, and its path once (resolution, run-time edges and the package
    /// database look directories up hundreds of thousands of times on a large root).
    by_hash: Box<[(u64, u32)]>,
    /// The root the tree was walked from, for the plain files' confirmations and listings (none in
    /// trees built from a list of entries).
    live: Option<RootFs>,
}

impl Tree {
    /// A tree from entries sorted by path (the root `/` itself is implied). Every entry is kept by
    /// name (no plain files): for trees made by hand, and for tests.
    pub fn from_sorted(entries: Vec<(ByteStr, Entry)>) -> Self {
        debug_assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0));
        let mut by_dir: std::collections::BTreeMap<Vec<u8>, Vec<(ByteStr, Entry)>> =
            std::collections::BTreeMap::new();
        by_dir.insert(b"/".to_vec(), Vec::new());
        for (path, entry) in entries {
            let Some((dir, name)) = split(path.as_bytes()) else {
                continue;
            };
            if matches!(entry, Entry::Dir) {
                by_dir.entry(path.as_bytes().to_vec()).or_default();
            }
            by_dir
                .entry(dir.to_vec())
                .or_default()
                .push((ByteStr::from(name), entry));
        }
        let parts = by_dir
            .into_iter()
            .map(|(dir, entries)| DirPart::with_hashes(dir.into(), Entry::Dir, entries, Vec::new()))
            .collect();
        Tree::from_parts(parts, None)
    }

    /// A tree from the directories a walk listed, in any order. A directory that was not walked
    /// (another filesystem, unreadable) is known by its parent's entry only. `live`: the root
    /// walked, which confirms plain files on disk.
    pub fn from_parts(mut parts: Vec<DirPart>, live: Option<RootFs>) -> Self {
        parts.sort_unstable_by(|a, b| a.path().cmp(b.path()));
        // What the directories not walked are, told to their parents' entries.
        let fixes: Vec<(usize, usize, Entry)> = parts
            .iter()
            .filter(|p| p.status != DirState::Walked)
            .filter_map(|p| {
                let (dir, name) = split(p.path())?;
                let parent = parts.binary_search_by(|q| q.path().cmp(dir)).ok()?;
                Some((parent, parts[parent].at(name)?, p.status.entry()))
            })
            .collect();
        for (parent, at, status) in fixes {
            if let Some(e) = parts.get_mut(parent).and_then(|p| p.entries.get_mut(at)) {
                e.entry = status;
            }
        }
        parts.retain(|p| p.status == DirState::Walked);
        // More directories than a u32 counts cannot be listed in memory anyway; past that, a
        // directory is found by binary search over the paths.
        let mut by_hash: Vec<(u64, u32)> = parts
            .iter()
            .enumerate()
            .map_while(|(i, p)| Some((path_hash(p.path()), u32::try_from(i).ok()?)))
            .collect();
        by_hash.sort_unstable();
        Tree {
            dirs: parts,
            by_hash: by_hash.into_boxed_slice(),
            live,
        }
    }

    fn part(&self, dir: &[u8]) -> Option<&DirPart> {
        match self.hashed_part(dir) {
            Some(found) => found,
            None => self
                .dirs
                .binary_search_by(|p| p.path().cmp(dir))
                .ok()
                .map(|i| &self.dirs[i]),
        }
    }

    /// [`Tree::part`] through the path hashes; `None` when they cannot say: a tree of more
    /// directories than they index, or more than [`MAX_SAME_HASH`] paths sharing the hash (names
    /// made to collide: FNV is not keyed), where the binary search over the paths stays bounded.
    fn hashed_part(&self, dir: &[u8]) -> Option<Option<&DirPart>> {
        if self.by_hash.len() < self.dirs.len() {
            return None;
        }
        let h = path_hash(dir);
        let first = self.by_hash.partition_point(|&(x, _)| x < h);
        let same = &self.by_hash[first..];
        let same = &same[..same.partition_point(|&(x, _)| x == h)];
        if same.len() > MAX_SAME_HASH {
            return None;
        }
        Some(
            same.iter()
                .filter_map(|&(_, i)| self.dirs.get(i as usize))
                .find(|p| p.path() == dir),
        )
    }

    /// What the walk recorded under `name` in directory `dir`.
    fn named(&self, dir: &[u8], name: &[u8]) -> Option<Named<'_>> {
        let part = self.part(dir)?;
        match part.at(name) {
            Some(i) => Some(Named::Kept(&part.entries[i].entry)),
            None => part.may_hold_plain(name).then_some(Named::Plain),
        }
    }

    /// What is at `path` (not following a final symlink).
    pub fn get(&self, path: &[u8]) -> Option<&Entry> {
        if path == b"/" {
            return Some(&Entry::Dir);
        }
        let (dir, name) = split(path)?;
        match self.named(dir, name)? {
            Named::Kept(e) => Some(e),
            Named::Plain => self.is_plain_file(path).then_some(&Entry::File),
        }
    }

    /// Whether the plain file the hashes say may be at `path` is a regular file there.
    fn is_plain_file(&self, path: &[u8]) -> bool {
        self.live.as_ref().is_none_or(|fs| fs.is_regular_file(path))
    }

    /// Every entry kept by name, with its directory: directories, symlinks, ELF objects and the
    /// other entries resolution needs by name; plain regular files are not among them (see
    /// [`Tree::plain_files_named_any`]).
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], &[u8], &Entry)> {
        self.dirs.iter().flat_map(|d| {
            (0..d.entries.len()).map(move |i| (d.path(), d.name(i), &d.entries[i].entry))
        })
    }

    /// The plain regular files named any of `names`, anywhere in the tree (confirmed on disk),
    /// each with the name it has: one pass over the hashes, however many names are asked.
    pub fn plain_files_named_any<'n>(
        &self,
        names: impl IntoIterator<Item = &'n [u8]>,
    ) -> Vec<(&'n [u8], ByteStr)> {
        let mut by_hash: std::collections::HashMap<u32, Vec<&'n [u8]>> =
            std::collections::HashMap::new();
        for n in names {
            by_hash.entry(name_hash(n)).or_default().push(n);
        }
        let mut out = Vec::new();
        if by_hash.is_empty() {
            return out;
        }
        for d in &self.dirs {
            for h in d.plain.iter() {
                for &name in by_hash.get(h).into_iter().flatten() {
                    let path = ByteStr::from(child_of(d.path(), name));
                    if d.at(name).is_none() && self.is_plain_file(path.as_bytes()) {
                        out.push((name, path));
                    }
                }
            }
        }
        out
    }

    /// The names of the entries directly inside directory `dir` (a canonical path), in byte
    /// order. A directory with plain files is listed on disk for their names (only those the
    /// walk saw are kept).
    pub fn children(&self, dir: &[u8]) -> Vec<ByteStr> {
        let Some(part) = self.part(dir) else {
            return Vec::new();
        };
        let mut names: Vec<ByteStr> = (0..part.entries.len())
            .map(|i| ByteStr::from(part.name(i)))
            .collect();
        if !part.plain.is_empty()
            && let Some(fs) = &self.live
        {
            let listed = fs.list_dir(dir).unwrap_or_default();
            names.extend(
                listed.into_iter().filter(|n| {
                    part.may_hold_plain(n.as_bytes()) && part.at(n.as_bytes()).is_none()
                }),
            );
            names.sort_unstable();
            names.dedup();
        }
        names
    }

    /// Whether `path` (symlinks followed inside the root) is a directory.
    pub fn is_dir(&self, path: &[u8]) -> bool {
        self.resolve(path, true)
            .is_ok_and(|c| matches!(self.get(c.as_bytes()), Some(Entry::Dir)))
    }

    /// Resolves `path` inside the root as after `chroot(ROOT)` (see [`resolve_in_root`]).
    pub fn resolve(&self, path: &[u8], follow_last: bool) -> Result<ByteStr, FileError> {
        resolve_in_root(
            path,
            follow_last,
            |p| match self.get(p) {
                Some(Entry::File) => Ok(FileType::RegularFile),
                Some(Entry::Dir) => Ok(FileType::Directory),
                Some(Entry::Symlink(_)) => Ok(FileType::Symlink),
                Some(Entry::Special) => Ok(FileType::Fifo),
                Some(Entry::OtherFs) => Err(Errno::XDEV),
                Some(Entry::Unreadable) => Err(Errno::ACCESS),
                None => Err(Errno::NOENT),
            },
            |p| match self.get(p) {
                Some(Entry::Symlink(t)) => Ok(t.as_bytes().to_vec()),
                _ => Err(Errno::INVAL),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_recorded_symlinks() {
        let mut entries = vec![
            (
                ByteStr::from("/lib"),
                Entry::Symlink(ByteStr::from("usr/lib")),
            ),
            (
                ByteStr::from("/lib64"),
                Entry::Symlink(ByteStr::from("usr/lib64")),
            ),
            (ByteStr::from("/usr"), Entry::Dir),
            (ByteStr::from("/usr/lib"), Entry::Dir),
            (ByteStr::from("/usr/lib/ld.so"), Entry::File),
            (ByteStr::from("/usr/lib64"), Entry::Dir),
            (
                ByteStr::from("/usr/lib64/ld"),
                Entry::Symlink(ByteStr::from("/lib/ld.so")),
            ),
            (ByteStr::from("/proc"), Entry::OtherFs),
        ];
        entries.sort();
        let t = Tree::from_sorted(entries);
        assert_eq!(
            t.resolve(b"/lib64/ld", true).unwrap(),
            ByteStr::from("/usr/lib/ld.so")
        );
        assert_eq!(
            t.resolve(b"/lib64/ld", false).unwrap(),
            ByteStr::from("/usr/lib64/ld")
        );
        assert!(t.resolve(b"/lib/missing.so", true).is_err());
        assert!(t.resolve(b"/proc/self/exe", true).is_err());
        assert_eq!(t.get(b"/"), Some(&Entry::Dir));
    }

    /// Plain files are kept as name hashes: found by name (confirmed on disk), listed from disk,
    /// and a name that only collides is not taken for one.
    #[test]
    fn plain_files_by_hash_are_confirmed_on_disk() {
        let dir = std::env::temp_dir().join(format!("elfdeps-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/os-release"), "ID=x\n").unwrap();
        std::fs::write(dir.join("etc/hosts"), "").unwrap();
        let fs = RootFs::open(&dir).unwrap();
        let parts = vec![
            DirPart::new(
                ByteStr::from("/"),
                Entry::Dir,
                vec![(ByteStr::from("etc"), Entry::Dir)],
                &[],
            ),
            DirPart::new(
                ByteStr::from("/etc"),
                Entry::Dir,
                vec![(ByteStr::from("ld.so"), Entry::Symlink(ByteStr::from("x")))],
                // `hosts` was removed from the walk's view: listed on disk, it is not shown.
                &[b"os-release", b"gone"],
            ),
        ];
        let t = Tree::from_parts(parts, Some(fs));
        assert_eq!(t.get(b"/etc/os-release"), Some(&Entry::File));
        assert_eq!(t.get(b"/etc/gone"), None, "not on disk any more");
        assert_eq!(t.get(b"/etc/hosts"), None, "not seen by the walk");
        assert_eq!(t.get(b"/etc"), Some(&Entry::Dir));
        let kids: Vec<String> = t.children(b"/etc").iter().map(|n| n.to_string()).collect();
        assert_eq!(kids, ["ld.so", "os-release"]);
        assert_eq!(
            t.plain_files_named_any([&b"os-release"[..], b"gone", b"ld.so"]),
            [(&b"os-release"[..], ByteStr::from("/etc/os-release"))]
        );
        assert!(t.resolve(b"/etc/os-release", true).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Children are the direct entries only, in byte order, with the siblings that sort between
    /// a directory and its own entries (`x.conf` between `x` and `x/a`) kept.
    #[test]
    fn children_jump_over_subtrees() {
        let mut entries: Vec<(ByteStr, Entry)> = [
            "/d",
            "/d/x",
            "/d/x/a",
            "/d/x/b",
            "/d/x/b/c",
            "/d/x.conf",
            "/d/x0",
            "/d/y",
            "/d!",
            "/e",
        ]
        .into_iter()
        .map(|p| (ByteStr::from(p), Entry::Dir))
        .collect();
        entries.sort();
        let t = Tree::from_sorted(entries);
        let names =
            |dir: &[u8]| -> Vec<String> { t.children(dir).iter().map(|n| n.to_string()).collect() };
        assert_eq!(names(b"/d"), ["x", "x.conf", "x0", "y"]);
        assert_eq!(names(b"/"), ["d", "d!", "e"]);
        assert!(names(b"/d/x/b/c").is_empty());
        assert!(names(b"/nowhere").is_empty());
    }
}

#[cfg(test)]
mod path_hashes {
    use super::*;

    /// A tree of `n` directories `/d0`..`/d{n-1}`, each holding `f`.
    fn dirs(n: usize) -> Tree {
        let mut entries = Vec::new();
        for i in 0..n {
            entries.push((ByteStr::from(format!("/d{i}").as_str()), Entry::Dir));
            entries.push((ByteStr::from(format!("/d{i}/f").as_str()), Entry::File));
        }
        entries.sort();
        Tree::from_sorted(entries)
    }

    fn found(t: &Tree, n: usize) {
        for i in 0..n {
            assert_eq!(t.get(format!("/d{i}/f").as_bytes()), Some(&Entry::File));
            assert_eq!(t.get(format!("/d{i}/g").as_bytes()), None);
        }
        assert_eq!(t.get(b"/nowhere/f"), None);
    }

    /// Directories are found through their path hashes, and when more paths share a hash than
    /// are compared one by one (names made to collide), through the sorted paths.
    #[test]
    fn directories_found_by_hash_and_when_hashes_collide() {
        let n = 3 * MAX_SAME_HASH;
        let mut t = dirs(n);
        assert!(t.by_hash.len() == t.dirs.len());
        found(&t, n);
        let mut all_alike = t.by_hash.to_vec();
        for h in &mut all_alike {
            h.0 = path_hash(b"/d0");
        }
        t.by_hash = all_alike.into_boxed_slice();
        // Every directory now shares /d0's hash: looking /d0 up falls back to the paths.
        assert!(t.hashed_part(b"/d0").is_none());
        assert_eq!(t.get(b"/d0/f"), Some(&Entry::File));
        assert_eq!(t.get(b"/d0/g"), None);
    }
}
