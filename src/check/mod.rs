/*!
Findings: what the facts and the resolution mean for people, with stable codes (docs/findings.md).

One model ([`Finding`]), computed once per scan by [`analyze`] (a root) or [`analyze_files`]
(build artifacts, no root), then judged by a [`policy::Policy`], which sets each finding's
`violation`, and rendered by every renderer.

The shape (cargo-deny's): one module per finding code, each a plain function over plain data
that adds its findings (`wrong_architecture`, `interpreter_missing`, `libc_mismatch`,
`mixed_libc`, `library_missing`, `version_missing`, `insecure_rpath`, `stale_ld_cache`,
`unresolved_symbol`, `libc_symbols_missing`, the musl advisories `musl_*` over the sessions
`musl_imports` gathers once; the policy's own `libc_denied` and `glibc_too_new` judge one
[`Subject`] at a time, an object of a root or an artifact). None of them reads the root: the
[`probe`] step makes every read first, once ([`probe::Probes`]: libc classification, the root's
libcs, glibc's configuration, the loaders' system paths for hints, RPATH directory modes, symbol
lists), and the checks read that and the resolved root through one `Input`. So each check is
tested over objects, resolutions and a tree held in memory, and adding a code is adding a module.
[`analyze`] is probes, then every check, then sort and dedup.

Severities follow one rule: an **error** is something that fails when the root is used as it is (a
program that cannot start, a need nothing satisfies for a program); a **warning** is a hazard or
something that fails only when used (a plugin whose library is not installed, an RPATH a stranger
can write to); **info** explains a result that is fine in practice. In particular a shared library
whose need is not found when it is loaded *alone* is not an error when:
- some program of the root loads it (that program's own session decides, and reports the error
  if there is one), or
- the missing library exists elsewhere in the root: it is a plugin (the JDK's libraries needing
  `libjvm.so`, LibreOffice components) that is loaded into a process which already has that
  library, and the loader then matches it by soname (info);
- and when the missing library exists nowhere, a plugin that nothing loads is a warning (it fails
  only when something tries to load it).
*/

mod code;
mod files;
pub mod hint;
mod input;
pub mod libc;
pub mod policy;
pub mod probe;

mod dlopen_note_unresolved;
mod glibc_too_new;
mod insecure_rpath;
mod interpreter_missing;
mod libc_denied;
mod libc_mismatch;
mod libc_symbols_missing;
mod library_missing;
mod mixed_libc;
mod musl_dlclose_noop;
mod musl_dns_no_tcp;
mod musl_iconv;
mod musl_imports;
mod musl_locale;
mod musl_thread_stack;
mod nss_ignored_by_musl;
mod nss_module_missing;
mod stale_ld_cache;
mod unresolved_symbol;
mod version_missing;
mod wrong_architecture;

#[cfg(test)]
mod testing;

pub use code::{Code, Severity};
pub use files::{Artifact, FilesError, analyze_files};
pub use probe::{artifact_symbols, classify_all, root_libcs};

use serde::Serialize;

use crate::elf;
use crate::name::ByteStr;
use crate::resolve::Resolved;
use crate::resolve::env::GlibcConfig;
use crate::resolve::view::FsView;
use crate::rootfs::RootFs;
use crate::scan::Object;
use input::Input;
use libc::{Flavor, LibcInfo};
use policy::Policy;
use probe::Probes;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable code.
    pub code: Code,
    /// Severity (after policy overrides).
    pub severity: Severity,
    /// The object (or file) it is about, inside the root.
    pub path: ByteStr,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The library concerned (a needed name, or the provider lacking a version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub library: Option<ByteStr>,
    /// The version concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<ByteStr>,
    /// Symbols concerned (those needing the version; the unresolved ones; the imports the root's
    /// libc lacks; the imports an advisory is about).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<ByteStr>,
    /// Why the policy does not count it (`allow: REASON`, `baseline`), when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    /// Whether it fails the gate: set by [`policy::Policy::judge`], read by the renderers (false
    /// until a policy judged it). Not in the JSON documents, whose `gate` counts the violations;
    /// SARIF carries it as a result property.
    #[serde(skip)]
    pub violation: bool,
}

