//! The differential harness: for every ELF file of a real root, what elfdeps says the loader loads
//! must equal what the root's real loader says when asked inside the root (tests/ground_truth:
//! glibc's ld.so in trace mode, exactly what `ldd` runs; musl's `ld-musl-ARCH.so.1 --list`, through
//! qemu-user-static for a foreign architecture).
//!
//! Compared per file: the closure (canonical in-root paths of every object loaded, without the file
//! itself and the interpreter), the needed names not found, and the missing symbol versions
//! (library, version, requiring object; paths canonicalised). When the real loader gives up
//! (`error while loading shared libraries`, `Not a valid dynamic program`), elfdeps must report a
//! failure too: status `error` with the failing need, or, for files that are not loadable programs
//! at all, status `static`.
//!
//! Roots: the Debian root (with `$ORIGIN` users: OpenJDK, LibreOffice, numpy, PostgreSQL), the
//! Alpine x86_64 and aarch64 minirootfs, and the two generated roots of hard cases
//! (tests/hard_cases/build.sh). Each prints `agree N/M` and must agree on every file.
//!
//! The CPU: glibc's loader decides `$PLATFORM`, the glibc-hwcaps and legacy capability
//! subdirectories and the ld.so.cache entries it takes by the CPU it runs on, so elfdeps is given
//! the profile that loader reports (the root's own `ld.so --help`, run in the root), and each
//! glibc test prints it. The same hard-case root is also compared under a second profile on this
//! CPU (`GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2`, where the CPU has AVX2 to take away) and on two
//! CPUs emulated by qemu-x86_64-static (`qemu64` = `--cpu baseline`, `Haswell` = `--cpu
//! haswell`), which every x86-64 machine can run.

mod ground_truth;
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use elfdeps::name::ByteStr;
use elfdeps::pipeline;
use elfdeps::progress::Progress;
use elfdeps::report::Report as ScanReport;
use elfdeps::resolve::Resolution;
use elfdeps::resolve::cpu::{CpuProfile, X86Cpu, X86Platform};
use elfdeps::resolve::{ResolveOptions, Status};
use elfdeps::scan::Object;
use ground_truth::{GlibcCpu, Truth};

