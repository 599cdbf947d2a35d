//! The glibc model: one ld.so session per object (loader-spec §2 and §4).

use std::collections::HashMap;

use super::env::{Family, GlibcLoader, basename, dirname, trim_trailing_slashes};
use super::{
    Candidate, Ctx, Dep, LoaderRef, NeedError, NotFound, OpenErrno, Resolution, SessionEdge,
    Skipped, Status, VersionError, Via,
};
use crate::elf::{ElfType, Machine};
use crate::name::ByteStr;

/// DF_1_NODEFLIB: do not search the default directories (nor cache entries in them).
const DF_1_NODEFLIB: u64 = 0x800;
const DF_1_PIE: u64 = 0x0800_0000;

/// Most candidate lookups a thread's memo holds (a real root's whole scan looks up fewer).
const MAX_MEMO: usize = 1 << 18;

/// Per-thread memo of candidate lookups (path → what is there), shared by the sessions of a thread.
#[derive(Default)]
pub struct Memo {
    candidates: HashMap<Vec<u8>, Candidate>,
    /// Whether a path resolves to a directory: a search-list directory's capability
    /// subdirectories are tried only when they exist, since a candidate below a missing one is
    /// absent whatever its name (most directories have none, and each costs a lookup per level
    /// per needed name otherwise).
    dirs: HashMap<Vec<u8>, bool>,
}

impl Memo {
    fn is_dir(&mut self, ctx: &Ctx<'_>, path: &[u8]) -> bool {
        if let Some(&d) = self.dirs.get(path) {
            return d;
        }
        let d = ctx.view.is_dir(path);
        if self.dirs.len() >= MAX_MEMO {
            self.dirs.clear();
        }
        self.dirs.insert(path.to_vec(), d);
        d
    }

    fn get(&mut self, ctx: &Ctx<'_>, path: &[u8]) -> Candidate {
        if let Some(c) = self.candidates.get(path) {
            return c.clone();
        }
        let c = ctx.candidate(path);
        // Bounded like everything else: a hostile root can name millions of candidate paths.
        if self.candidates.len() >= MAX_MEMO {
            self.candidates.clear();
        }
        self.candidates.insert(path.to_vec(), c.clone());
        c
    }
}

struct Loaded {
    obj: usize,
    /// The name it was opened under (`l_name`): `$ORIGIN` of a library is its directory.
    name: ByteStr,
    /// Who loaded it (`l_loader`), for the RPATH chain; `None` for the main object.
    loader: Option<usize>,
    /// ld.so itself: loaded from the start, never searched for, not in the closure.
    rtld: bool,
}

struct Session<'c, 'a> {
    ctx: &'c Ctx<'a>,
    ld: &'c GlibcLoader,
    loaded: Vec<Loaded>,
    /// Every name each loaded object answers to (requested names, l_name, DT_SONAME).
    names: HashMap<Vec<u8>, usize>,
    /// Object index → loaded index: the same file under another name is the same object.
    by_obj: HashMap<usize, usize>,
    notes: Vec<String>,
}

/// Where a search list came from.
#[derive(Clone, Copy)]
enum ListKind {
    Rpath(usize),
    /// LD_LIBRARY_PATH (elements already split; relative ones against the working directory).
    Env,
    Runpath,
    Default,
    Conf,
}

/// The result of looking for one need.
struct Found {
    loaded: Option<usize>,
    dep: Dep,
}

