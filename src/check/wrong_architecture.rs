//! `wrong-architecture`: the root has loaders, none for this object's machine (an error for a
//! program, which cannot start; a warning for a library, which only fails when loaded).

use super::input::Input;
use super::libc::Flavor;
use super::{Code, Finding, Severity, is_program};
use crate::elf::Kind;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let machines = input.loader_machines();
    // A root without any loader says nothing about architectures (a static-only image).
    if machines.is_empty() {
        return;
    }
    for (_, o, _, info) in input.objects() {
        // An object that needs no libc runs without the root's loaders.
        if !input.families(&o.facts.machine).is_empty() || info.flavor == Flavor::None {
            continue;
        }
        let loadable = matches!(
            o.facts.kind,
            Kind::Executable | Kind::Pie | Kind::SharedLibrary
        ) && o.facts.has_dynamic;
        if !loadable {
            continue;
        }
        out.push(
            Finding::new(
                Code::WrongArchitecture,
                if is_program(o) {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                &o.path,
                format!(
                    "{} object ({}); the root's loaders are for {}",
                    o.facts.machine,
                    o.facts.class.as_str(),
                    machines.join(", ")
                ),
            )
            .hint("remove it, or install a build for the root's architecture"),
        );
    }
}