impl Finding {
    fn new(code: Code, severity: Severity, path: &ByteStr, message: String) -> Finding {
        Finding {
            code,
            severity,
            path: path.clone(),
            message,
            hint: None,
            library: None,
            version: None,
            symbols: Vec::new(),
            suppressed: None,
            violation: false,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }
}

/// A libc the root provides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RootLibc {
    /// glibc or musl.
    pub flavor: Flavor,
    /// The loader file (canonical).
    pub loader: ByteStr,
    /// Its machine.
    pub machine: elf::Machine,
    /// The release (glibc: the newest `GLIBC_x.y` libc.so.6 defines; musl: its version string), when
    /// known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Settings of the analysis.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Look for unresolved symbols (reads every closure's dynamic symbols).
    pub symbols: bool,
    /// Per-file limits for the reads the analysis makes.
    pub limits: elf::Limits,
}

/// What the analysis adds to a scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checks {
    /// The libcs of the root.
    pub libcs: Vec<RootLibc>,
    /// Every finding, sorted by path then code.
    pub findings: Vec<Finding>,
    /// The policy's verdict, when one was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<policy::Gate>,
}

/// Whether the object is started as a program (it has an interpreter or is an executable).
pub fn is_program(o: &Object) -> bool {
    is_program_facts(&o.facts)
}

/// [`is_program`] from an object's facts alone.
pub fn is_program_facts(f: &elf::ElfFacts) -> bool {
    f.is_program()
}

/// Analyzes a scanned root: libcs, then findings. Objects gain their `libc`.
pub fn analyze(
    root: Resolved<'_>,
    view: &dyn FsView,
    rootfs: &RootFs,
    opts: &CheckOptions,
) -> (Vec<LibcInfo>, Checks) {
    analyze_with_policy(root, view, rootfs, None, opts, None)
}

/// [`analyze`], with the findings of `policy`'s own checks (`libc-denied`, `glibc-too-new`) among
/// the others. The findings are not judged yet ([`Policy::judge`] does). `glibc`: glibc's
/// configuration as resolution read it ([`crate::resolve::resolve_with_config`]), so it is not
/// read twice; `None` reads it here.
pub fn analyze_with_policy(
    root: Resolved<'_>,
    view: &dyn FsView,
    rootfs: &RootFs,
    glibc: Option<&GlibcConfig>,
    opts: &CheckOptions,
    policy: Option<&Policy>,
) -> (Vec<LibcInfo>, Checks) {
    let max_glibc = policy.and_then(|p| p.max_glibc);
    let probes = Probes::gather(root, view, rootfs, glibc, opts, max_glibc);
    let findings = run(&Input::new(root, &probes), policy);
    let Probes {
        libc, root_libcs, ..
    } = probes;
    (
        libc,
        Checks {
            libcs: root_libcs,
            findings,
            gate: None,
        },
    )
}

/// Every check over `input` (and `policy`'s, when given): the findings sorted by path, code and
/// message, without duplicates (an RPATH listing a directory twice says it once).
fn run(input: &Input<'_>, policy: Option<&Policy>) -> Vec<Finding> {
    let mut findings = Vec::new();
    wrong_architecture::check(input, &mut findings);
    interpreter_missing::check(input, &mut findings);
    libc_mismatch::check(input, &mut findings);
    mixed_libc::check(input, &mut findings);
    library_missing::check(input, &mut findings);
    version_missing::check(input, &mut findings);
    insecure_rpath::check(input, &mut findings);
    stale_ld_cache::check(input, &mut findings);
    unresolved_symbol::check(input, &mut findings);
    nss_module_missing::check(input, &mut findings);
    nss_ignored_by_musl::check(input, &mut findings);
    dlopen_note_unresolved::check(input, &mut findings);
    libc_symbols_missing::check(input, &mut findings);
    musl_dns_no_tcp::check(input, &mut findings);
    musl_thread_stack::check(input, &mut findings);
    musl_locale::check(input, &mut findings);
    musl_dlclose_noop::check(input, &mut findings);
    musl_iconv::check(input, &mut findings);
    if let Some(policy) = policy {
        let floor = &input.probes.floor_symbols;
        let subjects = input.objects().map(|(i, o, _, libc)| Subject {
            path: &o.path,
            libc,
            floor_symbols: floor.get(&i).map_or(&[], Vec::as_slice),
        });
        policy_checks(subjects, policy, &mut findings);
    }
    findings.sort_by(|a, b| (&a.path, a.code, &a.message).cmp(&(&b.path, b.code, &b.message)));
    findings.dedup();
    findings
}

/// What the policy's own checks judge: an object of a root, or an artifact of `check --files`.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// Its path (in the root, or as given).
    pub path: &'a ByteStr,
    /// The libc it was built against.
    pub libc: &'a LibcInfo,
    /// The imports bound to its glibc floor, when the probes read them (a floor above the
    /// policy's maximum).
    pub floor_symbols: &'a [ByteStr],
}

