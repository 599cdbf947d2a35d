//! `interpreter-missing`: the program's PT_INTERP does not exist in the root, so starting it
//! fails with "No such file or directory" although the file is there.

use super::input::Input;
use super::libc::Flavor;
use super::{Code, Finding, Severity};
use crate::resolve::Status;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (_, o, r, info) in input.objects() {
        if r.status != Status::InterpMissing {
            continue;
        }
        let Some(interp) = &o.facts.interp else {
            continue;
        };
        let fams = input.families(&o.facts.machine);
        // The usual cause, a binary built for the other libc, has its own remedy.
        let hint = match info.flavor {
            Flavor::Glibc if fams.contains(&Flavor::Musl) => {
                "it is built against glibc and this root has musl: rebuild it for musl (e.g. in an Alpine build image), or use a glibc-based image".to_string()
            }
            Flavor::Musl if fams.contains(&Flavor::Glibc) => {
                "it is built against musl and this root has glibc: rebuild it against glibc, or install musl's loader".to_string()
            }
            _ => format!(
                "install the loader {interp}, or rebuild the program for the root ({})",
                input.root_desc(&o.facts.machine)
            ),
        };
        out.push(
            Finding::new(
                Code::InterpreterMissing,
                Severity::Error,
                &o.path,
                format!(
                    "interpreter {interp} does not exist in the root: starting it fails with \"No such file or directory\" although the file exists"
                ),
            )
            .hint(hint),
        );
    }
}
