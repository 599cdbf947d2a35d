/*!
Files laid over a base root (`check BASE --add SRC:DEST`): each added ELF file judged in the combined
root as the base's loader would judge it, and the base programs that newly break because an added
file shadows what they loaded.

The model is two roots compared object by object ([`Verdict`] of each side, [`Change`] when the
second is worse), so the same comparison serves a rebase (an application's layers over a new base)
and a `diff` of two roots: [`compare`] takes any two views.

Which base programs are compared (no walk of the base): only when an added entry can change what a
base program loads, that is when it replaces an existing file or symlink of the base, or lands
directly in a directory the base's loaders search by default (ld.so.conf's directories, the
trusted defaults `/lib`, `/usr/lib`, `/lib64`, `/usr/lib64`, musl's path file or its built-in
`/lib:/usr/local/lib:/usr/lib`). Then the ELF files in the base's `PATH` directories (`/usr/local/sbin`,
`/usr/local/bin`, `/usr/sbin`, `/usr/bin`, `/sbin`, `/bin`) are resolved in the base and in the
combined root, and those whose verdict gets worse are reported. A file landing in a directory only
some program's RUNPATH names, or a base program outside those directories, is not looked at
(`BaseScope` says what was compared).
*/

use std::collections::BTreeSet;

use serde::Serialize;

use crate::check::libc::LibcInfo;
use crate::check::policy::{Gate, Policy};
use crate::check::{Code, Finding, Severity};
use crate::elf::{ElfFacts, Limits};
use crate::error::PathError;
use crate::name::ByteStr;
use crate::resolve::env::GlibcConfig;
use crate::resolve::{
    self, AddSpec, FileKind, FsView, OverlayView, Resolution, ResolveOptions, Status, VersionError,
};

/// The schema identifier of the `check --add` JSON document.
pub const SCHEMA: &str = "elfdeps-add/1";

/// What the loader makes of one object in one root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Outcome of its session.
    pub status: Status,
    /// The interpreter it names (PT_INTERP), when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<ByteStr>,
    /// Its interpreter does not exist in the root (or no loader of the root handles it).
    pub interpreter_missing: bool,
    /// The loader that loads it (canonical), when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loader: Option<ByteStr>,
    /// Canonical paths of what is loaded, in load order.
    pub closure: Vec<ByteStr>,
    /// Needed names not found.
    pub missing: Vec<ByteStr>,
    /// Required versions their providers do not define.
    pub version_errors: Vec<VersionError>,
    /// Why glibc's loader gives up on the object altogether, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal: Option<String>,
}

impl Verdict {
    /// The verdict of a session.
    pub fn of(facts: &ElfFacts, r: &Resolution) -> Verdict {
        Verdict {
            status: r.status,
            interpreter: facts.interp.clone(),
            interpreter_missing: r.status == Status::InterpMissing,
            loader: r.loader.as_ref().map(|l| l.path.clone()),
            closure: r.closure.clone(),
            missing: r.missing.clone(),
            version_errors: r.version_errors.clone(),
            fatal: r.fatal.clone(),
        }
    }

    /// Whether it would not start (or not load).
    pub fn broken(&self) -> bool {
        matches!(self.status, Status::Error | Status::InterpMissing)
    }
}

/// One added ELF file and its verdict in the combined root.
#[derive(Clone, Debug, Serialize)]
pub struct AddedObject {
    /// Its canonical path in the combined root.
    pub path: ByteStr,
    /// Started as a program (an interpreter, or an executable).
    pub program: bool,
    /// The libc it was built against.
    pub libc: LibcInfo,
    /// What the base's loader makes of it.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// An object whose verdict is worse in the second root than in the first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Its canonical path (the same in both roots).
    pub path: ByteStr,
    /// In the first root.
    pub before: Verdict,
    /// In the second.
    pub after: Verdict,
    /// Needed names missing now that were not.
    pub new_missing: Vec<ByteStr>,
    /// Version errors now that were not.
    pub new_version_errors: Vec<VersionError>,
}

