//! SARIF 2.1.0 (the format code-scanning services ingest): one rule per finding code, one result
//! per finding, located at the object's path relative to the scanned root (`%SRCROOT%`).

use std::io::Write;

use serde_json::{Value, json};

use crate::check::{Code, Finding, Severity};

/// What the SARIF log is about.
pub struct SarifInput<'a> {
    /// The scanned root or artifact directory, as an absolute path (the `%SRCROOT%` base).
    pub root: Option<&'a std::path::Path>,
    /// The findings (suppressed ones are marked as such).
    pub findings: &'a [Finding],
    /// Which findings fail the gate (index-aligned), for `properties`.
    pub violations: &'a [bool],
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// A path as a relative URI reference: percent-encode what RFC 3986 does not allow in a path.
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Writes the SARIF log.
pub fn render(input: &SarifInput<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.as_str(),
                "shortDescription": {"text": c.description()},
                "fullDescription": {"text": c.description()},
                "help": {"text": c.help(), "markdown": c.help()},
                "helpUri": format!("https://github.com/elfdeps/elfdeps/blob/main/docs/findings.md#{}", c.as_str()),
            })
        })
        .collect();
    let results: Vec<Value> = input
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let rule_index = Code::ALL.iter().position(|c| *c == f.code).unwrap_or(0);
            let text = match &f.hint {
                Some(h) => format!("{} (hint: {h})", f.message),
                None => f.message.clone(),
            };
            let mut r = json!({
                "ruleId": f.code.as_str(),
                "ruleIndex": rule_index,
                "level": level(f.severity),
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": uri_path(&f.path.escaped()),
                            "uriBaseId": "%SRCROOT%",
                        }
                    }
                }],
                "properties": {
                    "path": f.path.escaped(),
                    "violation": input.violations.get(i).copied().unwrap_or(false),
                },
            });
            if let Some(s) = &f.suppressed {
                r["suppressions"] = json!([{"kind": "external", "justification": s}]);
            }
            r
        })
        .collect();
    let mut run = json!({
        "tool": {
            "driver": {
                "name": "elfdeps",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/elfdeps/elfdeps",
                "rules": rules,
            }
        },
        "results": results,
    });
    if let Some(root) = input.root {
        let mut base = root.display().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let base = format!("file://{}", uri_path_abs(&base));
        run["originalUriBaseIds"] = json!({"%SRCROOT%": {"uri": base}});
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    });
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

fn uri_path_abs(path: &str) -> String {
    format!("/{}", uri_path(path))
}
