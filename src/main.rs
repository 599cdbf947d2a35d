//! The `elfdeps` binary: parse the command line, run the library, map the outcome to an exit code.

mod cli;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, ColorArg, Command, FormatArg, ScanArgs};
use elfdeps::elf::Limits;
use elfdeps::progress::Progress;
use elfdeps::report::{self, Format, RenderOptions};
use elfdeps::scan::{self, ScanOptions};
use elfdeps::walk::WalkOptions;

/// Exit codes: 0 pass, 1 policy failure, 2 usage or input error.
const EXIT_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(args) => run_scan(args),
    }
}

fn run_scan(args: ScanArgs) -> ExitCode {
    let progress = if !args.quiet && io::stderr().is_terminal() {
        Progress::spinner("scanning")
    } else {
        Progress::hidden()
    };
    let opts = ScanOptions {
        jobs: args.jobs.map(usize::from),
        limits: Limits {
            max_read: args.max_read,
        },
        walk: WalkOptions {
            max_depth: args.max_depth,
        },
    };
    let result = scan::scan(&args.root, &opts, &progress);
    progress.finish();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("elfdeps: {e}");
            return ExitCode::from(EXIT_INPUT);
        }
    };
    let format = match args.format {
        FormatArg::Human => Format::Human,
        FormatArg::Json => Format::Json,
    };
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let render_opts = RenderOptions { color };
    let written = match &args.output {
        Some(path) => std::fs::File::create(path)
            .map_err(|e| (format!("cannot create output file {}", path.display()), e))
            .and_then(|f| {
                let mut w = io::BufWriter::new(f);
                report::render(&report, format, &render_opts, &mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| (format!("cannot write {}", path.display()), e))
            }),
        None => {
            let mut w = io::BufWriter::new(io::stdout().lock());
            report::render(&report, format, &render_opts, &mut w)
                .and_then(|()| w.flush())
                .map_err(|e| ("cannot write to standard output".to_string(), e))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`elfdeps scan / | head`) is the reader's choice, not an error.
        Err((_, e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err((what, e)) => {
            eprintln!("elfdeps: {what}: {e}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}
