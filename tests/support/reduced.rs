//! Roots reduced to a package set, and running a program inside one: the ground truth for "this
//! package set runs the program" (tests/runtime_sets.rs).
//!
//! A reduced root holds exactly what an image built from the set would hold: the files of those
//! packages, plus what every image has or an install generates that no package owns, plus what a
//! container runtime provides. The program then runs in it under chroot(8), with /proc mounted in
//! a mount and PID namespace of its own that ends with the run.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What [`reduced_root`] put into the reduced root.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReducedStats {
    /// Non-directory entries (files, symlinks) listed by the packages of the set.
    pub package_files: usize,
    /// Non-directory entries no package lists (the image's own and generated files, the extras).
    pub unowned_files: usize,
    /// Bytes of the regular files of both kinds: what the set costs in an image.
    pub bytes: u64,
}

/// Which package database a root has, with every package's file list (as read: paths as the
/// database spells them, absolute, possibly through a symlinked directory such as /bin on merged
/// /usr; in a [`Plan`]: where they physically are, relative to the root).
struct Lists {
    kind: &'static str,
    files: BTreeMap<String, Vec<PathBuf>>,
}

/// Builds `out` (removed first when it exists) from the full root `full`, keeping only the
/// packages named (dpkg names, `name` or `name:arch`; apk names), detected from the database
/// `full` has (var/lib/dpkg or lib/apk/db/installed).
///
/// The rule, which is exactly the line between what a computed package set must supply and what
/// an image gets anyway:
///
/// - every path the packages' file lists name (dpkg's `info/NAME.list`, apk's `F:`/`R:` lines),
///   where it physically is in `full` (a list's `/bin/sh` is `usr/bin/sh` on merged /usr); a
///   listed path that does not exist in `full` (a diverted file, a removed conffile) is skipped;
/// - every non-directory path of `full` that no installed package lists, except ELF files: the
///   files an image has or an install generates (/etc/passwd, /etc/nsswitch.conf,
///   /etc/ld.so.cache, /etc/alternatives/*, /etc/ssl/certs/*, __pycache__, the package database
///   itself). An unowned ELF file is a program or library someone put there, which a set must
///   not get for free; one that belongs in the root is passed in `unowned_extra`. An unowned
///   symlink that resolves to nothing in the reduced root is left out: a maintainer script made
///   it for a package outside the set (an alternative, a web server's enabled module);
/// - the skeleton: the top-level symlinks (merged /usr's /bin, /lib, /lib64, /sbin: the bootstrap
///   makes them; base-files lists them as directories, so without this rule a set without
///   base-files would get real /bin, /lib... directories and a different root) and the top-level
///   directories, empty (/run, /root, /var, /home...: every image has its skeleton, whoever's
///   list names it; nginx -t fails without /run);
/// - `unowned_extra` (paths inside `full`, e.g. an unowned program under test), copied as they are;
/// - what a container runtime provides: /dev/null, /dev/zero, /dev/random, /dev/urandom (device
///   nodes: this needs uid 0), an empty /tmp (mode 1777), /proc as an empty mount point, an
///   /etc/hosts naming localhost and an empty /etc/resolv.conf (a runtime writes both over the
///   image's).
///
/// /dev, /proc and /sys of `full` are not read. Regular files under /usr are hard links to
/// `full`'s (a JDK is 200 MB; linking keeps a reduced root cheap), everything else is copied: the
/// programs under test write new files (__pycache__, logs, /tmp) but never into existing files
/// under /usr, while /etc and /var hold the files a program might append to (nginx's logs), which
/// must not change the cached root. Directories are created with `full`'s modes and owners.
pub fn reduced_root(
    full: &Path,
    packages: &[String],
    unowned_extra: &[&Path],
    out: &Path,
) -> Result<ReducedStats, String> {
    let plan = plan(full)?;
    let mut resolver = Resolver::new(full);
    let mut wanted = BTreeSet::new();
    for name in packages {
        let key = list_key(&plan.lists, name)?;
        wanted.extend(plan.lists.files[key.as_str()].iter().cloned());
    }
    let unowned = &plan.unowned;
    let mut extra = BTreeSet::new();
    for p in unowned_extra {
        let phys = resolver
            .physical(p)
            .ok_or_else(|| format!("{} is not in {}", p.display(), full.display()))?;
        extra.insert(phys);
    }

    if out.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(out).map_err(|e| format!("removing {}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let mut copier = Copier {
        full,
        out,
        made_dirs: BTreeSet::new(),
        bytes: 0,
    };
    copier.mirror_dir_meta(Path::new(""))?;

    // The skeleton first: the top-level symlinks, so nothing below creates a real directory in
    // their place, and the top-level directories, empty.
    let top = std::fs::read_dir(full).map_err(|e| format!("reading {}: {e}", full.display()))?;
    for entry in top {
        let entry = entry.map_err(|e| format!("reading {}: {e}", full.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        if kind.is_symlink() {
            copier.copy(Path::new(&entry.file_name()))?;
        } else if kind.is_dir() {
            copier.ensure_dir(Path::new(&entry.file_name()))?;
        }
    }

    let mut stats = ReducedStats::default();
    for rel in &wanted {
        if copier.copy(rel)? {
            stats.package_files += 1;
        }
    }
    let mut unowned_links = Vec::new();
    for rel in unowned.iter().chain(&extra) {
        if !wanted.contains(rel) && copier.copy(rel)? {
            stats.unowned_files += 1;
            if !extra.contains(rel) && out.join(rel).is_symlink() {
                unowned_links.push(rel);
            }
        }
    }
    // An unowned symlink that leads nowhere in the reduced root was made by the maintainer script
    // of a package outside the set, for that package (/etc/alternatives/java for the JDK, nginx's
    // modules-enabled/*.conf for a module): an image without the package would not have it, and
    // a dangling one is not the same as none (nginx's include fails on it).
    let in_out = Resolver::new(out);
    for rel in unowned_links {
        if in_out.resolve_dir(rel, 0).is_none() {
            let p = out.join(rel);
            std::fs::remove_file(&p).map_err(|e| format!("removing {}: {e}", p.display()))?;
            stats.unowned_files -= 1;
        }
    }
    stats.bytes = copier.bytes;
    container_runtime_files(out)?;
    Ok(stats)
}

/// Every installed package's name as [`reduced_root`] takes it (dpkg: the list's name, with
/// `:ARCH` where the database has it).
pub fn installed_packages(full: &Path) -> Result<Vec<String>, String> {
    Ok(plan(full)?.lists.files.keys().cloned().collect())
}

/// Where `path` (absolute, inside `full`) physically is: its directories' symlinks resolved inside
/// `full` (an absolute target is taken from `full`, `..` stops at its top), the last component
/// kept as it is. `None` when it does not exist.
pub fn physical(full: &Path, path: &Path) -> Option<PathBuf> {
    Resolver::new(full).physical(path)
}

/// The packages whose file lists name `path` (physically: a list's /bin/git is /usr/bin/git).
pub fn owners(full: &Path, path: &Path) -> Result<Vec<String>, String> {
    let plan = plan(full)?;
    let target = physical(full, path)
        .ok_or_else(|| format!("{} is not in {}", path.display(), full.display()))?;
    Ok(plan
        .lists
        .files
        .iter()
        .filter(|(_, files)| files.contains(&target))
        .map(|(name, _)| name.clone())
        .collect())
}

/// What [`reduced_root`] needs of a full root whatever the set: every package's files where they
/// physically are, and the unowned non-ELF files. Read once per root and test binary (a cached
/// root does not change under the tests): a reduced root is then mostly links.
struct Plan {
    lists: Lists,
    unowned: Vec<PathBuf>,
}

static PLANS: Mutex<BTreeMap<PathBuf, Arc<Plan>>> = Mutex::new(BTreeMap::new());

fn plan(full: &Path) -> Result<Arc<Plan>, String> {
    let mut plans = PLANS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = plans.get(full) {
        return Ok(Arc::clone(p));
    }
    let mut lists = read_lists(full)?;
    let mut resolver = Resolver::new(full);
    let mut owned = BTreeSet::new();
    for files in lists.files.values_mut() {
        *files = files.iter().filter_map(|f| resolver.physical(f)).collect();
        owned.extend(files.iter().cloned());
    }
    let unowned = unowned_non_elf(full, &owned)?;
    let p = Arc::new(Plan { lists, unowned });
    plans.insert(full.to_owned(), Arc::clone(&p));
    Ok(p)
}

fn read_lists(full: &Path) -> Result<Lists, String> {
    let dpkg_info = full.join("var/lib/dpkg/info");
    let apk_db = full.join("lib/apk/db/installed");
    if dpkg_info.is_dir() {
        let mut files = BTreeMap::new();
        let dir = std::fs::read_dir(&dpkg_info)
            .map_err(|e| format!("reading {}: {e}", dpkg_info.display()))?;
        for entry in dir {
            let entry = entry.map_err(|e| format!("reading {}: {e}", dpkg_info.display()))?;
            let name = entry.file_name();
            let Some(pkg) = name.as_bytes().strip_suffix(b".list") else {
                continue;
            };
            let text = std::fs::read(entry.path())
                .map_err(|e| format!("reading {}: {e}", entry.path().display()))?;
            let paths = text
                .split(|&b| b == b'\n')
                .filter(|l| l.starts_with(b"/") && *l != b"/.")
                .map(|l| PathBuf::from(OsStr::from_bytes(l)))
                .collect();
            files.insert(String::from_utf8_lossy(pkg).into_owned(), paths);
        }
        Ok(Lists {
            kind: "dpkg",
            files,
        })
    } else if apk_db.is_file() {
        let text =
            std::fs::read(&apk_db).map_err(|e| format!("reading {}: {e}", apk_db.display()))?;
        let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        let mut current: Option<String> = None;
        let mut dir = PathBuf::from("/");
        for line in text.split(|&b| b == b'\n') {
            let (Some(tag), Some(b':')) = (line.first(), line.get(1)) else {
                continue;
            };
            let value = OsStr::from_bytes(&line[2..]);
            match tag {
                b'P' => {
                    let name = value.to_string_lossy().into_owned();
                    files.entry(name.clone()).or_default();
                    current = Some(name);
                    dir = PathBuf::from("/");
                }
                // F: a directory (listed itself), R: a file in the last F: directory.
                b'F' => {
                    dir = Path::new("/").join(value);
                    if let Some(p) = &current {
                        files
                            .get_mut(p)
                            .expect("entry made at P:")
                            .push(dir.clone());
                    }
                }
                b'R' => {
                    if let Some(p) = &current {
                        files
                            .get_mut(p)
                            .expect("entry made at P:")
                            .push(dir.join(value));
                    }
                }
                _ => {}
            }
        }
        Ok(Lists { kind: "apk", files })
    } else {
        Err(format!(
            "{} has neither var/lib/dpkg/info nor lib/apk/db/installed",
            full.display()
        ))
    }
}

/// The list of `name` (`name` or `name:arch`; dpkg keeps a Multi-Arch: same package's list as
/// `name:arch.list` and the others' as `name.list`).
fn list_key(lists: &Lists, name: &str) -> Result<String, String> {
    if lists.files.contains_key(name) {
        return Ok(name.to_owned());
    }
    if let Some((bare, _arch)) = name.split_once(':')
        && lists.files.contains_key(bare)
    {
        return Ok(bare.to_owned());
    }
    let prefix = format!("{name}:");
    let mut arch = lists.files.keys().filter(|k| k.starts_with(&prefix));
    match (arch.next(), arch.next()) {
        (Some(k), None) => Ok(k.clone()),
        (Some(_), Some(_)) => Err(format!(
            "{name} is installed for several architectures; name one ({name}:ARCH)"
        )),
        (None, _) => Err(format!(
            "no installed package {name} ({} lists)",
            lists.kind
        )),
    }
}

/// Resolves directories' symlinks inside a root, remembering each directory's answer.
struct Resolver<'a> {
    full: &'a Path,
    dirs: HashMap<PathBuf, Option<PathBuf>>,
}

impl<'a> Resolver<'a> {
    fn new(full: &'a Path) -> Self {
        Resolver {
            full,
            dirs: HashMap::new(),
        }
    }

    /// See [`physical`]: a relative path (no leading /) of an entry that exists.
    fn physical(&mut self, path: &Path) -> Option<PathBuf> {
        let name = path.file_name()?;
        let parent = self.dir(path.parent()?)?;
        let rel = parent.join(name);
        self.full.join(&rel).symlink_metadata().ok()?;
        Some(rel)
    }

    fn dir(&mut self, dir: &Path) -> Option<PathBuf> {
        if let Some(known) = self.dirs.get(dir) {
            return known.clone();
        }
        let resolved = self.resolve_dir(dir, 0);
        self.dirs.insert(dir.to_owned(), resolved.clone());
        resolved
    }

    /// Follows every component of `dir` (40 symlinks at most, as the kernel does).
    fn resolve_dir(&self, dir: &Path, mut hops: u32) -> Option<PathBuf> {
        let mut todo: Vec<PathBuf> = dir
            .components()
            .rev()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(PathBuf::from(n)),
                Component::ParentDir => Some(PathBuf::from("..")),
                _ => None,
            })
            .collect();
        let mut at = PathBuf::new();
        while let Some(c) = todo.pop() {
            if c.as_os_str() == ".." {
                at.pop();
                continue;
            }
            let next = at.join(&c);
            let meta = self.full.join(&next).symlink_metadata().ok()?;
            if meta.file_type().is_symlink() {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = std::fs::read_link(self.full.join(&next)).ok()?;
                if target.is_absolute() {
                    at = PathBuf::new();
                }
                todo.extend(
                    target
                        .components()
                        .rev()
                        .filter_map(|c| match c {
                            Component::Normal(n) => Some(PathBuf::from(n)),
                            Component::ParentDir => Some(PathBuf::from("..")),
                            _ => None,
                        })
                        .collect::<Vec<_>>(),
                );
            } else if meta.is_dir() || todo.is_empty() {
                // The last component may be a file: `resolves` asks about whole paths.
                at = next;
            } else {
                return None;
            }
        }
        Some(at)
    }
}