/// Runs the session of object `main` under glibc loader `ld`.
pub fn session(ctx: &Ctx<'_>, memo: &mut Memo, main: usize, ld: &GlibcLoader) -> Resolution {
    let mut s = Session {
        ctx,
        ld,
        loaded: Vec::new(),
        names: HashMap::new(),
        by_obj: HashMap::new(),
        notes: Vec::new(),
    };
    let (main_path, main_facts) = (ctx.path(main), ctx.facts(main));
    s.add(main, main_path.clone(), None, false, None);
    if let Some(ri) = ctx.view.object(ld.path.as_bytes()) {
        // ld.so answers to the PT_INTERP string and its soname before any search (R2.2, R2.11).
        let name = main_facts.interp.clone().unwrap_or_else(|| ld.path.clone());
        if ri != main {
            s.add(ri, name, None, true, None);
        }
    }
    let order = match main_facts.endian {
        crate::elf::Endian::Little => super::ldcache::ByteOrder::Little,
        crate::elf::Endian::Big => super::ldcache::ByteOrder::Big,
    };
    if ctx
        .glibc
        .cache
        .as_ref()
        .is_some_and(|c| !c.matches_loader_byte_order(order))
    {
        s.notes.push(
            "/etc/ld.so.cache is in the other byte order: this loader ignores it (as if absent)"
                .into(),
        );
    }
    if ctx.glibc.cache.is_none() {
        if let Some(e) = &ctx.glibc.cache_error {
            s.notes.push(format!(
                "/etc/ld.so.cache is unusable ({e}); searched the ld.so.conf directories instead"
            ));
        } else {
            s.notes.push(
                "the root has no /etc/ld.so.cache; searched the ld.so.conf directories instead"
                    .into(),
            );
        }
    }
    // The ld.so.conf directories stand in for the cache: say what cut their reading short.
    if ctx
        .glibc
        .cache
        .as_ref()
        .is_none_or(|c| !c.matches_loader_byte_order(order))
    {
        s.notes.extend(ctx.glibc.conf_warnings.iter().cloned());
    }
    // ld.so refuses a main object it would refuse as a library (`ldd lib.so`; a program started by
    // the kernel is not checked this way, so only objects without PT_INTERP are).
    let mf = ctx.facts(main);
    if mf.interp.is_none() {
        let refusal = if mf.ei_osabi != 0 && mf.ei_osabi != 3 {
            Some(format!("ELF file OS ABI invalid ({})", mf.osabi))
        } else if !matches!(mf.e_type, ElfType::Dyn | ElfType::Exec) {
            Some("only ET_DYN and ET_EXEC can be loaded".to_string())
        } else {
            None
        };
        if let Some(why) = refusal {
            let mut r = Resolution::without_loader(Status::Error, None);
            r.loader = Some(LoaderRef {
                family: Family::Glibc,
                path: ld.path.clone(),
            });
            r.fatal = Some(format!("{}: {why}", main_path));
            return r;
        }
    }
    // /etc/ld.so.preload: loaded right after the executable; a missing entry is only a warning.
    // With no DT_NEEDED at all, ldd prints `statically linked` and lists nothing, preloads
    // included; elfdeps follows it and says so.
    // LD_PRELOAD comes first (rtld.c handles it before the file), each entry needed by the
    // executable: a name is searched as a NEEDED is, a path (with a slash) opened relative to
    // the working directory.
    let env_preload: Vec<(ByteStr, &str)> = ctx
        .opts
        .env
        .glibc_preload()
        .into_iter()
        .map(|e| {
            if e.as_bytes().contains(&b'/') {
                (
                    ByteStr::from(ctx.opts.env.preload_path(e.as_bytes())),
                    "LD_PRELOAD",
                )
            } else {
                (e, "LD_PRELOAD")
            }
        })
        .chain(
            ctx.glibc
                .preload
                .iter()
                .map(|e| (e.clone(), "/etc/ld.so.preload")),
        )
        .collect();
    let preload: &[(ByteStr, &str)] = if mf.needed.is_empty() {
        let from = match (
            env_preload.iter().any(|(_, f)| *f == "LD_PRELOAD"),
            !ctx.glibc.preload.is_empty(),
        ) {
            (true, true) => Some("LD_PRELOAD and /etc/ld.so.preload"),
            (true, false) => Some("LD_PRELOAD"),
            (false, true) => Some("/etc/ld.so.preload"),
            (false, false) => None,
        };
        if let Some(from) = from {
            s.notes.push(format!(
                "no DT_NEEDED: ldd lists nothing for it, though a real run also loads the \
                 {from} objects"
            ));
        }
        &[]
    } else {
        &env_preload
    };
    for (entry, from) in preload {
        let f = s.find(memo, 0, entry.as_bytes(), true);
        if f.loaded.is_none() {
            s.notes.push(format!(
                "object '{entry}' from {from} cannot be preloaded ({}): ignored",
                f.dep.error.as_ref().map_or_else(
                    || "cannot open shared object file".to_string(),
                    |e| e.to_string()
                )
            ));
        }
    }

    let mut edges = Vec::new();
    let mut missing: Vec<ByteStr> = Vec::new();
    let mut fatal: Option<String> = None;
    let mut i = 0;
    // The loader stops at the first need it cannot load for a reason other than "not found".
    while i < s.loaded.len() && fatal.is_none() {
        if s.loaded[i].rtld {
            i += 1;
            continue;
        }
        let obj = s.loaded[i].obj;
        for need in &ctx.facts(obj).needed {
            let f = s.find(memo, i, need.as_bytes(), false);
            if f.loaded.is_none() {
                if let Some(e) = f.dep.error.as_ref().filter(|e| !e.is_not_found()) {
                    fatal = Some(e.to_string());
                }
                if !missing.contains(need) {
                    missing.push(need.clone());
                }
            }
            if i == 0 || !ctx.opts.failed_edges_only || f.loaded.is_none() {
                edges.push(SessionEdge {
                    from: ctx.path(obj).clone(),
                    dep: f.dep,
                });
            }
            if fatal.is_some() {
                break;
            }
        }
        i += 1;
    }
    let deps = edges
        .iter()
        .take(ctx.facts(main).needed.len())
        .map(|e| e.dep.clone())
        .collect();
    if ctx.opts.failed_edges_only {
        edges.retain(|e| e.dep.found.is_none());
        // A whole-root scan keeps thousands of sessions: not the room of the needs dropped.
        edges.shrink_to_fit();
    }

    let version_errors = s.check_versions();
    let mut closure: Vec<ByteStr> = s
        .loaded
        .iter()
        .skip(1)
        .filter(|l| !l.rtld)
        .map(|l| ctx.path(l.obj).clone())
        .collect();
    // Filtered, so grown by doubling; kept for every object of a scan.
    closure.shrink_to_fit();
    let status = if missing.is_empty() && version_errors.is_empty() && fatal.is_none() {
        Status::Ok
    } else {
        Status::Error
    };
    Resolution {
        status,
        loader: Some(LoaderRef {
            family: Family::Glibc,
            path: ld.path.clone(),
        }),
        closure,
        missing,
        version_errors,
        fatal,
        deps,
        notes: s.notes,
        limit: None,
        edges,
    }
}

