/*!
The scan: walk the root, extract ELF facts from every regular file, and assemble the inventory.

Hard links: each inode is parsed once. A file with more than one link claims its `(st_dev, st_ino)` in
a shared set before reading; the other paths to it read nothing and get the same outcome afterwards, so
every path is reported and a hard-linked 64 MiB string table is parsed one time, not N.
*/

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::elf::{self, ElfFacts, Limits};
use crate::error::{ErrorCode, FileError, PathError};
use crate::name::ByteStr;
use crate::progress::Progress;
use crate::rootfs::{ListedFile, RootError, RootFs};
use crate::tree::{DirPart, DirText, Entry, Tree, child_of, name_hash};
use crate::walk::{self, DirStatus, Listing, Node, WalkOptions};

/// Scan settings.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// Per-file limits.
    pub limits: Limits,
    /// Walk settings.
    pub walk: WalkOptions,
}

/// One ELF object of the inventory. Later stages keep what they find about it in tables of their
/// own, indexed like [`Inventory::objects`] (an object's id is its index there).
#[derive(Clone, Debug, Serialize)]
pub struct Object {
    /// Absolute path inside the root, as walked.
    pub path: ByteStr,
    /// What the file says about itself.
    /// Boxed: the inventory of a root holds thousands, sorted and moved as they are gathered.
    #[serde(flatten)]
    pub facts: Box<ElfFacts>,
    /// `(st_dev, st_ino)`: paths with the same inode are the same object.
    #[serde(skip)]
    pub inode: (u64, u64),
}

/// Counts for the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Regular files seen (per path).
    pub files: u64,
    /// Directories walked.
    pub directories: u64,
    /// Symlinks recorded (not followed).
    pub symlinks: u64,
    /// FIFOs, sockets, devices: counted, never opened.
    pub special: u64,
    /// Mount points inside the root that were not descended into.
    pub other_filesystems: u64,
    /// Paths `--exclude` named: not walked (absent without `--exclude`).
    #[serde(skip_serializing_if = "is_zero")]
    pub excluded: u64,
    /// ELF objects (per path).
    pub elf: u64,
    /// Per-file errors.
    pub errors: u64,
}

