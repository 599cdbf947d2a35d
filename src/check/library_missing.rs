//! `library-missing`: a need the loader does not find, or a candidate that makes glibc's loader
//! give up on the object altogether.
//!
//! The severity follows who starts the object (check/mod.rs): an error for a program, and for a
//! give-up that a program's session meets too; for a library alone, info when a program loads it
//! (that program's session decides) or when the library exists elsewhere in the root (a plugin
//! loaded into a process that already has it), else a warning (only loading it later fails).

use super::hint::{CandidateState, Hints};
use super::input::Input;
use super::libc;
use super::{Code, Finding, Severity, is_program, libc_mismatch};
use crate::resolve::{LoaderRef, Resolved, Status};
use crate::scan::Object;

/// Whether the loader's error for a need only says that it is not there: the message then says
/// "does not find" rather than quoting the loader.
fn is_plain_absence(error: &str) -> bool {
    error.starts_with("not found") || error.contains("No such file")
}

/// The sessions whose hints may name their loader's system path (a need missing, a loader known):
/// the probes read those system paths.
pub fn hinted_sessions<'a>(
    root: Resolved<'a>,
) -> impl Iterator<Item = (&'a Object, &'a LoaderRef)> + use<'a> {
    root.iter().filter_map(|(_, o, r)| {
        let loader = r.loader.as_ref()?;
        (!r.missing.is_empty() && r.status != Status::InterpMissing && r.fatal.is_none())
            .then_some((o, loader))
    })
}

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let hints = Hints::new(
        input.root.tree,
        &input.probes.ld_config,
        &input.probes.system_paths,
    );
    for (_, o, r, info) in input.objects() {
        let program = is_program(o);
        let users = input.loaded_by(o.path.as_bytes());
        if let Some(fatal) = &r.fatal {
            let severity = if program || users.is_some() {
                Severity::Error
            } else {
                Severity::Warning
            };
            out.push(
                Finding::new(
                    Code::LibraryMissing,
                    severity,
                    &o.path,
                    format!("the loader gives up: {fatal}"),
                )
                .hint("remove or replace the file that stops the search (a linker script, a file for another OS ABI), or fix the search path"),
            );
        }
        // The program cannot start at all (interpreter-missing), or the loader stops (said
        // above): its misses are not the problem.
        if r.status == Status::InterpMissing || r.fatal.is_some() {
            continue;
        }
        let mismatch = libc_mismatch::other_libc(info, &input.families(&o.facts.machine)).is_some();
        for name in &r.missing {
            if mismatch && (name.as_bytes() == b"libc.so" || libc::is_glibc_soname(name.as_bytes()))
            {
                // libc-mismatch explains it.
                continue;
            }
            let candidates = input.libraries.candidates(name.as_bytes(), o);
            // Only a file that resolves to a library this loader can load makes a plugin fine.
            let elsewhere = candidates.iter().find_map(|c| match &c.state {
                CandidateState::Loadable(_) => Some(&c.path),
                _ => None,
            });
            let failure = r
                .edges
                .iter()
                .filter(|e| e.dep.name == *name && e.dep.found.is_none())
                .find_map(|e| e.dep.error.as_deref())
                .filter(|e| !is_plain_absence(e));
            let (severity, message) = if program {
                (
                    Severity::Error,
                    match failure {
                        Some(e) => format!("needs {name}, which the loader cannot load: {e}"),
                        None => format!("needs {name}, which the loader does not find"),
                    },
                )
            } else if let Some(users) = users {
                let first = &input.object(users[0]).path;
                (
                    Severity::Info,
                    format!(
                        "needs {name}, not found when it is loaded alone; {} program(s) load it (e.g. {first}), and their own results say whether it is found there",
                        users.len()
                    ),
                )
            } else if let Some(p) = elsewhere {
                (
                    Severity::Info,
                    format!(
                        "needs {name}, which is not on its search path but exists at {p}: it loads inside a process that already has {name} (a plugin, e.g. loaded with dlopen)"
                    ),
                )
            } else {
                (
                    Severity::Warning,
                    format!(
                        "needs {name}, which is not installed; nothing in the root loads this library at start-up, so only loading it later (dlopen) fails"
                    ),
                )
            };
            let mut f = Finding::new(Code::LibraryMissing, severity, &o.path, message);
            f.library = Some(name.clone());
            // What the search passed over explains most misses.
            let skipped = r
                .edges
                .iter()
                .filter(|e| e.dep.name == *name && e.dep.found.is_none())
                .flat_map(|e| e.dep.skipped.iter())
                .next();
            f.hint = Some(match skipped {
                Some(sk) => format!("the search passed over {}: {}", sk.path, sk.reason),
                None => hints.library_missing(o, r.loader.as_ref(), name, &candidates),
            });
            out.push(f);
        }
    }
}