impl Session<'_, '_> {
    fn add(
        &mut self,
        obj: usize,
        name: ByteStr,
        loader: Option<usize>,
        rtld: bool,
        requested: Option<&[u8]>,
    ) -> usize {
        let idx = self.loaded.len();
        let facts = self.ctx.facts(obj);
        self.names.entry(name.as_bytes().to_vec()).or_insert(idx);
        if let Some(r) = requested {
            self.names.entry(r.to_vec()).or_insert(idx);
        }
        if let Some(so) = &facts.soname {
            self.names.entry(so.as_bytes().to_vec()).or_insert(idx);
        }
        self.by_obj.insert(obj, idx);
        self.loaded.push(Loaded {
            obj,
            name,
            loader,
            rtld,
        });
        idx
    }

    /// `_dl_map_object`: the need `name` of loaded object `req`.
    fn find(&mut self, memo: &mut Memo, req: usize, name: &[u8], preload: bool) -> Found {
        let mut dep = Dep::new(ByteStr::from(name));
        // A bound on the work of the session (resolve::charge): stop as if the loader gave up.
        if let Err(bound) = super::charge(self.ctx, 1) {
            dep.error = Some(NeedError::Bound(bound));
            return Found { loaded: None, dep };
        }
        if let Some(&idx) = self.names.get(name) {
            let l = &self.loaded[idx];
            dep.path = Some(l.name.clone());
            dep.found = Some(self.ctx.path(l.obj).clone());
            dep.via = Some(Via::AlreadyLoaded);
            return Found {
                loaded: Some(idx),
                dep,
            };
        }
        let req_obj = self.loaded[req].obj;
        let origin = ByteStr::from(dirname(self.loaded[req].name.as_bytes()));

        if name.contains(&b'/') {
            // Opened as a path (after token expansion); a relative one against the working directory,
            // which for `chroot ROOT ldd` is the root.
            let Some(expanded) = self.expand(name, origin.as_bytes()) else {
                dep.error = Some(NeedError::UnexpandableToken);
                return Found { loaded: None, dep };
            };
            if !expanded.starts_with(b"/") {
                self.notes.push(format!(
                    "NEEDED {} is relative: it depends on the working directory (resolved against /)",
                    ByteStr::from(name)
                ));
            }
            let path = if expanded.starts_with(b"/") {
                expanded
            } else {
                [b"/", &expanded[..]].concat()
            };
            return match self.try_candidate(memo, &path, &mut dep) {
                Try::Load(obj) => self.load(
                    req,
                    name,
                    obj,
                    path,
                    if preload { Via::Preload } else { Via::Path },
                    dep,
                ),
                Try::Skip | Try::Absent => {
                    dep.error
                        .get_or_insert(NeedError::NotFound(NotFound::GlibcPath));
                    Found { loaded: None, dep }
                }
                Try::OpenError(e) => {
                    dep.error = Some(NeedError::NotFound(NotFound::GlibcPathOpen(
                        ByteStr::from(&path[..]),
                        e,
                    )));
                    Found { loaded: None, dep }
                }
                Try::Fatal => Found { loaded: None, dep },
            };
        }

        let via_default = if preload {
            Via::Preload
        } else {
            Via::DefaultDir
        };
        let req_facts = self.ctx.facts(req_obj);
        // 1. DT_RPATH of the requester and its loaders up to the executable, unless the requester
        //    has DT_RUNPATH. (An object with both has its RPATH ignored entirely.)
        if req_facts.runpath.is_none() {
            let mut chain = Some(req);
            while let Some(c) = chain {
                let cf = self.ctx.facts(self.loaded[c].obj);
                if cf.runpath.is_none()
                    && let Some(rp) = cf.rpath.clone()
                {
                    let corigin = ByteStr::from(dirname(self.loaded[c].name.as_bytes()));
                    if let Some(f) = self.search_list(
                        memo,
                        req,
                        name,
                        &rp,
                        corigin.as_bytes(),
                        ListKind::Rpath(c),
                        &mut dep,
                    ) {
                        return f;
                    }
                }
                chain = self.loaded[c].loader;
            }
        }
        // 2. LD_LIBRARY_PATH of the loader environment (whatever the requester's RUNPATH), its
        //    tokens expanded with the executable's origin (`_dl_init_paths` passes the main map).
        let ctx = self.ctx;
        let env_list = &ctx.env_lists.glibc_library_path;
        if !env_list.is_empty() {
            let main_origin = ByteStr::from(dirname(self.loaded[0].name.as_bytes()));
            if let Some(f) = self.search_list(
                memo,
                req,
                name,
                env_list,
                main_origin.as_bytes(),
                ListKind::Env,
                &mut dep,
            ) {
                return f;
            }
        }
        // 3. DT_RUNPATH of the requester only.
        if let Some(rp) = req_facts.runpath.clone()
            && let Some(f) = self.search_list(
                memo,
                req,
                name,
                &rp,
                origin.as_bytes(),
                ListKind::Runpath,
                &mut dep,
            )
        {
            return f;
        }
        // DF_1_NODEFLIB of the requester (the executable when there is none) turns off the defaults.
        let nodeflib = req_facts.flags_1.is_some_and(|f| f & DF_1_NODEFLIB != 0);
        // 4. ld.so.cache: one path; if it is absent or skipped, fall through to the defaults.
        // A cache written in the other byte order is ignored by this loader altogether
        // (`cache_file_new_matches_endian`), as if there were none.
        let main_facts = self.ctx.facts(self.loaded[0].obj);
        let order = match main_facts.endian {
            crate::elf::Endian::Little => super::ldcache::ByteOrder::Little,
            crate::elf::Endian::Big => super::ldcache::ByteOrder::Big,
        };
        if let Some(cache) = self
            .ctx
            .glibc
            .cache
            .as_ref()
            .filter(|c| c.matches_loader_byte_order(order))
        {
            // The entries of the loader's own ABI (its `_dl_cache_check_flags`).
            let flags = self.ld.cache_flags;
            // The loader's glibc-hwcaps subdirectories, best first: that is the ranking.
            let hw = &self.ld.cpu.hwcaps;
            let hit = cache
                .lookup_cpu(
                    name,
                    |f| flags.accepts(f),
                    &self.ld.cpu.cache,
                    |sub| hw.iter().position(|h| h.as_bytes() == sub),
                )
                .map(|e| (ByteStr::from(&e.value[..]), e.hwcaps_subdir.clone()));
            if let Some((path, sub)) = hit {
                let in_default = self.is_default_path(path.as_bytes());
                if nodeflib && in_default {
                    dep.skipped.push(Skipped {
                        path: path.clone(),
                        reason: "in a default directory, and the requester has DF_1_NODEFLIB"
                            .into(),
                    });
                } else {
                    match self.try_candidate(memo, path.as_bytes(), &mut dep) {
                        Try::Load(obj) => {
                            dep.hwcaps = sub.map(ByteStr::from);
                            return self.load(
                                req,
                                name,
                                obj,
                                path.as_bytes().to_vec(),
                                if preload { Via::Preload } else { Via::LdCache },
                                dep,
                            );
                        }
                        Try::Fatal => return Found { loaded: None, dep },
                        Try::Skip => {}
                        // A failed cached path falls through to the defaults, whatever the errno.
                        Try::OpenError(e) => dep.skipped.push(Skipped {
                            path,
                            reason: format!("listed in ld.so.cache, but {}", e.text()),
                        }),
                        Try::Absent => dep.skipped.push(Skipped {
                            path,
                            reason: "listed in ld.so.cache but absent (stale cache)".into(),
                        }),
                    }
                }
            }
        } else {
            // No cache in the root: what ldconfig would cache from ld.so.conf.
            let dirs: Vec<ByteStr> = self.ctx.glibc.conf_dirs.clone();
            let joined = dirs
                .iter()
                .map(|d| d.as_bytes())
                .collect::<Vec<_>>()
                .join(&b':');
            let list = vec![ByteStr::from(joined)];
            if !dirs.is_empty()
                && let Some(f) = self.search_list(
                    memo,
                    req,
                    name,
                    &list,
                    origin.as_bytes(),
                    ListKind::Conf,
                    &mut dep,
                )
            {
                return f;
            }
        }
        // 5. The default directories.
        if !nodeflib {
            let joined = self
                .ld
                .default_dirs
                .iter()
                .map(|d| d.as_bytes())
                .collect::<Vec<_>>()
                .join(&b':');
            let list = vec![ByteStr::from(joined)];
            if let Some(mut f) = self.search_list(
                memo,
                req,
                name,
                &list,
                origin.as_bytes(),
                ListKind::Default,
                &mut dep,
            ) {
                if f.dep.via == Some(Via::DefaultDir) {
                    f.dep.via = Some(via_default);
                }
                return f;
            }
        }
        dep.error = Some(NeedError::NotFound(NotFound::Glibc));
        Found { loaded: None, dep }
    }

