/*!
The probes: every read of the root the checks need, made once, before any check runs.

The checks ([`super::analyze`]) are plain functions over plain data; what they need beyond the
scan's facts, the walked tree and the resolution is read here and kept in [`Probes`]: each
object's libc (static objects' bytes are searched for markers), the root's libcs (musl's version
is in its loader's bytes), glibc's configuration (`/etc/ld.so.conf`, `/etc/ld.so.cache`, read once
per check run), the system path of each loader a `library-missing` hint may name (musl's path
file, the default directories built into an ld.so), the modes of the RPATH/RUNPATH directories,
the symbols bound to a missing version, the dynamic symbol tables `--symbols` compares, the
symbols bound to a glibc floor above the policy's maximum, and the dynamic symbol tables of the
objects built against the root's other libc with that libc's (`libc-symbols-missing`) and of
every object a musl program loads (the musl advisories): none on a root of glibc programs alone.

What to read is decided by the checks' own modules (each says which objects, directories or
versions it will look at), so the probes read no more than the lazy reads they replace did, and a
test builds a [`Probes`] by hand instead.
*/

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::hint::{self, LoaderKey, SystemPath};
use super::libc::{self, Flavor, LibcInfo};
use super::{
    CheckOptions, RootLibc, glibc_too_new, insecure_rpath, libc_symbols_missing, library_missing,
    musl_imports, unresolved_symbol, version_missing,
};
use crate::elf::{self, symbols::DynSym};
use crate::name::ByteStr;
use crate::resolve::env::{Family, GlibcConfig, GlibcLoader, MuslLoader};
use crate::resolve::view::FsView;
use crate::resolve::{LoaderRef, Resolved};
use crate::rootfs::{DirHandle, RootFs};
use crate::runtime::edges::{NssDatabases, RootConfig, glibc_version, nss_states};
use crate::scan::Object;
use crate::tree::Tree;

/// glibc's configuration as the checks see it: what ldconfig scans and what it cached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdConfig {
    /// The directories of `/etc/ld.so.conf` and its includes, as written.
    pub conf_dirs: Vec<ByteStr>,
    /// The entries of `/etc/ld.so.cache`, when the root has a usable one.
    pub cache: Option<Vec<CachedLib>>,
}

/// One entry of `/etc/ld.so.cache`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedLib {
    /// The soname it is found by.
    pub soname: ByteStr,
    /// The path the loader opens.
    pub path: ByteStr,
}

impl LdConfig {
    /// The parts of a loaded configuration the checks use.
    pub fn of(cfg: &GlibcConfig) -> LdConfig {
        LdConfig {
            conf_dirs: cfg.conf_dirs.clone(),
            cache: cfg.cache.as_ref().map(|c| {
                c.entries()
                    .iter()
                    .map(|e| CachedLib {
                        soname: ByteStr::from(&e.key[..]),
                        path: ByteStr::from(&e.value[..]),
                    })
                    .collect()
            }),
        }
    }
}

/// What the probes read, for the checks of one root.
#[derive(Clone, Debug, Default)]
pub struct Probes {
    /// Each object's libc (index-aligned with the objects).
    pub libc: Vec<LibcInfo>,
    /// The root's libcs.
    pub root_libcs: Vec<RootLibc>,
    /// glibc's configuration.
    pub ld_config: LdConfig,
    /// The system path of each loader a `library-missing` hint may name.
    pub system_paths: HashMap<LoaderKey, SystemPath>,
    /// `st_mode` of each RPATH/RUNPATH directory (canonical path) that could be opened.
    pub dir_modes: HashMap<ByteStr, u32>,
    /// The imports of an object (by index) bound to a version (`version-missing`'s symbols).
    pub version_symbols: HashMap<(usize, ByteStr), Vec<ByteStr>>,
    /// The dynamic symbols of every object some program loads, by index (`--symbols` only).
    pub dynamic_symbols: Option<HashMap<usize, Vec<DynSym>>>,
    /// The imports bound to its glibc floor of each object whose floor is above the policy's
    /// maximum, by index (`glibc-too-new`'s symbols).
    pub floor_symbols: HashMap<usize, Vec<ByteStr>>,
    /// NSS and dlopen notes (the run-time checks).
    pub runtime: RuntimeProbe,
    /// The dynamic symbols of the objects `libc-symbols-missing` compares (an object built
    /// against the other libc, the root's libc) and of every object of a musl program's session
    /// (the musl advisories), by index.
    pub imports: HashMap<usize, Vec<DynSym>>,
    /// The `PT_GNU_STACK` size of every object a musl program loads that has one (by index):
    /// musl raises its default thread stack size to the largest (`musl-thread-stack`).
    pub stack_sizes: HashMap<usize, u64>,
}