/// Whether `after` is worse than `before`: it breaks and did not, or it misses more.
pub fn change(path: &ByteStr, before: &Verdict, after: &Verdict) -> Option<Change> {
    let new_missing: Vec<ByteStr> = after
        .missing
        .iter()
        .filter(|m| !before.missing.contains(m))
        .cloned()
        .collect();
    let new_version_errors: Vec<VersionError> = after
        .version_errors
        .iter()
        .filter(|v| !before.version_errors.contains(v))
        .cloned()
        .collect();
    let worse = after.broken()
        && (!before.broken()
            || !new_missing.is_empty()
            || !new_version_errors.is_empty()
            || (after.interpreter_missing && !before.interpreter_missing)
            || (after.fatal.is_some() && after.fatal != before.fatal));
    worse.then(|| Change {
        path: path.clone(),
        before: before.clone(),
        after: after.clone(),
        new_missing,
        new_version_errors,
    })
}

/// An object that would not start (or not load) in the first root and does in the second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// Its canonical path (the same in both roots).
    pub path: ByteStr,
    /// In the first root.
    pub before: Verdict,
    /// In the second.
    pub after: Verdict,
    /// Needed names missing in the first root that the second provides.
    pub found_now: Vec<ByteStr>,
}

/// Whether `after` fixes `before`: it was broken and is not. The mirror of [`change`] (a fix is a
/// change for the worse read backwards), restricted to objects that start now: one still broken
/// for fewer reasons is not called fixed.
pub fn fix(path: &ByteStr, before: &Verdict, after: &Verdict) -> Option<Fix> {
    let backwards = change(path, after, before)?;
    (!after.broken()).then_some(Fix {
        path: backwards.path,
        before: backwards.after,
        after: backwards.before,
        found_now: backwards.new_missing,
    })
}

/// The objects at canonical `paths` (those that are ELF objects in both roots) whose verdict is
/// worse in `after` than in `before`.
pub fn compare(
    before: &dyn FsView,
    after: &dyn FsView,
    paths: &[ByteStr],
    opts: &ResolveOptions,
) -> Vec<Change> {
    let pairs: Vec<(ByteStr, usize, usize)> = paths
        .iter()
        .filter_map(|p| {
            let b = before.object(p.as_bytes())?;
            let a = after.object(p.as_bytes())?;
            Some((p.clone(), b, a))
        })
        .collect();
    let bids: Vec<usize> = pairs.iter().map(|(_, b, _)| *b).collect();
    let aids: Vec<usize> = pairs.iter().map(|(_, _, a)| *a).collect();
    let rb = resolve::resolve(before, &bids, opts);
    let ra = resolve::resolve(after, &aids, opts);
    pairs
        .iter()
        .zip(rb.iter().zip(&ra))
        .filter_map(|((p, b, a), (sb, sa))| {
            let vb = Verdict::of(before.facts(*b), sb);
            let va = Verdict::of(after.facts(*a), sa);
            change(p, &vb, &va)
        })
        .collect()
}

/// Which base programs were compared, and why.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BaseScope {
    /// Added entries that can change what a base program loads: they replace a base file or
    /// symlink, or land in a directory the base's loaders search by default.
    pub triggers: Vec<ByteStr>,
    /// The directories whose ELF files were compared (empty: no trigger, nothing compared).
    pub dirs: Vec<ByteStr>,
    /// How many base objects were compared.
    pub compared: usize,
}

/// What `check BASE --add` answers.
#[derive(Debug, Serialize)]
pub struct AddReport {
    /// The base as the user named it.
    pub root: ByteStr,
    /// The `--add` arguments, in order.
    pub adds: Vec<AddArg>,
    /// Every added ELF file, by canonical path.
    pub objects: Vec<AddedObject>,
    /// The base programs that newly break.
    pub newly_broken: Vec<Change>,
    /// What was compared of the base.
    pub base_scope: BaseScope,
    /// Findings about the added files and the newly broken base programs (all of them new: the
    /// base alone is not judged).
    pub findings: Vec<Finding>,
    /// The policy's verdict.
    pub gate: Gate,
    /// Added files that could not be read as ELF (per-file errors).
    pub errors: Vec<PathError>,
}

