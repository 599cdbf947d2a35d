//! The `elfdeps` binary: parse the command line, run the library, map the outcome to an exit code.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{
    CheckArgs, Cli, Command, DiffArgs, FormatArg, PackagesArgs, RootArgs, ScanArgs, TextFormatArg,
    TreeArgs, WhyArgs,
};
use elfdeps::check::{CheckOptions, policy};
use elfdeps::graph::DepGraph;
use elfdeps::pipeline;
use elfdeps::progress::Progress;
use elfdeps::report::packages::PackagesFormat;
use elfdeps::report::{
    self, CheckFormat, Format, Judged, RenderOptions, Report, cyclonedx, tree, why,
};

/// Exit codes: 0 pass, 1 policy failure (or, for tree, the file would not start), 2 usage or input
/// error.
const EXIT_INPUT: u8 = 2;
/// The policy failed; for tree, something the file needs is missing.
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
        Command::Diff(args) => run_diff(args),
        Command::Completions(args) => emit(None, |w| {
            cli::completions(args.shell, w);
            Ok(())
        }),
        Command::Man => emit(None, cli::man),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg, code)) => {
            // Empty: already said (a policy failure is in the report).
            if !msg.is_empty() {
                eprintln!("elfdeps: {msg}");
            }
            ExitCode::from(code)
        }
    }
}

/// The pipeline's configuration from the common flags (`resolve`: run the loader models).
fn config_of(common: &RootArgs, resolve: bool) -> Result<pipeline::Config, Fail> {
    if common.registry.clear_blob_cache
        && let Some(dir) = &common.registry.blob_cache
    {
        #[cfg(feature = "registry")]
        elfdeps::image::clear_blob_cache(dir).map_err(|e| Fail(e.to_string(), EXIT_INPUT))?;
        #[cfg(not(feature = "registry"))]
        let _ = dir;
    }
    common.config(resolve).map_err(|e| Fail(e, EXIT_INPUT))
}

/// Refuses `--add` for a command that walks ROOT (the walk of a combined root is not built yet):
/// silently judging ROOT without the added files would answer another question.
fn no_add(common: &RootArgs, command: &str) -> Result<(), Fail> {
    if common.add.is_empty() {
        return Ok(());
    }
    Err(Fail(
        format!(
            "--add is not available with `{command}` yet (it walks ROOT); use `elfdeps check ROOT \
             --add SRC:DEST` (the added files judged), `elfdeps tree ROOT --add SRC:DEST PATH` or \
             `elfdeps packages ROOT --add SRC:DEST PATH`"
        ),
        EXIT_INPUT,
    ))
}

/// Runs the pipeline (a progress line on a terminal), then says on stderr what may be wrong with
/// the report as a whole, whatever the format: a report on stdout or in a file must not hide it.
fn run(common: &RootArgs, config: &pipeline::Config) -> Result<Report, Fail> {
    let report = pipeline::run(config, &progress(common))?;
    for w in &report.warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
    Ok(report)
}

/// The progress line: on a terminal, unless `-q`.
fn progress(common: &RootArgs) -> Progress {
    if !common.quiet && io::stderr().is_terminal() {
        Progress::spinner("scanning")
    } else {
        Progress::hidden()
    }
}

/// Writes through `render` to FILE or standard output.
fn emit(
    output: Option<&std::path::Path>,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), Fail> {
    cli::emit(output, render).map_err(|e| Fail(e, EXIT_INPUT))
}

/// scan and check keep only the needs that failed of each session (what the checks read), not
/// every need of every session as tree and why do.
fn lean_edges(config: &mut pipeline::Config) {
    if let Some(r) = config.resolve.as_mut() {
        r.failed_edges_only = true;
    }
}

fn run_scan(args: ScanArgs) -> Result<(), Fail> {
    no_add(&args.common, "scan")?;
    let mut config = config_of(&args.common, !args.no_resolve)?;
    lean_edges(&mut config);
    if !args.no_resolve {
        let limits = config.scan.limits;
        config.checks = Some(CheckOptions {
            symbols: false,
            limits,
        });
    }
    let mut report = run(&args.common, &config)?;
    // scan has no policy, and its JSON no verdict; its SARIF and JUnit still say which findings
    // would fail a `check` with the default policy (errors). Judging marks them, adding nothing
    // to the report's own tables (no gate).
    if let Some(c) = report.checks.as_mut() {
        policy::Policy::default().judge(&mut c.findings);
    }
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: args.common.color.enabled(to_terminal),
    };
    let written = emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Human => report::render(&report, Format::Human, &opts, w),
        FormatArg::Json => report::render(&report, Format::Json, &opts, w),
        FormatArg::Dot => match report.resolved() {
            Some(root) => DepGraph::build(root).write_dot(root, w),
            None => Ok(()),
        },
        FormatArg::Cyclonedx => cyclonedx::render(&report, &bom_options(&args.common, false), w),
        f => {
            let title = format!("elfdeps scan {}", args.common.root.display());
            let format = CheckFormat::Findings(cli::findings_format(f));
            let judged = Judged::Root(&report);
            report::render_check(&judged, format, &title, &args.common.root, &opts, w)
        }
    });
    // The process ends next: the system takes back a root's worth of small allocations at
    // once, where dropping the report frees them one by one (1% of a scan of /usr). What has
    // to be undone on the way out, the unpacked image's temporary tree, is dropped first.
    drop(report.unpacked.take());
    std::mem::forget(report);
    written
}