#[derive(Clone, Copy)]
enum Loader {
    Glibc,
    Musl(&'static str),
}

#[test]
fn debian_agrees_with_ld_so() {
    check("debian", None, Loader::Glibc, 1000);
}

#[test]
fn alpine_x86_64_agrees_with_ld_musl() {
    check("alpine-x86_64", None, Loader::Musl("x86_64"), 10);
}

#[test]
fn alpine_aarch64_agrees_with_ld_musl_under_qemu() {
    check("alpine-aarch64", None, Loader::Musl("aarch64"), 10);
}

#[test]
fn hard_cases_glibc_agree_with_ld_so() {
    check("hard-cases", Some("glibc"), Loader::Glibc, 30);
}

/// The same root under a second profile of this CPU: GLIBC_TUNABLES takes AVX2 away, so glibc
/// drops the `haswell` platform and the x86-64-v3/v4 levels (on an Intel CPU with AVX2), and
/// elfdeps, given what ld.so then lists, agrees again.
#[test]
fn hard_cases_glibc_agree_with_ld_so_without_avx2() {
    let what = "hard cases under GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2";
    if !support::require_root_or_skip(what) {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let root = base.join("glibc");
    let plain = ground_truth::glibc_cpu_listing(&root, &GlibcCpu::default()).expect("ld.so --help");
    let cpu = GlibcCpu {
        tunables: Some("glibc.cpu.hwcaps=-AVX2".into()),
        emulate: None,
    };
    let reduced = ground_truth::glibc_cpu_listing(&root, &cpu).expect("ld.so --help");
    if plain == reduced {
        // Nothing to take away (a CPU without AVX2): still a valid comparison, of the same
        // profile; the emulated-CPU test below compares two on every machine.
        support::loud(&format!(
            "{what}: this CPU has no AVX2 for the tunable to remove, so this is the same profile \
             again (ld.so lists {plain:?})"
        ));
    } else {
        support::loud(&format!("{what}: ld.so lists {plain:?}, then {reduced:?}"));
    }
    check_on("hard-cases", Some("glibc"), Loader::Glibc, 30, &cpu, None);
}

/// Two CPUs emulated by qemu-x86_64-static, on any x86-64 machine: `qemu64` is elfdeps' named
/// profile `baseline`, `Haswell` is `haswell`. The named profiles (not ones read from ld.so) must
/// agree with glibc on each, each must be what ld.so lists there, and they must differ where the
/// CPU matters: `$PLATFORM`, a platform directory in the cache, legacy subdirectories, and a
/// glibc-hwcaps cache entry whose library needs x86-64-v4.
#[test]
fn hard_cases_glibc_agree_on_emulated_cpus() {
    let what = "hard cases on emulated CPUs";
    if !support::require_root_or_skip(what) {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let root = base.join("glibc");
    let mut reports = Vec::new();
    for (model, name) in [("qemu64", "baseline"), ("Haswell", "haswell")] {
        let cpu = GlibcCpu {
            tunables: None,
            emulate: Some(model.into()),
        };
        let named = CpuProfile::named(name).expect("a named profile");
        // The named profile is what the loader itself says it searches on that CPU.
        let listed = profile_from_ld_so(&root, &cpu);
        assert_eq!(
            (
                listed.x86.platform,
                listed.x86.isa_level,
                listed.x86.avx512_1
            ),
            (named.x86.platform, named.x86.isa_level, named.x86.avx512_1),
            "--cpu {name} vs ld.so --help on qemu -cpu {model}"
        );
        let report = check_on(
            "hard-cases",
            Some("glibc"),
            Loader::Glibc,
            30,
            &cpu,
            Some(named),
        )
        .expect("not skipped");
        reports.push(report);
    }
    let closure = |r: &ScanReport, p: &str| resolution(r, p).2;
    let missing = |r: &ScanReport, p: &str| resolution(r, p).1;
    let (b, h) = (&reports[0], &reports[1]);
    assert_eq!(missing(b, "/opt/tok/bin/tokens"), Vec::<String>::new());
    assert_eq!(missing(h, "/opt/tok/bin/tokens"), ["libtp.so"]);
    let lib = "/usr/lib/x86_64-linux-gnu";
    assert!(closure(b, "/usr/bin/uses-cpuplat").contains(&format!("{lib}/libcpuplat.so.1")));
    assert!(
        closure(h, "/usr/bin/uses-cpuplat").contains(&format!("{lib}/haswell/libcpuplat.so.1"))
    );
    // Haswell supports x86-64-v2 but not the v4 its glibc-hwcaps copy needs: the plain one.
    assert!(closure(h, "/usr/bin/uses-isa").contains(&format!("{lib}/libisa.so.1")));
    assert!(
        closure(h, "/opt/cpu/bin/legacy-order").contains(&"/opt/cpu/lib/haswell/libord.so".into())
    );
    assert_eq!(missing(h, "/usr/bin/uses-cpuavx"), ["libcpuavx.so.1"]);
}

/// `--cpu host` reads this machine's CPU as glibc does: the same platform, avx512_1 and levels
/// as the root's ld.so lists here.
#[test]
fn host_profile_is_what_ld_so_lists() {
    let what = "--cpu host vs ld.so --help";
    if !support::require_root_or_skip(what) {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let listed = profile_from_ld_so(&base.join("glibc"), &GlibcCpu::default());
    let host = CpuProfile::host().expect("an x86_64 host");
    support::loud(&format!("{what}: {}", describe(&host)));
    assert_eq!(host.x86, listed.x86, "{what}");
}

#[test]
fn hard_cases_musl_agree_with_ld_musl() {
    check("hard-cases", Some("musl"), Loader::Musl("x86_64"), 25);
}

/// The hard-case roots hold what the issue lists, with the outcomes the real loaders give
/// (asserted here on elfdeps' side, so a regression names the case, not just a count).
#[test]
fn hard_case_outcomes() {
    if !support::require_root_or_skip("hard-case outcomes") {
        return;
    }
    let Some(base) = support::root("hard-cases") else {
        return;
    };
    let g = scan_root(&base.join("glibc"));
    let status = |r: &ScanReport, p: &str| resolution(r, p).0;
    let missing = |r: &ScanReport, p: &str| resolution(r, p).1;
    let closure = |r: &ScanReport, p: &str| resolution(r, p).2;
    // RPATH inherited, RUNPATH not.
    assert_eq!(status(&g, "/opt/rp/bin/rpath-chain"), Status::Ok);
    assert_eq!(missing(&g, "/opt/rp/bin/runpath-chain"), ["liby.so"]);
    // Stale cache: moved (found in a default dir), deleted, added without ldconfig.
    assert!(
        closure(&g, "/usr/bin/uses-moved")
            .contains(&"/usr/lib/x86_64-linux-gnu/libmoved.so.1".into())
    );
    assert_eq!(missing(&g, "/usr/bin/uses-gone"), ["libgone.so.1"]);
    assert_eq!(missing(&g, "/usr/bin/uses-new"), ["libnew.so.1"]);
    // Wrong class and machine skipped; bad OSABI and a text file stop the search.
    assert!(closure(&g, "/opt/wc/bin/wrong-first").contains(&"/opt/wc/ok/libwc.so".into()));
    assert_eq!(missing(&g, "/usr/bin/uses-wc32only"), ["libwc32only.so"]);
    assert_eq!(status(&g, "/opt/wc/bin/osabi-first"), Status::Error);
    assert_eq!(status(&g, "/opt/wc/bin/text-first"), Status::Error);
    // Absolute and escaping symlinks resolve inside the root.
    let abs = closure(&g, "/opt/abs/bin/abs-links");
    assert!(
        abs.contains(&"/opt/abs/real/libabs.so.1.0".into()),
        "{abs:?}"
    );
    assert!(
        abs.contains(&"/opt/abs/real/libesc.so.1.0".into()),
        "{abs:?}"
    );
    // NEEDED with a slash.
    assert!(closure(&g, "/usr/bin/slash-needed").contains(&"/opt/slash/libslash.so".into()));
    assert_eq!(
        missing(&g, "/usr/bin/slash-needed"),
        ["/opt/slash/libnothere.so"]
    );
    // A version the library does not define.
    let errs = &resolved(&g, "/usr/bin/needs-vers2").version_errors;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].version.as_bytes(), b"VERS_2");
    // A musl program in a glibc root.
    assert_eq!(status(&g, "/usr/bin/musl-hello"), Status::InterpMissing);
    // $ORIGIN through a symlinked file in another directory does not find its neighbour.
    assert_eq!(missing(&g, "/opt/app/bin/app-via-link"), ["libr.so"]);
    assert_eq!(status(&g, "/opt/app/bin/app"), Status::Ok);
    // Legacy capability subdirectories of glibc 2.36.
    assert_eq!(status(&g, "/opt/legacy/bin/legacy"), Status::Ok);
    // NODEFLIB.
    assert_eq!(missing(&g, "/usr/bin/nodeflib"), ["libm.so.6", "libc.so.6"]);

    let m = scan_root(&base.join("musl"));
    // A glibc program (no interpreter here) and a glibc module: musl satisfies libc.so.6 itself.
    assert_eq!(status(&m, "/usr/bin/glibc-hello"), Status::InterpMissing);
    assert_eq!(status(&m, "/usr/lib/glibc-module.so"), Status::Ok);
    // The path file drops /usr/local/lib and adds /opt/mp.
    assert_eq!(missing(&m, "/usr/bin/uses-local"), ["liblocal.so"]);
    assert_eq!(status(&m, "/usr/bin/uses-pathfile"), Status::Ok);
    // RUNPATH inherited on musl; a $LIB path list ignored whole; no soname matching.
    assert_eq!(status(&m, "/opt/rp/bin/runpath-chain"), Status::Ok);
    assert_eq!(missing(&m, "/opt/rp/bin/lib-token"), ["libx.so"]);
    assert_eq!(missing(&m, "/opt/sn/bin/soname-match"), ["libcommon.so.1"]);
    assert_eq!(status(&m, "/opt/wc/bin/text-first"), Status::Error);
    assert_eq!(status(&m, "/opt/wc/bin/machine-first"), Status::Ok);
}

/// The resolution of the object at `path`.
fn resolved<'a>(r: &'a ScanReport, path: &str) -> &'a Resolution {
    let i = r
        .inventory
        .object_at(path.as_bytes())
        .unwrap_or_else(|| panic!("{path} is not an object of {}", r.inventory.root.display()));
    let all = r
        .resolutions
        .as_ref()
        .unwrap_or_else(|| panic!("{path} was not resolved"));
    &all[i]
}