/// `libc-denied` and `glibc-too-new` for each subject, in order (the two findings of a subject
/// together: `check --files` lists them as they come).
fn policy_checks<'a>(
    subjects: impl IntoIterator<Item = Subject<'a>>,
    policy: &Policy,
    out: &mut Vec<Finding>,
) {
    for s in subjects {
        out.extend(libc_denied::check(&s, policy));
        out.extend(glibc_too_new::check(&s, policy));
    }
}

/// The policy findings of `check --files`: `libc-denied` and `glibc-too-new`, from each
/// artifact's libc. `symbols_for(i, version)` reads the symbols of artifact `i` needing a version
/// (asked only for artifacts whose glibc floor is above the maximum, before any check runs).
pub fn policy_findings(
    items: &[(ByteStr, &LibcInfo)],
    policy: &Policy,
    symbols_for: impl FnMut(usize, &[u8]) -> Vec<ByteStr>,
) -> Vec<Finding> {
    let floor = probe::floor_symbols(items.iter().map(|(_, l)| *l), policy.max_glibc, symbols_for);
    let subjects = items.iter().enumerate().map(|(i, (path, libc))| Subject {
        path,
        libc,
        floor_symbols: floor.get(&i).map_or(&[], Vec::as_slice),
    });
    let mut out = Vec::new();
    policy_checks(subjects, policy, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::check::libc::Confidence;
    use crate::resolve::Status;

    /// Every check runs over one input; the findings come sorted by path, code and message, a
    /// finding said twice (an RPATH entry listed twice) once, and the policy's own findings among
    /// the others.
    #[test]
    fn run_sorts_dedups_and_adds_the_policys_findings() {
        let mut r = Fixture::glibc();
        let mut app = program(LD);
        app.rpath = Some(vec!["rel:rel".into()]);
        let mut s = glibc_ok();
        s.status = Status::Error;
        s.missing = vec!["libgone.so".into()];
        r.object("/usr/bin/z", app, s, libc(Flavor::Glibc, Confidence::High));
        r.object(
            "/usr/bin/m",
            program(LD_MUSL),
            session(Status::InterpMissing, None),
            libc(Flavor::Musl, Confidence::High),
        );
        let mut policy = Policy::default();
        policy.deny_libc.push(Flavor::Musl);
        let found = run(&r.input(), Some(&policy));
        let got: Vec<(String, Code)> = found.iter().map(|f| (f.path.escaped(), f.code)).collect();
        let want = [
            ("/usr/bin/m", Code::InterpreterMissing),
            ("/usr/bin/m", Code::LibcMismatch),
            ("/usr/bin/m", Code::LibcDenied),
            ("/usr/bin/z", Code::LibraryMissing),
            ("/usr/bin/z", Code::InsecureRpath),
        ]
        .map(|(p, c)| (p.to_string(), c));
        assert_eq!(got, want);
        assert!(found.iter().all(|f| !f.violation), "not judged yet");
        assert_eq!(
            run(&r.input(), None).len(),
            4,
            "no policy, no policy findings"
        );
    }

    /// `check --files` lists each artifact's policy findings together, in the artifacts' order,
    /// and reads symbols only for a floor above the maximum.
    #[test]
    fn policy_findings_keep_the_artifacts_order() {
        let policy = Policy {
            deny_libc: vec![Flavor::Glibc],
            max_glibc: Some((2, 17, 0)),
            ..Policy::default()
        };
        let new = LibcInfo {
            glibc_floor: Some("GLIBC_2.34".into()),
            ..libc(Flavor::Glibc, Confidence::High)
        };
        let old = LibcInfo {
            glibc_floor: Some("GLIBC_2.2.5".into()),
            ..libc(Flavor::Glibc, Confidence::High)
        };
        let items = [
            (ByteStr::from("/b/new"), &new),
            (ByteStr::from("/a/old"), &old),
        ];
        let mut asked = Vec::new();
        let found = policy_findings(&items, &policy, |i, v| {
            asked.push((i, ByteStr::from(v)));
            vec!["memcpy".into()]
        });
        let got: Vec<(String, Code)> = found.iter().map(|f| (f.path.escaped(), f.code)).collect();
        let want = [
            ("/b/new", Code::LibcDenied),
            ("/b/new", Code::GlibcTooNew),
            ("/a/old", Code::LibcDenied),
        ]
        .map(|(p, c)| (p.to_string(), c));
        assert_eq!(got, want);
        assert_eq!(asked, [(0, ByteStr::from("GLIBC_2.34"))]);
        assert_eq!(found[1].symbols, [ByteStr::from("memcpy")]);
    }
}
