/*!
The loader environments of a root: which dynamic loaders exist, and the configuration each one reads
(glibc: `ld.so.cache`, `ld.so.conf`, `ld.so.preload`, its built-in default directories; musl: its
path file). Read once per root, through the confined [`RootFs`], bounded in size.
*/

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::view::{FileKind, FsView};
use crate::elf::{Class, ElfFacts, Machine};
use crate::name::ByteStr;
use crate::resolve::glob::{Budget, Exhausted, glob};
use crate::resolve::ldcache::{self, LdCache};

/// Configuration files larger than this are not loader configuration; they are read no further.
const MAX_CONFIG: u64 = 16 * 1024 * 1024;

/// Which loader family. Reports name it `glibc` or `musl` (JSON, `tree`, messages).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, strum::IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Family {
    /// glibc's ld.so.
    Glibc,
    /// musl's ld-musl-ARCH.so.1.
    Musl,
}

impl Family {
    /// `glibc` or `musl`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The canonical glibc and musl interpreter paths per machine (loader-spec R1.2).
pub fn standard_interps(
    machine: Machine,
    class: Class,
) -> (&'static [&'static str], Option<&'static str>) {
    match (machine, class) {
        (Machine::X86_64, _) => (
            &["/lib64/ld-linux-x86-64.so.2"],
            Some("/lib/ld-musl-x86_64.so.1"),
        ),
        (Machine::X32, _) => (
            &["/libx32/ld-linux-x32.so.2"],
            Some("/lib/ld-musl-x32.so.1"),
        ),
        (Machine::I386, _) => (&["/lib/ld-linux.so.2"], Some("/lib/ld-musl-i386.so.1")),
        (Machine::Aarch64, _) => (
            &["/lib/ld-linux-aarch64.so.1"],
            Some("/lib/ld-musl-aarch64.so.1"),
        ),
        (Machine::Aarch64Be, _) => (
            &["/lib/ld-linux-aarch64_be.so.1"],
            Some("/lib/ld-musl-aarch64_be.so.1"),
        ),
        (Machine::Arm, _) => (
            &["/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.3"],
            Some("/lib/ld-musl-armhf.so.1"),
        ),
        (Machine::Riscv64, _) => (
            &[
                "/lib/ld-linux-riscv64-lp64d.so.1",
                "/lib/ld-linux-riscv64-lp64.so.1",
            ],
            Some("/lib/ld-musl-riscv64.so.1"),
        ),
        (Machine::Ppc64le, _) => (&["/lib64/ld64.so.2"], Some("/lib/ld-musl-powerpc64le.so.1")),
        (Machine::Ppc64, _) => (&["/lib64/ld64.so.1"], Some("/lib/ld-musl-powerpc64.so.1")),
        (Machine::S390x, _) => (&["/lib/ld64.so.1"], Some("/lib/ld-musl-s390x.so.1")),
        (Machine::Mips64el, _) => (&["/lib64/ld.so.1"], Some("/lib/ld-musl-mips64el.so.1")),
        (Machine::Loongarch64, _) => (
            &["/lib64/ld-linux-loongarch-lp64d.so.1"],
            Some("/lib/ld-musl-loongarch64.so.1"),
        ),
        _ => (&[], None),
    }
}

/// Whether an interpreter path names musl's loader (`ld-musl-*.so.1`).
pub fn is_musl_interp(interp: &[u8]) -> bool {
    let base = basename(interp);
    base.starts_with(b"ld-musl-") && base.ends_with(b".so.1")
}

/// musl's `LDSO_ARCH` from its interpreter name (`ld-musl-x86_64.so.1` → `x86_64`).
pub fn musl_arch(interp: &[u8]) -> &[u8] {
    let base = basename(interp);
    base.strip_prefix(b"ld-musl-")
        .and_then(|r| r.strip_suffix(b".so.1"))
        .unwrap_or(b"")
}

