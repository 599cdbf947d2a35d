//! The `elfdeps` binary: parse the command line, run the library, map the outcome to an exit code.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{
    CheckArgs, Cli, ColorArg, Command, DbArg, FormatArg, PackagesArgs, PkgFormatArg, RootArgs,
    ScanArgs, TextFormatArg, TreeArgs, WhyArgs,
};
use elfdeps::check::{CheckOptions, policy};
use elfdeps::elf::Limits;
use elfdeps::graph::DepGraph;
use elfdeps::pipeline::{self, PackagesQuery, PolicySpec};
use elfdeps::pkgdb::DbKind;
use elfdeps::progress::Progress;
use elfdeps::report::packages::PackagesFormat;
use elfdeps::report::{self, FindingsFormat, Format, RenderOptions, Report, tree, why};
use elfdeps::resolve::ResolveOptions;
use elfdeps::resolve::cpu::CpuProfile;
use elfdeps::scan::ScanOptions;
use elfdeps::walk::WalkOptions;

/// Exit codes: 0 pass, 1 policy failure, 2 usage or input error.
const EXIT_INPUT: u8 = 2;
/// The policy failed.
const EXIT_POLICY: u8 = 1;

/// A failure the user must act on: message (empty: already said) and exit code.
struct Fail(String, u8);

impl From<pipeline::Error> for Fail {
    fn from(e: pipeline::Error) -> Fail {
        Fail(e.to_string(), EXIT_INPUT)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // An image is unpacked into a private directory; an interrupt must not leave it behind.
    elfdeps::image::install_interrupt_cleanup();
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

/// The pipeline's configuration from the common flags (`resolve`: run the loader models).
fn config_of(common: &RootArgs, resolve: bool) -> Result<pipeline::Config, Fail> {
    let cpu = CpuProfile::named(&common.cpu).map_err(|e| Fail(e.to_string(), EXIT_INPUT))?;
    let limits = Limits {
        max_read: common.max_read,
        file_timeout: Some(common.file_timeout).filter(|t| !t.is_zero()),
        max_memory: Some(common.max_memory).filter(|&m| m > 0),
    };
    Ok(pipeline::Config {
        root: common.root.clone(),
        platform: common.platform.clone(),
        max_layer_size: common.max_layer_size,
        max_image_size: common.max_image_size,
        jobs: common.jobs.map(usize::from),
        scan: ScanOptions {
            limits,
            walk: WalkOptions {
                max_depth: common.max_depth,
            },
        },
        resolve: resolve.then(|| ResolveOptions {
            cpu,
            hwcaps: (!common.hwcaps.is_empty())
                .then(|| common.hwcaps.iter().map(|h| h.as_str().into()).collect()),
        }),
        checks: None,
        policy: None,
    })
}

/// Runs the pipeline (a progress line on a terminal), then says on stderr what may be wrong with
/// the report as a whole, whatever the format: a report on stdout or in a file must not hide it.
fn run(common: &RootArgs, config: &pipeline::Config) -> Result<Report, Fail> {
    let progress = if !common.quiet && io::stderr().is_terminal() {
        Progress::spinner("scanning")
    } else {
        Progress::hidden()
    };
    let report = pipeline::run(config, &progress)?;
    for w in &report.warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
    Ok(report)
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

fn findings_format(f: FormatArg) -> FindingsFormat {
    match f {
        FormatArg::Sarif => FindingsFormat::Sarif,
        _ => FindingsFormat::Junit,
    }
}

fn run_scan(args: ScanArgs) -> Result<(), Fail> {
    let mut config = config_of(&args.common, !args.no_resolve)?;
    if !args.no_resolve {
        let limits = config.scan.limits;
        config.checks = Some(CheckOptions {
            symbols: false,
            limits,
        });
    }
    let report = run(&args.common, &config)?;
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: color_for(args.common.color, to_terminal),
    };
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Human => report::render(&report, Format::Human, &opts, w),
        FormatArg::Json => report::render(&report, Format::Json, &opts, w),
        FormatArg::Dot => match report.resolved() {
            Some(root) => DepGraph::build(root).write_dot(root, w),
            None => Ok(()),
        },
        FormatArg::Sarif | FormatArg::Junit => {
            let findings = report.checks.as_ref().map_or(&[][..], |c| &c.findings);
            let policy = policy::Policy::default();
            let violations: Vec<bool> =
                findings.iter().map(|f| policy::is_violation(f, &policy)).collect();
            let subjects = report.inventory.objects.iter().map(|o| o.path.escaped());
            let name = format!("elfdeps scan {}", args.common.root.display());
            let root = &args.common.root;
            let format = findings_format(args.format);
            report::render_findings(format, root, name, subjects.collect(), findings, &violations, w)
        }
    })
}