    /// Searches each directory of a path list (`:`-separated entries, already split once into `list`).
    #[allow(clippy::too_many_arguments)]
    fn search_list(
        &mut self,
        memo: &mut Memo,
        req: usize,
        name: &[u8],
        list: &[ByteStr],
        origin: &[u8],
        kind: ListKind,
        dep: &mut Dep,
    ) -> Option<Found> {
        for entry in list.iter().flat_map(|e| e.as_bytes().split(|&b| b == b':')) {
            // An unknown-valued token drops the element; an empty element is the working directory.
            let Some(dir) = self.expand(entry, origin) else {
                continue;
            };
            let dir = if matches!(kind, ListKind::Env) {
                self.ctx.opts.env.glibc_dir(&dir)
            } else if dir.is_empty() {
                b"/".to_vec()
            } else {
                dir
            };
            let dir = if dir.starts_with(b"/") {
                dir
            } else {
                [b"/", &dir[..]].concat()
            };
            let dir = trim_trailing_slashes(&dir).to_vec();
            // glibc-hwcaps subdirectories (best first), then the legacy capability
            // subdirectories (before 2.37), then the directory itself (R2.8).
            let hwcaps = self.ld.cpu.hwcaps.iter().map(|h| {
                let sub = [b"glibc-hwcaps/", h.as_bytes()].concat();
                (Some(h.clone()), Some(sub))
            });
            let legacy = self
                .ld
                .cpu
                .legacy_subdirs
                .iter()
                .map(|l| (Some(l.clone()), Some(l.as_bytes().to_vec())));
            let has_hwcaps = memo.is_dir(self.ctx, &[&dir[..], b"/glibc-hwcaps"].concat());
            let subs: Vec<(Option<ByteStr>, Option<Vec<u8>>)> = hwcaps
                .filter(|_| has_hwcaps)
                .chain(legacy)
                .filter(|(_, sub)| {
                    // A candidate below a subdirectory that is not there is absent, and the
                    // loader goes on to the next one (R2.8).
                    sub.as_ref()
                        .is_none_or(|d| memo.is_dir(self.ctx, &[&dir[..], b"/", d].concat()))
                })
                .chain([(None, None)])
                .collect();
            // The loader does try the paths below missing subdirectories (each open fails): they
            // count against the work bound as if tried, so the bound means what it did.
            let skipped = self.ld.cpu.hwcaps.len() + self.ld.cpu.legacy_subdirs.len() + 1;
            if let Err(bound) = super::charge(self.ctx, skipped.saturating_sub(subs.len()) as u64) {
                dep.error = Some(NeedError::Bound(bound));
                return Some(Found {
                    loaded: None,
                    dep: dep.clone(),
                });
            }
            // A library this CPU level would not see, kept for the explanation below.
            let other_levels = if has_hwcaps {
                self.other_hwcaps_levels(&dir, name)
            } else {
                Vec::new()
            };
            for (sub, subdir) in &subs {
                let path = match subdir {
                    Some(d) => [&dir[..], b"/", d, b"/", name].concat(),
                    None => [&dir[..], b"/", name].concat(),
                };
                match self.try_candidate(memo, &path, dep) {
                    Try::Absent | Try::Skip => continue,
                    // open_path ends the whole list when the last open in an existing
                    // directory failed with an errno other than ENOENT or EACCES ("the file
                    // exists and is readable, but something went wrong"): the later entries of
                    // this list are never tried, the next source (cache, defaults) still is.
                    // ldconfig (the `Conf` emulation) just leaves such a name out.
                    Try::OpenError(e) => {
                        if subdir.is_none()
                            && self.ctx.view.is_dir(&dir)
                            && !matches!(kind, ListKind::Conf)
                        {
                            dep.skipped.push(Skipped {
                                path: ByteStr::from(path),
                                reason: format!(
                                    "{}: the loader searches no further in this list",
                                    e.text()
                                ),
                            });
                            return None;
                        }
                        continue;
                    }
                    Try::Fatal => {
                        return Some(Found {
                            loaded: None,
                            dep: dep.clone(),
                        });
                    }
                    Try::Load(obj) => {
                        let via = match kind {
                            ListKind::Rpath(c) => {
                                dep.rpath_of = Some(self.ctx.path(self.loaded[c].obj).clone());
                                Via::Rpath
                            }
                            ListKind::Runpath => Via::Runpath,
                            ListKind::Env => Via::LdLibraryPath,
                            ListKind::Default => Via::DefaultDir,
                            ListKind::Conf => Via::LdSoConf,
                        };
                        dep.hwcaps = sub.clone();
                        return Some(self.load(req, name, obj, path, via, dep.clone()));
                    }
                }
            }
            for (level, path) in other_levels {
                dep.skipped.push(Skipped {
                    path,
                    reason: format!(
                        "in glibc-hwcaps/{level}: loaded only on a CPU that supports {level} \
                         (--cpu names one, --hwcaps {level} sets the level alone)"
                    ),
                });
            }
        }
        None
    }