/// The last path component.
pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The directory part (`/` for `/x`, `.` for `x`).
pub fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b".",
    }
}

/// glibc's configuration in a root, shared by every glibc loader in it.
#[derive(Clone, Debug, Default)]
pub struct GlibcConfig {
    /// Parsed `/etc/ld.so.cache`, if present and valid.
    pub cache: Option<LdCache>,
    /// Why the cache could not be used, when it exists but is broken.
    pub cache_error: Option<String>,
    /// Directories from `/etc/ld.so.conf` and its includes (what ldconfig would scan).
    pub conf_dirs: Vec<ByteStr>,
    /// `/etc/ld.so.preload` entries.
    pub preload: Vec<ByteStr>,
    /// What stopped or cut short the reading of ld.so.conf and its includes (a bound, a cycle):
    /// each glibc session reports them, as it does a broken cache.
    pub conf_warnings: Vec<String>,
}

/// One glibc loader (one interpreter file) in a root.
#[derive(Debug, Clone)]
pub struct GlibcLoader {
    /// The interpreter's canonical path.
    pub path: ByteStr,
    /// Its DT_SONAME (e.g. `ld-linux-x86-64.so.2`).
    pub soname: Option<ByteStr>,
    /// Trusted default directories, as built into this ld.so (with trailing slashes removed).
    pub default_dirs: Vec<ByteStr>,
    /// The value of `$LIB`.
    pub lib_token: ByteStr,
    /// Its release (`ld.so ... stable release version 2.36.`), when the image says.
    pub version: Option<(u32, u32)>,
    /// What it derives from the target CPU: `$PLATFORM`, the glibc-hwcaps subdirectories, the
    /// legacy capability subdirectories (before 2.37) and the cache entries it accepts.
    pub cpu: super::cpu::LoaderCpu,
    /// The ld.so.cache entry flags it accepts, from its machine and ABI.
    pub cache_flags: ldcache::LoaderFlags,
}

/// The release an ld.so image announces: `... release version 2.36.`
pub fn ldso_version(image: &[u8]) -> Option<(u32, u32)> {
    let key = b"release version ";
    let at = image.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &image[at..image.len().min(at + 16)];
    let text: Vec<u8> = rest
        .iter()
        .copied()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .collect();
    let text = std::str::from_utf8(&text).ok()?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// musl's configuration for one interpreter.
#[derive(Debug, Clone)]
pub struct MuslLoader {
    /// The interpreter's canonical path (musl's libc and loader in one file).
    pub path: ByteStr,
    /// The literal PT_INTERP it is known by.
    pub interp: ByteStr,
    /// The system search path (from the path file, or the default).
    pub system_path: Vec<ByteStr>,
    /// Where that came from, for `via`.
    pub path_file: Option<ByteStr>,
}

/// Why a configuration file that exists could not be read (the path as it was asked for).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A directory, FIFO, socket or device where a file was expected.
    #[error("{0} is not a regular file")]
    NotRegular(ByteStr),
    /// Reading it failed.
    #[error("{0}: {msg}", msg = .1.message)]
    Read(ByteStr, crate::error::FileError),
}

/// Reads a small file of the root by (uncanonical) path (`None`: there is none).
pub fn read_config(view: &dyn FsView, path: &[u8]) -> Option<Result<Vec<u8>, ConfigError>> {
    let canonical = view.resolve(path, true).ok()?;
    match view.kind(canonical.as_bytes()) {
        Some(FileKind::File) => {}
        Some(_) => return Some(Err(ConfigError::NotRegular(ByteStr::from(path)))),
        None => return None,
    }
    Some(
        view.read(canonical.as_bytes(), MAX_CONFIG)
            .map_err(|e| ConfigError::Read(ByteStr::from(path), e)),
    )
}

