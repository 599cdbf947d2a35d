//! The gate: which findings fail a CI run, from flags and/or a policy file (`--policy elfdeps.toml`).
//!
//! ```toml
//! deny-libc = ["musl"]          # libc-denied for objects linked against these
//! max-glibc = "2.28"            # glibc-too-new above this
//! fail-on = "error"             # the lowest severity that fails the gate (error, warning, info)
//! deny = ["insecure-rpath"]     # codes that fail the gate whatever their severity
//!
//! [severity]                    # severity overrides by code
//! stale-ld-cache = "error"
//!
//! [[allow]]                     # accepted findings: not counted (an allow that matches nothing is reported)
//! code = "library-missing"      # optional: any code when absent
//! path = "/opt/vendor/**"       # glob over the object path
//! reason = "vendored, loaded by its own launcher"
//!
//! [[ignore]]                    # objects left out of every finding
//! path = "/usr/lib/debug/**"
//! ```
//!
//! Flags add to the file: `--deny-libc`, `--max-glibc`, `--deny CODE`, `--fail-on`, `--allow CODE:GLOB`,
//! `--ignore GLOB`, `--baseline FILE` (an earlier `check --format json` output: its findings are
//! accepted, matched by code and path).

use std::collections::HashSet;

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::libc::{Flavor, parse_glibc_version};
use super::{Code, Finding, Severity};

/// One accepted finding pattern.
#[derive(Clone, Debug)]
pub struct Allow {
    /// The code it accepts (`None`: any).
    pub code: Option<Code>,
    /// The glob text, for messages.
    pub glob: String,
    matcher: GlobMatcher,
    /// Why.
    pub reason: String,
}

/// The policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `--deny-libc`.
    pub deny_libc: Vec<Flavor>,
    /// `--max-glibc`.
    pub max_glibc: Option<(u32, u32, u32)>,
    /// `fail-on`.
    pub fail_on: Severity,
    /// `deny`.
    pub deny: Vec<Code>,
    /// Severity overrides.
    pub severity: Vec<(Code, Severity)>,
    /// Accepted findings.
    pub allow: Vec<Allow>,
    /// Ignored paths.
    pub ignore: Vec<(String, GlobMatcher)>,
    /// Accepted `(code, path)` pairs from a baseline.
    pub baseline: HashSet<(String, String)>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            deny_libc: Vec::new(),
            max_glibc: None,
            fail_on: Severity::Error,
            deny: Vec::new(),
            severity: Vec::new(),
            allow: Vec::new(),
            ignore: Vec::new(),
            baseline: HashSet::new(),
        }
    }
}

/// The policy file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    #[serde(default)]
    deny_libc: Vec<String>,
    max_glibc: Option<String>,
    fail_on: Option<String>,
    #[serde(default)]
    deny: Vec<String>,
    #[serde(default)]
    severity: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    allow: Vec<FileAllow>,
    #[serde(default)]
    ignore: Vec<FileIgnore>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAllow {
    code: Option<String>,
    path: Option<String>,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIgnore {
    path: String,
}

/// `2.28`, `2.2.5`.
pub fn show_version(v: (u32, u32, u32)) -> String {
    if v.2 == 0 {
        format!("{}.{}", v.0, v.1)
    } else {
        format!("{}.{}.{}", v.0, v.1, v.2)
    }
}

/// Why a policy (file, flag or baseline) cannot be used. `what` says where: the file and key
/// (`elfdeps.toml: deny`), or the flag (`--allow CODE:GLOB`).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy file is not TOML of the policy's shape.
    #[error("{origin}: {source}")]
    File {
        /// The policy file, as given.
        origin: String,
        /// What the TOML reader found.
        source: toml::de::Error,
    },
    /// A glob (`path`, `--allow`, `--ignore`) does not compile.
    #[error("{what}: `{text}` is not a valid glob ({source})")]
    Glob {
        /// Where.
        what: String,
        /// The glob.
        text: String,
        /// Why it is not one.
        source: globset::Error,
    },
    /// A finding code that does not exist.
    #[error("{what}: unknown finding code `{text}` (codes: {})", code_list())]
    UnknownCode {
        /// Where.
        what: String,
        /// The code given.
        text: String,
    },
    /// A severity that does not exist.
    #[error("{what}: `{text}` is not a severity (error, warning, info)")]
    UnknownSeverity {
        /// Where.
        what: String,
        /// The severity given.
        text: String,
    },
    /// A libc name that does not exist.
    #[error("{what}: `{text}` is not a libc (glibc, musl, none, unknown)")]
    UnknownLibc {
        /// Where.
        what: String,
        /// The name given.
        text: String,
    },
    /// Not a glibc version.
    #[error("{what}: `{text}` is not a glibc version (e.g. 2.28)")]
    BadGlibcVersion {
        /// Where.
        what: String,
        /// The version given.
        text: String,
    },
    /// An `[[allow]]` entry with neither a code nor a path (it would accept everything).
    #[error("{what}: give a code, a path, or both")]
    EmptyAllow {
        /// Where.
        what: String,
    },
    /// The baseline is not JSON.
    #[error("baseline {origin}: {source}")]
    BaselineJson {
        /// The baseline file, as given.
        origin: String,
        /// What the JSON reader found.
        source: serde_json::Error,
    },
    /// The baseline is JSON without a `findings` array.
    #[error("baseline {origin}: no `findings` array (make one with elfdeps check --format json)")]
    BaselineNoFindings {
        /// The baseline file, as given.
        origin: String,
    },
}