/// One `--add`, as reports show it.
#[derive(Clone, Debug, Serialize)]
pub struct AddArg {
    /// The host path.
    pub src: String,
    /// The path in the root, as given.
    pub dest: ByteStr,
}

/// The ELF objects among `paths` (canonical) of `view`, each judged there; the paths that are ELF
/// files whose facts cannot be read go to `errors`.
pub fn judge_objects(
    view: &dyn FsView,
    paths: &[ByteStr],
    opts: &ResolveOptions,
    limits: &Limits,
    errors: &mut Vec<PathError>,
) -> Vec<AddedObject> {
    let mut ids = Vec::new();
    for p in paths {
        match view.object(p.as_bytes()) {
            Some(id) => ids.push((p.clone(), id)),
            None => {
                // Not ELF (skipped), or ELF whose facts cannot be read (said).
                if view.kind(p.as_bytes()) == Some(FileKind::File)
                    && let Err(e) = view.read_elf(p.as_bytes(), limits)
                {
                    errors.push(PathError::new(p.clone(), e));
                }
            }
        }
    }
    let only: Vec<usize> = ids.iter().map(|(_, id)| *id).collect();
    let sessions = resolve::resolve(view, &only, opts);
    ids.iter()
        .zip(&sessions)
        .map(|((p, id), r)| {
            let facts = view.facts(*id);
            let libc = crate::check::libc::classify(facts);
            AddedObject {
                path: p.clone(),
                program: crate::check::is_program_facts(facts),
                libc,
                verdict: Verdict::of(facts, r),
            }
        })
        .collect()
}

/// The findings of objects newly broken: each new missing library and version, an error for a
/// program, a warning for a library (a program loading it reports the error).
pub fn change_findings(changes: &[Change], programs: &[ByteStr], context: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for c in changes {
        let mut after = c.after.clone();
        after.missing = c.new_missing.clone();
        after.version_errors = c.new_version_errors.clone();
        let program = programs.contains(&c.path);
        verdict_findings(&c.path, program, &after, Some(context), &mut findings);
    }
    findings
}

/// Judges the added files of `view` (laid over `base`) and the base programs they break.
pub fn judge(
    base: &dyn FsView,
    view: &OverlayView<'_>,
    adds: &[AddSpec],
    root: ByteStr,
    opts: &ResolveOptions,
    limits: &Limits,
    policy: &Policy,
) -> AddReport {
    let mut errors = Vec::new();
    let objects = judge_objects(view, &view.added_files(), opts, limits, &mut errors);
    let base_scope = scope(base, view);
    let candidates = base_programs(base, view, &base_scope.dirs);
    let newly_broken = compare(base, view, &candidates, opts);
    let base_scope = BaseScope {
        compared: candidates.len(),
        ..base_scope
    };
    let mut findings = Vec::new();
    for o in &objects {
        verdict_findings(&o.path, o.program, &o.verdict, None, &mut findings);
    }
    for c in &newly_broken {
        let mut after = c.after.clone();
        after.missing = c.new_missing.clone();
        after.version_errors = c.new_version_errors.clone();
        verdict_findings(
            &c.path,
            true,
            &after,
            Some("a base program that ran before the files were added"),
            &mut findings,
        );
    }
    let items: Vec<(ByteStr, &LibcInfo)> =
        objects.iter().map(|o| (o.path.clone(), &o.libc)).collect();
    findings.extend(crate::check::policy_findings(&items, policy, |_, _| {
        Vec::new()
    }));
    findings.sort_by(|a, b| (&a.path, a.code, &a.message).cmp(&(&b.path, b.code, &b.message)));
    findings.dedup();
    let gate = policy.judge(&mut findings);
    AddReport {
        root,
        adds: adds
            .iter()
            .map(|a| AddArg {
                src: a.src.display().to_string(),
                dest: a.dest.clone(),
            })
            .collect(),
        objects,
        newly_broken,
        base_scope,
        findings,
        gate,
        errors,
    }
}