/// What the run-time checks read.
#[derive(Clone, Debug, Default)]
pub struct RuntimeProbe {
    /// The glibc `libc.so.6` most programs load, with each `/etc/nsswitch.conf` database's
    /// services and what they come to for it.
    pub nss: Option<(ByteStr, NssDatabases)>,
    /// `/etc/nsswitch.conf`'s databases, when the root has no glibc but musl (which ignores it).
    pub musl_nss: Vec<(String, Vec<String>)>,
    /// `(object, note, what it loads)` for every note of every object (`None`: none of its
    /// sonames loads).
    pub notes: Vec<(usize, usize, Option<ByteStr>)>,
}

impl RuntimeProbe {
    fn gather(root: Resolved<'_>, view: &dyn FsView, root_libcs: &[RootLibc]) -> RuntimeProbe {
        // The CPU profile does not change whether a module exists, only which copy loads.
        let opts = crate::resolve::ResolveOptions::default();
        let cfg = RootConfig::read(view);
        let cache = crate::resolve::LoaderCache::default();
        let mut loads: HashMap<&[u8], usize> = HashMap::new();
        for (_, _, r) in root.iter() {
            for c in &r.closure {
                *loads.entry(c.as_bytes()).or_default() += 1;
            }
        }
        let libc = root
            .iter()
            .filter(|(_, o, _)| {
                o.facts
                    .soname
                    .as_ref()
                    .is_some_and(|s| s.as_bytes() == b"libc.so.6")
                    && glibc_version(&o.facts).is_some()
            })
            .max_by_key(|(i, o, _)| (loads.get(o.path.as_bytes()).copied(), std::cmp::Reverse(*i)))
            .map(|(i, o, _)| (i, o.path.clone()));
        let nss = libc.map(|(i, path)| (path, nss_states(view, i, &cfg, &opts, &cache)));
        let musl_only =
            !root_libcs.is_empty() && root_libcs.iter().all(|l| l.flavor == Flavor::Musl);
        let musl_nss = if musl_only {
            cfg.nss.clone()
        } else {
            Vec::new()
        };
        let mut notes = Vec::new();
        for (i, o, _) in root.iter() {
            for (n, note) in o.facts.dlopen.iter().enumerate() {
                let found = crate::resolve::derived::dlopen(view, i, &note.sonames, &opts, &cache)
                    .map(|(_, id, _)| view.object_path(id).clone());
                notes.push((i, n, found));
            }
        }
        RuntimeProbe {
            nss,
            musl_nss,
            notes,
        }
    }
}

impl Probes {
    /// Reads what the checks of `root` need (the policy's `max_glibc` decides which objects'
    /// glibc-floor symbols are read).
    pub fn gather(
        root: Resolved<'_>,
        view: &dyn FsView,
        rootfs: &RootFs,
        glibc: Option<&GlibcConfig>,
        opts: &CheckOptions,
        max_glibc: Option<(u32, u32, u32)>,
    ) -> Probes {
        let libc = classify_all(root.objects);
        let root_libcs = root_libcs(root, rootfs);
        // The hints' glibc system paths and stale-ld-cache share one configuration: the one
        // resolution read when it is given, else read here (a root without glibc objects).
        let loaded;
        let glibc_cfg = match glibc {
            Some(c) => c,
            None => {
                loaded = GlibcConfig::load(view);
                &loaded
            }
        };
        let ld_config = LdConfig::of(glibc_cfg);
        let mut system_paths = HashMap::new();
        for (o, loader) in library_missing::hinted_sessions(root) {
            if let Entry::Vacant(e) = system_paths.entry(LoaderKey::of(o, loader)) {
                let value = system_path(view, root, &ld_config, o, loader, e.key());
                e.insert(value);
            }
        }
        let dir_modes = insecure_rpath::dirs_to_stat(root)
            .into_iter()
            .filter_map(|d| dir_mode(rootfs, &d).map(|mode| (d, mode)))
            .collect();
        let version_symbols = version_missing::symbols_needed(root)
            .into_iter()
            .map(|(i, v)| {
                let syms =
                    symbols_with_version(rootfs, &root.objects[i].path, v.as_bytes(), &opts.limits);
                ((i, v), syms)
            })
            .collect();
        let dynamic_symbols = opts.symbols.then(|| {
            dynamic_symbol_tables(
                rootfs,
                root.objects,
                &unresolved_symbol::objects_needed(root),
                &opts.limits,
            )
        });
        let floor_symbols = floor_symbols(&libc, max_glibc, |i, v| {
            symbols_with_version(rootfs, &root.objects[i].path, v, &opts.limits)
        });
        let runtime = RuntimeProbe::gather(root, view, &root_libcs);
        let musl = musl_imports::objects_needed(root);
        let stack_sizes = stack_sizes(rootfs, root.objects, &musl, &opts.limits);
        let mut wanted = libc_symbols_missing::objects_needed(root, &libc, &root_libcs);
        wanted.extend(musl);
        wanted.sort_unstable();
        wanted.dedup();
        let imports = dynamic_symbol_tables(rootfs, root.objects, &wanted, &opts.limits);
        Probes {
            imports,
            stack_sizes,
            runtime,
            libc,
            root_libcs,
            ld_config,
            system_paths,
            dir_modes,
            version_symbols,
            dynamic_symbols,
            floor_symbols,
        }
    }
}