fn code_list() -> String {
    let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    all.join(", ")
}

fn glob(text: &str, what: &str) -> Result<GlobMatcher, PolicyError> {
    Glob::new(text)
        .map(|g| g.compile_matcher())
        .map_err(|source| PolicyError::Glob {
            what: what.into(),
            text: text.into(),
            source,
        })
}

fn code(text: &str, what: &str) -> Result<Code, PolicyError> {
    Code::parse(text).ok_or_else(|| PolicyError::UnknownCode {
        what: what.into(),
        text: text.into(),
    })
}

fn severity(text: &str, what: &str) -> Result<Severity, PolicyError> {
    Severity::parse(text).ok_or_else(|| PolicyError::UnknownSeverity {
        what: what.into(),
        text: text.into(),
    })
}

/// A libc name of `--deny-libc`.
pub fn flavor(text: &str, what: &str) -> Result<Flavor, PolicyError> {
    match text {
        "glibc" => Ok(Flavor::Glibc),
        "musl" => Ok(Flavor::Musl),
        "none" => Ok(Flavor::None),
        "unknown" => Ok(Flavor::Unknown),
        _ => Err(PolicyError::UnknownLibc {
            what: what.into(),
            text: text.into(),
        }),
    }
}

/// A glibc version of `--max-glibc`.
pub fn version(text: &str, what: &str) -> Result<(u32, u32, u32), PolicyError> {
    parse_glibc_version(text).ok_or_else(|| PolicyError::BadGlibcVersion {
        what: what.into(),
        text: text.into(),
    })
}

impl Policy {
    /// Reads a policy file (TOML).
    pub fn from_toml(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let f: File = toml::from_str(text).map_err(|source| PolicyError::File {
            origin: origin.into(),
            source,
        })?;
        let mut p = Policy::default();
        for l in &f.deny_libc {
            p.deny_libc
                .push(flavor(l, &format!("{origin}: deny-libc"))?);
        }
        if let Some(v) = &f.max_glibc {
            p.max_glibc = Some(version(v, &format!("{origin}: max-glibc"))?);
        }
        if let Some(s) = &f.fail_on {
            p.fail_on = severity(s, &format!("{origin}: fail-on"))?;
        }
        for c in &f.deny {
            p.deny.push(code(c, &format!("{origin}: deny"))?);
        }
        for (c, s) in &f.severity {
            let what = format!("{origin}: [severity] {c}");
            p.severity.push((code(c, &what)?, severity(s, &what)?));
        }
        for a in &f.allow {
            let what = format!("{origin}: [[allow]]");
            let c = a.code.as_deref().map(|c| code(c, &what)).transpose()?;
            let g = a.path.clone().unwrap_or_else(|| "**".into());
            if c.is_none() && a.path.is_none() {
                return Err(PolicyError::EmptyAllow { what });
            }
            p.allow.push(Allow {
                code: c,
                matcher: glob(&g, &what)?,
                glob: g,
                reason: a
                    .reason
                    .clone()
                    .unwrap_or_else(|| "allowed by the policy".into()),
            });
        }
        for i in &f.ignore {
            p.ignore.push((
                i.path.clone(),
                glob(&i.path, &format!("{origin}: [[ignore]]"))?,
            ));
        }
        Ok(p)
    }

    /// Adds `--allow CODE:GLOB` (or `GLOB` alone for any code).
    pub fn add_allow(&mut self, spec: &str) -> Result<(), PolicyError> {
        let what = format!("--allow {spec}");
        let (c, g) = match spec.split_once(':') {
            Some((c, g)) if Code::parse(c).is_some() => (Some(code(c, &what)?), g),
            _ => (None, spec),
        };
        self.allow.push(Allow {
            code: c,
            matcher: glob(g, &what)?,
            glob: g.to_string(),
            reason: "allowed on the command line".into(),
        });
        Ok(())
    }

