//! The human summary: what was walked, what ELF objects were found, what could not be read.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::RenderOptions;
use super::Report;
use crate::name::{ByteStr, escape_controls, thousands};

/// Errors listed in full before the rest are only counted.
const MAX_LISTED_ERRORS: usize = 50;
/// Package-database warnings listed before the rest are only counted.
const MAX_LISTED_WARNINGS: usize = 10;

/// Width of the label column (`walked`, `findings`, ...).
const LABEL_WIDTH: usize = 9;

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    /// A bold label padded to the label column. The padding goes inside the color codes: padding
    /// a colored string counts the escape bytes as width, so the column would collapse.
    fn label(&self, t: &str) -> String {
        self.bold(&format!("{t:<LABEL_WIDTH$}"))
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn red(&self, t: &str) -> String {
        self.wrap("31", t)
    }
    fn green(&self, t: &str) -> String {
        self.wrap("32", t)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Counts by key, largest first (ties by name).
fn tally<'a>(items: impl Iterator<Item = String> + 'a) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for k in items {
        *m.entry(k).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn inline(counts: &[(String, u64)]) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Writes the summary.
pub fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let p = Paint { on: opts.color };
    let s = &report.summary;
    match &report.image {
        Some(i) => {
            writeln!(out, "{} {}", p.bold("elfdeps scan"), i.reference)?;
            if i.config.is_empty() {
                // A root filesystem tarball: one layer, no manifest, no config.
                writeln!(
                    out,
                    "  {} root filesystem tarball · {}",
                    p.label("image"),
                    i.layers.first().map_or("", String::as_str)
                )?;
            } else {
                writeln!(
                    out,
                    "  {} {} layer{} · manifest {} · config {}",
                    p.label("image"),
                    i.layers.len(),
                    if i.layers.len() == 1 { "" } else { "s" },
                    i.manifest.as_deref().unwrap_or("none (docker-archive)"),
                    i.config
                )?;
            }
            if i.applied.special_skipped > 0 {
                writeln!(
                    out,
                    "            {} device nodes or FIFOs in the layers were not created",
                    i.applied.special_skipped
                )?;
            }
            for n in &i.applied.notes {
                writeln!(out, "            {n}")?;
            }
        }
        None => writeln!(
            out,
            "{} {}",
            p.bold("elfdeps scan"),
            report.inventory.root.display()
        )?,
    }
    let mut walked = vec![
        plural(s.files, "file", "files"),
        plural(s.directories, "directory", "directories"),
        plural(s.symlinks, "symlink", "symlinks"),
    ];
    if s.special > 0 {
        walked.push(format!(
            "{} (not opened)",
            plural(s.special, "special file", "special files")
        ));
    }
    writeln!(out, "  {} {}", p.label("walked"), walked.join(" · "))?;
    if let Some(env) = report.loader_env.as_ref().filter(|e| !e.is_unset()) {
        writeln!(out, "  {} {}", p.label("env"), env.describe())?;
    }
    writeln!(
        out,
        "  {} {}",
        p.label("ELF"),
        p.green(&plural(s.elf, "object", "objects"))
    )?;
    if !report.inventory.objects.is_empty() {
        let kinds = tally(
            report
                .inventory
                .objects
                .iter()
                .map(|o| o.facts.kind.as_str().to_string()),
        );
        let classes = tally(
            report
                .inventory
                .objects
                .iter()
                .map(|o| o.facts.class.as_str().to_string()),
        );
        let machines = tally(
            report
                .inventory
                .objects
                .iter()
                .map(|o| o.facts.machine.to_string()),
        );
        writeln!(out, "    {:<9} {}", "kind", inline(&kinds))?;
        writeln!(out, "    {:<9} {}", "class", inline(&classes))?;
        writeln!(out, "    {:<9} {}", "machine", inline(&machines))?;
        let interps = tally(
            report
                .inventory
                .objects
                .iter()
                .filter_map(|o| o.facts.interp.as_ref())
                .map(|i| i.display_escaped()),
        );
        let width = interps
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (i, (interp, n)) in interps.iter().enumerate() {
            let label = if i == 0 { "interp" } else { "" };
            writeln!(out, "    {label:<9} {interp:<width$}  {:>7}", thousands(*n))?;
        }
    }
    render_resolution(report, &p, out)?;
    if let Some(db) = report.ownership.as_ref().map(|o| &o.summary) {
        writeln!(
            out,
            "  {} {} database · {} installed · {} ELF object{} owned by no package",
            p.label("packages"),
            db.database,
            thousands(db.installed as u64),
            thousands(db.unowned_elf as u64),
            if db.unowned_elf == 1 { "" } else { "s" }
        )?;
        // A database that could not be read, or records that were skipped, change every owner
        // shown: say so here, not only in the JSON.
        for w in db.warnings.iter().take(MAX_LISTED_WARNINGS) {
            writeln!(out, "    {} {}", p.red("warning"), escape_controls(w))?;
        }
        if db.warnings.len() > MAX_LISTED_WARNINGS {
            writeln!(
                out,
                "    {}",
                p.dim(&format!(
                    "... and {} more warnings (--format json lists them)",
                    db.warnings.len() - MAX_LISTED_WARNINGS
                ))
            )?;
        }
    }
    if let Some(c) = &report.checks {
        use crate::check::Severity;
        let n = |sev: Severity| c.findings.iter().filter(|f| f.severity == sev).count() as u64;
        writeln!(
            out,
            "  {} {} · {} · {}  {}",
            p.label("findings"),
            plural(n(Severity::Error), "error", "errors"),
            plural(n(Severity::Warning), "warning", "warnings"),
            plural(n(Severity::Info), "info", "info"),
            p.dim("(elfdeps check ROOT explains each)")
        )?;
    }
    if !report.inventory.other_filesystems.is_empty() {
        let list: Vec<String> = report
            .inventory
            .other_filesystems
            .iter()
            .map(|m| m.display_escaped())
            .collect();
        writeln!(
            out,
            "  {} {}: {}",
            p.label("skipped"),
            plural(
                list.len() as u64,
                "mount point inside the root",
                "mount points inside the root"
            ),
            list.join(", ")
        )?;
    }
    if report.inventory.summary.excluded > 0 {
        writeln!(
            out,
            "  {} {} {}",
            p.label("excluded"),
            plural(report.inventory.summary.excluded, "path", "paths"),
            p.dim("(--exclude: not walked)")
        )?;
    }
    if report.errors.is_empty() {
        writeln!(out, "  {} {}", p.label("errors"), p.dim("none"))?;
        return Ok(());
    }
    writeln!(
        out,
        "  {} {}",
        p.label("errors"),
        p.red(&format!(
            "{} could not be read or parsed; the rest of the scan is complete",
            plural(s.errors, "file", "files")
        ))
    )?;
    let code_width = report
        .errors
        .iter()
        .map(|e| e.code.as_str().len())
        .max()
        .unwrap_or(0);
    for e in report.errors.iter().take(MAX_LISTED_ERRORS) {
        writeln!(
            out,
            "    {}  {}: {}",
            p.red(&format!("{:<code_width$}", e.code.as_str())),
            e.path.display_escaped(),
            escape_controls(&e.message)
        )?;
    }
    if report.errors.len() > MAX_LISTED_ERRORS {
        writeln!(
            out,
            "    {}",
            p.dim(&format!(
                "... and {} more (--format json lists every one)",
                thousands((report.errors.len() - MAX_LISTED_ERRORS) as u64)
            ))
        )?;
    }
    Ok(())
}

/// Problems listed per kind before the rest are only counted.
const MAX_LISTED_PROBLEMS: usize = 30;

/// Status counts, then the objects whose loading would fail and why.
fn render_resolution(report: &Report, p: &Paint, out: &mut dyn Write) -> io::Result<()> {
    let Some(root) = report.resolved() else {
        return Ok(());
    };
    let resolved: Vec<_> = root.objects.iter().zip(root.resolutions).collect();
    if resolved.is_empty() {
        return Ok(());
    }
    let statuses = tally(resolved.iter().map(|(_, r)| {
        serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }));
    writeln!(out, "  {} {}", p.label("loading"), inline(&statuses))?;
    let mut problems = Vec::new();
    for (o, r) in &resolved {
        let mut why = Vec::new();
        if r.status == crate::resolve::Status::InterpMissing {
            why.push(match &o.facts.interp {
                Some(interp) => format!(
                    "cannot start: {}",
                    super::tree::missing_interp(interp, &report.inventory.tree)
                ),
                None => format!(
                    "cannot start: the root has no dynamic loader for {} {} objects",
                    o.facts.machine,
                    o.facts.class.as_str()
                ),
            });
        }
        if let Some(f) = &r.fatal {
            why.push(format!("loader gives up: {f}"));
        } else if !r.missing.is_empty() {
            let names: Vec<String> = r.missing.iter().map(|m| m.display_escaped()).collect();
            why.push(format!("not found: {}", names.join(", ")));
        }
        for v in &r.version_errors {
            why.push(format!(
                "version {} not found in {} (required by {})",
                v.version.display_escaped(),
                v.library.display_escaped(),
                v.required_by.display_escaped()
            ));
        }
        if !why.is_empty() {
            problems.push((o.path.display_escaped(), why.join("; ")));
        }
    }
    for (path, why) in problems.iter().take(MAX_LISTED_PROBLEMS) {
        writeln!(out, "    {}  {}", p.red(path), why)?;
    }
    if problems.len() > MAX_LISTED_PROBLEMS {
        writeln!(
            out,
            "    {}",
            p.dim(&format!(
                "... and {} more (--format json has every object's closure, missing and deps)",
                problems.len() - MAX_LISTED_PROBLEMS
            ))
        )?;
    }
    Ok(())
}

/// Findings, the root's libcs (or the artifacts of `check --files`) and the policy's verdict.
pub struct CheckView<'a> {
    /// First line.
    pub title: String,
    /// The root's libcs (root mode).
    pub libcs: &'a [crate::check::RootLibc],
    /// The artifacts (files mode).
    pub artifacts: &'a [crate::check::Artifact],
    /// The findings (`violation` says which fail the gate).
    pub findings: &'a [crate::check::Finding],
    /// The verdict.
    pub gate: Option<&'a crate::check::policy::Gate>,
    /// Per-file errors (files that could not be read).
    pub errors: &'a [crate::error::PathError],
    /// List every finding; otherwise findings are grouped by code and directory.
    pub all: bool,
    /// The loader environment the objects were resolved with, when one was set (root mode).
    pub loader_env: Option<&'a crate::resolve::runenv::LoaderEnv>,
}

