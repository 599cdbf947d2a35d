//! The musl model: one `ld-musl --list` session per object (loader-spec §3).

use std::collections::HashMap;

use super::env::{Family, MuslLoader, basename, dirname};
use super::{
    Candidate, Ctx, Dep, LoaderRef, NeedError, NotFound, OpenErrno, Resolution, SessionEdge,
    Skipped, Status, Via,
};
use crate::elf::{Class, Kind};
use crate::name::ByteStr;

/// Names musl satisfies with itself when they start with `lib` followed by one of these (the dot is
/// part of the match): `libc.so`, `libc.so.6`, `libm.so.6`, `libpthread.so.0`, ... (dynlink.c
/// `load_library`, the same list in 1.1.24 and 1.2.5).
const RESERVED: [&[u8]; 7] = [
    b"c.",
    b"pthread.",
    b"rt.",
    b"m.",
    b"dl.",
    b"util.",
    b"xnet.",
];

/// Whether musl answers `name` with its own libc, without looking at the filesystem.
pub fn is_reserved(name: &[u8]) -> bool {
    name.strip_prefix(b"lib")
        .is_some_and(|rest| RESERVED.iter().any(|r| rest.starts_with(r)))
}

struct Loaded {
    obj: usize,
    /// The path it was opened by.
    name: ByteStr,
    /// The basename it was found under by a search: how musl recognises an already-loaded library.
    short: Option<ByteStr>,
    /// Who first needed it (`needed_by`): path lists are inherited along this chain.
    needed_by: Option<usize>,
}

