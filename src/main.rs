//! The `elfdeps` binary: parse the command line, run the library, map the outcome to an exit code.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{
    CheckArgs, Cli, ColorArg, Command, DbArg, FormatArg, PackagesArgs, PkgFormatArg, RootArgs,
    ScanArgs, TreeArgs, WhyArgs,
};
use elfdeps::check::{self, CheckOptions, Finding, policy::Policy};
use elfdeps::elf::Limits;
use elfdeps::graph::{self, DepGraph};
use elfdeps::image;
use elfdeps::name::ByteStr;
use elfdeps::progress::Progress;
use elfdeps::report::{self, Format, RenderOptions};
use elfdeps::resolve::ResolveOptions;
use elfdeps::resolve::cpu::CpuProfile;
use elfdeps::scan::{self, ScanOptions, ScanReport};
use elfdeps::walk::WalkOptions;

/// Exit codes: 0 pass, 1 policy failure, 2 usage or input error.
const EXIT_INPUT: u8 = 2;
/// The policy failed.
const EXIT_POLICY: u8 = 1;

/// A failure the user must act on: message and exit code.
struct Fail(String, u8);

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An image is unpacked into a private directory; an interrupt must not leave it behind.
    image::install_interrupt_cleanup();
    let result = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Tree(args) => run_tree(args),
        Command::Why(args) => run_why(args),
        Command::Check(args) => run_check(*args),
        Command::Packages(args) => run_packages(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg, code)) => {
            // A closed pipe (`elfdeps scan / | head`) is the reader's choice, not an error.
            if !msg.is_empty() {
                eprintln!("elfdeps: {msg}");
            }
            ExitCode::from(code)
        }
    }
}

/// Scans ROOT (a directory, or an image unpacked into a private directory that lives as long as
/// the returned guard).
fn scan_root(
    common: &RootArgs,
    resolve: bool,
) -> Result<(ScanReport, Option<image::Unpacked>), Fail> {
    let progress = if !common.quiet && io::stderr().is_terminal() {
        Progress::spinner("scanning")
    } else {
        Progress::hidden()
    };
    let platform = common
        .platform
        .as_deref()
        .map(image::Platform::parse)
        .transpose()
        .map_err(input_error)?;
    let unpacked =
        match image::parse_root(&common.root).map_err(|e| input_error(e.to_string()))? {
            Some(r) => {
                let opts = image::ImageOptions {
                    platform,
                    max_layer: common.max_layer_size,
                    max_image: common.max_image_size,
                };
                Some(image::unpack(&r, &opts).map_err(|e| {
                    input_error(format!("cannot use the image {}: {e}", r.display()))
                })?)
            }
            // Silently ignored, --platform would let a user believe a directory was checked
            // as another architecture.
            None if common.platform.is_some() => {
                return Err(input_error(format!(
                    "--platform {}: {} is a directory, not an image: --platform chooses among \
                     the images of an OCI layout or image archive, and a directory has no images \
                     to choose from; drop --platform",
                    common.platform.as_deref().unwrap_or_default(),
                    common.root.display()
                )));
            }
            None => None,
        };
    let cpu = CpuProfile::named(&common.cpu).map_err(|e| input_error(e.to_string()))?;
    let opts = ScanOptions {
        jobs: common.jobs.map(usize::from),
        limits: limits_of(common),
        walk: WalkOptions {
            max_depth: common.max_depth,
        },
        resolve: resolve.then(|| ResolveOptions {
            cpu: cpu.clone(),
            hwcaps: (!common.hwcaps.is_empty())
                .then(|| common.hwcaps.iter().map(|h| h.as_str().into()).collect()),
        }),
    };
    let root = unpacked
        .as_ref()
        .map_or(common.root.as_path(), |u| u.root.as_path());
    let result = scan::scan(root, &opts, &progress);
    progress.finish();
    let mut report = result.map_err(|e| Fail(e.to_string(), EXIT_INPUT))?;
    if resolve {
        cpu_applies(&cpu, &report, &common.root)?;
    }
    // Package ownership, when the root has a database.
    if let Ok(rootfs) = elfdeps::rootfs::RootFs::open(&report.root)
        && let Some(db) =
            elfdeps::pkgdb::detect(&rootfs, &report.tree, elfdeps::pkgdb::DbKind::Auto)
    {
        elfdeps::pkgdb::annotate(&mut report, &db);
    }
    if let Some(u) = &unpacked {
        // An image's filesystem is a root by definition, even a scratch image holding one static
        // program: its absolute paths are meant to start at its top.
        report
            .warnings
            .retain(|w| w.code != scan::WarningCode::NotARoot);
        for o in &mut report.objects {
            o.layer = u.layer_of(o.path.as_bytes()).map(str::to_string);
        }
        report.image = Some(u.info.clone());
    }
    Ok((report, unpacked))
}