impl GlibcConfig {
    /// Reads the root's glibc configuration.
    pub fn load(view: &dyn FsView) -> GlibcConfig {
        let mut cfg = GlibcConfig::default();
        match read_config(view, b"/etc/ld.so.cache") {
            Some(Ok(bytes)) => match LdCache::parse(&bytes) {
                Ok(c) => cfg.cache = Some(c),
                Err(e) => cfg.cache_error = Some(e.to_string()),
            },
            Some(Err(e)) => cfg.cache_error = Some(e.to_string()),
            None => {}
        }
        let conf = read_ld_so_conf(view, &ConfLimits::default());
        cfg.conf_dirs = conf.dirs;
        cfg.conf_warnings = conf.warnings;
        if let Some(Ok(bytes)) = read_config(view, b"/etc/ld.so.preload") {
            cfg.preload = parse_preload(&bytes);
        }
        cfg
    }
}

/// `/etc/ld.so.preload`: whitespace or `:` separated, `#` comments (glibc rtld.c).
pub fn parse_preload(bytes: &[u8]) -> Vec<ByteStr> {
    let mut out = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(i) => &line[..i],
            None => line,
        };
        for item in line.split(|&b| b" \t\r:".contains(&b)) {
            if !item.is_empty() {
                out.push(ByteStr::from(item));
            }
        }
    }
    out
}

/// Bounds on reading ld.so.conf and what it includes. ldconfig has none (it follows an include
/// cycle until it runs out of file descriptors, and reads a file of any size); a root is untrusted,
/// so elfdeps stops at these, far above what any real configuration reaches (a few dozen files
/// of a few lines), and says so in every glibc session's notes.
#[derive(Clone, Debug)]
pub struct ConfLimits {
    /// Deepest chain of nested includes.
    pub max_depth: usize,
    /// Most configuration files read.
    pub max_files: usize,
    /// Most bytes read from one file.
    pub max_file_bytes: u64,
    /// Most bytes read from all of them.
    pub max_bytes: u64,
    /// Most directories listed.
    pub max_dirs: usize,
    /// Most files one include pattern expands to.
    pub max_glob_results: usize,
    /// Longest include pattern (PATH_MAX: no longer path can be opened).
    pub max_pattern: usize,
    /// Work allowed for all the glob expansions: matching steps and directory entries.
    pub glob_steps: u64,
}

impl Default for ConfLimits {
    fn default() -> Self {
        ConfLimits {
            max_depth: 32,
            max_files: 4096,
            max_file_bytes: MAX_CONFIG,
            max_bytes: 64 * 1024 * 1024,
            max_dirs: 65_536,
            max_glob_results: 4096,
            max_pattern: 4096,
            glob_steps: 20_000_000,
        }
    }
}

/// What reading ld.so.conf gave.
#[derive(Debug, Default)]
pub struct ConfRead {
    /// The directories, in ldconfig's order, each once.
    pub dirs: Vec<ByteStr>,
    /// What cut the reading short (bounds, cycles), each once.
    pub warnings: Vec<String>,
    /// The canonical paths of the files read, in order.
    pub files: Vec<ByteStr>,
}

/// At most this many different warnings are kept; the last one says how many more there were.
const MAX_WARNINGS: usize = 16;

struct ConfReader<'a> {
    view: &'a dyn FsView,
    limits: &'a ConfLimits,
    out: ConfRead,
    dir_set: HashSet<ByteStr>,
    /// Canonical paths of the files being read (the include chain), for cycles.
    stack: Vec<ByteStr>,
    /// Canonical paths already read: reading one again adds no directory.
    done: HashSet<ByteStr>,
    bytes: u64,
    budget: Budget,
    more_warnings: usize,
    /// A bound on the whole reading was hit: nothing more is read.
    stopped: bool,
}

