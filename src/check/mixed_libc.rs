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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::*;

    fn with_closure(closure: &[&str]) -> crate::resolve::Resolution {
        let mut s = glibc_ok();
        s.closure = closure.iter().map(|&c| ByteStr::from(c)).collect();
        s
    }

    #[test]
    fn a_program_loading_the_other_libcs_objects() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/bin/app",
            program(LD),
            with_closure(&["/usr/lib/libm.so", "/usr/lib/libg.so"]),
            libc(Flavor::Glibc, Confidence::High),
        );
        r.object(
            "/usr/lib/libg.so",
            library("libg.so"),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        r.object(
            "/usr/lib/libm.so",
            library("libm.so"),
            glibc_ok(),
            libc(Flavor::Musl, Confidence::High),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!((f.code, f.severity), (Code::MixedLibc, Severity::Error));
        assert_eq!(f.path, "/usr/bin/app".into());
        assert_eq!(
            f.message,
            "built against glibc, but loads objects built against the other libc: /usr/lib/libm.so"
        );
    }

    #[test]
    fn not_for_libraries_unsure_evidence_or_programs_that_cannot_start() {
        let mut r = Fixture::glibc();
        // Medium confidence is not enough to call a process mixed.
        r.object(
            "/usr/bin/app",
            program(LD),
            with_closure(&["/usr/lib/libm.so"]),
            libc(Flavor::Glibc, Confidence::High),
        );
        r.object(
            "/usr/lib/libm.so",
            library("libm.so"),
            with_closure(&["/usr/lib/libx.so"]),
            libc(Flavor::Musl, Confidence::Medium),
        );
        // A library's own closure is not a process.
        r.object(
            "/usr/lib/libx.so",
            library("libx.so"),
            glibc_ok(),
            libc(Flavor::Glibc, Confidence::High),
        );
        // A program that cannot start: its closure is what another loader would load.
        let mut dead = with_closure(&["/usr/lib/libmh.so"]);
        dead.status = Status::InterpMissing;
        r.object(
            "/usr/bin/dead",
            program(LD),
            dead,
            libc(Flavor::Glibc, Confidence::High),
        );
        r.object(
            "/usr/lib/libmh.so",
            library("libmh.so"),
            glibc_ok(),
            libc(Flavor::Musl, Confidence::High),
        );
        assert_eq!(r.run(check), []);
    }
}