/// Refuses a `--cpu` profile that changes nothing in this root: one for a machine no glibc object
/// of the root is resolved for (musl's loader does not look at the CPU at all).
fn cpu_applies(cpu: &CpuProfile, report: &ScanReport, root: &std::path::Path) -> Result<(), Fail> {
    let machines = cpu.machines();
    if machines.is_empty() {
        return Ok(());
    }
    let glibc_machines: std::collections::BTreeSet<&str> = report
        .objects
        .iter()
        .filter(|o| {
            o.resolution
                .as_ref()
                .and_then(|r| r.loader.as_ref())
                .is_some_and(|l| l.family == "glibc")
        })
        .map(|o| o.facts.machine.as_str())
        .collect();
    if glibc_machines.iter().any(|m| machines.contains(m)) {
        return Ok(());
    }
    let found = if glibc_machines.is_empty() {
        "no object loaded by glibc (musl's loader does not look at the CPU)".to_string()
    } else {
        format!(
            "glibc objects only for {}",
            glibc_machines.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Err(input_error(format!(
        "--cpu {}: the profile describes a CPU for {}, but {} has {found}; leave --cpu out, or \
         choose a profile for the root's machine",
        cpu.name,
        machines.join("/"),
        root.display()
    )))
}

/// Warnings about the scan as a whole, on stderr (whatever the format: JSON carries them too, and a
/// report on stdout or in a file must not hide that it may be wrong as a whole).
fn warn_scan(report: &ScanReport) {
    for w in &report.warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
}

/// The per-file limits from the common flags.
fn limits_of(common: &RootArgs) -> Limits {
    Limits {
        max_read: common.max_read,
        file_timeout: Some(common.file_timeout).filter(|t| !t.is_zero()),
        max_memory: Some(common.max_memory).filter(|&m| m > 0),
    }
}

fn color_for(arg: ColorArg, to_terminal: bool) -> bool {
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Writes through `render` to FILE or standard output, mapping write errors to exit codes.
fn emit(
    output: Option<&std::path::Path>,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Fail> {
    let result = match output {
        Some(path) => std::fs::File::create(path)
            .map_err(|e| (format!("cannot create output file {}", path.display()), e))
            .and_then(|f| {
                let mut w = io::BufWriter::new(f);
                render(&mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| (format!("cannot write {}", path.display()), e))
            }),
        None => {
            let mut w = io::BufWriter::new(io::stdout().lock());
            render(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| ("cannot write to standard output".to_string(), e))
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err((_, e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err((what, e)) => Err(Fail(format!("{what}: {e}"), EXIT_INPUT)),
    }
}

/// Runs the checks on a scanned root (they need the resolution for most findings).
fn check_root(report: &mut ScanReport, common: &RootArgs, symbols: bool) -> Result<(), Fail> {
    let rootfs =
        elfdeps::rootfs::RootFs::open(&report.root).map_err(|e| Fail(e.to_string(), EXIT_INPUT))?;
    check::analyze(
        report,
        &rootfs,
        &CheckOptions {
            symbols,
            limits: limits_of(common),
        },
    );
    Ok(())
}

fn run_scan(args: ScanArgs) -> Result<(), Fail> {
    let (mut report, _image) = scan_root(&args.common, !args.no_resolve)?;
    warn_scan(&report);
    if !args.no_resolve {
        check_root(&mut report, &args.common, false)?;
    }
    let report = report;
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: color_for(args.common.color, to_terminal),
    };
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Human => report::render(&report, Format::Human, &opts, w),
        FormatArg::Json => report::render(&report, Format::Json, &opts, w),
        FormatArg::Dot => DepGraph::build(&report).write_dot(&report, w),
        FormatArg::Sarif | FormatArg::Junit => {
            let findings: &[Finding] = report
                .checks
                .as_ref()
                .map_or(&[], |c| c.findings.as_slice());
            let policy = Policy::default();
            let violations: Vec<bool> = findings
                .iter()
                .map(|f| check::policy::is_violation(f, &policy))
                .collect();
            let subjects = report.objects.iter().map(|o| o.path.escaped()).collect();
            render_findings(
                args.format,
                &args.common.root,
                format!("elfdeps scan {}", args.common.root.display()),
                subjects,
                findings,
                &violations,
                w,
            )
        }
    })
}

/// SARIF or JUnit of findings.
fn render_findings(
    format: FormatArg,
    root: &std::path::Path,
    name: String,
    subjects: Vec<String>,
    findings: &[Finding],
    violations: &[bool],
    w: &mut dyn Write,
) -> io::Result<()> {
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    match format {
        FormatArg::Sarif => report::sarif::render(
            &report::sarif::SarifInput {
                root: Some(&abs),
                findings,
                violations,
            },
            w,
        ),
        _ => report::junit::render(
            &report::junit::JunitInput {
                name,
                subjects,
                findings,
                violations,
            },
            w,
        ),
    }
}

fn input_error(msg: String) -> Fail {
    Fail(msg, EXIT_INPUT)
}

fn build_policy(args: &CheckArgs) -> Result<Policy, Fail> {
    let mut p = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                input_error(format!(
                    "cannot read the policy file {}: {e}",
                    path.display()
                ))
            })?;
            Policy::from_toml(&text, &path.display().to_string())
                .map_err(|e| input_error(e.to_string()))?
        }
        None => Policy::default(),
    };
    for l in &args.deny_libc {
        let f = check::policy::flavor(l, "--deny-libc").map_err(|e| input_error(e.to_string()))?;
        if !p.deny_libc.contains(&f) {
            p.deny_libc.push(f);
        }
    }
    if let Some(v) = &args.max_glibc {
        p.max_glibc =
            Some(check::policy::version(v, "--max-glibc").map_err(|e| input_error(e.to_string()))?);
    }
    for c in &args.deny {
        let code = check::Code::parse(c).ok_or_else(|| {
            let all: Vec<&str> = check::Code::ALL.iter().map(|c| c.as_str()).collect();
            input_error(format!(
                "--deny {c}: unknown finding code (codes: {})",
                all.join(", ")
            ))
        })?;
        p.deny.push(code);
    }
    if let Some(s) = &args.fail_on {
        p.fail_on = check::Severity::parse(s).ok_or_else(|| {
            input_error(format!(
                "--fail-on {s}: not a severity (error, warning, info)"
            ))
        })?;
    }
    for a in &args.allow {
        p.add_allow(a).map_err(|e| input_error(e.to_string()))?;
    }
    for g in &args.ignore {
        p.add_ignore(g).map_err(|e| input_error(e.to_string()))?;
    }
    if let Some(b) = &args.baseline {
        let text = std::fs::read_to_string(b)
            .map_err(|e| input_error(format!("cannot read the baseline {}: {e}", b.display())))?;
        p.add_baseline(&text, &b.display().to_string())
            .map_err(|e| input_error(e.to_string()))?;
    }
    Ok(p)
}