/// One line of findings in the grouped view: every finding with the same severity, code,
/// directory and verdict (counted or accepted).
struct FindingGroup {
    /// The first finding of the group (index into the findings), shown as its example.
    first: usize,
    count: usize,
    dir: Vec<u8>,
}

/// The directory part of a path (`/usr/bin/ls` → `/usr/bin`, `/ls` → `/`, `ls` → `.`).
fn parent_dir(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b".",
    }
}

/// Groups the findings, most severe first, then by code and directory. The verdict is part of the key so that an accepted finding never stands as
/// the example of ones that fail the gate.
fn group_findings(findings: &[crate::check::Finding]) -> Vec<FindingGroup> {
    type Key<'a> = (
        std::cmp::Reverse<crate::check::Severity>,
        &'a str,
        &'a [u8],
        bool,
    );
    let mut groups: BTreeMap<Key<'_>, FindingGroup> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        let accepted = !f.violation && f.suppressed.is_some();
        let dir = parent_dir(f.path.as_bytes());
        groups
            .entry((
                std::cmp::Reverse(f.severity),
                f.code.as_str(),
                dir,
                accepted,
            ))
            .and_modify(|g| g.count += 1)
            .or_insert_with(|| FindingGroup {
                first: i,
                count: 1,
                dir: dir.to_vec(),
            });
    }
    groups.into_values().collect()
}

