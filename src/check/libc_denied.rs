//! `libc-denied` (policy `--deny-libc`): an object or artifact linked against a libc the policy
//! denies.

use super::libc::Confidence;
use super::policy::Policy;
use super::{Code, Finding, Severity, Subject};

/// The finding about `s`, if `policy` denies its libc.
pub fn check(s: &Subject<'_>, policy: &Policy) -> Option<Finding> {
    let info = s.libc;
    if !policy.deny_libc.contains(&info.flavor) {
        return None;
    }
    Some(
        Finding::new(
            Code::LibcDenied,
            Severity::Error,
            s.path,
            format!(
                "linked against {} ({}, {} confidence), which the policy denies",
                info.flavor.as_str(),
                info.evidence,
                match info.confidence {
                    Confidence::High => "high",
                    Confidence::Medium => "medium",
                    Confidence::Low => "low",
                }
            ),
        )
        .hint("rebuild it against an allowed libc"),
    )
}