    /// Adds `--ignore GLOB`.
    pub fn add_ignore(&mut self, g: &str) -> Result<(), PolicyError> {
        let m = glob(g, &format!("--ignore {g}"))?;
        self.ignore.push((g.to_string(), m));
        Ok(())
    }

    /// Reads a baseline: an earlier `elfdeps check --format json` (or `scan --format json`).
    pub fn add_baseline(&mut self, text: &str, origin: &str) -> Result<(), PolicyError> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|source| PolicyError::BaselineJson {
                origin: origin.into(),
                source,
            })?;
        let list = v
            .get("findings")
            .and_then(|f| f.as_array())
            .ok_or_else(|| PolicyError::BaselineNoFindings {
                origin: origin.into(),
            })?;
        for f in list {
            if let (Some(c), Some(p)) = (
                f.get("code").and_then(|c| c.as_str()),
                f.get("path").and_then(|p| p.as_str()),
            ) {
                self.baseline.insert((c.to_string(), p.to_string()));
            }
        }
        Ok(())
    }

    fn ignored(&self, path: &str) -> bool {
        self.ignore.iter().any(|(_, m)| m.is_match(path))
    }

    /// Applies the policy to `findings` (severity overrides, ignore, allow, baseline) and judges:
    /// each finding's `violation` says whether it fails the gate, the [`Gate`] counts them.
    pub fn judge(&self, findings: &mut Vec<Finding>) -> Gate {
        findings.retain(|f| !self.ignored(&f.path.escaped()));
        let mut used = vec![false; self.allow.len()];
        let mut gate = Gate::default();
        for f in findings.iter_mut() {
            if let Some((_, s)) = self.severity.iter().find(|(c, _)| *c == f.code) {
                f.severity = *s;
            }
            let path = f.path.escaped();
            if let Some(i) = self
                .allow
                .iter()
                .position(|a| a.code.is_none_or(|c| c == f.code) && a.matcher.is_match(&path))
            {
                used[i] = true;
                f.suppressed = Some(format!("allow: {}", self.allow[i].reason));
            } else if self
                .baseline
                .contains(&(f.code.as_str().to_string(), path.clone()))
            {
                f.suppressed = Some("baseline".into());
            }
            f.violation = f.suppressed.is_none()
                && (f.severity >= self.fail_on || self.deny.contains(&f.code));
            if f.suppressed.is_some() {
                gate.suppressed += 1;
            } else if f.violation {
                gate.violations += 1;
            }
        }
        gate.unmatched_allows = self
            .allow
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(a, _)| match a.code {
                Some(c) => format!("{}:{}", c.as_str(), a.glob),
                None => a.glob.clone(),
            })
            .collect();
        gate.fail_on = self.fail_on;
        gate.passed = gate.violations == 0;
        gate
    }
}