/// Runs the session of object `main` under the musl loader `ld`.
pub fn session(ctx: &Ctx<'_>, main: usize, ld: &MuslLoader) -> Resolution {
    let ldso = ctx.view.object(ld.path.as_bytes());
    let mut loaded = vec![Loaded {
        obj: main,
        name: ctx.path(main).clone(),
        short: None,
        needed_by: None,
    }];
    let mut by_obj: HashMap<usize, usize> = HashMap::from([(main, 0)]);
    // LD_PRELOAD: loaded right after the executable, before its needs (`load_preload`); an entry
    // that fails is ignored without a word, a name musl reserves is its own libc.
    for entry in ctx.opts.env.musl_preload() {
        let e = entry.as_bytes();
        if is_reserved(e)
            || (!e.contains(&b'/')
                && loaded
                    .iter()
                    .any(|l| l.short.as_ref().is_some_and(|s| s == &entry)))
        {
            continue;
        }
        let e = if e.contains(&b'/') {
            ctx.opts.env.preload_path(e)
        } else {
            e.to_vec()
        };
        let mut dep = Dep::new(entry.clone());
        if let Open::Found(obj, path, _) = open(ctx, ld, &loaded, None, &e, &mut dep)
            && Some(obj) != ldso
        {
            let searched = !e.contains(&b'/');
            match by_obj.get(&obj) {
                Some(&idx) => {
                    if searched && loaded[idx].short.is_none() {
                        loaded[idx].short = Some(ByteStr::from(basename(&path)));
                    }
                }
                None => {
                    by_obj.insert(obj, loaded.len());
                    loaded.push(Loaded {
                        obj,
                        short: searched.then(|| ByteStr::from(basename(&path))),
                        name: ByteStr::from(path),
                        needed_by: None,
                    });
                }
            }
        }
    }
    let mut edges = Vec::new();
    let mut missing: Vec<ByteStr> = Vec::new();
    let mut fatal = false;
    let mut i = 0;
    'session: while i < loaded.len() {
        let obj = loaded[i].obj;
        for need in &ctx.facts(obj).needed {
            // A bound on the work of the session (resolve::charge) ends it; the search of the
            // loaded list below is linear, so it costs in proportion.
            if super::charge(ctx, 1 + loaded.len() as u64 / 32).is_err() {
                break 'session;
            }
            let mut dep = Dep::new(need.clone());
            let n = need.as_bytes();
            if is_reserved(n) {
                dep.path = Some(ld.interp.clone());
                dep.found = Some(ld.path.clone());
                dep.via = Some(Via::Reserved);
            } else if let Some(idx) = (!n.contains(&b'/'))
                .then(|| {
                    loaded
                        .iter()
                        .position(|l| l.short.as_ref().is_some_and(|s| s == need))
                })
                .flatten()
            {
                dep.path = Some(loaded[idx].name.clone());
                dep.found = Some(ctx.path(loaded[idx].obj).clone());
                dep.via = Some(Via::AlreadyLoaded);
            } else {
                match open(ctx, ld, &loaded, Some(i), n, &mut dep) {
                    Open::Found(obj, path, via) => {
                        dep.path = Some(ByteStr::from(path.clone()));
                        dep.found = Some(ctx.path(obj).clone());
                        dep.via = Some(via);
                        let searched = !n.contains(&b'/');
                        if Some(obj) == ldso {
                            // The loader itself, found on disk (e.g. its own name): no new object.
                        } else if let Some(&idx) = by_obj.get(&obj) {
                            // Same inode: the earlier object, which now also answers to this short name.
                            if searched && loaded[idx].short.is_none() {
                                loaded[idx].short = Some(ByteStr::from(basename(&path)));
                            }
                        } else {
                            by_obj.insert(obj, loaded.len());
                            loaded.push(Loaded {
                                obj,
                                short: Some(ByteStr::from(basename(&path))),
                                name: ByteStr::from(path),
                                needed_by: Some(i),
                            });
                        }
                    }
                    Open::NotFound => {
                        dep.error = Some(NeedError::NotFound(NotFound::Musl));
                    }
                    Open::Fatal => fatal = true,
                }
                if dep.found.is_none() && !missing.contains(need) {
                    missing.push(need.clone());
                }
            }
            if i == 0 || !ctx.opts.failed_edges_only || dep.found.is_none() {
                edges.push(SessionEdge {
                    from: ctx.path(obj).clone(),
                    dep,
                });
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
    let closure = loaded
        .iter()
        .skip(1)
        .map(|l| ctx.path(l.obj).clone())
        .collect();
    let status = if missing.is_empty() && !fatal {
        Status::Ok
    } else {
        Status::Error
    };
    let mut notes = Vec::new();
    if ld.system_path.is_empty()
        && let Some(f) = &ld.path_file
    {
        notes.push(format!(
            "{f} is empty or unreadable: musl searches no system directory"
        ));
    }
    Resolution {
        status,
        loader: Some(LoaderRef {
            family: Family::Musl,
            path: ld.path.clone(),
        }),
        closure,
        missing,
        version_errors: Vec::new(),
        fatal: None,
        deps,
        notes,
        limit: None,
        edges,
    }
}

enum Open {
    Found(usize, Vec<u8>, Via),
    NotFound,
    Fatal,
}

/// `load_library` from the point where the filesystem is searched.
fn open(
    ctx: &Ctx<'_>,
    ld: &MuslLoader,
    loaded: &[Loaded],
    req: Option<usize>,
    name: &[u8],
    dep: &mut Dep,
) -> Open {
    let main_class = ctx.facts(loaded[0].obj).class;
    if name.contains(&b'/') {
        let path = if name.starts_with(b"/") {
            name.to_vec()
        } else {
            [b"/", name].concat()
        };
        return match try_open(ctx, &path, dep, main_class) {
            Step::Use(o) => Open::Found(o, path, Via::Path),
            Step::Next => Open::NotFound,
            Step::Stop => Open::Fatal,
        };
    }
    // NAME_MAX: longer names fail without a search.
    if name.len() > 255 {
        return Open::NotFound;
    }
    // LD_LIBRARY_PATH first, before any object's path list (`load_library`: `env_path`).
    let env_path = &ctx.env_lists.musl_library_path;
    if !env_path.is_empty() {
        match path_open(ctx, name, env_path, dep, main_class) {
            Some(Step::Use(o)) => {
                let path = dep
                    .path
                    .take()
                    .map(|p| p.as_bytes().to_vec())
                    .unwrap_or_default();
                return Open::Found(o, path, Via::LdLibraryPath);
            }
            Some(Step::Stop) => return Open::Fatal,
            Some(Step::Next) | None => {}
        }
    }
    // The path lists of the requester, then of whoever needed it, up to the executable; none
    // for an LD_PRELOAD entry (`load_library(name, 0)`).
    let mut chain = req;
    while let Some(c) = chain {
        let l = &loaded[c];
        let f = ctx.facts(l.obj);
        // One list per object: DT_RUNPATH if present, else DT_RPATH.
        if let Some(list) = f.runpath.as_ref().or(f.rpath.as_ref()) {
            let joined: Vec<u8> = list
                .iter()
                .map(|e| e.as_bytes())
                .collect::<Vec<_>>()
                .join(&b':');
            if let Some(expanded) = fixup_rpath(&joined, dirname(l.name.as_bytes())) {
                match path_open(ctx, name, &expanded, dep, main_class) {
                    Some(Step::Use(o)) => {
                        let path = dep
                            .path
                            .take()
                            .map(|p| p.as_bytes().to_vec())
                            .unwrap_or_default();
                        let via = if f.runpath.is_some() {
                            Via::Runpath
                        } else {
                            Via::Rpath
                        };
                        if via == Via::Rpath || Some(c) != req {
                            dep.rpath_of = Some(ctx.path(l.obj).clone());
                        }
                        return Open::Found(o, path, via);
                    }
                    Some(Step::Stop) => return Open::Fatal,
                    Some(Step::Next) | None => {}
                }
            }
        }
        chain = l.needed_by;
    }
    let sys: Vec<u8> = ld
        .system_path
        .iter()
        .map(|e| e.as_bytes())
        .collect::<Vec<_>>()
        .join(&b':');
    match path_open(ctx, name, &sys, dep, main_class) {
        Some(Step::Use(o)) => {
            let path = dep
                .path
                .take()
                .map(|p| p.as_bytes().to_vec())
                .unwrap_or_default();
            let via = if ld.path_file.is_some() {
                Via::PathFile
            } else {
                Via::MuslDefault
            };
            Open::Found(o, path, via)
        }
        Some(Step::Stop) => Open::Fatal,
        Some(Step::Next) | None => Open::NotFound,
    }
}

/// `fixup_rpath`: `$ORIGIN` / `${ORIGIN}` expand to the object's directory; any other `$` makes
/// musl ignore the whole list (`None`).
fn fixup_rpath(list: &[u8], origin: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(list.len());
    let mut i = 0;
    while i < list.len() {
        if list[i] == b'$' {
            let rest = &list[i..];
            if rest.starts_with(b"${ORIGIN}") {
                out.extend_from_slice(origin);
                i += 9;
            } else if rest.starts_with(b"$ORIGIN") {
                out.extend_from_slice(origin);
                i += 7;
            } else {
                return None;
            }
            continue;
        }
        out.push(list[i]);
        i += 1;
    }
    Some(out)
}

enum Step {
    Use(usize),
    Next,
    Stop,
}

/// `path_open`: entries separated by `:` or newline, empty ones skipped; the first file that opens is
/// used. `Some(Step::Use)` leaves the opened path in `dep.path`.
fn path_open(
    ctx: &Ctx<'_>,
    name: &[u8],
    list: &[u8],
    dep: &mut Dep,
    main_class: Class,
) -> Option<Step> {
    for dir in list
        .split(|&b| b == b':' || b == b'\n')
        .filter(|d| !d.is_empty())
    {
        let path = [dir, b"/", name].concat();
        let path = if path.starts_with(b"/") {
            path
        } else {
            [b"/", &path[..]].concat()
        };
        match try_open(ctx, &path, dep, main_class) {
            Step::Use(o) => {
                dep.path = Some(ByteStr::from(path));
                return Some(Step::Use(o));
            }
            Step::Next => continue,
            Step::Stop => return Some(Step::Stop),
        }
    }
    None
}

/// musl opens the first candidate that exists and then must map it: no class or machine check, and
/// no falling back to the next directory once a file opened.
fn try_open(ctx: &Ctx<'_>, path: &[u8], dep: &mut Dep, main_class: Class) -> Step {
    if let Err(bound) = super::charge(ctx, 1) {
        dep.error = Some(NeedError::Bound(bound));
        return Step::Stop;
    }
    match ctx.candidate(path) {
        Candidate::Absent => Step::Next,
        Candidate::Unreadable => {
            dep.skipped.push(Skipped {
                path: ByteStr::from(path),
                reason: "permission denied".into(),
            });
            Step::Next
        }
        Candidate::NotFile(c, _) | Candidate::NotElf(c) => {
            dep.path = Some(ByteStr::from(path));
            dep.error = Some(NeedError::Unloadable(format!(
                "{} ({c}) cannot be mapped (Exec format error): musl stops here",
                ByteStr::from(path)
            )));
            Step::Stop
        }
        // A library of the other class has program headers of the wrong size: map_library refuses it.
        Candidate::Object(o) if ctx.facts(o).class != main_class => {
            dep.path = Some(ByteStr::from(path));
            dep.error = Some(NeedError::Unloadable(format!(
                "{}: wrong ELF class (Exec format error): musl stops here",
                ByteStr::from(path)
            )));
            Step::Stop
        }
        // path_open goes past ENOENT, ENOTDIR, EACCES and ENAMETOOLONG only.
        // ENOTDIR is one path_open goes past.
        Candidate::OpenError(OpenErrno::NotDir) => Step::Next,
        Candidate::OpenError(OpenErrno::Loop) => {
            dep.path = Some(ByteStr::from(path));
            dep.error = Some(NeedError::Unloadable(format!(
                "{}: Symbolic link loop (more than 40 links): musl stops here",
                ByteStr::from(path)
            )));
            Step::Stop
        }
        // A separate debug-info file: its segments have no bytes, and musl 1.2.5 maps it anyway
        // and crashes (SIGSEGV), in `ld-musl --list` and in a real start alike.
        Candidate::Object(o) if ctx.facts(o).kind == Kind::DebugInfo => {
            dep.path = Some(ByteStr::from(path));
            dep.error = Some(NeedError::Unloadable(format!(
                "{}: a separate debug-info file: musl maps it and crashes (SIGSEGV)",
                ByteStr::from(path)
            )));
            Step::Stop
        }
        // map_library needs a PT_LOAD and a PT_DYNAMIC (a static executable has none).
        Candidate::Object(o) if !ctx.facts(o).has_load || !ctx.facts(o).has_dynamic => {
            dep.path = Some(ByteStr::from(path));
            dep.error = Some(NeedError::Unloadable(format!(
                "{}: no loadable segments or no dynamic section (Exec format error): musl stops here",
                ByteStr::from(path)
            )));
            Step::Stop
        }
        Candidate::Object(o) => Step::Use(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names() {
        for n in [
            "libc.so",
            "libc.so.6",
            "libc.musl-x86_64.so.1",
            "libm.so.6",
            "libpthread.so.0",
            "libdl.so.2",
            "librt.so.1",
            "libutil.so.1",
            "libxnet.so",
        ] {
            assert!(is_reserved(n.as_bytes()), "{n}");
        }
        for n in [
            "libcrypt.so.1",
            "libresolv.so.2",
            "libcap.so.2",
            "libgcc_s.so.1",
            "libc",
            "libmvec.so.1",
        ] {
            assert!(!is_reserved(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn rpath_fixup() {
        assert_eq!(
            fixup_rpath(b"$ORIGIN/../lib:/x", b"/app/bin").unwrap(),
            b"/app/bin/../lib:/x"
        );
        assert_eq!(fixup_rpath(b"${ORIGIN}", b"/a").unwrap(), b"/a");
        assert!(fixup_rpath(b"/x/$LIB:/good", b"/a").is_none());
    }
}