/// Every non-directory entry of `full` (relative paths; /dev, /proc and /sys not entered) that is
/// not in `owned` and is not an ELF file.
fn unowned_non_elf(full: &Path, owned: &BTreeSet<PathBuf>) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = full.join(&rel);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading {}: {e}", dir.display()))?;
            let child = rel.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                if !(rel.as_os_str().is_empty()
                    && ["dev", "proc", "sys"].contains(&&*entry.file_name().to_string_lossy()))
                {
                    stack.push(child);
                }
                continue;
            }
            if owned.contains(&child) || (kind.is_file() && is_elf(&entry.path())) {
                continue;
            }
            found.push(child);
        }
    }
    found.sort();
    Ok(found)
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"\x7fELF")
}

/// Copies entries (relative paths) of `full` into `out`.
struct Copier<'a> {
    full: &'a Path,
    out: &'a Path,
    made_dirs: BTreeSet<PathBuf>,
    bytes: u64,
}

impl Copier<'_> {
    /// Copies one entry (its directories first); true for a non-directory entry made now.
    fn copy(&mut self, rel: &Path) -> Result<bool, String> {
        let src = self.full.join(rel);
        let dst = self.out.join(rel);
        let meta = src
            .symlink_metadata()
            .map_err(|e| format!("{}: {e}", src.display()))?;
        if meta.is_dir() {
            self.ensure_dir(rel)?;
            return Ok(false);
        }
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        if dst.symlink_metadata().is_ok() {
            return Ok(false);
        }
        let ft = meta.file_type();
        let made = if ft.is_symlink() {
            let target = std::fs::read_link(&src).map_err(|e| format!("{}: {e}", src.display()))?;
            std::os::unix::fs::symlink(&target, &dst)
                .map_err(|e| format!("symlink {}: {e}", dst.display()))?;
            true
        } else if ft.is_file() {
            let under_usr = rel.starts_with("usr");
            if !(under_usr && std::fs::hard_link(&src, &dst).is_ok()) {
                std::fs::copy(&src, &dst)
                    .map_err(|e| format!("copy {} to {}: {e}", src.display(), dst.display()))?;
            }
            self.bytes += meta.len();
            true
        } else {
            // Sockets, FIFOs, devices: nothing a package set supplies; the runtime's devices are
            // made by container_runtime_files.
            false
        };
        if made {
            std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))
                .map_err(|e| format!("lchown {}: {e}", dst.display()))?;
            if ft.is_file() {
                // After the chown, which clears set-id bits.
                std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode()))
                    .map_err(|e| format!("chmod {}: {e}", dst.display()))?;
            }
        }
        Ok(made)
    }

    /// Makes `rel` and its parents as directories with `full`'s modes and owners.
    fn ensure_dir(&mut self, rel: &Path) -> Result<(), String> {
        if rel.as_os_str().is_empty() || self.made_dirs.contains(rel) {
            return Ok(());
        }
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        let dst = self.out.join(rel);
        match dst.symlink_metadata() {
            // A top-level symlink made first; `rel` is physical, so nothing goes through it.
            Ok(m) if m.is_dir() || m.file_type().is_symlink() => {}
            Ok(_) => return Err(format!("{} exists and is no directory", dst.display())),
            Err(_) => {
                std::fs::create_dir(&dst).map_err(|e| format!("mkdir {}: {e}", dst.display()))?;
                self.mirror_dir_meta(rel)?;
            }
        }
        self.made_dirs.insert(rel.to_owned());
        Ok(())
    }

    fn mirror_dir_meta(&self, rel: &Path) -> Result<(), String> {
        let src = self.full.join(rel);
        let dst = self.out.join(rel);
        let meta = src
            .symlink_metadata()
            .map_err(|e| format!("{}: {e}", src.display()))?;
        std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))
            .map_err(|e| format!("lchown {}: {e}", dst.display()))?;
        std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode()))
            .map_err(|e| format!("chmod {}: {e}", dst.display()))
    }
}