/// Reads `/etc/ld.so.conf` and its includes as ldconfig does (elf/ldconfig.c `parse_conf`,
/// `parse_conf_include`), within `limits`.
pub fn read_ld_so_conf(view: &dyn FsView, limits: &ConfLimits) -> ConfRead {
    let mut r = ConfReader {
        view,
        limits,
        out: ConfRead::default(),
        dir_set: HashSet::new(),
        stack: Vec::new(),
        done: HashSet::new(),
        bytes: 0,
        budget: Budget {
            left: limits.glob_steps,
        },
        more_warnings: 0,
        stopped: false,
    };
    r.file(b"/etc/ld.so.conf", 0);
    if r.more_warnings > 0 {
        let n = r.more_warnings;
        r.out
            .warnings
            .push(format!("and {n} more ld.so.conf warnings"));
    }
    r.out
}

impl ConfReader<'_> {
    fn warn(&mut self, w: String) {
        if self.out.warnings.contains(&w) {
            return;
        }
        if self.out.warnings.len() < MAX_WARNINGS {
            self.out.warnings.push(w);
        } else {
            self.more_warnings += 1;
        }
    }

    /// Stops the whole reading: a bound on all of it was reached.
    fn stop(&mut self, w: String) {
        self.warn(format!(
            "{w}; elfdeps read no further, so directories listed later are not searched (the \
             root's configuration is hostile or broken: fix it, or report it if it is real)"
        ));
        self.stopped = true;
    }

    /// One configuration file, by the path it was named (or globbed) by.
    fn file(&mut self, path: &[u8], depth: usize) {
        if self.stopped {
            return;
        }
        let shown = ByteStr::from(path);
        let Ok(canonical) = self.view.resolve(path, true) else {
            return;
        };
        // Only a regular file is read: ldconfig gets nothing from a directory, and elfdeps opens
        // no FIFO or device.
        if self.view.kind(canonical.as_bytes()) != Some(FileKind::File) {
            return;
        }
        if self.stack.contains(&canonical) {
            let chain: Vec<String> = self.stack.iter().map(ByteStr::to_string).collect();
            self.warn(format!(
                "ld.so.conf include cycle: {} includes {shown} again (ldconfig recurses until it \
                 runs out of file descriptors); elfdeps read it once",
                chain.join(" includes ")
            ));
            return;
        }
        if self.done.contains(&canonical) {
            return;
        }
        if depth > self.limits.max_depth {
            self.warn(format!(
                "{shown}: ld.so.conf includes nest more than {} deep; elfdeps did not read it",
                self.limits.max_depth
            ));
            return;
        }
        if self.done.len() >= self.limits.max_files {
            self.stop(format!(
                "ld.so.conf and its includes name more than {} files (at {shown})",
                self.limits.max_files
            ));
            return;
        }
        let left = self.limits.max_bytes - self.bytes;
        let want = self.limits.max_file_bytes.min(left);
        let Ok(mut bytes) = self
            .view
            .read_prefix(canonical.as_bytes(), want.saturating_add(1))
        else {
            return;
        };
        self.done.insert(canonical.clone());
        self.out.files.push(canonical.clone());
        if bytes.len() as u64 > want {
            // Only whole lines of what was read count.
            bytes.truncate(usize::try_from(want).unwrap_or(usize::MAX));
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(keep);
            let why = if want < self.limits.max_file_bytes {
                format!(
                    "the configuration files read reach {} bytes in all",
                    self.limits.max_bytes
                )
            } else {
                format!("it is larger than {} bytes", self.limits.max_file_bytes)
            };
            self.warn(format!(
                "{shown}: elfdeps read only its first {} bytes ({why}; ldconfig reads it all): \
                 directories listed after that are not searched",
                bytes.len()
            ));
        }
        self.bytes += bytes.len() as u64;
        self.stack.push(canonical);
        self.lines(path, &bytes, depth);
        self.stack.pop();
        if self.bytes >= self.limits.max_bytes && !self.stopped {
            self.stop(format!(
                "ld.so.conf and its includes hold more than {} bytes",
                self.limits.max_bytes
            ));
        }
    }

    /// The lines of one file, as ldconfig's `parse_conf` reads them: C strings (a NUL ends the
    /// line), `#` to the end of the line a comment, leading `isspace` skipped; `include` and a
    /// blank, then patterns separated by blanks; `hwcap` (any case) and a blank, ignored;
    /// anything else a directory (`add_dir_1`: up to an `=`, trailing `isspace` and slashes
    /// removed).
    fn lines(&mut self, path: &[u8], bytes: &[u8], depth: usize) {
        let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
        let is_blank = |b: &u8| matches!(b, b' ' | b'\t');
        for line in bytes.split(|&b| b == b'\n') {
            if self.stopped {
                return;
            }
            let line = match line.iter().position(|&b| b == 0 || b == b'#') {
                Some(i) => &line[..i],
                None => line,
            };
            let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
            let line = &line[start..];
            if line.is_empty() {
                continue;
            }
            if line.starts_with(b"include") && line.get(7).is_some_and(is_blank) {
                for pattern in line[8..].split(is_blank).filter(|p| !p.is_empty()) {
                    self.include(path, pattern, depth);
                }
            } else if line.len() > 5
                && line[..5].eq_ignore_ascii_case(b"hwcap")
                && is_blank(&line[5])
            {
                // Obsolete, ignored by ldconfig.
            } else {
                // "dir=type" is the old syntax: the type is ignored here.
                let dir = match line.iter().position(|&b| b == b'=') {
                    Some(i) => &line[..i],
                    None => line,
                };
                let end = dir.iter().rposition(|b| !is_space(b)).map_or(0, |e| e + 1);
                let dir = trim_trailing_slashes(&dir[..end]);
                if dir.is_empty() || self.dir_set.contains(dir) {
                    continue;
                }
                if self.out.dirs.len() >= self.limits.max_dirs {
                    self.stop(format!(
                        "ld.so.conf and its includes list more than {} directories (at {})",
                        self.limits.max_dirs,
                        ByteStr::from(path)
                    ));
                    return;
                }
                self.dir_set.insert(ByteStr::from(dir));
                self.out.dirs.push(ByteStr::from(dir));
            }
        }
    }

    /// One pattern of an `include` line in the file named `path`.
    fn include(&mut self, path: &[u8], pattern: &[u8], depth: usize) {
        if pattern.len() > self.limits.max_pattern {
            self.warn(format!(
                "{}: an include pattern of {} bytes, longer than any path that can be opened; \
                 elfdeps ignored it",
                ByteStr::from(path),
                pattern.len()
            ));
            return;
        }
        // A relative pattern is relative to the including file's directory.
        let pattern = if pattern.starts_with(b"/") {
            pattern.to_vec()
        } else {
            [dirname(path), b"/", pattern].concat()
        };
        let files = match glob(self.view, &pattern, &mut self.budget) {
            Ok(f) => f,
            Err(Exhausted) => {
                self.stop(format!(
                    "expanding the include patterns of ld.so.conf took more than {} steps or \
                     named more than {} paths at one level (at {} in {})",
                    self.limits.glob_steps,
                    crate::resolve::glob::MAX_PATHS,
                    ByteStr::from(pattern),
                    ByteStr::from(path)
                ));
                return;
            }
        };
        let n = files.len();
        if n > self.limits.max_glob_results {
            self.warn(format!(
                "include {} in {} matches {n} files; elfdeps read the first {}",
                ByteStr::from(&pattern[..]),
                ByteStr::from(path),
                self.limits.max_glob_results
            ));
        }
        for file in files.into_iter().take(self.limits.max_glob_results) {
            self.file(file.as_bytes(), depth + 1);
            if self.stopped {
                return;
            }
        }
    }
}
/// Removes trailing slashes, keeping `/` itself.
pub fn trim_trailing_slashes(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 1 && s[end - 1] == b'/' {
        end -= 1;
    }
    &s[..end]
}

