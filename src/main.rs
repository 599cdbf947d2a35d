//! The `elfdeps` binary: parse the command line, run the library, map the outcome to an exit code.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, ColorArg, Command, FormatArg, RootArgs, ScanArgs, TreeArgs, WhyArgs};
use elfdeps::elf::Limits;
use elfdeps::graph::{self, DepGraph};
use elfdeps::name::ByteStr;
use elfdeps::progress::Progress;
use elfdeps::report::{self, Format, RenderOptions};
use elfdeps::resolve::ResolveOptions;
use elfdeps::scan::{self, ScanOptions, ScanReport};
use elfdeps::walk::WalkOptions;

/// Exit codes: 0 pass, 1 policy failure, 2 usage or input error.
const EXIT_INPUT: u8 = 2;

/// A failure the user must act on: message and exit code.
struct Fail(String, u8);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Tree(args) => run_tree(args),
        Command::Why(args) => run_why(args),
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

fn scan_root(common: &RootArgs, resolve: bool) -> Result<ScanReport, Fail> {
    let progress = if !common.quiet && io::stderr().is_terminal() {
        Progress::spinner("scanning")
    } else {
        Progress::hidden()
    };
    let opts = ScanOptions {
        jobs: common.jobs.map(usize::from),
        limits: Limits {
            max_read: common.max_read,
            file_timeout: Some(common.file_timeout).filter(|t| !t.is_zero()),
            max_memory: Some(common.max_memory).filter(|&m| m > 0),
        },
        walk: WalkOptions {
            max_depth: common.max_depth,
        },
        resolve: resolve.then(|| ResolveOptions {
            hwcaps: common.hwcaps.iter().map(|h| h.as_str().into()).collect(),
        }),
    };
    let result = scan::scan(&common.root, &opts, &progress);
    progress.finish();
    result.map_err(|e| Fail(e.to_string(), EXIT_INPUT))
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

fn run_scan(args: ScanArgs) -> Result<(), Fail> {
    let report = scan_root(&args.common, !args.no_resolve)?;
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let opts = RenderOptions {
        color: color_for(args.common.color, to_terminal),
    };
    emit(args.output.as_deref(), |w| match args.format {
        FormatArg::Human => report::render(&report, Format::Human, &opts, w),
        FormatArg::Json => report::render(&report, Format::Json, &opts, w),
        FormatArg::Dot => DepGraph::build(&report).write_dot(&report, w),
    })
}

fn run_tree(args: TreeArgs) -> Result<(), Fail> {
    let report = scan_root(&args.common, true)?;
    let wanted = args.path.as_bytes();
    let canonical = report.tree.resolve(wanted, true).map_err(|e| {
        Fail(
            format!(
                "{} does not exist inside {} ({})",
                args.path,
                args.common.root.display(),
                e.message
            ),
            EXIT_INPUT,
        )
    })?;
    let Some(object) = report.objects.iter().find(|o| o.path == canonical) else {
        let why = report
            .errors
            .iter()
            .find(|e| e.path == canonical)
            .map(|e| format!(": {} ({})", e.message, e.code))
            .unwrap_or_else(|| ": not an ELF file".to_string());
        return Err(Fail(
            format!("{} ({}){why}", args.path, canonical),
            EXIT_INPUT,
        ));
    };
    let color = color_for(args.common.color, io::stdout().is_terminal());
    emit(None, |w| graph::write_tree(object, w, color))
}

fn run_why(args: WhyArgs) -> Result<(), Fail> {
    let report = scan_root(&args.common, true)?;
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