fn run_check(args: CheckArgs) -> Result<(), Fail> {
    if matches!(args.format, FormatArg::Dot) {
        return Err(input_error(
            "--format dot is for `elfdeps scan`; check writes human, json, sarif or junit".into(),
        ));
    }
    if !args.files && !args.more.is_empty() {
        return Err(input_error(format!(
            "check takes one ROOT; to check build artifacts, use --files {} {}",
            args.common.root.display(),
            args.more
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )));
    }
    let policy = build_policy(&args)?;
    let limits = limits_of(&args.common);
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: color_for(args.common.color, to_terminal),
    };
    if args.files {
        if let Some(p) = &args.common.platform {
            return Err(input_error(format!(
                "--platform {p}: --files judges build artifacts, not an image; --platform \
                 chooses among the images of an OCI layout or image archive: drop it"
            )));
        }
        let mut paths = vec![args.common.root.clone()];
        paths.extend(args.more.iter().cloned());
        let (artifacts, errors) = check::analyze_files(&paths, &limits).map_err(input_error)?;
        let shown_paths = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        // A file named on the command line that is not ELF is not an unreadable file: it is
        // skipped, and said so.
        let (skipped, errors): (Vec<_>, Vec<_>) = errors
            .into_iter()
            .partition(|e| e.code == elfdeps::error::ErrorCode::NotElf);
        if artifacts.is_empty() {
            // Nothing to judge: a gate that passed here would pass a build that lost its
            // binaries. No report is written, whose verdict would read PASS.
            let listed = |es: &[elfdeps::error::PathError]| {
                let mut v: Vec<String> = es
                    .iter()
                    .take(10)
                    .map(|e| {
                        format!(
                            "{}: {} ({})",
                            e.path.display_escaped(),
                            elfdeps::name::escape_controls(&e.message),
                            e.code
                        )
                    })
                    .collect();
                if es.len() > 10 {
                    v.push(format!("and {} more", es.len() - 10));
                }
                v.join("; ")
            };
            let why = if !errors.is_empty() {
                format!(
                    "no ELF file could be read from {shown_paths}: {}",
                    listed(&errors)
                )
            } else if !skipped.is_empty() {
                let names: Vec<String> = skipped.iter().map(|e| e.path.display_escaped()).collect();
                let (verb, what) = if names.len() == 1 {
                    ("is", "an ELF file")
                } else {
                    ("are", "ELF files")
                };
                format!(
                    "found no ELF file: {} {verb} not {what} (no ELF magic); check --files \
                     judges ELF programs and libraries",
                    names.join(", ")
                )
            } else {
                format!(
                    "found no ELF file in {shown_paths}: nothing to judge, and a gate that \
                     passes on nothing would pass a build that lost its binaries; give the \
                     build's programs and libraries, or the directories that hold them"
                )
            };
            return Err(input_error(why));
        }
        for e in &skipped {
            eprintln!(
                "elfdeps: note: {}: {}; skipped",
                e.path.display_escaped(),
                elfdeps::name::escape_controls(&e.message)
            );
        }
        let items: Vec<_> = artifacts
            .iter()
            .map(|a| (a.path.clone(), &a.libc))
            .collect();
        let mut findings = check::policy_findings(&items, &policy, |i, v| {
            check::artifact_symbols(&artifacts[i].path, v, &limits)
        });
        let gate = policy.judge(&mut findings);
        let violations: Vec<bool> = findings
            .iter()
            .map(|f| check::policy::is_violation(f, &policy))
            .collect();
        let title = format!(
            "elfdeps check --files {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        emit(args.output.as_deref(), |w| match args.format {
            FormatArg::Human | FormatArg::Dot => report::human::render_check(
                &report::human::CheckView {
                    title: title.clone(),
                    libcs: &[],
                    artifacts: &artifacts,
                    findings: &findings,
                    violations: &violations,
                    gate: Some(&gate),
                    errors: &errors,
                    all: args.all,
                },
                &opts,
                w,
            ),
            FormatArg::Json => {
                let doc = serde_json::json!({
                    "schema": report::json::SCHEMA,
                    "tool": {"name": "elfdeps", "version": env!("CARGO_PKG_VERSION")},
                    "mode": "files",
                    "artifacts": artifacts,
                    "findings": findings,
                    "gate": gate,
                    "errors": errors,
                    "skipped": skipped,
                });
                serde_json::to_writer_pretty(&mut *w, &doc)?;
                w.write_all(b"\n")
            }
            FormatArg::Sarif | FormatArg::Junit => render_findings(
                args.format,
                std::path::Path::new("."),
                title.clone(),
                artifacts.iter().map(|a| a.path.escaped()).collect(),
                &findings,
                &violations,
                w,
            ),
        })?;
        return if gate.passed {
            Ok(())
        } else {
            Err(Fail(String::new(), EXIT_POLICY))
        };
    }
    let (mut report, _image) = scan_root(&args.common, true)?;
    warn_scan(&report);
    check_root(&mut report, &args.common, args.symbols)?;
    let rootfs =
        elfdeps::rootfs::RootFs::open(&report.root).map_err(|e| Fail(e.to_string(), EXIT_INPUT))?;
    let gate = {
        let checks = report.checks.get_or_insert_with(Default::default);
        let items: Vec<_> = report
            .objects
            .iter()
            .filter_map(|o| o.libc.as_ref().map(|l| (o.path.clone(), l)))
            .collect();
        let extra = check::policy_findings(&items, &policy, |i, v| {
            check::root_symbols(&rootfs, &items[i].0, v, &limits)
        });
        checks.findings.extend(extra);
        checks
            .findings
            .sort_by(|a, b| (&a.path, a.code).cmp(&(&b.path, b.code)));
        let gate = policy.judge(&mut checks.findings);
        checks.gate = Some(gate.clone());
        gate
    };
    let Some(checks) = report.checks.as_ref() else {
        return Err(input_error("internal: the checks did not run".into()));
    };
    let violations: Vec<bool> = checks
        .findings
        .iter()
        .map(|f| check::policy::is_violation(f, &policy))
        .collect();
    let title = format!("elfdeps check {}", args.common.root.display());
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Human | FormatArg::Dot => report::human::render_check(
            &report::human::CheckView {
                title: title.clone(),
                libcs: &checks.libcs,
                artifacts: &[],
                findings: &checks.findings,
                violations: &violations,
                gate: Some(&gate),
                errors: &report.errors,
                all: args.all,
            },
            &opts,
            w,
        ),
        FormatArg::Json => report::render(&report, Format::Json, &opts, w),
        FormatArg::Sarif | FormatArg::Junit => render_findings(
            args.format,
            &args.common.root,
            title.clone(),
            report.objects.iter().map(|o| o.path.escaped()).collect(),
            &checks.findings,
            &violations,
            w,
        ),
    })?;
    if gate.passed {
        Ok(())
    } else {
        Err(Fail(String::new(), EXIT_POLICY))
    }
}