fn resolution(r: &ScanReport, path: &str) -> (Status, Vec<String>, Vec<String>) {
    let res = resolved(r, path);
    (
        res.status,
        res.missing.iter().map(ByteStr::escaped).collect(),
        res.closure.iter().map(ByteStr::escaped).collect(),
    )
}

/// The CPU profile elfdeps is given for a glibc root whose loader runs on `cpu`: what the root's
/// own ld.so says it searches there (`ld.so --help`). The ISA level the cache check uses is the
/// hardware's (glibc computes it before GLIBC_TUNABLES apply), or the emulated CPU's.
fn profile_from_ld_so(root: &Path, cpu: &GlibcCpu) -> CpuProfile {
    let l = ground_truth::glibc_cpu_listing(root, cpu)
        .unwrap_or_else(|e| panic!("the CPU as the loader sees it: {e}"));
    let isa_level = 1 + l
        .hwcaps
        .iter()
        .filter(|h| h.starts_with("x86-64-v"))
        .count() as u8;
    let platform = match l.platform.as_deref() {
        Some("haswell") => X86Platform::Haswell,
        Some("xeon_phi") => X86Platform::XeonPhi,
        Some("x86_64") => X86Platform::Kernel,
        other => panic!("unexpected x86_64 platform {other:?} from ld.so --help"),
    };
    let cache_isa_level = match &cpu.emulate {
        Some(_) => isa_level,
        None => CpuProfile::host().expect("an x86_64 host").x86.isa_level,
    };
    CpuProfile {
        name: format!("ld.so --help on {}", cpu.label()),
        x86: X86Cpu {
            isa_level,
            platform,
            avx512_1: l.legacy.iter().any(|h| h == "avx512_1"),
            cache_isa_level,
        },
        aarch64_atomics: false,
    }
}