/// Classifies every object's libc (index-aligned with `objects`).
pub fn classify_all(objects: &[Object]) -> Vec<LibcInfo> {
    objects.iter().map(|o| libc::classify(&o.facts)).collect()
}

/// The root's libcs: every glibc and musl loader file, with glibc's release.
pub fn root_libcs(root: Resolved<'_>, rootfs: &RootFs) -> Vec<RootLibc> {
    let mut out = Vec::new();
    for o in root.objects {
        let base = o
            .path
            .as_bytes()
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or(b"");
        if crate::resolve::env::is_musl_interp(o.path.as_bytes()) && base.starts_with(b"ld-musl-") {
            out.push(RootLibc {
                flavor: Flavor::Musl,
                loader: o.path.clone(),
                machine: o.facts.machine,
                version: rootfs
                    .read_file(o.path.as_bytes(), 16 << 20)
                    .ok()
                    .and_then(|b| musl_version(&b)),
            });
        } else if (libc::is_glibc_loader_name(base) || is_versioned_glibc_loader(base))
            && o.facts
                .soname
                .as_ref()
                .is_some_and(|s| libc::is_glibc_loader_name(s.as_bytes()))
        {
            // libc.so.6 beside the loader says the release: in the banner it prints when run
            // ("... release version 2.31."), else, as a lower bound, its newest GLIBC_x.y (a
            // release that adds no symbol, as 2.31 did, defines no node of its own).
            let dir = crate::resolve::env::dirname(o.path.as_bytes());
            let libc6 = [dir, b"/libc.so.6"].concat();
            let libc6 = root
                .tree
                .resolve(&libc6, true)
                .ok()
                .and_then(|c| root.objects.iter().find(|x| x.path == c));
            let banner = libc6.and_then(|l| {
                rootfs
                    .read_file(l.path.as_bytes(), 16 << 20)
                    .ok()
                    .and_then(|b| glibc_banner_version(&b))
            });
            let version = banner.or_else(|| {
                libc6
                    .and_then(|l| {
                        l.facts
                            .version_defs
                            .iter()
                            .filter_map(|d| libc::glibc_version(d.name.as_bytes()))
                            .max()
                    })
                    .map(|(a, b, c)| {
                        if c == 0 {
                            format!("{a}.{b}")
                        } else {
                            format!("{a}.{b}.{c}")
                        }
                    })
            });
            out.push(RootLibc {
                flavor: Flavor::Glibc,
                loader: o.path.clone(),
                machine: o.facts.machine,
                version,
            });
        }
    }
    out
}