fn run_tree(args: TreeArgs) -> Result<(), Fail> {
    let (report, _image) = scan_root(&args.common, true)?;
    let wanted = args.path.as_bytes();
    let canonical = report
        .tree
        .resolve(wanted, true)
        .map_err(|e| input_error(not_in_root(&report, &args.path, &args.common.root, &e)))?;
    let Some(object) = report.objects.iter().find(|o| o.path == canonical) else {
        return Err(input_error(not_an_object(&report, &args.path, &canonical)));
    };
    let color = color_for(args.common.color, io::stdout().is_terminal());
    emit(None, |w| graph::write_tree(object, &report.tree, w, color))
}

/// The components of an in-root path as given (`usr//bin/./x` is `/usr/bin/x`).
fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect()
}

/// `given`, and what it resolved to when that is another path (symlinks, `..`).
fn named(given: &str, canonical: &ByteStr) -> String {
    let shown = elfdeps::name::escape_controls(given);
    if components(given.as_bytes()) == components(canonical.as_bytes()) {
        shown.into_owned()
    } else {
        format!("{shown} (resolved to {})", canonical.display_escaped())
    }
}

/// Why `given` names nothing in the scanned root, saying each path once: what is missing when
/// it is not `given` itself (a parent, a symlink's target).
fn not_in_root(
    report: &ScanReport,
    given: &str,
    root: &std::path::Path,
    e: &elfdeps::error::FileError,
) -> String {
    use elfdeps::error::ErrorCode;
    use elfdeps::tree::Entry;
    let shown = elfdeps::name::escape_controls(given);
    let root = root.display();
    let why = elfdeps::name::escape_controls(&e.message);
    if e.code != ErrorCode::Vanished {
        return format!("{shown} cannot be looked up inside {root}: {why}");
    }
    // Which component is missing decides the wording: the last one (a plain "does not exist"),
    // the target of a symlink named by the last one, or a parent.
    let comps = components(given.as_bytes());
    let Some((last, parents)) = comps.split_last() else {
        return format!("{shown} does not exist inside {root}");
    };
    let parent = [b"/".as_slice(), &parents.join(&b'/')].concat();
    match report.tree.resolve(&parent, true) {
        Ok(dir) if matches!(report.tree.get(dir.as_bytes()), Some(Entry::Dir)) => {
            let at = if dir.as_bytes() == b"/" {
                [b"/", *last].concat()
            } else {
                [dir.as_bytes(), b"/", last].concat()
            };
            match report.tree.get(&at) {
                Some(Entry::Symlink(t)) => format!(
                    "{shown} is a symbolic link to {} inside {root}, and {why}",
                    t.display_escaped()
                ),
                _ => format!("{shown} does not exist inside {root}"),
            }
        }
        _ => format!("{shown} does not exist inside {root}: {why}"),
    }
}