/// One line saying what elfdeps assumes of the CPU for a glibc 2.36 x86-64 loader.
fn describe(cpu: &CpuProfile) -> String {
    let l = cpu.for_loader(elfdeps::elf::Machine::X86_64, Some((2, 36)), None);
    let list = |v: &[ByteStr]| v.iter().map(ByteStr::escaped).collect::<Vec<_>>().join(",");
    format!(
        "CPU profile \"{}\": $PLATFORM={}, glibc-hwcaps [{}], ISA level for the cache {}, \
         legacy subdirectories [{}]",
        cpu.name,
        l.platform,
        list(&l.hwcaps),
        cpu.x86.cache_isa_level,
        list(&l.legacy_subdirs)
    )
}

fn scan_root(root: &Path) -> ScanReport {
    scan_root_for(root, CpuProfile::baseline())
}

fn scan_root_for(root: &Path, cpu: CpuProfile) -> ScanReport {
    let config = pipeline::Config {
        root: root.to_path_buf(),
        resolve: Some(ResolveOptions {
            cpu,
            hwcaps: None,
            ..Default::default()
        }),
        ..pipeline::Config::default()
    };
    pipeline::run(&config, &Progress::hidden())
        .unwrap_or_else(|e| panic!("elfdeps scan {}: {e}", root.display()))
}

/// Diffs one root; `min` guards against a root that silently lost its files.
fn check(key: &str, sub: Option<&str>, loader: Loader, min: usize) {
    check_on(key, sub, loader, min, &GlibcCpu::default(), None);
}