    /// Libraries named `name` under `dir/glibc-hwcaps/LEVEL/` for the levels glibc knows for this
    /// machine that the target CPU does not support (usually none: only directories that have a
    /// `glibc-hwcaps/` subdirectory are looked at).
    fn other_hwcaps_levels(&self, dir: &[u8], name: &[u8]) -> Vec<(&'static str, ByteStr)> {
        let Ok(canonical) = self.ctx.view.resolve(dir, true) else {
            return Vec::new();
        };
        let hwcaps = [canonical.as_bytes(), b"/glibc-hwcaps"].concat();
        if self.ctx.view.kind(&hwcaps) != Some(super::view::FileKind::Dir) {
            return Vec::new();
        }
        let machine = self.ctx.facts(self.loaded[0].obj).machine;
        known_hwcaps_levels(machine)
            .iter()
            .filter(|l| {
                !self
                    .ld
                    .cpu
                    .hwcaps
                    .iter()
                    .any(|h| h.as_bytes() == l.as_bytes())
            })
            .filter_map(|l| {
                let p = [dir, b"/glibc-hwcaps/", l.as_bytes(), b"/", name].concat();
                matches!(self.ctx.candidate(&p), Candidate::Object(_))
                    .then(|| (*l, ByteStr::from(p)))
            })
            .collect()
    }