/// One finding (or the example of a group, `group` saying how many and where): severity, code,
/// path, then its message, hint and why it is accepted.
fn write_finding(
    p: &Paint,
    f: &crate::check::Finding,
    group: Option<String>,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::check::Severity;
    let sev = match f.severity {
        Severity::Error => p.red("error  "),
        Severity::Warning => p.wrap("33", "warning"),
        Severity::Info => p.dim("info   "),
    };
    let mark = if !f.violation && f.suppressed.is_some() {
        " (accepted)"
    } else {
        ""
    };
    let subject = group.unwrap_or_else(|| f.path.display_escaped());
    writeln!(
        out,
        "    {sev} {}  {subject}{mark}",
        p.bold(f.code.as_str())
    )?;
    writeln!(out, "            {}", f.message)?;
    if let Some(h) = &f.hint {
        writeln!(out, "            {} {h}", p.dim("hint:"))?;
    }
    if let Some(s) = &f.suppressed {
        writeln!(out, "            {} {s}", p.dim("accepted:"))?;
    }
    Ok(())
}

/// Renders `elfdeps check` for people.
pub fn render_check(
    view: &CheckView<'_>,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    use crate::check::Severity;
    let p = Paint { on: opts.color };
    writeln!(out, "{}", p.bold(&view.title))?;
    if !view.libcs.is_empty() {
        let l: Vec<String> = view
            .libcs
            .iter()
            .map(|l| {
                format!(
                    "{}{} ({}, {})",
                    l.flavor.as_str(),
                    l.version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default(),
                    l.machine,
                    l.loader.display_escaped()
                )
            })
            .collect();
        writeln!(out, "  {} {}", p.label("libc"), l.join("; "))?;
    }
    if let Some(env) = view.loader_env {
        writeln!(out, "  {} {}", p.label("env"), env.describe())?;
    }
    for a in view.artifacts {
        let floor = a
            .libc
            .glibc_floor
            .as_ref()
            .map(|f| format!(", needs {}", f.display_escaped()))
            .unwrap_or_default();
        writeln!(
            out,
            "  {}  {} {} · {} ({}: {}){floor}",
            a.path.display_escaped(),
            a.machine,
            a.kind.as_str(),
            a.libc.flavor.as_str(),
            a.libc.confidence.as_str(),
            a.libc.evidence
        )?;
    }
    let count = |s: Severity| view.findings.iter().filter(|f| f.severity == s).count() as u64;
    writeln!(
        out,
        "  {} {} · {} · {}",
        p.label("findings"),
        plural(count(Severity::Error), "error", "errors"),
        plural(count(Severity::Warning), "warning", "warnings"),
        plural(count(Severity::Info), "info", "info")
    )?;
    if view.all {
        for f in view.findings {
            write_finding(&p, f, None, out)?;
        }
    } else {
        let groups = group_findings(view.findings);
        for g in &groups {
            let f = &view.findings[g.first];
            let shown = (g.count > 1).then(|| {
                format!(
                    "{} in {}, e.g. {}",
                    thousands(g.count as u64),
                    ByteStr::from(g.dir.as_slice()).display_escaped(),
                    f.path.display_escaped()
                )
            });
            write_finding(&p, f, shown, out)?;
        }
        if groups.len() < view.findings.len() {
            writeln!(
                out,
                "    {}",
                p.dim(&format!(
                    "{} findings in {} groups by code and directory, one example each \
                     (--all lists every finding)",
                    thousands(view.findings.len() as u64),
                    thousands(groups.len() as u64)
                ))
            )?;
        }
    }
    for e in view.errors {
        writeln!(
            out,
            "    {} {}: {} ({})",
            p.red("unreadable"),
            e.path.display_escaped(),
            e.message,
            e.code.as_str()
        )?;
    }
    if let Some(g) = view.gate {
        for a in &g.unmatched_allows {
            writeln!(
                out,
                "  {} allow entry `{a}` matched no finding (remove it?)",
                p.label("policy")
            )?;
        }
        let verdict = if g.passed {
            p.green("PASS")
        } else {
            p.red("FAIL")
        };
        writeln!(
            out,
            "  {} {verdict}: {} violation{} (fails on {} and above); {} accepted",
            p.label("policy"),
            g.violations,
            if g.violations == 1 { "" } else { "s" },
            g.fail_on.as_str(),
            g.suppressed
        )?;
    }
    Ok(())
}