/// [`check`] with glibc's loader on `cpu`, and elfdeps given `profile` (default: what the root's
/// ld.so lists on that CPU). Returns the report (None when skipped).
fn check_on(
    key: &str,
    sub: Option<&str>,
    loader: Loader,
    min: usize,
    cpu: &GlibcCpu,
    profile: Option<CpuProfile>,
) -> Option<ScanReport> {
    let what = format!(
        "loader differential on {key}{}{}",
        sub.map(|s| format!("/{s}")).unwrap_or_default(),
        match loader {
            Loader::Glibc => format!(" on {}", cpu.label()),
            Loader::Musl(_) => String::new(),
        }
    );
    if !support::require_root_or_skip(&what) {
        return None;
    }
    let base = support::root(key)?;
    let root = match sub {
        Some(s) => base.join(s),
        None => base.to_path_buf(),
    };
    // musl's loader does not look at the CPU; glibc's is asked what it searches.
    let profile = match loader {
        Loader::Glibc => profile.unwrap_or_else(|| profile_from_ld_so(&root, cpu)),
        Loader::Musl(_) => CpuProfile::baseline(),
    };
    support::loud(&format!("{what}: {}", describe(&profile)));
    let report = scan_root_for(&root, profile);
    let files: Vec<String> = report
        .inventory
        .objects
        .iter()
        .map(|o| o.path.escaped())
        .collect();
    assert!(
        files.len() >= min,
        "{what}: only {} ELF files (expected at least {min})",
        files.len()
    );
    let truth = match loader {
        Loader::Glibc => {
            let options = ground_truth::Options {
                glibc_cpu: cpu.clone(),
                ..ground_truth::Options::default()
            };
            ground_truth::try_glibc_truth_with(&root, &files, &options)
                .unwrap_or_else(|e| panic!("{what}: ground truth: {e}"))
        }
        Loader::Musl(arch) => ground_truth::musl_truth(&root, arch, &files),
    };
    let mut disagreements = Vec::new();
    for o in &report.inventory.objects {
        let name = o.path.escaped();
        let t = truth
            .get(&name)
            .unwrap_or_else(|| panic!("{what}: no ground truth for {name}"));
        if let Err(why) = compare(&root, &report, o, t) {
            disagreements.push(format!("{name}: {why}"));
        }
    }
    let n = report.inventory.objects.len();
    support::loud(&format!(
        "{what}: agree {}/{n} ({})",
        n - disagreements.len(),
        root.display()
    ));
    assert!(
        disagreements.is_empty(),
        "{what}: {} of {n} files disagree with the real loader:\n  {}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    Some(report)
}

/// One file: elfdeps against the loader's verdict.
fn compare(root: &Path, report: &ScanReport, o: &Object, t: &Truth) -> Result<(), String> {
    let res = resolved(report, &o.path.escaped());
    if t.timed_out {
        return Err(format!("the real loader timed out: {:?}", t.other));
    }
    if let Some(fatal) = &t.fatal {
        // The loader stopped. Files it cannot load as a program at all (static executables under
        // musl, relocatable files, cores, debug files) are `static` for elfdeps, files for which
        // the root has no loader (another machine or class) `interp-missing` without a loader;
        // anything else must be an error saying why the loader gives up.
        return match res.status {
            Status::Static => Ok(()),
            Status::InterpMissing if res.loader.is_none() => Ok(()),
            Status::Error if res.fatal.is_some() => Ok(()),
            s => Err(format!(
                "loader gave up ({fatal}); elfdeps says {s:?}, fatal {:?}",
                res.fatal
            )),
        };
    }
    if let Some(f) = &res.fatal {
        return Err(format!(
            "elfdeps says the loader gives up ({f}); it listed {:?}",
            t.closure
        ));
    }
    let ours_closure: BTreeSet<String> = res.closure.iter().map(ByteStr::escaped).collect();
    let ours_missing: BTreeSet<String> = res.missing.iter().map(ByteStr::escaped).collect();
    let canon = |p: &str| {
        ground_truth::resolve_in_root(root, &ground_truth::unescape_name(p))
            .unwrap_or_else(|_| p.to_string())
    };
    let ours_versions: BTreeSet<(String, String, String)> = res
        .version_errors
        .iter()
        .map(|e| {
            let lib = report
                .inventory
                .tree
                .resolve(e.library.as_bytes(), true)
                .map(|c| c.escaped())
                .unwrap_or_else(|_| e.library.escaped());
            let req = report
                .inventory
                .tree
                .resolve(e.required_by.as_bytes(), true)
                .map(|c| c.escaped())
                .unwrap_or_else(|_| e.required_by.escaped());
            (lib, e.version.escaped(), req)
        })
        .collect();
    let truth_versions: BTreeSet<(String, String, String)> = t
        .version_errors
        .iter()
        .map(|(lib, v, req)| (canon(lib), v.clone(), canon(req)))
        .collect();
    let mut why = Vec::new();
    diff("closure", &ours_closure, &t.closure, &mut why);
    diff("missing", &ours_missing, &t.missing, &mut why);
    diff("version errors", &ours_versions, &truth_versions, &mut why);
    if why.is_empty() {
        Ok(())
    } else {
        why.push(format!("status {:?}", res.status));
        Err(why.join("; "))
    }
}

fn diff<T: Ord + std::fmt::Debug>(
    what: &str,
    ours: &BTreeSet<T>,
    truth: &BTreeSet<T>,
    why: &mut Vec<String>,
) {
    if ours != truth {
        let only_ours: Vec<_> = ours.difference(truth).collect();
        let only_truth: Vec<_> = truth.difference(ours).collect();
        why.push(format!(
            "{what}: only elfdeps {only_ours:?}, only the loader {only_truth:?}"
        ));
    }
}

/// `elfdeps tree ROOT /usr/bin/curl` shows every library the real `ldd` lists (the root's own ldd
/// script, run in the root), and nothing else but the loader.
#[test]
fn tree_of_curl_lists_what_ldd_lists() {
    if !support::require_root_or_skip("tree vs ldd on curl") {
        return;
    }
    let Some(root) = support::root("debian") else {
        return;
    };
    let ldd = ground_truth::ldd_truth(root, "/usr/bin/curl").expect("ldd runs in the root");
    assert!(ldd.closure.len() > 20, "ldd listed too little: {ldd:?}");
    let out = support::Elfdeps::new(["tree", "--color", "never", "-q"])
        .arg(root)
        .arg("/usr/bin/curl")
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 tree");
    let mut shown = BTreeSet::new();
    // What the loader loads at start; the run-time section after it is not ldd's.
    for line in text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("loaded at run time"))
    {
        // `├── NAME => AS-OPENED → CANONICAL [via]`
        let canonical = line
            .split_once(" → ")
            .and_then(|(_, rest)| rest.split_once(" ["))
            .map(|(c, _)| c.to_string())
            .unwrap_or_else(|| panic!("unexpected tree line {line:?}"));
        shown.insert(canonical);
    }
    shown.remove("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    assert_eq!(
        shown, ldd.closure,
        "elfdeps tree vs ldd on /usr/bin/curl:\n{text}"
    );
}