    /// `open_verify` on one candidate path.
    fn try_candidate(&mut self, memo: &mut Memo, path: &[u8], dep: &mut Dep) -> Try {
        if let Err(bound) = super::charge(self.ctx, 1) {
            dep.error = Some(NeedError::Bound(bound));
            return Try::Fatal;
        }
        let main = self.ctx.facts(self.loaded[0].obj);
        match memo.get(self.ctx, path) {
            Candidate::Absent => Try::Absent,
            Candidate::OpenError(e) => Try::OpenError(e),
            Candidate::Unreadable => {
                dep.skipped.push(Skipped {
                    path: ByteStr::from(path),
                    reason: "cannot be opened (permission denied)".into(),
                });
                Try::Skip
            }
            Candidate::NotFile(c, what) => {
                dep.error = Some(NeedError::Unloadable(format!(
                    "{}: {what}",
                    shown(path, &c)
                )));
                Try::Fatal
            }
            Candidate::NotElf(c) => {
                dep.error = Some(NeedError::Unloadable(format!(
                    "{}: invalid ELF header or file too short: the loader stops here",
                    shown(path, &c)
                )));
                Try::Fatal
            }
            Candidate::Object(o) => {
                let f = self.ctx.facts(o);
                if f.class != main.class {
                    dep.skipped.push(Skipped {
                        path: ByteStr::from(path),
                        reason: format!("wrong ELF class: {}", f.class.as_str()),
                    });
                    return Try::Skip;
                }
                if f.e_machine != main.e_machine {
                    dep.skipped.push(Skipped {
                        path: ByteStr::from(path),
                        reason: format!("wrong machine: {}", f.machine),
                    });
                    return Try::Skip;
                }
                if f.ei_osabi != 0 && f.ei_osabi != 3 {
                    dep.error = Some(NeedError::Unloadable(format!(
                        "{}: ELF file OS ABI invalid ({})",
                        ByteStr::from(path),
                        f.osabi
                    )));
                    return Try::Fatal;
                }
                if !matches!(f.e_type, ElfType::Dyn | ElfType::Exec) {
                    dep.error = Some(NeedError::Unloadable(format!(
                        "{}: only ET_DYN and ET_EXEC can be loaded",
                        ByteStr::from(path)
                    )));
                    return Try::Fatal;
                }
                // _dl_map_object_from_fd's checks, in its order; each one fails the load.
                let refusal = if !f.has_load {
                    Some("object file has no loadable segments")
                } else if f.e_type == ElfType::Exec {
                    Some("cannot dynamically load executable")
                } else if !f.has_dynamic {
                    // Also what a separate debug-info file gets: its PT_DYNAMIC has no bytes.
                    Some("object file has no dynamic section")
                } else if f.flags_1.is_some_and(|v| v & DF_1_PIE != 0) {
                    Some("cannot dynamically load position-independent executable")
                } else {
                    None
                };
                if let Some(why) = refusal {
                    dep.error = Some(NeedError::Unloadable(format!(
                        "{}: {why}",
                        ByteStr::from(path)
                    )));
                    return Try::Fatal;
                }
                Try::Load(o)
            }
        }
    }