/// Finds the built-in default directories in an ld.so image: glibc keeps them as consecutive
/// NUL-terminated absolute paths ending in `/` (the "system search path" `ld.so --help` prints).
pub fn default_dirs_from_ldso(image: &[u8]) -> Vec<ByteStr> {
    let mut best: Vec<&[u8]> = Vec::new();
    let mut run: Vec<&[u8]> = Vec::new();
    for s in image.split(|&b| b == 0) {
        let looks_like_dir = s.len() >= 2
            && s.len() < 256
            && s.starts_with(b"/")
            && s.ends_with(b"/")
            && s.iter().all(|&b| b.is_ascii_graphic());
        if looks_like_dir {
            run.push(s);
        } else {
            if run.len() > best.len() {
                best = std::mem::take(&mut run);
            }
            run.clear();
        }
    }
    if run.len() > best.len() {
        best = run;
    }
    if best.len() < 2 {
        return Vec::new();
    }
    best.iter()
        .map(|d| ByteStr::from(trim_trailing_slashes(d)))
        .collect()
}

/// Upstream defaults when the ld.so image gives no answer (loader-spec R2.7).
pub fn fallback_default_dirs(machine: Machine) -> Vec<ByteStr> {
    let dirs: &[&str] = match machine {
        Machine::X86_64
        | Machine::Ppc64
        | Machine::Ppc64le
        | Machine::S390x
        | Machine::Mips64
        | Machine::Mips64el
        | Machine::Sparc64
        | Machine::Loongarch64 => &["/lib64", "/usr/lib64"],
        Machine::X32 => &["/libx32", "/usr/libx32"],
        _ => &["/lib", "/usr/lib"],
    };
    dirs.iter().map(|d| ByteStr::from(*d)).collect()
}