/// What a container runtime puts into every container, whatever the image holds.
fn container_runtime_files(out: &Path) -> Result<(), String> {
    let mkdir = |rel: &str, mode: u32| -> Result<(), String> {
        let p = out.join(rel);
        std::fs::create_dir_all(&p).map_err(|e| format!("mkdir {}: {e}", p.display()))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", p.display()))
    };
    mkdir("dev", 0o755)?;
    mkdir("proc", 0o555)?;
    mkdir("tmp", 0o1777)?;
    mkdir("etc", 0o755)?;
    for (name, minor) in [("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)] {
        let p = out.join("dev").join(name);
        let _ = std::fs::remove_file(&p);
        super::mknod_char(&p, 1, minor);
        // mknod's mode is filtered by the umask; a runtime's nodes are 0666.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| format!("chmod {}: {e}", p.display()))?;
    }
    // Removed before writing: whatever was there (a symlink out of the root, a hard link) is
    // replaced, never written through.
    for (name, text) in [
        (
            "etc/hosts",
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        ),
        ("etc/resolv.conf", ""),
    ] {
        let p = out.join(name);
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, text).map_err(|e| format!("writing {}: {e}", p.display()))?;
    }
    Ok(())
}

/// The environment of [`run_in_root`]. LANG is C, the one locale every libc has built in: the
/// locale an image sets is its configuration, not something a package set must supply, and a
/// C.UTF-8 would make glibc's locale files (libc-bin's) a need of every program. HOME is /tmp, the
/// one writable directory every reduced root has (a home directory is the image's business).
pub const RUN_ENV: [(&str, &str); 3] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/tmp"),
    ("LANG", "C"),
];

