//! SARIF 2.1.0 (the format code-scanning services ingest): one rule per finding code, one result
//! per finding, located at the object's path relative to the scanned root (`%SRCROOT%`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::check::{Code, Finding, Severity};

/// What the SARIF log is about.
pub struct SarifInput<'a> {
    /// The scanned root or artifact directory, as an absolute path (the `%SRCROOT%` base).
    pub root: Option<&'a std::path::Path>,
    /// The findings (suppressed ones are marked as such; `violation` goes to `properties`).
    pub findings: &'a [Finding],
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

// The SARIF 2.1.0 objects we write, by their names in the specification. The fields of each struct
// are in the byte order of their JSON names: the log was first built as a `serde_json::Value`,
// whose keys come out sorted, and keeping that order keeps the output byte for byte what it was.

/// `sarifLog`.
#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [Run<'a>; 1],
    version: &'static str,
}

/// `run`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    /// `%SRCROOT%`, when the log is about a directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, ArtifactLocation>>,
    results: Vec<SarifResult<'a>>,
    tool: Tool,
}

/// `tool`.
#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

/// `toolComponent`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    information_uri: &'static str,
    name: &'static str,
    rules: Vec<Rule>,
    semantic_version: &'static str,
    version: &'static str,
}

/// `reportingDescriptor`: one per finding code.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    full_description: Message<'static>,
    help: MultiformatMessage,
    help_uri: String,
    id: &'static str,
    name: &'static str,
    short_description: Message<'static>,
}

/// `message` (plain text).
#[derive(Serialize)]
struct Message<'a> {
    text: Cow<'a, str>,
}

/// `multiformatMessageString`.
#[derive(Serialize)]
struct MultiformatMessage {
    markdown: &'static str,
    text: &'static str,
}

/// `result`: one per finding.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    level: &'static str,
    locations: [Location; 1],
    message: Message<'a>,
    properties: ResultProperties,
    rule_id: &'static str,
    rule_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[Suppression<'a>; 1]>,
}

/// `location`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

/// `physicalLocation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
}

/// `artifactLocation`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

/// `propertyBag` of a result: ours.
#[derive(Serialize)]
struct ResultProperties {
    /// The object path, escaped as in the JSON report (the URI is percent-encoded).
    path: String,
    /// Whether the finding fails the gate.
    violation: bool,
}

/// `suppression`.
#[derive(Serialize)]
struct Suppression<'a> {
    justification: &'a str,
    kind: &'static str,
}

const SRCROOT: &str = "%SRCROOT%";

fn rule(c: Code) -> Rule {
    Rule {
        full_description: Message {
            text: c.description().into(),
        },
        help: MultiformatMessage {
            markdown: c.help(),
            text: c.help(),
        },
        help_uri: format!(
            "https://github.com/elfdeps/elfdeps/blob/main/docs/findings.md#{}",
            c.as_str()
        ),
        id: c.as_str(),
        name: c.as_str(),
        short_description: Message {
            text: c.description().into(),
        },
    }
}

fn result(f: &Finding) -> SarifResult<'_> {
    let text = match &f.hint {
        Some(h) => format!("{} (hint: {h})", f.message).into(),
        None => Cow::Borrowed(f.message.as_str()),
    };
    let path = f.path.escaped();
    SarifResult {
        level: level(f.severity),
        locations: [Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation {
                    uri: uri_path(&path),
                    uri_base_id: Some(SRCROOT),
                },
            },
        }],
        message: Message { text },
        properties: ResultProperties {
            path,
            violation: f.violation,
        },
        rule_id: f.code.as_str(),
        rule_index: Code::ALL.iter().position(|c| *c == f.code).unwrap_or(0),
        suppressions: f.suppressed.as_deref().map(|s| {
            [Suppression {
                justification: s,
                kind: "external",
            }]
        }),
    }
}

/// Writes the SARIF log.
pub fn render(input: &SarifInput<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let results = input.findings.iter().map(result).collect();
    let original_uri_base_ids = input.root.map(|root| {
        let mut base = root.display().to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        let location = ArtifactLocation {
            uri: format!("file://{}", uri_path_abs(&base)),
            uri_base_id: None,
        };
        BTreeMap::from([(SRCROOT, location)])
    });
    let log = Log {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [Run {
            original_uri_base_ids,
            results,
            tool: Tool {
                driver: Driver {
                    information_uri: "https://github.com/elfdeps/elfdeps",
                    name: "elfdeps",
                    rules: Code::ALL.iter().map(|&c| rule(c)).collect(),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    version: env!("CARGO_PKG_VERSION"),
                },
            },
        }],
        version: "2.1.0",
    };
    serde_json::to_writer_pretty(&mut *out, &log)?;
    out.write_all(b"\n")
}

fn uri_path_abs(path: &str) -> String {
    format!("/{}", uri_path(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::ByteStr;
    use serde_json::{Value, json};

    fn finding(code: Code, severity: Severity, path: &[u8], message: &str) -> Finding {
        Finding {
            code,
            severity,
            path: ByteStr::from(path),
            message: message.into(),
            hint: None,
            library: None,
            version: None,
            symbols: Vec::new(),
            suppressed: None,
            violation: false,
        }
    }

    #[test]
    fn results_locate_and_suppress() {
        let mut f = finding(Code::MixedLibc, Severity::Info, b"/usr/lib/x y.so", "m");
        f.suppressed = Some("baseline".into());
        let mut out = Vec::new();
        let input = SarifInput {
            root: Some(std::path::Path::new("/r")),
            findings: std::slice::from_ref(&f),
        };
        render(&input, &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let run = &doc["runs"][0];
        assert_eq!(
            run["originalUriBaseIds"],
            json!({"%SRCROOT%": {"uri": "file:///r/"}})
        );
        let r = &run["results"][0];
        assert_eq!(r["level"], "note");
        assert_eq!(r["ruleId"], "mixed-libc");
        assert_eq!(
            run["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "mixed-libc"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"],
            json!({"uri": "usr/lib/x%20y.so", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            r["suppressions"],
            json!([{"kind": "external", "justification": "baseline"}])
        );
        assert_eq!(
            r["properties"],
            json!({"path": "/usr/lib/x y.so", "violation": false})
        );
    }

    #[test]
    fn optional_parts_are_left_out() {
        let mut f = finding(Code::LibraryMissing, Severity::Error, b"/usr/bin/x", "gone");
        f.hint = Some("install it".into());
        let mut out = Vec::new();
        let input = SarifInput {
            root: None,
            findings: std::slice::from_ref(&f),
        };
        render(&input, &mut out).unwrap();
        let doc: Value = serde_json::from_slice(&out).unwrap();
        let run = &doc["runs"][0];
        assert!(run.get("originalUriBaseIds").is_none(), "{run}");
        let r = &run["results"][0];
        assert!(r.get("suppressions").is_none(), "{r}");
        assert_eq!(r["level"], "error");
        assert_eq!(r["message"]["text"], "gone (hint: install it)");
        assert_eq!(r["properties"]["violation"], false, "not judged");
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().unwrap().len(),
            Code::ALL.len()
        );
        assert!(out.ends_with(b"}\n"));
    }
}