/// `$PLATFORM` as the kernel reports it for the machine (AT_PLATFORM) on its oldest CPU; what
/// glibc makes of it on a given CPU is [`super::cpu::CpuProfile::for_loader`]'s.
pub fn platform_for(machine: Machine) -> &'static str {
    match machine {
        Machine::X86_64 => "x86_64",
        Machine::I386 => "i686",
        Machine::Aarch64 => "aarch64",
        Machine::S390x => "z900",
        Machine::Ppc64le => "power8",
        Machine::Riscv64 => "riscv64",
        _ => "",
    }
}

impl GlibcLoader {
    /// Describes the glibc loader at canonical `path`, reading its image for the default
    /// directories. `facts` are its own, when it is an object of the scan; its machine and ABI are
    /// then its own, else those of `loads`, an object it loads.
    pub fn load(
        view: &dyn FsView,
        path: &ByteStr,
        facts: Option<&ElfFacts>,
        loads: &ElfFacts,
        opts: &super::ResolveOptions,
    ) -> GlibcLoader {
        // The rules compiled into an ld.so (which cache entries it accepts) follow the ABI it
        // was built for, which its own e_flags record.
        let target = facts.unwrap_or(loads);
        let machine = target.machine;
        let image = view.read(path.as_bytes(), MAX_CONFIG).unwrap_or_default();
        let mut default_dirs = default_dirs_from_ldso(&image);
        if default_dirs.is_empty() {
            default_dirs = fallback_default_dirs(machine);
        }
        // $LIB is the libdir relative to the root: the multiarch directory on Debian, lib64/lib upstream.
        let lib_token = default_dirs
            .iter()
            .find(|d| d.as_bytes().starts_with(b"/lib/") || d.as_bytes().starts_with(b"/lib64"))
            .or_else(|| default_dirs.first())
            .map(|d| ByteStr::from(&d.as_bytes()[1..]))
            .unwrap_or_else(|| ByteStr::from("lib"));
        let version = ldso_version(&image);
        GlibcLoader {
            path: path.clone(),
            soname: facts.and_then(|f| f.soname.clone()),
            default_dirs,
            lib_token,
            version,
            cpu: opts
                .cpu
                .for_loader(machine, version, opts.hwcaps.as_deref()),
            cache_flags: ldcache::LoaderFlags::new(machine, target.abi()),
        }
    }
}