fn finding(code: Code, severity: Severity, path: &ByteStr, message: String) -> Finding {
    Finding {
        code,
        severity,
        path: path.clone(),
        message,
        hint: Some(code.help().to_string()),
        library: None,
        version: None,
        symbols: Vec::new(),
        suppressed: None,
        violation: false,
    }
}

/// The findings a verdict means: for a program, errors (it would not start); for a library
/// alone, warnings (it fails only when loaded, and a program loading it reports the error).
fn verdict_findings(
    path: &ByteStr,
    program: bool,
    v: &Verdict,
    context: Option<&str>,
    out: &mut Vec<Finding>,
) {
    let sev = if program {
        Severity::Error
    } else {
        Severity::Warning
    };
    let tail = context.map(|c| format!(" ({c})")).unwrap_or_default();
    if v.interpreter_missing {
        let interp = v
            .interpreter
            .as_ref()
            .map_or_else(|| "its interpreter".to_string(), |i| i.display_escaped());
        out.push(finding(
            Code::InterpreterMissing,
            Severity::Error,
            path,
            format!("{interp} does not exist in the combined root{tail}"),
        ));
    }
    for m in &v.missing {
        let mut f = finding(
            Code::LibraryMissing,
            sev,
            path,
            format!(
                "{} is not found in the combined root{tail}",
                m.display_escaped()
            ),
        );
        f.library = Some(m.clone());
        out.push(f);
    }
    for e in &v.version_errors {
        let mut f = finding(
            Code::VersionMissing,
            sev,
            path,
            format!(
                "{} does not define {} (required by {}){tail}",
                e.library.display_escaped(),
                e.version.display_escaped(),
                e.required_by.display_escaped()
            ),
        );
        f.library = Some(e.library.clone());
        f.version = Some(e.version.clone());
        out.push(f);
    }
    if let Some(fatal) = &v.fatal
        && v.missing.is_empty()
    {
        out.push(finding(
            Code::LibraryMissing,
            sev,
            path,
            format!("the loader gives up: {fatal}{tail}"),
        ));
    }
}

/// The directories the base's loaders search by default, canonical in the base.
fn loader_dirs(base: &dyn FsView) -> BTreeSet<ByteStr> {
    let mut dirs: Vec<ByteStr> = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"]
        .iter()
        .map(|d| ByteStr::from(*d))
        .collect();
    dirs.extend(GlibcConfig::load(base).conf_dirs);
    if let Ok(etc) = base.resolve(b"/etc", true) {
        for name in base.children(etc.as_bytes()) {
            let n = name.as_bytes();
            if n.starts_with(b"ld-musl-") && n.ends_with(b".path") {
                let file = crate::tree::child_of(etc.as_bytes(), n);
                if let Ok(bytes) = base.read(&file, 64 * 1024) {
                    dirs.extend(
                        bytes
                            .split(|&b| b == b':' || b == b'\n')
                            .filter(|d| d.starts_with(b"/"))
                            .map(ByteStr::from),
                    );
                }
            }
        }
    }
    dirs.iter()
        .filter_map(|d| base.resolve(d.as_bytes(), true).ok())
        .filter(|d| base.kind(d.as_bytes()) == Some(FileKind::Dir))
        .collect()
}

/// Which added entries can change what base programs load, and then which directories of the
/// base to compare.
fn scope(base: &dyn FsView, view: &OverlayView<'_>) -> BaseScope {
    let shadowed: BTreeSet<ByteStr> = view.shadowed().into_iter().collect();
    let dirs = loader_dirs(base);
    let triggers: Vec<ByteStr> = view
        .added_entries()
        .into_iter()
        .filter(|p| {
            shadowed.contains(p)
                || dirs.contains(&ByteStr::from(crate::resolve::env::dirname(p.as_bytes())))
        })
        .collect();
    if triggers.is_empty() {
        return BaseScope::default();
    }
    let mut path_dirs: Vec<ByteStr> = Vec::new();
    for d in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if let Ok(c) = base.resolve(d.as_bytes(), true)
            && base.kind(c.as_bytes()) == Some(FileKind::Dir)
            && !path_dirs.contains(&c)
        {
            path_dirs.push(c);
        }
    }
    BaseScope {
        triggers,
        dirs: path_dirs,
        compared: 0,
    }
}