fn run_check(args: CheckArgs) -> Result<(), Fail> {
    let input = |msg: String| Fail(msg, EXIT_INPUT);
    if matches!(args.format, FormatArg::Dot) {
        let msg = "--format dot is for `elfdeps scan`; check writes human, json, sarif or junit";
        return Err(input(msg.into()));
    }
    if !args.files && !args.more.is_empty() {
        let more: Vec<String> = args.more.iter().map(|p| p.display().to_string()).collect();
        return Err(input(format!(
            "check takes one ROOT; to check build artifacts, use --files {} {}",
            args.common.root.display(),
            more.join(" ")
        )));
    }
    let policy = PolicySpec {
        file: args.policy.clone(),
        deny_libc: args.deny_libc.clone(),
        max_glibc: args.max_glibc.clone(),
        deny: args.deny.clone(),
        fail_on: args.fail_on.clone(),
        allow: args.allow.clone(),
        ignore: args.ignore.clone(),
        baseline: args.baseline.clone(),
    }
    .build()?;
    let mut config = config_of(&args.common, true)?;
    let limits = config.scan.limits;
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: color_for(args.common.color, to_terminal),
    };
    let violations = |fs: &[elfdeps::check::Finding]| -> Vec<bool> {
        fs.iter().map(|f| policy::is_violation(f, &policy)).collect()
    };
    let (passed, rendered) = if args.files {
        if let Some(p) = &args.common.platform {
            return Err(input(format!(
                "--platform {p}: --files judges build artifacts, not an image; --platform \
                 chooses among the images of an OCI layout or image archive: drop it"
            )));
        }
        let mut paths = vec![args.common.root.clone()];
        paths.extend(args.more.iter().cloned());
        let o = pipeline::check_files(&paths, &policy, &limits)?;
        for e in &o.skipped {
            let why = elfdeps::name::escape_controls(&e.message);
            eprintln!("elfdeps: note: {}: {why}; skipped", e.path.display_escaped());
        }
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let title = format!("elfdeps check --files {}", shown.join(" "));
        let v = violations(&o.findings);
        let rendered = emit(args.output.as_deref(), |w| match args.format {
            FormatArg::Json => report::render_files_json(&o, w),
            FormatArg::Sarif | FormatArg::Junit => {
                let subjects = o.artifacts.iter().map(|a| a.path.escaped()).collect();
                let (format, here) = (findings_format(args.format), std::path::Path::new("."));
                report::render_findings(format, here, title.clone(), subjects, &o.findings, &v, w)
            }
            _ => {
                let view = report::human::CheckView {
                    title: title.clone(),
                    libcs: &[],
                    artifacts: &o.artifacts,
                    findings: &o.findings,
                    violations: &v,
                    gate: Some(&o.gate),
                    errors: &o.errors,
                    all: args.all,
                };
                report::human::render_check(&view, &opts, w)
            }
        });
        (o.gate.passed, rendered)
    } else {
        let checks = CheckOptions {
            symbols: args.symbols,
            limits,
        };
        config.checks = Some(checks);
        config.policy = Some(policy.clone());
        let report = run(&args.common, &config)?;
        let gate = pipeline::gate(&report).cloned().unwrap_or_default();
        let findings = report.checks.as_ref().map_or(&[][..], |c| &c.findings);
        let libcs = report.checks.as_ref().map_or(&[][..], |c| &c.libcs);
        let v = violations(findings);
        let title = format!("elfdeps check {}", args.common.root.display());
        let rendered = emit(args.output.as_deref(), |w| match args.format {
            FormatArg::Json => report::render(&report, Format::Json, &opts, w),
            FormatArg::Sarif | FormatArg::Junit => {
                let subjects = report.inventory.objects.iter().map(|o| o.path.escaped());
                let (format, root) = (findings_format(args.format), &args.common.root);
                report::render_findings(format, root, title.clone(), subjects.collect(), findings, &v, w)
            }
            _ => {
                let view = report::human::CheckView {
                    title: title.clone(),
                    libcs,
                    artifacts: &[],
                    findings,
                    violations: &v,
                    gate: Some(&gate),
                    errors: &report.errors,
                    all: args.all,
                };
                report::human::render_check(&view, &opts, w)
            }
        });
        (gate.passed, rendered)
    };
    rendered?;
    if passed { Ok(()) } else { Err(Fail(String::new(), EXIT_POLICY)) }
}

