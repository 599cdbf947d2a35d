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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::libc::Flavor;
    use crate::check::testing::libc;
    use crate::name::ByteStr;

    #[test]
    fn a_denied_libc_and_an_allowed_one() {
        let mut policy = Policy::default();
        policy.deny_libc.push(Flavor::Musl);
        let path = ByteStr::from("/usr/bin/m");
        let musl = libc(Flavor::Musl, Confidence::Medium);
        let s = Subject {
            path: &path,
            libc: &musl,
            floor_symbols: &[],
        };
        let f = check(&s, &policy).expect("denied");
        assert_eq!((f.code, f.severity), (Code::LibcDenied, Severity::Error));
        assert_eq!(f.path, path);
        assert_eq!(
            f.message,
            "linked against musl (evidence for musl, medium confidence), which the policy denies"
        );
        assert_eq!(
            f.hint.as_deref(),
            Some("rebuild it against an allowed libc")
        );
        let glibc = libc(Flavor::Glibc, Confidence::High);
        let s = Subject { libc: &glibc, ..s };
        assert_eq!(check(&s, &policy), None);
        assert_eq!(check(&s, &Policy::default()), None);
    }
}