/// `elfdeps tree --flat ROOT /usr/bin/curl` is what `chroot ROOT ldd /usr/bin/curl` prints, line by
/// line: the same names, opened under the same paths, in the same order (the loader where ldd
/// puts it); only ldd's vdso line and load addresses differ.
#[test]
fn tree_flat_of_curl_is_ldds_listing() {
    if !support::require_root_or_skip("tree --flat vs ldd on curl") {
        return;
    }
    let Some(root) = support::root("debian") else {
        return;
    };
    let ldd = std::process::Command::new("chroot")
        .arg(root)
        .args(["/usr/bin/ldd", "/usr/bin/curl"])
        .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .expect("chroot runs");
    assert!(ldd.status.success(), "{}", support::describe(&ldd));
    // `NAME => PATH (0x...)`, or the loader as `PATH (0x...)`: without the address.
    let ldd_lines: Vec<String> = String::from_utf8(ldd.stdout)
        .expect("UTF-8 ldd")
        .lines()
        .map(|l| {
            l.trim()
                .rsplit_once(" (")
                .map_or(l.trim(), |(k, _)| k)
                .to_string()
        })
        .filter(|l| !l.starts_with("linux-vdso.so"))
        .collect();
    let out = support::Elfdeps::new(["tree", "--flat", "--color", "never", "-q"])
        .arg(root)
        .arg("/usr/bin/curl")
        .output();
    assert!(out.status.success(), "{}", support::describe(&out));
    let text = String::from_utf8(out.stdout).expect("UTF-8 listing");
    // `NAME => PATH (via)`; the loader `PT_INTERP => CANONICAL (interpreter)`, which ldd names by
    // its PT_INTERP alone.
    let ours: Vec<String> = text
        .lines()
        .map(|l| {
            let (entry, via) = l.trim().rsplit_once(" (").expect("a (via)");
            match via {
                "interpreter)" => entry.split_once(" => ").expect("=>").0.to_string(),
                _ => entry.to_string(),
            }
        })
        .collect();
    assert!(ldd_lines.len() > 20, "ldd listed too little: {ldd_lines:?}");
    assert_eq!(
        ours, ldd_lines,
        "elfdeps tree --flat vs ldd on /usr/bin/curl:\n{text}"
    );
}

