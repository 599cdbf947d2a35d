/*!
The `check ROOT --add SRC:DEST` report: each added ELF file's verdict in the combined root, the base
programs that newly break, the findings and the gate. JSON: schema `elfdeps-add/1` (docs/json.md).
*/

use std::io::{self, Write};

use crate::name::{ByteStr, escape_controls};
use crate::rebase::{AddReport, Change, REBASE_SCHEMA, RebaseReport, SCHEMA, Verdict};
use crate::resolve::{Status, VersionError};

/// Writes the report as the `elfdeps-add/1` JSON document.
pub fn render_json(r: &AddReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::write_document(SCHEMA, None, r, out)
}

/// A session's status in words (the human views of `check --add`, a rebase and `diff`).
pub(super) fn status(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Static => "static",
        Status::InterpMissing => "interpreter missing",
        Status::Error => "error",
    }
}

fn verdict_lines(v: &Verdict, out: &mut dyn Write) -> io::Result<()> {
    problem_lines(v, &v.missing, &v.version_errors, out)
}

/// What a change made worse, below its heading: the interpreter, the needs and versions that
/// are newly missing, and why the loader gives up (`diff` and the rebase views).
pub(super) fn change_lines(c: &Change, out: &mut dyn Write) -> io::Result<()> {
    problem_lines(&c.after, &c.new_missing, &c.new_version_errors, out)
}

/// `v`'s missing interpreter and fatal error, with `missing` and `versions` (all of `v`'s, or
/// only the new ones of a change).
fn problem_lines(
    v: &Verdict,
    missing: &[ByteStr],
    versions: &[VersionError],
    out: &mut dyn Write,
) -> io::Result<()> {
    if v.interpreter_missing
        && let Some(i) = &v.interpreter
    {
        writeln!(out, "    interpreter missing: {}", i.display_escaped())?;
    }
    for m in missing {
        writeln!(out, "    missing: {}", m.display_escaped())?;
    }
    for e in versions {
        writeln!(
            out,
            "    version {} not defined by {} (required by {})",
            e.version.display_escaped(),
            e.library.display_escaped(),
            e.required_by.display_escaped()
        )?;
    }
    if let Some(f) = &v.fatal {
        writeln!(out, "    loader gives up: {}", escape_controls(f))?;
    }
    Ok(())
}

/// Each newly broken object: its heading, then what is new.
fn newly_broken_lines(changes: &[Change], out: &mut dyn Write) -> io::Result<()> {
    for c in changes {
        writeln!(
            out,
            "  {}: newly {} (was {})",
            c.path.display_escaped(),
            status(c.after.status),
            status(c.before.status)
        )?;
        change_lines(c, out)?;
    }
    Ok(())
}

/// Writes the report for people.
pub fn render_human(r: &AddReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "added files laid over {}:", r.root.display_escaped())?;
    for o in &r.objects {
        let loader = o
            .verdict
            .loader
            .as_ref()
            .map(|l| format!(", loaded by {}", l.display_escaped()))
            .unwrap_or_default();
        writeln!(
            out,
            "  {}: {} ({}{loader}; {} objects loaded)",
            o.path.display_escaped(),
            status(o.verdict.status),
            o.libc.flavor.as_str(),
            o.verdict.closure.len()
        )?;
        verdict_lines(&o.verdict, out)?;
    }
    for e in &r.errors {
        writeln!(
            out,
            "  {}: cannot be read: {} ({})",
            e.path.display_escaped(),
            escape_controls(&e.message),
            e.code
        )?;
    }
    let s = &r.base_scope;
    if s.dirs.is_empty() {
        writeln!(
            out,
            "base programs: none compared (no added file replaces a base file or lands in a \
             directory the base's loaders search)"
        )?;
    } else {
        let dirs: Vec<String> = s.dirs.iter().map(|d| d.display_escaped()).collect();
        writeln!(
            out,
            "base programs: {} compared in {} ({} added entries can change what they load)",
            s.compared,
            dirs.join(" "),
            s.triggers.len()
        )?;
        newly_broken_lines(&r.newly_broken, out)?;
    }
    for f in &r.findings {
        let mark = if f.violation { "FAIL" } else { "    " };
        writeln!(
            out,
            "{mark} {} {} {}: {}",
            f.severity,
            f.code,
            f.path.display_escaped(),
            escape_controls(&f.message)
        )?;
    }
    writeln!(
        out,
        "gate: {} ({} violations, {} suppressed)",
        if r.gate.passed { "passed" } else { "failed" },
        r.gate.violations,
        r.gate.suppressed
    )
}

/// Writes the rebase report as the `elfdeps-rebase/1` JSON document.
pub fn render_rebase_json(r: &RebaseReport, out: &mut dyn Write) -> io::Result<()> {
    super::json::write_document(REBASE_SCHEMA, None, r, out)
}

/// Writes the rebase report for people.
pub fn render_rebase_human(r: &RebaseReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}: its {} own layers laid over {} instead of {}:",
        r.image, r.app_layers, r.onto, r.rebase_from
    )?;
    for o in &r.objects {
        writeln!(
            out,
            "  {}: {} ({})",
            o.path.display_escaped(),
            status(o.verdict.status),
            o.libc.flavor.as_str()
        )?;
    }
    if r.newly_broken.is_empty() {
        writeln!(out, "nothing breaks that did not break before")?;
    }
    newly_broken_lines(&r.newly_broken, out)?;
    for e in &r.errors {
        writeln!(
            out,
            "  {}: cannot be read: {} ({})",
            e.path.display_escaped(),
            escape_controls(&e.message),
            e.code
        )?;
    }
    writeln!(
        out,
        "gate: {} ({} violations, {} suppressed)",
        if r.gate.passed { "passed" } else { "failed" },
        r.gate.violations,
        r.gate.suppressed
    )
}

/// Writes the findings of `check --add` as SARIF or JUnit (one test case per added object and per
/// newly broken base program), as `check` writes a root's.
pub fn render_add_findings(
    r: &AddReport,
    format: super::FindingsFormat,
    title: &str,
    root: &std::path::Path,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut subjects: Vec<String> = r.objects.iter().map(|o| o.path.escaped()).collect();
    subjects.extend(r.newly_broken.iter().map(|c| c.path.escaped()));
    super::render_findings(format, root, title.to_string(), subjects, &r.findings, out)
}