fn run_tree(args: TreeArgs) -> Result<(), Fail> {
    let report = run(&args.common, &config_of(&args.common, true)?)?;
    let i = pipeline::find_object(&report, &args.path, &args.common.root)?;
    let root = report.resolved().ok_or_else(|| Fail("no resolution".into(), EXIT_INPUT))?;
    let t = tree::TreeReport::build(root, i);
    let color = color_for(args.common.color, io::stdout().is_terminal());
    emit(None, |w| match args.format {
        TextFormatArg::Human => tree::render_human(&t, color, w),
        TextFormatArg::Json => tree::render_json(&report.root_name(), &t, w),
    })
}

fn run_why(args: WhyArgs) -> Result<(), Fail> {
    let report = run(&args.common, &config_of(&args.common, true)?)?;
    let root = report.resolved().ok_or_else(|| Fail("no resolution".into(), EXIT_INPUT))?;
    let chains = why::WhyReport::build(root, args.library.as_bytes());
    let color = color_for(args.common.color, io::stdout().is_terminal());
    let shown = args.common.root.display().to_string();
    emit(None, |w| match args.format {
        TextFormatArg::Human => why::render_human(&chains, &shown, color, w),
        TextFormatArg::Json => why::render_json(&report.root_name(), &chains, w),
    })
}

fn run_packages(args: PackagesArgs) -> Result<(), Fail> {
    let report = run(&args.common, &config_of(&args.common, true)?)?;
    let query = PackagesQuery {
        db: match args.db {
            DbArg::Auto => DbKind::Auto,
            DbArg::Apk => DbKind::Apk,
            DbArg::Dpkg => DbKind::Dpkg,
            DbArg::Rpm => DbKind::Rpm,
        },
        for_pkg: args.for_pkg.clone(),
        paths: args.paths.clone(),
        apk_index: args.apk_index.clone(),
        unneeded: args.unneeded,
    };
    let (set, warnings) = pipeline::packages(&report, &query, &args.common.root)?;
    for w in warnings {
        eprintln!("elfdeps: warning: {w}");
    }
    for p in &set.packages {
        if let Some(w) = &p.warning {
            eprintln!("elfdeps: note: {w}");
        }
    }
    let format = match args.format {
        PkgFormatArg::Lines => PackagesFormat::Lines,
        PkgFormatArg::Apk => PackagesFormat::Apk,
        PkgFormatArg::Apko => PackagesFormat::Apko,
        PkgFormatArg::Json => PackagesFormat::Json,
    };
    emit(None, |w| report::packages::render(&set, format, args.unneeded, w))?;
    for n in elfdeps::packages::gap_notes(&set) {
        eprintln!("elfdeps: {}", elfdeps::name::escape_controls(&n));
    }
    Ok(())
}