/// Runs `argv` (`argv[0]` is looked up in [`RUN_ENV`]'s PATH inside the root) in a chroot of
/// `root`, with the environment [`RUN_ENV`] only and stdin from /dev/null, in new mount and PID
/// namespaces (`unshare --mount --pid --fork --mount-proc`): /proc is mounted on `root`/proc for
/// the run only and disappears with the namespace, and every process the program starts dies
/// with it. Killed after `timeout`: then the status is SIGKILL's and stderr ends with a line
/// `[run_in_root: killed after ...]`. Needs uid 0 and util-linux's unshare.
pub fn run_in_root(root: &Path, argv: &[&str], timeout: Duration) -> Output {
    let mut mount_proc = std::ffi::OsString::from("--mount-proc=");
    mount_proc.push(root.join("proc"));
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--pid", "--fork"])
        .arg(mount_proc)
        .arg("chroot")
        .arg(root)
        .args(argv)
        .env_clear()
        .envs(RUN_ENV)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so a timeout kills unshare and the namespace's first process (whose
        // death ends every other process in the namespace).
        .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (unshare is util-linux's): {e}"));
    let stdout = super::drain(child.stdout.take());
    let stderr = super::drain(child.stderr.take());
    let start = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for unshare") {
            break status;
        }
        if start.elapsed() > timeout {
            let pgid = libc::pid_t::try_from(child.id()).expect("pid");
            // SAFETY: kill(2) on the process group this function made; no memory involved.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            killed = true;
            break child.wait().expect("wait for the killed unshare");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = stderr.join().expect("stderr reader");
    if killed {
        stderr.extend_from_slice(format!("\n[run_in_root: killed after {timeout:?}]\n").as_bytes());
    }
    Output {
        status: if killed {
            std::process::ExitStatus::from_raw(libc::SIGKILL)
        } else {
            status
        },
        stdout: stdout.join().expect("stdout reader"),
        stderr,
    }
}