/// The release in glibc's banner (`GNU C Library (...) stable release version 2.31.`), which
/// libc.so.6 prints when run as a program.
fn glibc_banner_version(image: &[u8]) -> Option<String> {
    let marker = b" release version ";
    let at = memchr::memmem::find_iter(image, b"GNU C Library").find_map(|start| {
        let line = &image[start..image.len().min(start + 256)];
        let line = &line[..line.iter().position(|&b| b == 0 || b == b'\n')?];
        memchr::memmem::find(line, marker).map(|i| line[i + marker.len()..].to_vec())
    })?;
    let text = std::str::from_utf8(&at).ok()?.trim_end_matches('.');
    let parts: Vec<&str> = text.split('.').collect();
    ((2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
    .then(|| text.to_string())
}

/// glibc before 2.34 installed its loader as `ld-2.31.so` (the `ld-linux-x86-64.so.2` name a
/// symlink to it); its soname still says what it is.
fn is_versioned_glibc_loader(base: &[u8]) -> bool {
    base.strip_prefix(b"ld-")
        .and_then(|r| r.strip_suffix(b".so"))
        .is_some_and(|v| {
            !v.is_empty() && v.iter().all(|&b| b.is_ascii_digit() || b == b'.') && v.contains(&b'.')
        })
}

/// musl keeps its version as a lone string (`1.2.5`) for `ld-musl --version`'s "Version %s"; it is
/// only trusted in a file that also has musl's banner.
fn musl_version(image: &[u8]) -> Option<String> {
    let banner = b"musl libc (";
    memchr::memmem::find(image, banner)?;
    image.split(|&b| b == 0).find_map(|s| {
        let t = std::str::from_utf8(s).ok()?;
        let parts: Vec<&str> = t.split('.').collect();
        (parts.len() == 3
            && parts[0] == "1"
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
        .then(|| t.to_string())
    })
}

/// The system path of `o`'s session with `loader` (`key`): musl's path file, or the default
/// directories built into that ld.so with the ld.so.conf ones.
fn system_path(
    view: &dyn FsView,
    root: Resolved<'_>,
    ld: &LdConfig,
    o: &Object,
    loader: &LoaderRef,
    key: &LoaderKey,
) -> SystemPath {
    let tree: &Tree = root.tree;
    match hint::family_of(loader) {
        Family::Musl => {
            let m = MuslLoader::load(view, key.interp.as_bytes(), &loader.path);
            SystemPath::Musl {
                dirs: hint::canonical_dirs(tree, m.system_path.iter()),
                path_file_exists: m.path_file.is_some(),
                path_file: m
                    .path_file
                    .unwrap_or_else(|| hint::musl_path_file(key.interp.as_bytes())),
            }
        }
        Family::Glibc => {
            let facts = root
                .objects
                .iter()
                .find(|x| x.path == loader.path)
                .map(|x| &*x.facts);
            // Only the default directories are used, and they do not depend on the CPU.
            let g = GlibcLoader::load(
                view,
                &loader.path,
                facts,
                &o.facts,
                &crate::resolve::ResolveOptions::default(),
            );
            SystemPath::Glibc {
                default_dirs: hint::canonical_dirs(tree, g.default_dirs.iter()),
                conf_dirs: hint::canonical_dirs(tree, ld.conf_dirs.iter()),
            }
        }
    }
}

/// `st_mode` of the directory at canonical `dir`, when it opens.
fn dir_mode(rootfs: &RootFs, dir: &ByteStr) -> Option<u32> {
    let Ok(DirHandle::Open(fd)) = rootfs.open_dir(dir.as_bytes()) else {
        return None;
    };
    Some(rustix::fs::fstat(&fd).ok()?.st_mode)
}

/// The dynamic symbols of objects `wanted` (indices), read in parallel; objects without a
/// dynamic symbol table, or that cannot be read, are left out.
fn dynamic_symbol_tables(
    rootfs: &RootFs,
    objects: &[Object],
    wanted: &[usize],
    limits: &elf::Limits,
) -> HashMap<usize, Vec<DynSym>> {
    use rayon::prelude::*;
    use std::os::fd::AsFd;
    wanted
        .par_iter()
        .filter_map(|&j| {
            let file = rootfs.open_file(objects[j].path.as_bytes()).ok()?;
            let len = u64::try_from(file.stat.st_size).unwrap_or(0);
            let syms = elf::symbols::dynamic_symbols(file.fd.as_fd(), len, limits).ok()??;
            Some((j, syms))
        })
        .collect()
}

/// The `PT_GNU_STACK` sizes of objects `wanted` (indices) that have one, read in parallel.
fn stack_sizes(
    rootfs: &RootFs,
    objects: &[Object],
    wanted: &[usize],
    limits: &elf::Limits,
) -> HashMap<usize, u64> {
    use rayon::prelude::*;
    use std::os::fd::AsFd;
    wanted
        .par_iter()
        .filter_map(|&j| {
            let file = rootfs.open_file(objects[j].path.as_bytes()).ok()?;
            let len = u64::try_from(file.stat.st_size).unwrap_or(0);
            let size = elf::symbols::gnu_stack_size(file.fd.as_fd(), len, limits).ok()??;
            Some((j, size))
        })
        .collect()
}

/// The symbols bound to its glibc floor of each subject (by index in `libc`) whose floor is above
/// `max`, read by `symbols_for(index, version)`.
pub fn floor_symbols<'l>(
    libc: impl IntoIterator<Item = &'l LibcInfo>,
    max: Option<(u32, u32, u32)>,
    mut symbols_for: impl FnMut(usize, &[u8]) -> Vec<ByteStr>,
) -> HashMap<usize, Vec<ByteStr>> {
    libc.into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let floor = glibc_too_new::floor_above(l, max)?;
            Some((i, symbols_for(i, floor.as_bytes())))
        })
        .collect()
}

