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
        if !input.families(o.facts.machine).is_empty() || info.flavor == Flavor::None {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::Confidence;
    use crate::check::testing::*;
    use crate::resolve::Status;

    fn aarch64(kind: Kind) -> crate::elf::ElfFacts {
        let mut f = facts(kind, crate::elf::Machine::Aarch64);
        if kind == Kind::Pie {
            f.interp = Some("/lib/ld-linux-aarch64.so.1".into());
        }
        f
    }

    #[test]
    fn a_program_for_another_machine_is_an_error_a_library_a_warning() {
        let mut r = Fixture::glibc();
        let glibc = || libc(Flavor::Glibc, Confidence::High);
        let interp_missing = || session(Status::InterpMissing, None);
        r.object(
            "/opt/arm/app",
            aarch64(Kind::Pie),
            interp_missing(),
            glibc(),
        );
        r.object(
            "/opt/arm/libx.so",
            aarch64(Kind::SharedLibrary),
            interp_missing(),
            glibc(),
        );
        let found = r.run(check);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].code, Code::WrongArchitecture);
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].path, "/opt/arm/app".into());
        assert_eq!(
            found[0].message,
            "aarch64 object (ELF64); the root's loaders are for x86_64"
        );
        assert_eq!(
            found[0].hint.as_deref(),
            Some("remove it, or install a build for the root's architecture")
        );
        assert_eq!(found[1].severity, Severity::Warning);
        assert_eq!(found[1].path, "/opt/arm/libx.so".into());
    }

    #[test]
    fn not_when_a_loader_fits_no_libc_is_needed_or_nothing_is_loadable() {
        let mut r = Fixture::glibc();
        let glibc = || libc(Flavor::Glibc, Confidence::High);
        let none = session(Status::Static, None);
        // The root's machine.
        r.object("/usr/bin/ok", program(LD), glibc_ok(), glibc());
        // A Go program needs no libc.
        r.object(
            "/opt/arm/go",
            aarch64(Kind::Pie),
            none.clone(),
            libc(Flavor::None, Confidence::High),
        );
        // Static, or without a dynamic section: no loader loads it.
        r.object(
            "/opt/arm/static",
            aarch64(Kind::Static),
            none.clone(),
            glibc(),
        );
        let mut no_dynamic = aarch64(Kind::SharedLibrary);
        no_dynamic.has_dynamic = false;
        r.object("/opt/arm/nodyn.so", no_dynamic, none.clone(), glibc());
        assert_eq!(r.run(check), []);
        // A root without any loader says nothing about architectures.
        let mut bare = Fixture::new();
        bare.object("/opt/arm/app", aarch64(Kind::Pie), none, glibc());
        assert_eq!(bare.run(check), []);
    }
}
