//! `version-missing`: a required symbol version (e.g. `GLIBC_2.38`) that the library satisfying
//! the need does not define. An error when a program starts with it (the program itself, or a
//! library a program loads), a warning for a library nothing loads at start-up.

use super::input::Input;
use super::libc::{self, Flavor};
use super::{Code, Finding, Severity, is_program};
use crate::name::ByteStr;
use crate::resolve::{Resolved, VersionError};
use crate::scan::Object;
use crate::tree::Tree;

/// Whether `o` itself requires the version (the error may be about an object of its closure):
/// only then are its own imports the symbols to name.
fn is_own(tree: &Tree, o: &Object, v: &VersionError) -> bool {
    v.required_by == o.path
        || tree.resolve(v.required_by.as_bytes(), true).ok().as_ref() == Some(&o.path)
}

/// The (object index, version) pairs whose symbols the findings name: the probes read them.
pub fn symbols_needed(root: Resolved<'_>) -> Vec<(usize, ByteStr)> {
    let mut out = Vec::new();
    for (i, o, r) in root.iter() {
        for v in &r.version_errors {
            if is_own(root.tree, o, v) {
                out.push((i, v.version.clone()));
            }
        }
    }
    out
}

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (i, o, r, _) in input.objects() {
        if r.version_errors.is_empty() {
            continue;
        }
        let severity = if is_program(o) || input.loaded_by(o.path.as_bytes()).is_some() {
            Severity::Error
        } else {
            Severity::Warning
        };
        let provider_release = input
            .probes
            .root_libcs
            .iter()
            .find(|l| l.flavor == Flavor::Glibc && l.machine == o.facts.machine)
            .and_then(|l| l.version.clone());
        for v in &r.version_errors {
            let mut message = format!(
                "{} requires version {} of {}, which it does not define",
                v.required_by, v.version, v.library
            );
            if libc::glibc_version(v.version.as_bytes()).is_some()
                && let Some(rel) = &provider_release
            {
                message.push_str(&format!(" (this root's glibc is {rel})"));
            }
            let mut f = Finding::new(Code::VersionMissing, severity, &o.path, message);
            f.library = Some(v.library.clone());
            f.version = Some(v.version.clone());
            if is_own(input.root.tree, o, v) {
                f.symbols = input
                    .probes
                    .version_symbols
                    .get(&(i, v.version.clone()))
                    .cloned()
                    .unwrap_or_default();
            }
            let sym_note = if f.symbols.is_empty() {
                String::new()
            } else {
                let list: Vec<String> = f.symbols.iter().take(8).map(|s| s.to_string()).collect();
                format!(" (symbols: {})", list.join(", "))
            };
            f.hint = Some(format!(
                "build against an older {}{sym_note}, or update {} in the root",
                v.library, v.library
            ));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::Confidence;
    use crate::check::testing::*;
    use crate::resolve::Status;

    fn lacking(required_by: &str, version: &str, library: &str) -> crate::resolve::Resolution {
        let mut s = glibc_ok();
        s.status = Status::Error;
        s.version_errors.push(VersionError {
            library: library.into(),
            version: version.into(),
            required_by: required_by.into(),
        });
        s
    }

    #[test]
    fn a_program_needing_a_newer_glibc_names_its_symbols() {
        let mut r = Fixture::glibc();
        let glibc = || libc(Flavor::Glibc, Confidence::High);
        let app = r.object(
            "/usr/bin/app",
            program(LD),
            lacking(
                "/usr/bin/app",
                "GLIBC_2.38",
                "/lib/x86_64-linux-gnu/libc.so.6",
            ),
            glibc(),
        );
        r.probes.version_symbols.insert(
            (app, "GLIBC_2.38".into()),
            vec!["__isoc23_strtol".into(), "strlcpy".into()],
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::VersionMissing, Severity::Error)
        );
        assert_eq!(
            f.message,
            "/usr/bin/app requires version GLIBC_2.38 of /lib/x86_64-linux-gnu/libc.so.6, which it does not define (this root's glibc is 2.36)"
        );
        assert_eq!(f.library, Some("/lib/x86_64-linux-gnu/libc.so.6".into()));
        assert_eq!(f.version, Some("GLIBC_2.38".into()));
        assert_eq!(
            f.symbols,
            [ByteStr::from("__isoc23_strtol"), "strlcpy".into()]
        );
        assert_eq!(
            f.hint.as_deref(),
            Some(
                "build against an older /lib/x86_64-linux-gnu/libc.so.6 (symbols: __isoc23_strtol, strlcpy), or update /lib/x86_64-linux-gnu/libc.so.6 in the root"
            )
        );
        // The probes are asked for exactly those symbols.
        assert_eq!(
            symbols_needed(r.root()),
            [(app, ByteStr::from("GLIBC_2.38"))]
        );
    }

    /// A library nothing loads is a warning; an error about an object of its closure names no
    /// symbols of its own; a version that is not glibc's says nothing of the root's glibc.
    #[test]
    fn a_plugin_and_a_version_of_its_closure() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/lib/plugin.so",
            library("plugin.so"),
            lacking("/usr/lib/libdep.so", "DEP_2", "/usr/lib/libbase.so"),
            libc(Flavor::Glibc, Confidence::High),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(
            f.message,
            "/usr/lib/libdep.so requires version DEP_2 of /usr/lib/libbase.so, which it does not define"
        );
        assert!(f.symbols.is_empty());
        assert_eq!(symbols_needed(r.root()), []);
    }

    #[test]
    fn nothing_without_version_errors() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/bin/ok",
            program(LD),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        assert_eq!(r.run(check), []);
    }
}