/// The imports of `path` bound to `version` (the symbols that need it).
fn symbols_with_version(
    rootfs: &RootFs,
    path: &ByteStr,
    version: &[u8],
    limits: &elf::Limits,
) -> Vec<ByteStr> {
    let Ok(file) = rootfs.open_file(path.as_bytes()) else {
        return Vec::new();
    };
    symbols_of_file(&file, version, limits)
}

fn symbols_of_file(
    file: &crate::rootfs::OpenFile,
    version: &[u8],
    limits: &elf::Limits,
) -> Vec<ByteStr> {
    use std::os::fd::AsFd;
    let len = u64::try_from(file.stat.st_size).unwrap_or(0);
    match elf::symbols::dynamic_symbols(file.fd.as_fd(), len, limits) {
        Ok(Some(syms)) => {
            let mut v: Vec<ByteStr> = syms
                .into_iter()
                .filter(|s| {
                    s.undefined && s.version.as_ref().is_some_and(|v| v.as_bytes() == version)
                })
                .map(|s| s.name)
                .collect();
            v.sort();
            v.dedup();
            v
        }
        _ => Vec::new(),
    }
}

/// The symbols of an artifact of `check --files` that need `version`.
pub fn artifact_symbols(path: &ByteStr, version: &[u8], limits: &elf::Limits) -> Vec<ByteStr> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(path.as_bytes()));
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let Some(name) = p.file_name() else {
        return Vec::new();
    };
    let Ok(rootfs) = RootFs::open(parent) else {
        return Vec::new();
    };
    let in_root = [b"/", name.as_bytes()].concat();
    match rootfs.open_file(&in_root) {
        Ok(file) => symbols_of_file(&file, version, limits),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc's loader before 2.34 is named by its release; anything else is not a loader.
    #[test]
    fn versioned_glibc_loaders() {
        assert!(is_versioned_glibc_loader(b"ld-2.31.so"));
        assert!(is_versioned_glibc_loader(b"ld-2.17.so"));
        for other in [
            &b"ld-2.so"[..],
            b"ld-2.31.so.1",
            b"ld-musl-x86_64.so.1",
            b"ld-2.x.so",
        ] {
            assert!(!is_versioned_glibc_loader(other));
        }
    }

    /// musl's version is a lone `1.x.y` string, trusted only beside musl's banner.
    #[test]
    fn musl_version_needs_the_banner() {
        let image =
            b"\x7fELF\x00musl libc (x86_64)\x00Version %s\x001.2.5\x00Dynamic Program Loader\x00";
        assert_eq!(musl_version(image).as_deref(), Some("1.2.5"));
        assert_eq!(musl_version(b"\x001.2.5\x00"), None, "no banner");
        assert_eq!(musl_version(b"musl libc (x)\x001.2\x002.0.1\x00"), None);
    }

    /// glibc's release is the number its banner ends with, on the banner's own line.
    #[test]
    fn glibc_release_from_the_banner() {
        let image = b"\x00GNU C Library (Debian GLIBC 2.31-13+deb11u14) stable release version 2.31.\nCopyright\x00";
        assert_eq!(glibc_banner_version(image).as_deref(), Some("2.31"));
        let patch = b"GNU C Library (GNU libc) release release version 2.2.5.\x00";
        assert_eq!(glibc_banner_version(patch).as_deref(), Some("2.2.5"));
        assert_eq!(
            glibc_banner_version(b"release version 2.36.\x00"),
            None,
            "no banner"
        );
        assert_eq!(
            glibc_banner_version(b"GNU C Library\x00 release version 2.36.\x00"),
            None,
            "another string"
        );
        assert_eq!(
            glibc_banner_version(b"GNU C Library release version 2.x.\x00"),
            None
        );
    }

    /// Before 2.34 the loader's file was `ld-2.31.so`.
    #[test]
    fn versioned_loader_names() {
        assert!(is_versioned_glibc_loader(b"ld-2.31.so"));
        assert!(is_versioned_glibc_loader(b"ld-2.2.5.so"));
        assert!(!is_versioned_glibc_loader(b"ld-musl-x86_64.so.1"));
        assert!(!is_versioned_glibc_loader(b"ld-.so"));
        assert!(!is_versioned_glibc_loader(b"ld-linux-x86-64.so.2"));
    }
}