/// `why --shortest` lists one chain per program, the first (shortest) of the full answer, and says
/// how many there were.
#[test]
fn why_shortest_keeps_each_programs_shortest_chain() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let why = |extra: &[&str]| -> serde_json::Value {
        let out = support::Elfdeps::new(["why", "-q", "-f", "json"])
            .arg(root)
            .arg("libz.so.1")
            .args(extra.iter().copied())
            .output();
        assert!(out.status.success(), "{}", support::describe(&out));
        serde_json::from_slice(&out.stdout).expect("why JSON")
    };
    let (all, shortest) = (why(&[]), why(&["--shortest"]));
    let programs = |d: &serde_json::Value| d["programs"].as_array().expect("programs").clone();
    let (all, shortest) = (programs(&all), programs(&shortest));
    assert_eq!(all.len(), shortest.len());
    assert!(
        all.iter()
            .any(|p| p["chains"].as_array().unwrap().len() > 1),
        "no program has several chains to libz: the test proves nothing"
    );
    for (a, s) in all.iter().zip(&shortest) {
        assert_eq!(a["program"], s["program"]);
        assert_eq!(a["total_chains"], s["total_chains"]);
        let chains = s["chains"].as_array().unwrap();
        assert_eq!(chains.len(), 1, "{s}");
        let min = a["chains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_array().unwrap().len())
            .min();
        assert_eq!(chains[0].as_array().map(Vec::len), min, "{s}");
        assert_eq!(chains[0], a["chains"][0], "{s}");
    }
    let out = support::Elfdeps::new(["why", "-q", "--color", "never", "--shortest"])
        .arg(root)
        .arg("libz.so.1")
        .output();
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(text.contains(" (shortest of "), "{text}");
}

/// `elfdeps why ROOT libssl.so.3` shows curl's chain through libcurl.
#[test]
fn why_libssl_shows_curls_chain() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let out = support::Elfdeps::new(["why", "--color", "never", "-q"])
        .arg(root)
        .arg("libssl.so.3")
        .output();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let chain = "  /usr/bin/curl → /usr/lib/x86_64-linux-gnu/libcurl.so.4.8.0 → /usr/lib/x86_64-linux-gnu/libssl.so.3\n";
    assert!(
        text.contains(&format!("/usr/bin/curl\n{chain}")),
        "curl's chain is missing from `elfdeps why {} libssl.so.3`:\n{text}",
        root.display()
    );
}

/// `elfdeps why ROOT EXTENSION` on a Python extension module no program's loader loads: python3.11
/// reaches it by its run-time edge (`python-extension`), marked in the human and JSON chains; and
/// what the module needs (libssl) is reached through it.
#[test]
fn why_shows_a_python_extension_through_its_run_time_edge() {
    let Some(root) = support::root("debian") else {
        return;
    };
    let module = "/usr/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so";
    let why = |args: &[&str]| {
        let out = support::Elfdeps::new(["why", "--color", "never", "-q"])
            .arg(root)
            .args(args.iter().copied())
            .output();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let text = why(&[module]);
    let chain = format!(
        "/usr/bin/python3.11\n  /usr/bin/python3.11 => (run time: python-extension Python 3.11 \
         (/usr/lib/python3.11)) {module}\n"
    );
    assert!(
        text.contains(&chain),
        "python3.11's chain is missing:\n{text}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&why(&[module, "-f", "json"])).expect("JSON");
    let python = json["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .find(|p| p["program"] == "/usr/bin/python3.11")
        .unwrap_or_else(|| panic!("no python3.11 in {json:#}"));
    assert_eq!(
        python["chains"][0],
        serde_json::json!([
            "/usr/bin/python3.11",
            {"path": module, "runtime": {
                "rule": "python-extension",
                "detail": "Python 3.11 (/usr/lib/python3.11)",
                "tier": "required"}}
        ]),
        "{json:#}"
    );

    // libssl: curl's loader chain as before, and python3.11's through the module.
    let text = why(&["libssl.so.3"]);
    let through = format!(
        "/usr/bin/python3.11\n  /usr/bin/python3.11 => (run time: python-extension Python 3.11 \
         (/usr/lib/python3.11)) {module} → /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    );
    assert!(
        text.contains(&through),
        "python3.11's chain is missing:\n{text}"
    );
}
