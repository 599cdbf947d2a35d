//! `nss-ignored-by-musl`: `/etc/nsswitch.conf` names services other than `files` and `dns` on a
//! root whose only libc is musl. musl does not implement NSS: it reads `/etc/passwd`,
//! `/etc/group`, `/etc/hosts` and DNS itself and never looks at nsswitch.conf, so users from LDAP
//! or NIS, or names from mDNS or a custom module, silently do not resolve.

use super::input::Input;
use super::{Code, Finding, Severity};
use crate::name::ByteStr;

/// Adds the finding of `input`, if any, to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let ignored: Vec<String> = input
        .probes
        .runtime
        .musl_nss
        .iter()
        .flat_map(|(db, services)| {
            services
                .iter()
                .filter(|s| !matches!(s.as_str(), "files" | "dns"))
                .map(move |s| format!("{db}: {s}"))
        })
        .collect();
    if ignored.is_empty() {
        return;
    }
    out.push(
        Finding::new(
            Code::NssIgnoredByMusl,
            Severity::Warning,
            &ByteStr::from("/etc/nsswitch.conf"),
            format!(
                "the root's libc is musl, which ignores nsswitch.conf: lookups through {} silently do not happen (musl reads only the files and DNS)",
                ignored.join(", ")
            ),
        )
        .hint(
            "use a glibc-based image for NSS sources such as LDAP, NIS or mDNS, or put the entries in /etc/passwd, /etc/group and /etc/hosts",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::probe::RuntimeProbe;
    use crate::check::testing::*;

    #[test]
    fn only_services_other_than_files_and_dns_are_reported() {
        let mut r = Fixture::musl();
        let mut run = |dbs: Vec<(&str, Vec<&str>)>| {
            r.probes.runtime = RuntimeProbe {
                musl_nss: dbs
                    .into_iter()
                    .map(|(d, ss)| (d.to_string(), ss.into_iter().map(String::from).collect()))
                    .collect(),
                ..RuntimeProbe::default()
            };
            r.run(check)
        };
        assert!(run(vec![("hosts", vec!["files", "dns"])]).is_empty());
        let out = run(vec![
            ("passwd", vec!["files", "ldap"]),
            ("hosts", vec!["files", "mdns4"]),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].code, out[0].severity),
            (Code::NssIgnoredByMusl, Severity::Warning)
        );
        assert!(
            out[0].message.contains("passwd: ldap, hosts: mdns4"),
            "{}",
            out[0].message
        );
    }
}