/// Why the file `given` (resolved to `canonical`) is not an object `tree` or `packages` can take.
fn not_an_object(report: &ScanReport, given: &str, canonical: &ByteStr) -> String {
    use elfdeps::tree::Entry;
    let who = named(given, canonical);
    if let Some(e) = report.errors.iter().find(|e| e.path == *canonical) {
        return format!(
            "{who} could not be read: {} ({})",
            elfdeps::name::escape_controls(&e.message),
            e.code
        );
    }
    match report.tree.get(canonical.as_bytes()) {
        Some(Entry::Dir) => {
            format!("{who} is a directory, not an ELF file: name a program or library in it")
        }
        Some(Entry::Special) => format!("{who} is a FIFO, socket or device, not an ELF file"),
        Some(Entry::OtherFs) => {
            format!("{who} is a mount point of another filesystem, which the scan does not enter")
        }
        _ => format!("{who} is not an ELF file"),
    }
}

fn run_why(args: WhyArgs) -> Result<(), Fail> {
    let (report, _image) = scan_root(&args.common, true)?;
    let target = args.library.as_bytes();
    let chains = graph::chains_to(&report, target);
    let color = color_for(args.common.color, io::stdout().is_terminal());
    emit(None, |w| {
        if chains.is_empty() {
            return writeln!(
                w,
                "no program in {} loads {}",
                args.common.root.display(),
                ByteStr::from(target)
            );
        }
        let mut last = None;
        for (pi, chain, total) in &chains {
            if last != Some(*pi) {
                let name = report.objects[*pi].path.display_escaped();
                let more = if *total > graph::MAX_CHAINS_PER_PROGRAM {
                    format!(
                        " ({total} chains, first {} shown)",
                        graph::MAX_CHAINS_PER_PROGRAM
                    )
                } else {
                    String::new()
                };
                if color {
                    writeln!(w, "\x1b[1m{name}\x1b[0m{more}")?;
                } else {
                    writeln!(w, "{name}{more}")?;
                }
                last = Some(*pi);
            }
            let hops: Vec<String> = chain.iter().map(|p| p.display_escaped()).collect();
            writeln!(w, "  {}", hops.join(" → "))?;
        }
        Ok(())
    })
}

