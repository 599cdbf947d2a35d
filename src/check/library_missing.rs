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
use crate::resolve::{LoaderRef, NeedError, Resolved, Status};
use crate::scan::Object;

/// Whether the loader's error for a need only says that it is not there: the message then says
/// "does not find" rather than quoting the loader.
fn is_plain_absence(error: &NeedError) -> bool {
    error.is_not_found()
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
        let mismatch = libc_mismatch::other_libc(info, &input.families(o.facts.machine)).is_some();
        for name in &r.missing {
            if mismatch && (name.as_bytes() == b"libc.so" || libc::is_glibc_soname(name.as_bytes()))
            {
                // libc-mismatch explains it.
                continue;
            }
            let candidates = input.libraries().candidates(name.as_bytes(), o);
            // Only a file that resolves to a library this loader can load makes a plugin fine.
            let elsewhere = candidates.iter().find_map(|c| match &c.state {
                CandidateState::Loadable(_) => Some(&c.path),
                _ => None,
            });
            let failure = r
                .edges
                .iter()
                .filter(|e| e.dep.name == *name && e.dep.found.is_none())
                .find_map(|e| e.dep.error.as_ref())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::hint::{LoaderKey, SystemPath};
    use crate::check::libc::{Confidence, Flavor};
    use crate::check::probe::LdConfig;
    use crate::check::testing::*;
    use crate::name::ByteStr;
    use crate::resolve::{Dep, NotFound, Resolution, SessionEdge, Skipped};

    fn missing(names: &[&str]) -> Resolution {
        let mut s = glibc_ok();
        s.status = Status::Error;
        s.missing = names.iter().map(|&n| ByteStr::from(n)).collect();
        s
    }

    /// The edge of a need that was not found, with the loader's error and what it passed over.
    fn edge(
        from: &str,
        name: &str,
        error: NeedError,
        skipped: Option<(&str, &str)>,
    ) -> SessionEdge {
        SessionEdge {
            from: from.into(),
            dep: Dep {
                name: name.into(),
                path: None,
                found: None,
                via: None,
                rpath_of: None,
                hwcaps: None,
                skipped: skipped
                    .map(|(path, reason)| Skipped {
                        path: path.into(),
                        reason: reason.into(),
                    })
                    .into_iter()
                    .collect(),
                error: Some(error),
            },
        }
    }

    fn glibc() -> crate::check::libc::LibcInfo {
        libc(Flavor::Glibc, Confidence::High)
    }

    /// The severity rules of check/mod.rs: a program's miss is an error; a library's is info when
    /// a program loads it or the library exists elsewhere (a plugin), else a warning.
    #[test]
    fn severity_follows_who_starts_the_object() {
        let mut r = Fixture::glibc();
        let mut app = missing(&["libgone.so.1"]);
        app.closure = vec!["/usr/lib/libused.so".into()];
        r.object("/usr/bin/app", program(LD), app, glibc());
        r.object(
            "/opt/jdk/server/libjvm.so",
            library("libjvm.so"),
            glibc_ok(),
            glibc(),
        );
        r.object(
            "/opt/plugin/p.so",
            library("p.so"),
            missing(&["libjvm.so"]),
            glibc(),
        );
        r.object(
            "/opt/plugin/q.so",
            library("q.so"),
            missing(&["libatm.so.1"]),
            glibc(),
        );
        r.object(
            "/usr/lib/libused.so",
            library("libused.so"),
            missing(&["libz.so.1"]),
            glibc(),
        );
        let found = r.run(check);
        let got: Vec<(String, Severity, &str)> = found
            .iter()
            .map(|f| (f.path.escaped(), f.severity, f.message.as_str()))
            .collect();
        let want = [
                (
                    "/usr/bin/app",
                    Severity::Error,
                    "needs libgone.so.1, which the loader does not find"
                ),
                (
                    "/opt/plugin/p.so",
                    Severity::Info,
                    "needs libjvm.so, which is not on its search path but exists at /opt/jdk/server/libjvm.so: it loads inside a process that already has libjvm.so (a plugin, e.g. loaded with dlopen)"
                ),
                (
                    "/opt/plugin/q.so",
                    Severity::Warning,
                    "needs libatm.so.1, which is not installed; nothing in the root loads this library at start-up, so only loading it later (dlopen) fails"
                ),
                (
                    "/usr/lib/libused.so",
                    Severity::Info,
                    "needs libz.so.1, not found when it is loaded alone; 1 program(s) load it (e.g. /usr/bin/app), and their own results say whether it is found there"
                ),
            ]
        .map(|(p, s, m)| (p.to_string(), s, m));
        assert_eq!(got, want);
        assert!(found.iter().all(|f| f.code == Code::LibraryMissing));
        assert_eq!(found[0].library, Some("libgone.so.1".into()));
        assert_eq!(
            found[0].hint.as_deref(),
            Some("install the package that provides libgone.so.1")
        );
    }

    /// A need the loader found but could not load says why; a plain absence does not.
    #[test]
    fn the_loaders_error_unless_it_only_says_absent() {
        let mut r = Fixture::glibc();
        let mut bad = missing(&["libbad.so", "libnone.so"]);
        bad.edges = vec![
            edge(
                "/usr/bin/bad",
                "libbad.so",
                NeedError::Unloadable("invalid ELF header".into()),
                None,
            ),
            edge(
                "/usr/bin/bad",
                "libnone.so",
                NeedError::NotFound(NotFound::Glibc),
                Some(("/usr/lib32/libnone.so", "wrong ELF class")),
            ),
        ];
        r.object("/usr/bin/bad", program(LD), bad, glibc());
        let found = r.run(check);
        assert_eq!(
            found[0].message,
            "needs libbad.so, which the loader cannot load: invalid ELF header"
        );
        assert_eq!(
            found[1].message,
            "needs libnone.so, which the loader does not find"
        );
        // What the search passed over is the hint.
        assert_eq!(
            found[1].hint.as_deref(),
            Some("the search passed over /usr/lib32/libnone.so: wrong ELF class")
        );
        assert!(is_plain_absence(&NeedError::NotFound(NotFound::Glibc)));
        assert!(is_plain_absence(&NeedError::NotFound(NotFound::Musl)));
        assert!(!is_plain_absence(&NeedError::Unloadable(
            "invalid ELF header".into()
        )));
    }

    #[test]
    fn a_loader_that_gives_up() {
        let mut r = Fixture::glibc();
        let mut stop = missing(&["libx.so"]);
        stop.fatal = Some("/usr/lib/libx.so: invalid ELF header".into());
        r.object("/usr/bin/stop", program(LD), stop.clone(), glibc());
        r.object("/usr/lib/alone.so", library("alone.so"), stop, glibc());
        let found = r.run(check);
        // One finding each: the give-up, not the misses behind it.
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0].message,
            "the loader gives up: /usr/lib/libx.so: invalid ELF header"
        );
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[1].severity, Severity::Warning);
    }

    #[test]
    fn not_when_the_program_cannot_start_or_libc_mismatch_explains_it() {
        let mut r = Fixture::glibc();
        let mut dead = missing(&["libgone.so"]);
        dead.status = Status::InterpMissing;
        r.object("/usr/bin/dead", program(LD_MUSL), dead, glibc());
        // A musl object in a glibc root: its libc.so is libc-mismatch's to explain.
        r.object(
            "/usr/lib/libm.so",
            library("libm.so"),
            missing(&["libc.so"]),
            libc(Flavor::Musl, Confidence::High),
        );
        r.object("/usr/bin/ok", program(LD), glibc_ok(), glibc());
        assert_eq!(r.run(check), []);
    }

    /// The hint follows the loader's system path and glibc's configuration, as the probes read
    /// them.
    #[test]
    fn hints_read_the_probed_system_path_and_cache() {
        let mut r = Fixture::glibc();
        let p = r.object(
            "/opt/plugin/p.so",
            library("p.so"),
            missing(&["libjvm.so"]),
            glibc(),
        );
        r.object(
            "/opt/jdk/server/libjvm.so",
            library("libjvm.so"),
            glibc_ok(),
            glibc(),
        );
        let key = {
            let root = r.root();
            LoaderKey::of(
                &root.objects[p],
                root.resolutions[p].loader.as_ref().unwrap(),
            )
        };
        r.probes.system_paths.insert(
            key.clone(),
            SystemPath::Glibc {
                default_dirs: vec!["/usr/lib64".into()],
                conf_dirs: Vec::new(),
            },
        );
        let found = r.run(check);
        assert_eq!(
            found[0].hint.as_deref(),
            Some(
                "libjvm.so exists at /opt/jdk/server/libjvm.so: add /opt/jdk/server to the RUNPATH ($ORIGIN-relative), or list it in /etc/ld.so.conf (or a file it includes) and run ldconfig in the root"
            )
        );
        // In an ld.so.conf directory that the cache does not know.
        r.probes.system_paths.insert(
            key,
            SystemPath::Glibc {
                default_dirs: vec!["/usr/lib64".into()],
                conf_dirs: vec!["/opt/jdk/server".into()],
            },
        );
        r.probes.ld_config = LdConfig {
            conf_dirs: vec!["/opt/jdk/server".into()],
            cache: Some(Vec::new()),
        };
        let found = r.run(check);
        assert_eq!(
            found[0].hint.as_deref(),
            Some(
                "/opt/jdk/server/libjvm.so is in an ld.so.conf directory but not in /etc/ld.so.cache: the cache is stale; run ldconfig in the root (chroot ROOT ldconfig)"
            )
        );
        // The probes are asked for this session's system path.
        let root = r.root();
        let asked: Vec<&ByteStr> = hinted_sessions(root).map(|(o, _)| &o.path).collect();
        assert_eq!(asked, [&ByteStr::from("/opt/plugin/p.so")]);
    }
}
