/*!
The loader environments of a root: which dynamic loaders exist, and the configuration each one reads
(glibc: `ld.so.cache`, `ld.so.conf`, `ld.so.preload`, its built-in default directories; musl: its
path file). Read once per root, through the confined [`RootFs`], bounded in size.
*/

use std::collections::HashMap;

use crate::elf::{Class, ElfFacts};
use crate::name::ByteStr;
use crate::resolve::ldcache::{self, LdCache};
use crate::rootfs::RootFs;
use crate::tree::{Entry, Tree};

/// Configuration files larger than this are not loader configuration; they are read no further.
const MAX_CONFIG: u64 = 16 * 1024 * 1024;

/// Which loader family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// glibc's ld.so.
    Glibc,
    /// musl's ld-musl-ARCH.so.1.
    Musl,
}

/// The canonical glibc and musl interpreter paths per machine (loader-spec R1.2).
pub fn standard_interps(
    machine: &str,
    class: Class,
) -> (&'static [&'static str], Option<&'static str>) {
    match (machine, class) {
        ("x86_64", _) => (
            &["/lib64/ld-linux-x86-64.so.2"],
            Some("/lib/ld-musl-x86_64.so.1"),
        ),
        ("x32", _) => (
            &["/libx32/ld-linux-x32.so.2"],
            Some("/lib/ld-musl-x32.so.1"),
        ),
        ("i386", _) => (&["/lib/ld-linux.so.2"], Some("/lib/ld-musl-i386.so.1")),
        ("aarch64", _) => (
            &["/lib/ld-linux-aarch64.so.1"],
            Some("/lib/ld-musl-aarch64.so.1"),
        ),
        ("aarch64_be", _) => (
            &["/lib/ld-linux-aarch64_be.so.1"],
            Some("/lib/ld-musl-aarch64_be.so.1"),
        ),
        ("arm", _) => (
            &["/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.3"],
            Some("/lib/ld-musl-armhf.so.1"),
        ),
        ("riscv64", _) => (
            &[
                "/lib/ld-linux-riscv64-lp64d.so.1",
                "/lib/ld-linux-riscv64-lp64.so.1",
            ],
            Some("/lib/ld-musl-riscv64.so.1"),
        ),
        ("ppc64le", _) => (&["/lib64/ld64.so.2"], Some("/lib/ld-musl-powerpc64le.so.1")),
        ("ppc64", _) => (&["/lib64/ld64.so.1"], Some("/lib/ld-musl-powerpc64.so.1")),
        ("s390x", _) => (&["/lib/ld64.so.1"], Some("/lib/ld-musl-s390x.so.1")),
        ("mips64el", _) => (&["/lib64/ld.so.1"], Some("/lib/ld-musl-mips64el.so.1")),
        ("loongarch64", _) => (
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
#[derive(Debug, Default)]
pub struct GlibcConfig {
    /// Parsed `/etc/ld.so.cache`, if present and valid.
    pub cache: Option<LdCache>,
    /// Why the cache could not be used, when it exists but is broken.
    pub cache_error: Option<String>,
    /// Directories from `/etc/ld.so.conf` and its includes (what ldconfig would scan).
    pub conf_dirs: Vec<ByteStr>,
    /// `/etc/ld.so.preload` entries.
    pub preload: Vec<ByteStr>,
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

/// Reads a small file of the root by (uncanonical) path.
pub fn read_config(rootfs: &RootFs, tree: &Tree, path: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let canonical = tree.resolve(path, true).ok()?;
    match tree.get(canonical.as_bytes()) {
        Some(Entry::File) => {}
        Some(_) => {
            return Some(Err(format!(
                "{} is not a regular file",
                ByteStr::from(path)
            )));
        }
        None => return None,
    }
    Some(
        rootfs
            .read_file(canonical.as_bytes(), MAX_CONFIG)
            .map_err(|e| format!("{}: {}", ByteStr::from(path), e.message)),
    )
}

impl GlibcConfig {
    /// Reads the root's glibc configuration.
    pub fn load(rootfs: &RootFs, tree: &Tree) -> GlibcConfig {
        let mut cfg = GlibcConfig::default();
        match read_config(rootfs, tree, b"/etc/ld.so.cache") {
            Some(Ok(bytes)) => match LdCache::parse(&bytes) {
                Ok(c) => cfg.cache = Some(c),
                Err(e) => cfg.cache_error = Some(e.to_string()),
            },
            Some(Err(e)) => cfg.cache_error = Some(e),
            None => {}
        }
        let mut seen = Vec::new();
        parse_ld_so_conf(
            rootfs,
            tree,
            b"/etc/ld.so.conf",
            &mut cfg.conf_dirs,
            &mut seen,
            0,
        );
        if let Some(Ok(bytes)) = read_config(rootfs, tree, b"/etc/ld.so.preload") {
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

/// ld.so.conf with `include` globs, as ldconfig reads it (elf/ldconfig.c `parse_conf`).
fn parse_ld_so_conf(
    rootfs: &RootFs,
    tree: &Tree,
    path: &[u8],
    dirs: &mut Vec<ByteStr>,
    seen: &mut Vec<ByteStr>,
    depth: usize,
) {
    // Includes can nest; a cycle or absurd depth stops here.
    if depth > 16 || seen.iter().any(|s| s.as_bytes() == path) {
        return;
    }
    seen.push(ByteStr::from(path));
    let Some(Ok(bytes)) = read_config(rootfs, tree, path) else {
        return;
    };
    for line in bytes.split(|&b| b == b'\n') {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(i) => &line[..i],
            None => line,
        };
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix(b"include")
            .filter(|r| r.first().is_some_and(|b| b.is_ascii_whitespace()))
        {
            for pattern in rest
                .split(|b| b.is_ascii_whitespace())
                .filter(|p| !p.is_empty())
            {
                // A relative pattern is relative to the including file's directory.
                let pattern = if pattern.starts_with(b"/") {
                    pattern.to_vec()
                } else {
                    [dirname(path), b"/", pattern].concat()
                };
                for file in glob(tree, &pattern) {
                    parse_ld_so_conf(rootfs, tree, file.as_bytes(), dirs, seen, depth + 1);
                }
            }
        } else if line.starts_with(b"hwcap") && line.get(5).is_some_and(|b| b.is_ascii_whitespace())
        {
            // Obsolete, ignored by ldconfig.
        } else {
            // ldconfig accepts "dir=type" (old syntax) and strips trailing slashes.
            let dir = match line.iter().position(|&b| b == b'=') {
                Some(i) => &line[..i],
                None => line,
            };
            let dir = trim_trailing_slashes(trim(dir));
            if !dir.is_empty() && !dirs.iter().any(|d| d.as_bytes() == dir) {
                dirs.push(ByteStr::from(dir));
            }
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Removes trailing slashes, keeping `/` itself.
pub fn trim_trailing_slashes(s: &[u8]) -> &[u8] {
    let mut end = s.len();
    while end > 1 && s[end - 1] == b'/' {
        end -= 1;
    }
    &s[..end]
}

/// Expands a glob (`*`, `?`, `[...]` in the last component only, as used by ld.so.conf includes) over
/// the walked tree, sorted like glob(3).
fn glob(tree: &Tree, pattern: &[u8]) -> Vec<ByteStr> {
    let dir = dirname(pattern);
    let pat = basename(pattern);
    let Ok(dir) = tree.resolve(dir, true) else {
        return Vec::new();
    };
    let mut out: Vec<ByteStr> = tree
        .children(dir.as_bytes())
        .filter(|name| fnmatch(pat, name))
        .map(|name| {
            ByteStr::from(
                [
                    dir.as_bytes(),
                    if dir.as_bytes() == b"/" { b"" } else { b"/" },
                    name,
                ]
                .concat(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Shell-style matching of one path component (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`); a leading dot
/// must be matched literally, as glob(3) does.
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pat.first() != Some(&b'.') {
        return false;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some(b'?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some(b'[') => {
                let Some(close) = p.iter().skip(2).position(|&b| b == b']').map(|i| i + 2) else {
                    return n.first() == Some(&b'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let mut set = &p[1..close];
                let negate = matches!(set.first(), Some(b'!') | Some(b'^'));
                if negate {
                    set = &set[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    // Bound the work of pathological patterns: ld.so.conf globs are short.
    pat.len() <= 256 && name.len() <= 4096 && go(pat, name)
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
pub fn fallback_default_dirs(machine: &str) -> Vec<ByteStr> {
    let dirs: &[&str] = match machine {
        "x86_64" | "ppc64" | "ppc64le" | "s390x" | "mips64" | "mips64el" | "sparc64"
        | "loongarch64" => &["/lib64", "/usr/lib64"],
        "x32" => &["/libx32", "/usr/libx32"],
        _ => &["/lib", "/usr/lib"],
    };
    dirs.iter().map(|d| ByteStr::from(*d)).collect()
}

/// `$PLATFORM` as the kernel reports it for the machine (AT_PLATFORM) on its oldest CPU; what
/// glibc makes of it on a given CPU is [`super::cpu::CpuProfile::for_loader`]'s.
pub fn platform_for(machine: &str) -> &'static str {
    match machine {
        "x86_64" => "x86_64",
        "i386" => "i686",
        "aarch64" => "aarch64",
        "s390x" => "z900",
        "ppc64le" => "power8",
        "riscv64" => "riscv64",
        _ => "",
    }
}

impl GlibcLoader {
    /// Describes the glibc loader at canonical `path`, reading its image for the default directories.
    pub fn load(
        rootfs: &RootFs,
        path: &ByteStr,
        facts: Option<&ElfFacts>,
        machine: &str,
        opts: &super::ResolveOptions,
    ) -> GlibcLoader {
        let image = rootfs
            .read_file(path.as_bytes(), MAX_CONFIG)
            .unwrap_or_default();
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
        }
    }
}

impl MuslLoader {
    /// Describes the musl loader known by `interp` (canonical `path`); reads its path file.
    pub fn load(rootfs: &RootFs, tree: &Tree, interp: &[u8], path: &ByteStr) -> MuslLoader {
        // <prefix>/etc/ld-musl-ARCH.path, prefix = PT_INTERP minus its last two components (R3.1).
        let prefix = dirname(dirname(interp));
        let prefix: &[u8] = if prefix == b"/" { b"" } else { prefix };
        let file = [prefix, b"/etc/ld-musl-", musl_arch(interp), b".path"].concat();
        let (system_path, path_file) = match read_config(rootfs, tree, &file) {
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

/// The cache flags accepted by a loader for `machine`.
pub fn cache_flags_ok(machine: &str) -> impl Fn(i32) -> bool + Clone + use<> {
    ldcache::flags_accepted_for(machine)
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
    fn glob_matching() {
        assert!(fnmatch(b"*.conf", b"x86_64-linux-gnu.conf"));
        assert!(!fnmatch(b"*.conf", b".hidden.conf"));
        assert!(fnmatch(b"lib[0-9]?.conf", b"lib1x.conf"));
        assert!(!fnmatch(b"lib[!0-9].conf", b"lib1.conf"));
        assert!(!fnmatch(b"*.conf", b"a.conf.bak"));
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
}