impl MuslLoader {
    /// Describes the musl loader known by `interp` (canonical `path`); reads its path file.
    pub fn load(view: &dyn FsView, interp: &[u8], path: &ByteStr) -> MuslLoader {
        // <prefix>/etc/ld-musl-ARCH.path, prefix = PT_INTERP minus its last two components (R3.1).
        let prefix = dirname(dirname(interp));
        let prefix: &[u8] = if prefix == b"/" { b"" } else { prefix };
        let file = [prefix, b"/etc/ld-musl-", musl_arch(interp), b".path"].concat();
        let (system_path, path_file) = match read_config(view, &file) {
            // No file: the built-in default.
            None => (
                vec![
                    ByteStr::from("/lib"),
                    ByteStr::from("/usr/local/lib"),
                    ByteStr::from("/usr/lib"),
                ],
                None,
            ),
            // Present but unreadable: musl searches no system directory at all.
            Some(Err(_)) => (Vec::new(), Some(ByteStr::from(file))),
            Some(Ok(bytes)) => (
                bytes
                    .split(|&b| b == b':' || b == b'\n')
                    .filter(|d| !d.is_empty())
                    .map(ByteStr::from)
                    .collect(),
                Some(ByteStr::from(file)),
            ),
        };
        MuslLoader {
            path: path.clone(),
            interp: ByteStr::from(interp),
            system_path,
            path_file,
        }
    }
}

