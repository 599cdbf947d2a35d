//! `mixed-libc`: a program whose closure has objects built against the other libc (both libcs
//! in one process).

use super::input::Input;
use super::libc::{Confidence, Flavor};
use super::{Code, Finding, Severity, is_program};
use crate::name::ByteStr;
use crate::resolve::Status;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (_, o, r, info) in input.objects() {
        // Not when it cannot start at all: its closure is then only what another loader would do.
        if !is_program(o)
            || r.status == Status::InterpMissing
            || !matches!(info.flavor, Flavor::Glibc | Flavor::Musl)
        {
            continue;
        }
        let others: Vec<&ByteStr> = r
            .closure
            .iter()
            .filter(|c| {
                input
                    .index_of(c.as_bytes())
                    .map(|i| input.libc(i))
                    .is_some_and(|l| {
                        l.confidence == Confidence::High
                            && matches!(l.flavor, Flavor::Glibc | Flavor::Musl)
                            && l.flavor != info.flavor
                    })
            })
            .collect();
        if others.is_empty() {
            continue;
        }
        let list: Vec<String> = others.iter().take(5).map(|p| p.to_string()).collect();
        out.push(
            Finding::new(
                Code::MixedLibc,
                Severity::Error,
                &o.path,
                format!(
                    "built against {}, but loads objects built against the other libc: {}",
                    info.flavor.as_str(),
                    list.join(", ")
                ),
            )
            .hint("rebuild those libraries (or the program) against one libc"),
        );
    }
}