/// What the CycloneDX BOM holds: hashes read within `--max-read`, the findings for `check`.
fn bom_options(common: &RootArgs, findings: bool) -> cyclonedx::BomOptions {
    cyclonedx::BomOptions {
        max_read: common.max_read,
        findings,
    }
}

fn run_check(args: CheckArgs) -> Result<(), Fail> {
    let input = |msg: String| Fail(msg, EXIT_INPUT);
    let format = match args.format {
        FormatArg::Dot => {
            let msg = "--format dot is for `elfdeps scan`; check writes human, json, sarif, junit or cyclonedx";
            return Err(input(msg.into()));
        }
        FormatArg::Human => CheckFormat::Human { all: args.all },
        FormatArg::Json => CheckFormat::Json,
        FormatArg::Cyclonedx if args.files => {
            let msg = "--format cyclonedx describes a root; --files judges build artifacts";
            return Err(input(msg.into()));
        }
        FormatArg::Cyclonedx => CheckFormat::Bom(bom_options(&args.common, true)),
        f => CheckFormat::Findings(cli::findings_format(f)),
    };
    if !args.files && !args.more.is_empty() {
        let more: Vec<String> = args.more.iter().map(|p| p.display().to_string()).collect();
        return Err(input(format!(
            "check takes one ROOT; to check build artifacts, use --files {} {}",
            args.common.root.display(),
            more.join(" ")
        )));
    }
    let policy = args.policy_spec().build()?;
    let mut config = config_of(&args.common, true)?;
    lean_edges(&mut config);
    let limits = config.scan.limits;
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: args.common.color.enabled(to_terminal),
    };
    // The findings come judged: by the pipeline (a root) or by check_files (artifacts).
    let write = |judged: &Judged<'_>, title: &str, root: &std::path::Path| {
        emit(args.output.as_deref(), |w| {
            report::render_check(judged, format, title, root, &opts, w)
        })
    };
    let passed = if args.files {
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
            eprintln!(
                "elfdeps: note: {}: {why}; skipped",
                e.path.display_escaped()
            );
        }
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let title = format!("elfdeps check --files {}", shown.join(" "));
        let here = std::path::Path::new(".");
        write(&Judged::Files(&o), &title, here)?;
        o.gate.passed
    } else {
        if let (Some(old), Some(new)) = (&args.rebase_from, &args.onto) {
            if !config.adds.is_empty() {
                return Err(input(
                    "--add and --rebase-from are two questions: ask one at a time".into(),
                ));
            }
            return run_check_rebase(&args, &config, &policy, old, new);
        }
        if !config.adds.is_empty() {
            return run_check_add(&args, &config, &policy);
        }
        config.checks = Some(CheckOptions {
            symbols: args.symbols,
            limits,
        });
        config.policy = Some(policy.clone());
        let report = run(&args.common, &config)?;
        let title = format!("elfdeps check {}", args.common.root.display());
        write(&Judged::Root(&report), &title, &args.common.root)?;
        pipeline::gate(&report).is_none_or(|g| g.passed)
    };
    if passed {
        Ok(())
    } else {
        Err(Fail(String::new(), EXIT_POLICY))
    }
}

/// `check ROOT --add SRC:DEST...`: the added files judged over ROOT (no walk of ROOT).
fn run_check_add(
    args: &CheckArgs,
    config: &pipeline::Config,
    policy: &policy::Policy,
) -> Result<(), Fail> {
    let refuse = |what: &str| {
        Fail(
            format!(
                "--format {what} is not available with --add: use human, json (the \
                 elfdeps-add/1 document), sarif or junit"
            ),
            EXIT_INPUT,
        )
    };
    match args.format {
        FormatArg::Human | FormatArg::Json | FormatArg::Sarif | FormatArg::Junit => {}
        FormatArg::Cyclonedx => return Err(refuse("cyclonedx")),
        FormatArg::Dot => return Err(refuse("dot")),
    }
    if args.symbols {
        return Err(Fail(
            "--symbols is not available with --add yet: drop it".into(),
            EXIT_INPUT,
        ));
    }
    let r = pipeline::check_add(config, policy)?;
    let mut title = format!("elfdeps check {}", args.common.root.display());
    for a in &args.common.add {
        title.push_str(&format!(" --add {a}"));
    }
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Json => report::rebase::render_json(&r, w),
        FormatArg::Sarif | FormatArg::Junit => report::rebase::render_add_findings(
            &r,
            cli::findings_format(args.format),
            &title,
            &args.common.root,
            w,
        ),
        _ => report::rebase::render_human(&r, w),
    })?;
    if r.gate.passed {
        Ok(())
    } else {
        Err(Fail(String::new(), EXIT_POLICY))
    }
}

