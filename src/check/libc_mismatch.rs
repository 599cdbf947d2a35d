//! `libc-mismatch`: an object built against one libc (medium confidence or better) in a root that
//! has only the other one for its machine.

use super::input::Input;
use super::libc::{Confidence, Flavor, LibcInfo};
use super::{Code, Finding, Severity};
use crate::resolve::Via;

/// The libc the root has instead of the one `info` names, when the object mismatches: the root
/// (`fams`, its libcs for the object's machine) has the other libc and not this one.
/// `library-missing` asks too: a mismatched object's missing libc sonames are explained here.
pub fn other_libc(info: &LibcInfo, fams: &[Flavor]) -> Option<Flavor> {
    if info.confidence < Confidence::Medium {
        return None;
    }
    let other = match info.flavor {
        Flavor::Glibc => Flavor::Musl,
        Flavor::Musl => Flavor::Glibc,
        _ => return None,
    };
    (!fams.contains(&info.flavor) && fams.contains(&other)).then_some(other)
}

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for (_, o, r, info) in input.objects() {
        let Some(other) = other_libc(info, &input.families(&o.facts.machine)) else {
            continue;
        };
        let other = other.as_str();
        let mut message = format!(
            "built against {} ({}), but this root's libc is {other}",
            info.flavor.as_str(),
            info.evidence
        );
        // It looks fine to the resolution: say why it still fails.
        if info.flavor == Flavor::Glibc && r.deps.iter().any(|d| d.via == Some(Via::Reserved)) {
            message.push_str(
                "; musl satisfies its libc.so.6 need itself, so it seems to load, but glibc-only symbols (e.g. __strdup, __*_chk) fail with \"Error relocating ... symbol not found\"",
            );
        }
        out.push(
            Finding::new(Code::LibcMismatch, Severity::Error, &o.path, message).hint(format!(
                "rebuild it against {other}, or use an image based on {}",
                info.flavor.as_str()
            )),
        );
    }
}