    fn load(
        &mut self,
        req: usize,
        name: &[u8],
        obj: usize,
        path: Vec<u8>,
        via: Via,
        mut dep: Dep,
    ) -> Found {
        dep.path = Some(ByteStr::from(path.clone()));
        dep.found = Some(self.ctx.path(obj).clone());
        dep.via = Some(via);
        dep.error = None;
        // The same file under another name is the same object (st_dev/st_ino): record the new name.
        if let Some(&idx) = self.by_obj.get(&obj) {
            self.names.entry(name.to_vec()).or_insert(idx);
            return Found {
                loaded: Some(idx),
                dep,
            };
        }
        let idx = self.add(obj, ByteStr::from(path), Some(req), false, Some(name));
        Found {
            loaded: Some(idx),
            dep,
        }
    }

    fn is_default_path(&self, path: &[u8]) -> bool {
        let dir = dirname(path);
        self.ld.default_dirs.iter().any(|d| d.as_bytes() == dir)
    }

    /// Expands `$ORIGIN`, `$LIB`, `$PLATFORM` (and the `${...}` forms). `None`: the element is dropped.
    fn expand(&self, s: &[u8], origin: &[u8]) -> Option<Vec<u8>> {
        expand_dst(
            s,
            origin,
            self.ld.lib_token.as_bytes(),
            self.ld.cpu.platform.as_bytes(),
        )
    }

