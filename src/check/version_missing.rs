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