/// The policy's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Gate {
    /// No violation.
    pub passed: bool,
    /// Findings that fail the gate.
    pub violations: usize,
    /// Findings accepted by an allow entry or the baseline.
    pub suppressed: usize,
    /// The lowest failing severity.
    pub fail_on: Severity,
    /// Allow entries that matched no finding (stale exceptions).
    pub unmatched_allows: Vec<String>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            passed: true,
            violations: 0,
            suppressed: 0,
            fail_on: Severity::Error,
            unmatched_allows: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::ByteStr;

    fn finding(code: Code, severity: Severity, path: &str) -> Finding {
        Finding::new(code, severity, &ByteStr::from(path), "m".into())
    }

    #[test]
    fn file_flags_and_gate() {
        let p = Policy::from_toml(
            r#"
deny-libc = ["musl"]
max-glibc = "2.28"
deny = ["insecure-rpath"]
[severity]
stale-ld-cache = "error"
[[allow]]
code = "library-missing"
path = "/opt/vendor/**"
reason = "vendored"
[[allow]]
path = "/never/**"
[[ignore]]
path = "/usr/lib/debug/**"
"#,
            "test.toml",
        )
        .unwrap();
        assert_eq!(p.max_glibc, Some((2, 28, 0)));
        let mut fs = vec![
            finding(Code::LibraryMissing, Severity::Error, "/opt/vendor/bin/x"),
            finding(Code::InsecureRpath, Severity::Warning, "/usr/bin/y"),
            finding(Code::StaleLdCache, Severity::Warning, "/etc/ld.so.cache"),
            finding(Code::LibraryMissing, Severity::Error, "/usr/lib/debug/z"),
            finding(Code::LibraryMissing, Severity::Info, "/usr/lib/w"),
        ];
        let gate = p.judge(&mut fs);
        assert_eq!(fs.len(), 4, "ignored path dropped");
        assert_eq!(gate.violations, 2, "{fs:?}");
        assert_eq!(gate.suppressed, 1);
        assert_eq!(gate.unmatched_allows, vec!["/never/**".to_string()]);
        assert!(!gate.passed);
        // Each finding says whether it fails the gate; the gate counts exactly those.
        let marks: Vec<(&str, bool)> = fs.iter().map(|f| (f.code.as_str(), f.violation)).collect();
        assert_eq!(
            marks,
            [
                ("library-missing", false), // allowed (suppressed)
                ("insecure-rpath", true),   // denied code, whatever its severity
                ("stale-ld-cache", true),   // warning raised to error
                ("library-missing", false), // info
            ]
        );
        assert_eq!(fs.iter().filter(|f| f.violation).count(), gate.violations);
    }

    #[test]
    fn bad_files_say_where() {
        let e = Policy::from_toml("deny = [\"nope\"]", "p.toml").unwrap_err();
        assert!(matches!(&e, PolicyError::UnknownCode { text, .. } if text == "nope"));
        assert!(
            e.to_string()
                .starts_with("p.toml: deny: unknown finding code `nope`")
        );
        let e = Policy::from_toml("colour = 1", "p.toml").unwrap_err();
        assert!(matches!(&e, PolicyError::File { origin, .. } if origin == "p.toml"));
        let e = Policy::from_toml("max-glibc = \"two\"", "p.toml").unwrap_err();
        assert!(matches!(e, PolicyError::BadGlibcVersion { .. }));
    }

    /// The messages are word for word those of the `String` errors before the typed ones (the
    /// CLI prints them), including the parsers' own text where it was quoted.
    #[test]
    fn messages_are_as_before() {
        let msg = |r: Result<Policy, PolicyError>| r.unwrap_err().to_string();
        let toml_err = toml::from_str::<File>("colour = 1").unwrap_err();
        assert_eq!(
            msg(Policy::from_toml("colour = 1", "p.toml")),
            format!("p.toml: {toml_err}")
        );
        let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            msg(Policy::from_toml("deny = [\"nope\"]", "p.toml")),
            format!(
                "p.toml: deny: unknown finding code `nope` (codes: {})",
                all.join(", ")
            )
        );
        assert_eq!(
            msg(Policy::from_toml(
                "[severity]\nmixed-libc = \"fatal\"",
                "p.toml"
            )),
            "p.toml: [severity] mixed-libc: `fatal` is not a severity (error, warning, info)"
        );
        assert_eq!(
            msg(Policy::from_toml("fail-on = \"fatal\"", "p.toml")),
            "p.toml: fail-on: `fatal` is not a severity (error, warning, info)"
        );
        assert_eq!(
            msg(Policy::from_toml("deny-libc = [\"bionic\"]", "p.toml")),
            "p.toml: deny-libc: `bionic` is not a libc (glibc, musl, none, unknown)"
        );
        assert_eq!(
            msg(Policy::from_toml("max-glibc = \"two\"", "p.toml")),
            "p.toml: max-glibc: `two` is not a glibc version (e.g. 2.28)"
        );
        assert_eq!(
            msg(Policy::from_toml("[[allow]]\nreason = \"x\"", "p.toml")),
            "p.toml: [[allow]]: give a code, a path, or both"
        );
        let glob_err = Glob::new("a[").unwrap_err();
        assert_eq!(
            msg(Policy::from_toml("[[ignore]]\npath = \"a[\"", "p.toml")),
            format!("p.toml: [[ignore]]: `a[` is not a valid glob ({glob_err})")
        );
        let mut p = Policy::default();
        assert_eq!(
            p.add_allow("mixed-libc:a[").unwrap_err().to_string(),
            format!("--allow mixed-libc:a[: `a[` is not a valid glob ({glob_err})")
        );
        assert_eq!(
            p.add_ignore("a[").unwrap_err().to_string(),
            format!("--ignore a[: `a[` is not a valid glob ({glob_err})")
        );
        let json_err = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert_eq!(
            p.add_baseline("{", "b.json").unwrap_err().to_string(),
            format!("baseline b.json: {json_err}")
        );
        assert_eq!(
            p.add_baseline("{}", "b.json").unwrap_err().to_string(),
            "baseline b.json: no `findings` array (make one with elfdeps check --format json)"
        );
    }
}