/// A map from interpreter canonical path to loader, built lazily by the resolver.
pub type LoaderMap<T> = HashMap<ByteStr, T>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preload_separators_and_comments() {
        let p = parse_preload(b"/opt/pre.so /nonexistent.so\n# comment\nlibx.so:liby.so # tail\n");
        let got: Vec<String> = p.iter().map(|b| b.escaped()).collect();
        assert_eq!(
            got,
            ["/opt/pre.so", "/nonexistent.so", "libx.so", "liby.so"]
        );
    }

    #[test]
    fn default_dirs_are_the_longest_run_of_dir_strings() {
        let img = b"junk\0/etc/ld.so.cache\0/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/\0more\0/x/\0";
        let d: Vec<String> = default_dirs_from_ldso(img)
            .iter()
            .map(|b| b.escaped())
            .collect();
        assert_eq!(
            d,
            [
                "/lib/x86_64-linux-gnu",
                "/usr/lib/x86_64-linux-gnu",
                "/lib",
                "/usr/lib"
            ]
        );
    }

    #[test]
    fn musl_names() {
        assert!(is_musl_interp(b"/lib/ld-musl-x86_64.so.1"));
        assert!(!is_musl_interp(b"/lib64/ld-linux-x86-64.so.2"));
        assert_eq!(musl_arch(b"/lib/ld-musl-aarch64.so.1"), b"aarch64");
        assert_eq!(dirname(b"/lib/x"), b"/lib");
        assert_eq!(dirname(b"/x"), b"/");
    }

    /// Reads the ld.so.conf of a root made of `files` (path, content) under `limits`.
    fn conf_of(files: &[(&str, &[u8])], limits: &ConfLimits) -> ConfRead {
        let t = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = t.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        let report = crate::scan::scan(
            t.path(),
            &crate::scan::ScanOptions::default(),
            &crate::progress::Progress::hidden(),
        )
        .unwrap();
        let rootfs = crate::rootfs::RootFs::open(t.path()).unwrap();
        let view = crate::resolve::Snapshot::new(&rootfs, &report.tree, &report.objects);
        read_ld_so_conf(&view, limits)
    }

    fn shown(v: &[ByteStr]) -> Vec<String> {
        v.iter().map(|b| b.escaped()).collect()
    }

    /// What `ldconfig -v -N -X -f` printed for this file (glibc 2.36): C-string lines, `isspace`
    /// (with \v) trimmed, `include` only before a blank, `hwcap` in any case ignored.
    #[test]
    fn lines_are_read_as_ldconfig_reads_them() {
        let conf = b"  /a/ \n\x0b/b\x0b\n/c\0/ignored\ninclude\x0bnot-an-include\nHWCAP x\n\
                     include\tsub/*.conf  \n/d=libc6\n";
        let r = conf_of(
            &[("etc/ld.so.conf", conf), ("etc/sub/1.conf", b"/e\n")],
            &ConfLimits::default(),
        );
        assert_eq!(
            shown(&r.dirs),
            ["/a", "/b", "/c", "include\u{b}not-an-include", "/e", "/d"]
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    /// Each bound stops the reading with a warning that names it, and what was read before
    /// stays.
    #[test]
    fn every_bound_warns() {
        let small = ConfLimits {
            max_depth: 2,
            max_files: 5,
            max_file_bytes: 64,
            max_bytes: 200,
            max_dirs: 8,
            max_glob_results: 3,
            max_pattern: 32,
            glob_steps: 10_000,
        };
        let deep = conf_of(
            &[
                ("etc/ld.so.conf", b"/top\ninclude 1.conf\n"),
                ("etc/1.conf", b"/one\ninclude 2.conf\n"),
                ("etc/2.conf", b"/two\ninclude 3.conf\n"),
                ("etc/3.conf", b"/three\n"),
            ],
            &small,
        );
        assert_eq!(shown(&deep.dirs), ["/top", "/one", "/two"]);
        assert!(
            deep.warnings[0].contains("more than 2 deep"),
            "{:?}",
            deep.warnings
        );

        let many: Vec<(String, Vec<u8>)> = (0..6)
            .map(|i| (format!("etc/d/{i}.conf"), format!("/d{i}\n").into_bytes()))
            .collect();
        let mut files: Vec<(&str, &[u8])> =
            many.iter().map(|(p, c)| (p.as_str(), &c[..])).collect();
        files.push(("etc/ld.so.conf", b"include d/*.conf\n/after\n"));
        let r = conf_of(&files, &small);
        assert_eq!(shown(&r.dirs), ["/d0", "/d1", "/d2", "/after"]);
        assert!(
            r.warnings[0].contains("matches 6 files"),
            "{:?}",
            r.warnings
        );

        let long = format!("/{}\n", "x".repeat(100));
        let r = conf_of(
            &[("etc/ld.so.conf", format!("/first\n{long}").as_bytes())],
            &small,
        );
        assert_eq!(shown(&r.dirs), ["/first"]);
        assert!(r.warnings[0].contains("first 7 bytes"), "{:?}", r.warnings);

        let r = conf_of(
            &[(
                "etc/ld.so.conf",
                b"/a\n/b\n/c\n/d\n/e\n/f\n/g\n/h\n/i\n/j\n",
            )],
            &small,
        );
        assert_eq!(r.dirs.len(), 8);
        assert!(
            r.warnings[0].contains("more than 8 directories"),
            "{:?}",
            r.warnings
        );

        let pattern = format!("include /etc/{}\n/x\n", "*".repeat(40));
        let r = conf_of(&[("etc/ld.so.conf", pattern.as_bytes())], &small);
        assert_eq!(shown(&r.dirs), ["/x"]);
        assert!(
            r.warnings[0].contains("pattern of 45 bytes"),
            "{:?}",
            r.warnings
        );

        let r = conf_of(
            &[
                ("etc/ld.so.conf", b"include a.conf\n/x\n"),
                ("etc/a.conf", b"include ld.so.conf\n/a\n"),
            ],
            &small,
        );
        assert_eq!(shown(&r.dirs), ["/a", "/x"]);
        assert!(r.warnings[0].contains("include cycle"), "{:?}", r.warnings);
    }
}