/// The regular files of the base in `dirs` that the overlay did not replace.
fn base_programs(base: &dyn FsView, view: &OverlayView<'_>, dirs: &[ByteStr]) -> Vec<ByteStr> {
    let added: BTreeSet<ByteStr> = view.added_entries().into_iter().collect();
    let mut out = BTreeSet::new();
    for d in dirs {
        for name in base.children(d.as_bytes()) {
            let p = ByteStr::from(crate::tree::child_of(d.as_bytes(), name.as_bytes()));
            if base.kind(p.as_bytes()) == Some(FileKind::File) && !added.contains(&p) {
                out.insert(p);
            }
        }
    }
    out.into_iter().collect()
}

/// The schema identifier of the `check --rebase-from --onto` JSON document.
pub const REBASE_SCHEMA: &str = "elfdeps-rebase/1";

/// What `check APP --rebase-from OLD --onto NEW` answers: the application's layers (those above
/// OLD's, matched by diff_id) laid over NEW, each of their ELF objects judged there, and those
/// that break on NEW but did not on OLD.
#[derive(Debug, Serialize)]
pub struct RebaseReport {
    /// The application image as given.
    pub image: String,
    /// The base it was built on, as given.
    pub rebase_from: String,
    /// The base it is laid over, as given.
    pub onto: String,
    /// How many of the application image's layers are its own (above OLD's).
    pub app_layers: usize,
    /// Every ELF object the application's layers hold, judged over NEW.
    pub objects: Vec<AddedObject>,
    /// Those worse over NEW than over OLD.
    pub newly_broken: Vec<Change>,
    /// Findings about what newly breaks.
    pub findings: Vec<Finding>,
    /// The policy's verdict.
    pub gate: Gate,
    /// ELF files of the application's layers that cannot be read.
    pub errors: Vec<PathError>,
}

/// The findings of a rebase judged by `policy`: only what newly breaks.
pub fn judge_rebase(
    changes: &[Change],
    objects: &[AddedObject],
    policy: &Policy,
) -> (Vec<Finding>, Gate) {
    let programs: Vec<ByteStr> = objects
        .iter()
        .filter(|o| o.program)
        .map(|o| o.path.clone())
        .collect();
    let mut findings = change_findings(changes, &programs, "it loads on the old base");
    findings.sort_by(|a, b| (&a.path, a.code, &a.message).cmp(&(&b.path, b.code, &b.message)));
    findings.dedup();
    let gate = policy.judge(&mut findings);
    (findings, gate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(status: Status, missing: &[&str]) -> Verdict {
        Verdict {
            status,
            interpreter: None,
            interpreter_missing: false,
            loader: None,
            closure: Vec::new(),
            missing: missing.iter().map(|m| ByteStr::from(*m)).collect(),
            version_errors: Vec::new(),
            fatal: None,
        }
    }

    /// A fix is a change read backwards, for objects that start in the second root only.
    #[test]
    fn fix_mirrors_change() {
        let p = ByteStr::from("/usr/bin/x");
        let ok = verdict(Status::Ok, &[]);
        let one = verdict(Status::Error, &["libz.so.1"]);
        let two = verdict(Status::Error, &["libz.so.1", "libssl.so.3"]);
        let f = fix(&p, &one, &ok).expect("broken, then starts");
        assert_eq!(f.before, one);
        assert_eq!(f.after, ok);
        assert_eq!(f.found_now, vec![ByteStr::from("libz.so.1")]);
        assert!(change(&p, &one, &ok).is_none());
        assert!(fix(&p, &ok, &one).is_none());
        assert!(fix(&p, &two, &one).is_none(), "still broken: not fixed");
        assert!(change(&p, &one, &two).is_some(), "misses more: worse");
        assert!(fix(&p, &ok, &ok).is_none());
    }
}