impl Summary {
    /// Every path the walk listed (the root not counted).
    pub fn paths(&self) -> u64 {
        self.files
            + self.directories
            + self.symlinks
            + self.special
            + self.other_filesystems
            + self.excluded
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a scan-wide warning is about (stable kebab-case codes, docs/json.md).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum WarningCode {
    /// ROOT has no `usr`: it looks like a subtree (`/usr`, `/opt/app`), not a root filesystem,
    /// yet absolute paths are resolved as if it were `/`.
    NotARoot,
}

impl WarningCode {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod warning_code_tests {
    use super::WarningCode;
    use strum::VariantArray;

    #[test]
    fn codes_keep_their_strings_and_serde_agrees() {
        let names: Vec<&str> = WarningCode::VARIANTS.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["not-a-root"], "as hand-written before strum");
        for &c in WarningCode::VARIANTS {
            assert_eq!(c.as_str().parse::<WarningCode>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}

/// A warning about the scan as a whole, not about one file: the results may be wrong as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScanWarning {
    /// Stable code.
    pub code: WarningCode,
    /// What is wrong, what elfdeps assumes, and what to do.
    pub message: String,
}

/// The `not-a-root` warning when the walked tree has no `usr` directory (nor a symlink to one).
/// Every root filesystem that distributions and image builders make has `/usr` (Debian, Fedora,
/// Alpine, busybox, distroless), while the subtrees people pass by mistake (`/usr`, `/usr/lib`,
/// `/opt/app`) do not, and there an absolute RUNPATH such as `/usr/lib/x86_64-linux-gnu/systemd`
/// would be looked up as `ROOT/usr/lib/...`. Neither `etc` nor a `lib` directory tells the two
/// apart: `/usr` has `lib` and `lib64`, and on some machines an `etc` (npm puts one there).
pub fn root_shape_warning(root: &Path, tree: &Tree) -> Option<ScanWarning> {
    (!tree.is_dir(b"/usr")).then(|| not_a_root(root))
}

/// The `not-a-root` warning for `root` (which has no `usr` directory).
pub fn not_a_root(root: &Path) -> ScanWarning {
    let shown = crate::name::escape_controls(&root.display().to_string()).to_string();
    ScanWarning {
        code: WarningCode::NotARoot,
        message: format!(
            "{shown} has no usr directory: it does not look like a root filesystem. elfdeps takes \
             it as / (as after chroot {shown}), so absolute paths in it (interpreters, RPATH and \
             RUNPATH entries, symlink targets) are looked up inside {shown}; for a subtree such \
             as /usr they find the wrong files or none, and libraries reported missing may well \
             be there. Give the root filesystem instead (e.g. / rather than /usr)"
        ),
    }
}

/// Everything a scan found: the open root, the walked entries, the ELF objects and their facts.
/// It does not resolve anything: the stages after it read it and keep their results apart.
#[derive(Debug)]
pub struct Inventory {
    /// The root as given.
    pub root: std::path::PathBuf,
    /// The open root, for the stages that read files of it.
    pub rootfs: RootFs,
    /// Counts.
    pub summary: Summary,
    /// Every ELF object, sorted by path.
    pub objects: Vec<Object>,
    /// Per-file errors, sorted by path.
    pub errors: Vec<PathError>,
    /// Mount points not descended into.
    pub other_filesystems: Vec<ByteStr>,
    /// Warnings about the scan as a whole (such as a ROOT that is not a root filesystem).
    pub warnings: Vec<ScanWarning>,
    /// Every walked path and what it is.
    pub tree: Tree,
}

impl Inventory {
    /// The object at canonical `path`.
    pub fn object_at(&self, path: &[u8]) -> Option<usize> {
        self.objects
            .binary_search_by(|o| o.path.as_bytes().cmp(path))
            .ok()
    }
}

/// The worker's result for one file: facts, not ELF (`None`), or a per-file error.
type FileResult = Result<Option<Box<ElfFacts>>, FileError>;

/// What the worker made of one regular file.
#[derive(Debug)]
enum Outcome {
    /// Not ELF, one link, read without error: most files of a root, kept by name hash only.
    Plain,
    /// Parsed: an ELF object, a per-file error, or a file with other paths to it.
    Parsed {
        inode: (u64, u64),
        /// More than one link: other paths will ask for this outcome.
        linked: bool,
        result: FileResult,
    },
    /// Another path to the same inode is parsed by whoever claimed it first.
    SameAs((u64, u64)),
}

/// What the walk's listings are gathered into, as each directory is done.
#[derive(Default)]
struct Gathered {
    summary: Summary,
    /// The directories, in chunks of [`PARTS_CHUNK`]: one vector of a root's worth would grow by
    /// doubling, holding the old and the new copy at once and up to half of it spare.
    parts: Vec<Vec<DirPart>>,
    objects: Vec<Object>,
    errors: Vec<PathError>,
    other_filesystems: Vec<ByteStr>,
    /// Outcomes of the inodes parsed once for several paths.
    shared: HashMap<(u64, u64), FileResult>,
    /// The other paths to them.
    aliases: Vec<(ByteStr, (u64, u64))>,
    /// Files the walk did not open ([`Node::Plain`]), for the progress count.
    known_plain: u64,
}

/// Scans `root`: walks it and reads the facts of every ELF file, on the current rayon pool.
pub fn scan(root: &Path, opts: &ScanOptions, progress: &Progress) -> Result<Inventory, RootError> {
    let rootfs = RootFs::open(root)?;
    let claimed: Mutex<HashSet<(u64, u64)>> = Mutex::new(HashSet::new());
    // What all files being parsed at once may hold (`--max-memory`).
    let memory = opts.limits.memory_budget();
    let on_file = |_dir: &[u8], _name: &[u8], listed: ListedFile| -> Outcome {
        progress.inc();
        // Most files of a root are not ELF, and their first bytes say so: those need neither
        // the fstat (size, links, inode) nor anything else. A short read (an empty file, a FIFO
        // or device put there since the listing) goes to the check like an ELF file.
        let mut magic = [0u8; 4];
        if let Ok(4) = rustix::io::pread(listed.as_fd(), &mut magic, 0)
            && !elf::is_elf_magic(&magic)
        {
            return Outcome::Plain;
        }
        let file = match listed.check() {
            Ok(file) => file,
            Err(e) => {
                return Outcome::Parsed {
                    inode: (0, 0),
                    linked: false,
                    result: Err(e),
                };
            }
        };
        let inode = (file.stat.st_dev, file.stat.st_ino);
        let linked = file.stat.st_nlink > 1;
        if linked {
            let mut set = claimed.lock().unwrap_or_else(|p| p.into_inner());
            if !set.insert(inode) {
                return Outcome::SameAs(inode);
            }
        }
        let len = u64::try_from(file.stat.st_size).unwrap_or(0);
        let result = guarded(|| {
            elf::parse_file_in(
                std::os::fd::AsFd::as_fd(&file.fd),
                len,
                &opts.limits,
                memory.as_ref(),
            )
            .map(|f| f.map(Box::new))
        });
        match result {
            Ok(None) if !linked => Outcome::Plain,
            result => Outcome::Parsed {
                inode,
                linked,
                result,
            },
        }
    };
    let gathered = Mutex::new(Gathered::default());
    let on_dir = |listing: Listing<Outcome>| {
        let mut local = Gathered::default();
        let part = gather(listing, &mut local);
        progress.inc_by(local.known_plain);
        let mut g = gathered.lock().unwrap_or_else(|p| p.into_inner());
        g.merge(local, part);
    };
    walk::walk(&rootfs, opts.walk.clone(), &on_file, &on_dir);
    let gathered = gathered.into_inner().unwrap_or_else(|p| p.into_inner());
    // The tree keeps a handle on the root to confirm plain files; without one (descriptors
    // exhausted) it trusts the walk's name hashes.
    let live = rootfs.try_clone().ok();
    let mut inventory = assemble(root, rootfs, gathered, live);
    inventory
        .warnings
        .extend(root_shape_warning(root, &inventory.tree));
    Ok(inventory)
}

impl Gathered {
    fn merge(&mut self, other: Gathered, part: DirPart) {
        let s = &mut self.summary;
        let o = other.summary;
        s.files += o.files;
        s.directories += o.directories;
        s.symlinks += o.symlinks;
        s.special += o.special;
        s.other_filesystems += o.other_filesystems;
        s.excluded += o.excluded;
        match self.parts.last_mut() {
            Some(chunk) if chunk.len() < PARTS_CHUNK => chunk.push(part),
            _ => {
                let mut chunk = Vec::with_capacity(PARTS_CHUNK);
                chunk.push(part);
                self.parts.push(chunk);
            }
        }
        self.objects.extend(other.objects);
        self.errors.extend(other.errors);
        self.other_filesystems.extend(other.other_filesystems);
        self.shared.extend(other.shared);
        self.aliases.extend(other.aliases);
    }
}

/// Directories per chunk of [`Gathered::parts`].
const PARTS_CHUNK: usize = 4096;

/// One directory's listing: counted, its ELF objects and errors taken out, and the rest kept as
/// the tree's part for it.
fn gather(listing: Listing<Outcome>, g: &mut Gathered) -> DirPart {
    let (dir, status, list_error, mut entries) = listing.into_entries();
    let path_of = |name: &[u8]| ByteStr::from(child_of(dir.as_bytes(), name));
    let status = match status {
        DirStatus::Walked => {
            // The root itself is not counted among the directories, as before.
            if dir.as_bytes() != b"/" {
                g.summary.directories += 1;
            }
            Entry::Dir
        }
        DirStatus::OtherFs => {
            g.summary.other_filesystems += 1;
            g.other_filesystems.push(dir.clone());
            Entry::OtherFs
        }
        DirStatus::Error(e) => {
            g.errors.push(PathError::new(dir.clone(), e));
            Entry::Unreadable
        }
    };
    if let Some(e) = list_error {
        g.errors.push(PathError::new(dir.clone(), e));
    }
    // The directory's path and kept names, in one buffer.
    let mut kept = DirText::new(dir.as_bytes());
    let mut plain: Vec<u32> = Vec::new();
    while let Some((name, node)) = entries.next() {
        let entry = match node {
            Node::File(Outcome::Plain) => {
                g.summary.files += 1;
                plain.push(name_hash(name));
                continue;
            }
            // What `Outcome::Plain` would have said, known without opening the file.
            Node::Plain => {
                g.summary.files += 1;
                g.known_plain += 1;
                plain.push(name_hash(name));
                continue;
            }
            Node::File(Outcome::Parsed {
                inode,
                linked,
                result,
            }) => {
                g.summary.files += 1;
                if linked {
                    g.shared.insert(inode, result.clone());
                }
                push_outcome(g, path_of(name), inode, result);
                Entry::File
            }
            Node::File(Outcome::SameAs(inode)) => {
                g.summary.files += 1;
                g.aliases.push((path_of(name), inode));
                Entry::File
            }
            // Known by the directory's own listing, which may say it was not walked.
            Node::Dir => Entry::Dir,
            // Not walked, as a mount point is not: what lies there is unknown to resolution.
            Node::Excluded => {
                g.summary.excluded += 1;
                Entry::OtherFs
            }
            Node::Symlink(target) => {
                g.summary.symlinks += 1;
                Entry::Symlink(target)
            }
            Node::Special(_) => {
                g.summary.special += 1;
                Entry::Special
            }
            Node::Error(e) => {
                g.errors.push(PathError::new(path_of(name), e));
                Entry::Unreadable
            }
        };
        if !kept.push(name, entry) {
            g.errors.push(PathError::new(
                path_of(name),
                FileError::new(
                    ErrorCode::LimitExceeded,
                    "its directory lists more names than elfdeps indexes (4 GiB of them); \
                     resolution does not see this entry"
                        .to_string(),
                ),
            ));
        }
    }
    DirPart::from_text(kept, status, plain)
}

/// Runs one file's parse, turning a panic into that file's `internal-error`: the last line of defence
/// should a parser bug (ours or a crate's) meet an input nobody tested, so one file cannot abort the
/// scan of the others. The parse holds no shared state that a panic could leave half-updated (the
/// memory budget is given back by the reader's `Drop`, which runs while unwinding).
pub(crate) fn guarded(parse: impl FnOnce() -> FileResult) -> FileResult {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(FileError::new(
                ErrorCode::InternalError,
                format!(
                    "elfdeps failed on this file ({what}); the scan went on. Please report it \
                     with the file attached"
                ),
            ))
        }
    }
}

fn assemble(root: &Path, rootfs: RootFs, mut g: Gathered, live: Option<RootFs>) -> Inventory {
    for (path, inode) in std::mem::take(&mut g.aliases) {
        // The claimant is always a walked path of the same scan, so the entry exists.
        if let Some(result) = g.shared.get(&inode).cloned() {
            push_outcome(&mut g, path, inode, result);
        }
    }
    // Listings arrive in the order threads finish them; output does not depend on that.
    g.objects.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    g.errors.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    g.other_filesystems.sort_unstable();
    g.summary.elf = g.objects.len() as u64;
    g.summary.errors = g.errors.len() as u64;
    // One vector of the exact size, each chunk freed once moved.
    let mut parts = Vec::with_capacity(g.parts.iter().map(Vec::len).sum());
    for chunk in g.parts {
        parts.extend(chunk);
    }
    Inventory {
        root: root.to_path_buf(),
        rootfs,
        summary: g.summary,
        objects: g.objects,
        errors: g.errors,
        other_filesystems: g.other_filesystems,
        warnings: Vec::new(),
        tree: Tree::from_parts(parts, live),
    }
}

fn push_outcome(g: &mut Gathered, path: ByteStr, inode: (u64, u64), result: FileResult) {
    match result {
        Ok(Some(facts)) => g.objects.push(Object { path, facts, inode }),
        Ok(None) => {}
        Err(e) => g.errors.push(PathError::new(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_parse_becomes_an_internal_error() {
        let r = guarded(|| panic!("crafted input broke an invariant"));
        let e = r.expect_err("a panic is an error");
        assert_eq!(e.code, ErrorCode::InternalError);
        assert!(
            e.message.contains("crafted input broke an invariant"),
            "{}",
            e.message
        );
        assert_eq!(ErrorCode::InternalError.as_str(), "internal-error");
        assert!(matches!(guarded(|| Ok(None)), Ok(None)));
    }
}
