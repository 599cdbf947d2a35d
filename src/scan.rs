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
use crate::rootfs::{OpenFile, RootError, RootFs};
use crate::tree::{Entry, Tree};
use crate::walk::{self, Node, Record, WalkOptions};

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
    #[serde(flatten)]
    pub facts: ElfFacts,
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
    /// Parsed (or found not to be ELF, `Ok(None)`).
    Parsed {
        inode: (u64, u64),
        /// More than one link: other paths will ask for this outcome.
        linked: bool,
        /// Boxed: most files are not ELF, and a record per file is kept until the walk ends.
        result: FileResult,
    },
    /// Another path to the same inode is parsed by whoever claimed it first.
    SameAs((u64, u64)),
}

/// Scans `root`: walks it and reads the facts of every ELF file, on the current rayon pool.
pub fn scan(root: &Path, opts: &ScanOptions, progress: &Progress) -> Result<Inventory, RootError> {
    let rootfs = RootFs::open(root)?;
    let claimed: Mutex<HashSet<(u64, u64)>> = Mutex::new(HashSet::new());
    // What all files being parsed at once may hold (`--max-memory`).
    let memory = opts.limits.memory_budget();
    let on_file = |_path: &[u8], file: OpenFile| -> Outcome {
        progress.inc();
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
        Outcome::Parsed {
            inode,
            linked,
            result,
        }
    };
    let records = walk::walk(&rootfs, opts.walk.clone(), &on_file);
    let mut inventory = assemble(root, rootfs, records);
    inventory
        .warnings
        .extend(root_shape_warning(root, &inventory.tree));
    Ok(inventory)
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

fn assemble(root: &Path, rootfs: RootFs, records: Vec<Record<Outcome>>) -> Inventory {
    let mut report = Inventory {
        root: root.to_path_buf(),
        rootfs,
        summary: Summary::default(),
        objects: Vec::new(),
        errors: Vec::new(),
        other_filesystems: Vec::new(),
        warnings: Vec::new(),
        tree: Tree::default(),
    };
    let mut tree = Vec::with_capacity(records.len());
    // Outcomes of the inodes parsed once for several paths.
    let mut shared: HashMap<(u64, u64), FileResult> = HashMap::new();
    let mut aliases: Vec<(ByteStr, (u64, u64))> = Vec::new();
    for rec in records {
        let path = rec.path;
        let entry = match rec.node {
            Node::File(Outcome::Parsed {
                inode,
                linked,
                result,
            }) => {
                report.summary.files += 1;
                if linked {
                    shared.insert(inode, result.clone());
                }
                push_outcome(&mut report, &path, inode, result);
                Entry::File
            }
            Node::File(Outcome::SameAs(inode)) => {
                report.summary.files += 1;
                aliases.push((path.clone(), inode));
                Entry::File
            }
            Node::Dir => {
                report.summary.directories += 1;
                Entry::Dir
            }
            Node::OtherFs => {
                report.summary.other_filesystems += 1;
                report.other_filesystems.push(path.clone());
                Entry::OtherFs
            }
            // Not walked, as a mount point is not: what lies there is unknown to resolution.
            Node::Excluded => {
                report.summary.excluded += 1;
                Entry::OtherFs
            }
            Node::Symlink(target) => {
                report.summary.symlinks += 1;
                Entry::Symlink(target)
            }
            Node::Special(_) => {
                report.summary.special += 1;
                Entry::Special
            }
            Node::Error(e) => {
                report.errors.push(PathError::new(path.clone(), e));
                Entry::Unreadable
            }
        };
        // Records arrive sorted by path, so the tree is built sorted.
        tree.push((path, entry));
    }
    report.tree = Tree::from_sorted(tree);
    let had_aliases = !aliases.is_empty();
    for (path, inode) in aliases {
        // The claimant is always a walked path of the same scan, so the entry exists.
        if let Some(result) = shared.get(&inode) {
            push_outcome(&mut report, &path, inode, result.clone());
        }
    }
    if had_aliases {
        report.objects.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        report.errors.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    }
    report.summary.elf = report.objects.len() as u64;
    report.summary.errors = report.errors.len() as u64;
    report
}

fn push_outcome(report: &mut Inventory, path: &ByteStr, inode: (u64, u64), result: FileResult) {
    match result {
        Ok(Some(facts)) => report.objects.push(Object {
            path: path.clone(),
            facts: *facts,
            inode,
        }),
        Ok(None) => {}
        Err(e) => report.errors.push(PathError::new(path.clone(), e)),
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
