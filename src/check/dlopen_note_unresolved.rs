//! `dlopen-note-unresolved`: an object declares, in a `.note.dlopen` note of priority
//! `required`, libraries it dlopens, and none of the note's sonames (alternatives) loads from it
//! with its loader's dlopen rules. Notes of lower priority name optional features; `packages`
//! lists them (`--tier`), the checks do not.

use super::input::Input;
use super::{Code, Finding, Severity};
use crate::elf::Priority;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (i, n, found) in &input.probes.runtime.notes {
        if found.is_some() {
            continue;
        }
        let o = input.object(*i);
        let Some(note) = o.facts.dlopen.get(*n) else {
            continue;
        };
        if note.priority != Priority::Required {
            continue;
        }
        let names: Vec<String> = note.sonames.iter().map(|s| s.display_escaped()).collect();
        let feature = note
            .feature
            .as_deref()
            .map(|f| format!(" for feature {}", crate::name::escape_controls(f)))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Code::DlopenNoteUnresolved,
                Severity::Error,
                &o.path,
                format!(
                    "its .note.dlopen note declares that it requires {}{feature}, and {} loads from it",
                    names.join(" or "),
                    if names.len() == 1 { "it never" } else { "none of them" }
                ),
            )
            .hint("install the package that provides the library, or add its directory to the object's RUNPATH or the loader's search path"),
        );
    }
}
