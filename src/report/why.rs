/*!
The `why` report: every chain of loads from a program to a library, from each program's own
session (RPATH inheritance means a library can resolve differently inside a program than alone).
A program that loads the library only at run time (an NSS module, a Python extension module) has
chains through the run-time edges, each such link marked with its rule and detail.
*/

use std::io::{self, Write};

use serde::Serialize;

use crate::graph::{self, Hop, MAX_CHAINS_PER_PROGRAM};
use crate::name::{ByteStr, escape_controls};
use crate::resolve::Resolved;
use crate::runtime::edges::EdgeLoads;

/// The schema identifier of the why document.
pub const SCHEMA: &str = "elfdeps-why/1";

/// The chains of one program.
#[derive(Clone, Debug, Serialize)]
pub struct Program {
    /// The program.
    pub program: ByteStr,
    /// How many chains lead to the library in its session.
    pub total_chains: usize,
    /// The first [`MAX_CHAINS_PER_PROGRAM`], shortest first: canonical paths from the program to
    /// the library (the last entry is the library, or the needed name when it was not found),
    /// each hop a run-time edge made marked with it.
    pub chains: Vec<Vec<Hop>>,
}

/// Why `library` is loaded: by which programs, through which chains.
#[derive(Clone, Debug, Serialize)]
pub struct WhyReport {
    /// The library asked about: a path in the root, a needed name or a soname.
    pub library: ByteStr,
    /// The programs that load it, in path order.
    pub programs: Vec<Program>,
}

impl WhyReport {
    /// The chains to `library` in every program of `root`; `runtime` is each object's run-time
    /// edges (aligned with the objects), when they are known.
    pub fn build(
        root: Resolved<'_>,
        runtime: Option<&[Vec<EdgeLoads>]>,
        library: &[u8],
    ) -> WhyReport {
        let mut programs: Vec<Program> = Vec::new();
        for (pi, chain, total) in graph::chains_to(root, runtime, library) {
            let path = &root.objects[pi].path;
            match programs.last_mut() {
                Some(p) if p.program == *path => p.chains.push(chain),
                _ => programs.push(Program {
                    program: path.clone(),
                    total_chains: total,
                    chains: vec![chain],
                }),
            }
        }
        WhyReport {
            library: ByteStr::from(library),
            programs,
        }
    }
}

impl WhyReport {
    /// Keeps only the shortest chain of each program (chains come shortest first, equally short
    /// ones in path order). `total_chains` still counts them all.
    pub fn keep_shortest(&mut self) {
        for p in &mut self.programs {
            p.chains.truncate(1);
        }
    }
}

/// Writes the chains for people; `root` names the root in the answer when nothing loads it.
pub fn render_human(w: &WhyReport, root: &str, color: bool, out: &mut dyn Write) -> io::Result<()> {
    if w.programs.is_empty() {
        return writeln!(out, "no program in {root} loads {}", w.library);
    }
    for p in &w.programs {
        let name = p.program.display_escaped();
        // One chain listed of several: `--shortest` chose it.
        let more = if p.chains.len() == 1 && p.total_chains > 1 {
            format!(" (shortest of {} chains)", p.total_chains)
        } else if p.total_chains > MAX_CHAINS_PER_PROGRAM {
            format!(
                " ({} chains, first {MAX_CHAINS_PER_PROGRAM} shown)",
                p.total_chains
            )
        } else {
            String::new()
        };
        if color {
            writeln!(out, "\x1b[1m{name}\x1b[0m{more}")?;
        } else {
            writeln!(out, "{name}{more}")?;
        }
        for chain in &p.chains {
            writeln!(out, "  {}", chain_line(chain))?;
        }
    }
    Ok(())
}

/// One chain on one line: `a → b` where the loader loads b, `a => (run time: RULE DETAIL) b`
/// where a run-time edge of a does.
fn chain_line(chain: &[Hop]) -> String {
    let mut line = String::new();
    for (i, hop) in chain.iter().enumerate() {
        match (&hop.runtime, i) {
            (_, 0) => {}
            (None, _) => line.push_str(" → "),
            (Some(via), _) => line.push_str(&format!(
                " => (run time: {} {}) ",
                via.rule,
                escape_controls(&via.detail)
            )),
        }
        line.push_str(&hop.path.display_escaped());
    }
    line
}

/// Writes the chains as the `elfdeps-why/1` JSON document.
pub fn render_json(root: &ByteStr, w: &WhyReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::write_document(SCHEMA, Some(root), w, out)
}