/// `check APP --rebase-from OLD --onto NEW`: what of APP newly breaks over NEW.
fn run_check_rebase(
    args: &CheckArgs,
    config: &pipeline::Config,
    policy: &policy::Policy,
    old: &std::path::Path,
    new: &std::path::Path,
) -> Result<(), Fail> {
    if !matches!(args.format, FormatArg::Human | FormatArg::Json) || args.symbols {
        return Err(Fail(
            "--rebase-from writes --format human or json (the elfdeps-rebase/1 document), \
             without --symbols"
                .into(),
            EXIT_INPUT,
        ));
    }
    let r = pipeline::check_rebase(config, old, new, policy)?;
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Json => report::rebase::render_rebase_json(&r, w),
        _ => report::rebase::render_rebase_human(&r, w),
    })?;
    if r.gate.passed {
        Ok(())
    } else {
        Err(Fail(String::new(), EXIT_POLICY))
    }
}

fn run_diff(args: DiffArgs) -> Result<(), Fail> {
    no_add(&args.common, "diff")?;
    let config = config_of(&args.common, true)?;
    let (r, warnings) =
        pipeline::diff(&config, &args.b, &args.gated(), &|| progress(&args.common))?;
    for w in &warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
    emit(args.output.as_deref(), |w| match args.format {
        TextFormatArg::Json => report::diff::render_json(&r, w),
        TextFormatArg::Human => report::diff::render_human(&r, w),
    })?;
    if r.gate.passed {
        Ok(())
    } else {
        Err(Fail(String::new(), EXIT_POLICY))
    }
}

fn run_tree(args: TreeArgs) -> Result<(), Fail> {
    // One program: looked up where its loader looks, no walk (and so no progress line).
    let t = pipeline::tree_of(&config_of(&args.common, true)?, &args.path)?;
    for w in &t.warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
    let color = args.common.color.enabled(io::stdout().is_terminal());
    emit(None, |w| match args.format {
        TextFormatArg::Human if args.flat => tree::render_flat(&t.tree, color, w),
        TextFormatArg::Human => tree::render_human(&t.tree, color, w),
        TextFormatArg::Json => tree::render_json(&t.root_name, &t.tree, w),
    })?;
    // The file would not start: like a failed check, the answer is "no" (the report says why).
    if !t.tree.would_start() {
        return Err(Fail(String::new(), EXIT_POLICY));
    }
    Ok(())
}

fn run_why(args: WhyArgs) -> Result<(), Fail> {
    no_add(&args.common, "why")?;
    let report = run(&args.common, &config_of(&args.common, true)?)?;
    let mut chains = pipeline::why(&report, &args.library)?;
    if args.shortest {
        chains.keep_shortest();
    }
    let color = args.common.color.enabled(io::stdout().is_terminal());
    let shown = args.common.root.display().to_string();
    emit(None, |w| match args.format {
        TextFormatArg::Human => why::render_human(&chains, &shown, color, w),
        TextFormatArg::Json => why::render_json(&report.root_name(), &chains, w),
    })
}

fn run_packages(args: PackagesArgs) -> Result<(), Fail> {
    // Programs named by path are answered without a walk (pipeline::packages_run).
    let config = config_of(&args.common, true)?;
    let out = pipeline::packages_run(&config, &args.query(), &progress(&args.common))?;
    for w in &out.root_warnings {
        eprintln!("elfdeps: warning: {} ({})", w.message, w.code.as_str());
    }
    for w in out.warnings {
        eprintln!("elfdeps: warning: {w}");
    }
    let set = out.set;
    for p in &set.packages {
        if let Some(w) = &p.warning {
            eprintln!("elfdeps: note: {w}");
        }
    }
    let format = PackagesFormat::from(args.format);
    if let Some(why) = format.refusal(set.database) {
        return Err(Fail(why, EXIT_INPUT));
    }
    if format == PackagesFormat::Cyclonedx && args.unneeded {
        let msg = "--format cyclonedx describes the set; --unneeded lists other packages: use --format lines or json";
        return Err(Fail(msg.into(), EXIT_INPUT));
    }
    emit(None, |w| match format {
        PackagesFormat::Cyclonedx => cyclonedx::render_packages(&set, &out.about, w),
        _ => report::packages::render(&set, format, args.unneeded, w),
    })?;
    for n in elfdeps::packages::gap_notes(&set) {
        eprintln!("elfdeps: {}", elfdeps::name::escape_controls(&n));
    }
    Ok(())
}
