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
        let fams = input.families(o.facts.machine);
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
                input.root_desc(o.facts.machine)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::Confidence;
    use crate::check::testing::*;
    use crate::check::{Code, Severity};

    fn missing() -> crate::resolve::Resolution {
        session(Status::InterpMissing, None)
    }

    #[test]
    fn a_program_whose_interpreter_is_absent_with_the_libc_hint() {
        let mut r = Fixture::glibc();
        r.object(
            "/usr/bin/m",
            program(LD_MUSL),
            missing(),
            libc(Flavor::Musl, Confidence::High),
        );
        r.object(
            "/usr/bin/u",
            program("/lib/ld-other.so.1"),
            missing(),
            libc(Flavor::Unknown, Confidence::Low),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 2, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::InterpreterMissing, Severity::Error)
        );
        assert_eq!(
            f.message,
            "interpreter /lib/ld-musl-x86_64.so.1 does not exist in the root: starting it fails with \"No such file or directory\" although the file exists"
        );
        assert_eq!(
            f.hint.as_deref(),
            Some(
                "it is built against musl and this root has glibc: rebuild it against glibc, or install musl's loader"
            )
        );
        assert_eq!(
            found[1].hint.as_deref(),
            Some(
                "install the loader /lib/ld-other.so.1, or rebuild the program for the root (glibc)"
            )
        );
        // A glibc program in a musl root.
        let mut m = Fixture::musl();
        m.object(
            "/usr/bin/g",
            program(LD),
            missing(),
            libc(Flavor::Glibc, Confidence::High),
        );
        let found = m.run(check);
        assert!(
            found[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.starts_with("it is built against glibc and this root has musl")),
            "{found:?}"
        );
    }

    #[test]
    fn not_when_the_interpreter_is_there_or_the_object_names_none() {
        let mut r = Fixture::glibc();
        let glibc = || libc(Flavor::Glibc, Confidence::High);
        r.object("/usr/bin/ok", program(LD), glibc_ok(), glibc());
        // No PT_INTERP (a library no loader of the root handles): wrong-architecture's case.
        r.object("/usr/lib/libx.so", library("libx.so"), missing(), glibc());
        assert_eq!(r.run(check), []);
    }
}