fn run_packages(args: PackagesArgs) -> Result<(), Fail> {
    use elfdeps::packages;
    use elfdeps::pkgdb::{self, DbKind};
    let (report, _image) = scan_root(&args.common, true)?;
    let rootfs =
        elfdeps::rootfs::RootFs::open(&report.root).map_err(|e| input_error(e.to_string()))?;
    let kind = match args.db {
        DbArg::Auto => DbKind::Auto,
        DbArg::Apk => DbKind::Apk,
        DbArg::Dpkg => DbKind::Dpkg,
        DbArg::Rpm => DbKind::Rpm,
    };
    let db = pkgdb::detect(&rootfs, &report.tree, kind).ok_or_else(|| {
        input_error(format!(
            "{} has no package database (looked for lib/apk/db/installed, var/lib/dpkg/status and var/lib/rpm/rpmdb.sqlite)",
            args.common.root.display()
        ))
    })?;
    for w in &db.warnings {
        eprintln!(
            "elfdeps: warning: {} database: {}",
            db.kind,
            elfdeps::name::escape_controls(w)
        );
    }
    let mut targets: Vec<usize> = Vec::new();
    if let Some(p) = &args.for_pkg {
        let pi = db
            .packages
            .iter()
            .position(|x| x.name.as_bytes() == p.as_bytes())
            .ok_or_else(|| {
                input_error(format!(
                    "package {p} is not installed in {}",
                    args.common.root.display()
                ))
            })?;
        for (i, o) in report.objects.iter().enumerate() {
            if db.owner_index(o.path.as_bytes()) == Some(pi) {
                targets.push(i);
            }
        }
    }
    for p in &args.paths {
        let canonical = report
            .tree
            .resolve(p.as_bytes(), true)
            .map_err(|e| input_error(not_in_root(&report, p, &args.common.root, &e)))?;
        let i = report
            .objects
            .iter()
            .position(|o| o.path == canonical)
            .ok_or_else(|| input_error(not_an_object(&report, p, &canonical)))?;
        targets.push(i);
    }
    if args.paths.is_empty() && args.for_pkg.is_none() {
        // Every loadable object.
        targets = (0..report.objects.len())
            .filter(|&i| {
                report.objects[i].resolution.as_ref().is_some_and(|r| {
                    r.loader.is_some() || r.status == elfdeps::resolve::Status::Static
                })
            })
            .collect();
    }
    let mut index = Vec::new();
    for f in &args.apk_index {
        let (pkgs, warnings) = pkgdb::apkindex::read(f).map_err(|e| input_error(e.to_string()))?;
        for w in warnings {
            eprintln!("elfdeps: warning: {}: {w}", f.display());
        }
        index.extend(pkgs);
    }
    let mut set = packages::compute(&report, &db, &index, &targets);
    if args.unneeded {
        set.unneeded = Some(packages::unneeded(&report, &db, &set));
    }
    for p in &set.packages {
        if let Some(w) = &p.warning {
            eprintln!("elfdeps: note: {w}");
        }
    }
    emit(None, |w| {
        if args.unneeded && !matches!(args.format, PkgFormatArg::Json) {
            for u in set.unneeded.iter().flatten() {
                let c: Vec<String> = u.contents.iter().map(|(k, n)| format!("{k} {n}")).collect();
                writeln!(w, "{}\t{}", u.name.display_escaped(), c.join(", "))?;
            }
            return Ok(());
        }
        let names: Vec<String> = set
            .packages
            .iter()
            .map(|p| p.name.display_escaped())
            .collect();
        match args.format {
            PkgFormatArg::Lines => {
                for n in &names {
                    writeln!(w, "{n}")?;
                }
                Ok(())
            }
            PkgFormatArg::Apk => writeln!(w, "apk add --no-cache {}", names.join(" ")),
            PkgFormatArg::Apko => {
                writeln!(w, "contents:\n  packages:")?;
                for n in &names {
                    writeln!(w, "    - {n}")?;
                }
                Ok(())
            }
            PkgFormatArg::Json => {
                serde_json::to_writer_pretty(&mut *w, &set)?;
                w.write_all(b"\n")
            }
        }
    })?;
    for n in packages::gap_notes(&set) {
        eprintln!("elfdeps: {}", elfdeps::name::escape_controls(&n));
    }
    Ok(())
}
