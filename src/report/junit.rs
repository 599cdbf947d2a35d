//! JUnit XML (what GitLab, Jenkins and most CI systems show as test reports): one testcase per
//! object, failing when a finding about it fails the gate; other findings go to its system-out.

use std::collections::BTreeMap;
use std::io::Write;

use crate::check::Finding;

/// What the report is about.
pub struct JunitInput<'a> {
    /// The suite name (`elfdeps check ROOT`).
    pub name: String,
    /// Every object (or artifact) path, escaped: one testcase each.
    pub subjects: Vec<String>,
    /// The findings (those whose `violation` is set fail their testcase).
    pub findings: &'a [Finding],
}

/// Escapes text for XML attributes and content; characters XML 1.0 cannot carry become `\u{..}`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

fn line(f: &Finding) -> String {
    let mut s = format!("{} {}: {}", f.severity.as_str(), f.code.as_str(), f.message);
    if let Some(h) = &f.hint {
        s.push_str(&format!("\n  hint: {h}"));
    }
    if let Some(why) = &f.suppressed {
        s.push_str(&format!("\n  (not counted: {why})"));
    }
    s
}

/// Writes the XML document.
pub fn render(input: &JunitInput<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let mut by_path: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in input.findings.iter().enumerate() {
        by_path.entry(f.path.escaped()).or_default().push(i);
    }
    let mut subjects: Vec<String> = input.subjects.clone();
    for p in by_path.keys() {
        if !subjects.contains(p) {
            subjects.push(p.clone());
        }
    }
    subjects.sort();
    subjects.dedup();
    let failed = |p: &str| {
        by_path
            .get(p)
            .is_some_and(|v| v.iter().any(|&i| input.findings[i].violation))
    };
    let failures = subjects.iter().filter(|p| failed(p)).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="elfdeps" tests="{}" failures="{failures}" errors="0">"#,
        subjects.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="0">"#,
        escape(&input.name),
        subjects.len()
    )?;
    for p in &subjects {
        let idx = by_path.get(p).cloned().unwrap_or_default();
        write!(
            out,
            r#"    <testcase classname="elfdeps" name="{}""#,
            escape(p)
        )?;
        if idx.is_empty() {
            writeln!(out, "/>")?;
            continue;
        }
        writeln!(out, ">")?;
        let failing: Vec<&Finding> = idx
            .iter()
            .map(|&i| &input.findings[i])
            .filter(|f| f.violation)
            .collect();
        if let Some(first) = failing.first() {
            let codes: Vec<&str> = failing.iter().map(|f| f.code.as_str()).collect();
            let text: Vec<String> = failing.iter().map(|f| line(f)).collect();
            writeln!(
                out,
                r#"      <failure type="{}" message="{}">{}</failure>"#,
                escape(&codes.join(",")),
                escape(&first.message),
                escape(&text.join("\n"))
            )?;
        }
        let others: Vec<String> = idx
            .iter()
            .map(|&i| &input.findings[i])
            .filter(|f| !f.violation)
            .map(line)
            .collect();
        if !others.is_empty() {
            writeln!(
                out,
                "      <system-out>{}</system-out>",
                escape(&others.join("\n"))
            )?;
        }
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}
