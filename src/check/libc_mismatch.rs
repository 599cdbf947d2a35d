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
        let Some(other) = other_libc(info, &input.families(o.facts.machine)) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;
    use crate::resolve::Status;
    use crate::resolve::env::Family;

    #[test]
    fn built_against_the_libc_the_root_lacks() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/lib/libm.so",
            library("libm.so"),
            glibc_ok(),
            libc(Flavor::Musl, Confidence::High),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!((f.code, f.severity), (Code::LibcMismatch, Severity::Error));
        assert_eq!(
            f.message,
            "built against musl (evidence for musl), but this root's libc is glibc"
        );
        assert_eq!(
            f.hint.as_deref(),
            Some("rebuild it against glibc, or use an image based on musl")
        );
    }

    /// A glibc module in a musl root "resolves" (musl answers libc.so.6 itself): the message says
    /// why it still fails.
    #[test]
    fn a_glibc_module_musl_seems_to_load() {
        let mut r = Fixture::musl();
        let mut s = session(Status::Ok, Some(loader(Family::Musl, LD_MUSL)));
        s.deps.push(crate::resolve::Dep {
            name: "libc.so.6".into(),
            path: None,
            found: Some(LD_MUSL.into()),
            via: Some(Via::Reserved),
            rpath_of: None,
            hwcaps: None,
            skipped: Vec::new(),
            error: None,
        });
        r.object(
            "/usr/lib/mod.so",
            library("mod.so"),
            s,
            libc(Flavor::Glibc, Confidence::High),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.starts_with(
                "built against glibc (evidence for glibc), but this root's libc is musl; musl satisfies its libc.so.6 need itself"
            ),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn not_when_unsure_or_the_root_has_that_libc() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/bin/low",
            program(LD_MUSL),
            glibc_ok(),
            libc(Flavor::Musl, Confidence::Low),
        );
        r.object(
            "/usr/bin/ok",
            program(LD),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        assert_eq!(r.run(check), []);
        // A root with both libcs mismatches nothing.
        let both = [Flavor::Glibc, Flavor::Musl];
        assert_eq!(
            other_libc(&libc(Flavor::Musl, Confidence::High), &both),
            None
        );
        assert_eq!(
            other_libc(&libc(Flavor::Musl, Confidence::Medium), &[Flavor::Glibc]),
            Some(Flavor::Glibc)
        );
        assert_eq!(
            other_libc(&libc(Flavor::None, Confidence::High), &[Flavor::Glibc]),
            None
        );
    }
}