    /// `_dl_check_map_versions` for every loaded object (R4.2).
    fn check_versions(&mut self) -> Vec<VersionError> {
        let mut errors = Vec::new();
        for l in &self.loaded {
            let f = self.ctx.facts(l.obj);
            for vn in &f.version_needs {
                let Some(&pi) = self.names.get(vn.file.as_bytes()) else {
                    // The provider was not loaded: already reported as missing.
                    continue;
                };
                let provider = &self.loaded[pi];
                let pf = self.ctx.facts(provider.obj);
                if pf.version_defs.is_empty() {
                    self.notes.push(format!(
                        "{}: no version information available (required by {})",
                        provider.name, l.name
                    ));
                    continue;
                }
                for v in &vn.versions {
                    if v.weak || pf.version_defs.iter().any(|d| d.name == v.name) {
                        continue;
                    }
                    errors.push(VersionError {
                        library: provider.name.clone(),
                        version: v.name.clone(),
                        required_by: l.name.clone(),
                    });
                }
            }
        }
        errors
    }
}

enum Try {
    Absent,
    Skip,
    /// `open` failed with ELOOP or ENOTDIR: not a miss the search goes past (see `search_list`).
    OpenError(OpenErrno),
    Fatal,
    Load(usize),
}

/// glibc's dynamic string token expansion (`_dl_dst_substitute`): `$ORIGIN`, `$LIB`, `$PLATFORM` and
/// their braced forms; a token must not run into further identifier characters; unknown `$NAME` stays
/// literal; a known token without a value drops the element (`None`).
pub fn expand_dst(s: &[u8], origin: &[u8], lib: &[u8], platform: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() + origin.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'$' {
            let rest = &s[i + 1..];
            let mut matched = None;
            for (tok, val) in [
                (&b"ORIGIN"[..], origin),
                (b"PLATFORM", platform),
                (b"LIB", lib),
            ] {
                if rest.starts_with(tok)
                    && !rest
                        .get(tok.len())
                        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    matched = Some((tok.len(), val));
                    break;
                }
                if rest.first() == Some(&b'{')
                    && rest[1..].starts_with(tok)
                    && rest.get(1 + tok.len()) == Some(&b'}')
                {
                    matched = Some((tok.len() + 2, val));
                    break;
                }
            }
            if let Some((len, val)) = matched {
                if val.is_empty() {
                    return None;
                }
                out.extend_from_slice(val);
                i += 1 + len;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    Some(out)
}

/// The last component of a loaded object's name (used by tests and `tree`).
pub fn short_name(path: &[u8]) -> &[u8] {
    basename(path)
}

/// The glibc-hwcaps subdirectory names glibc knows for a machine (sysdeps/*/dl-hwcaps-subdirs.c),
/// best first.
pub fn known_hwcaps_levels(machine: Machine) -> &'static [&'static str] {
    match machine {
        Machine::X86_64 => &["x86-64-v4", "x86-64-v3", "x86-64-v2"],
        Machine::Ppc64le | Machine::Ppc64 => &["power10", "power9"],
        Machine::S390x => &["z16", "z15", "z14", "z13"],
        _ => &[],
    }
}

/// A candidate as opened, with its canonical path when that differs.
fn shown(path: &[u8], canonical: &ByteStr) -> String {
    if path == canonical.as_bytes() {
        canonical.to_string()
    } else {
        format!("{} ({canonical})", ByteStr::from(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dst_expansion() {
        let e = |s: &str| {
            expand_dst(
                s.as_bytes(),
                b"/opt/app/bin",
                b"lib/x86_64-linux-gnu",
                b"x86_64",
            )
            .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(e("$ORIGIN/../lib").unwrap(), "/opt/app/bin/../lib");
        assert_eq!(e("${ORIGIN}/x").unwrap(), "/opt/app/bin/x");
        assert_eq!(e("/x/$LIB").unwrap(), "/x/lib/x86_64-linux-gnu");
        assert_eq!(e("/x/${PLATFORM}").unwrap(), "/x/x86_64");
        assert_eq!(e("$ORIGINAL/x").unwrap(), "$ORIGINAL/x");
        assert_eq!(e("$FOO/x").unwrap(), "$FOO/x");
        assert_eq!(expand_dst(b"/x/$PLATFORM", b"/o", b"lib", b""), None);
    }
}
