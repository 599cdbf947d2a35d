//! `nss-module-missing`: a service `/etc/nsswitch.conf` names whose module
//! (`libnss_SERVICE.so.2`) glibc's libc cannot load. glibc then takes the service as UNAVAIL,
//! whose default action is to go on with the next source: a database with another usable
//! source still answers (Debian's default `protocols: db files` without libnss-db is fine), so
//! the finding is information there, and a warning only where no source of the database can
//! answer (every lookup of it fails).

use super::input::Input;
use super::{Code, Finding, Severity};
use crate::name::ByteStr;
use crate::runtime::edges::NssState;

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    let Some((libc, databases)) = &input.probes.runtime.nss else {
        return;
    };
    let conf = ByteStr::from("/etc/nsswitch.conf");
    for (db, services) in databases {
        let usable: Vec<&str> = services
            .iter()
            .filter(|(_, s)| *s != NssState::Missing)
            .map(|(n, _)| n.as_str())
            .collect();
        for (service, _) in services.iter().filter(|(_, s)| *s == NssState::Missing) {
            let module = crate::runtime::nsswitch::module_soname(service);
            let (severity, effect) = if usable.is_empty() {
                (
                    Severity::Warning,
                    format!("no other source of {db} can answer, so every {db} lookup fails"),
                )
            } else {
                (
                    Severity::Info,
                    format!(
                        "glibc skips it (UNAVAIL) and {db} lookups go on with {}",
                        usable.join(", ")
                    ),
                )
            };
            let mut f = Finding::new(
                Code::NssModuleMissing,
                severity,
                &conf,
                format!(
                    "{db}: {service}: {} cannot load {module}: {effect}",
                    libc.display_escaped()
                ),
            )
            .hint(format!(
                "install the package that provides {module}, or remove {service} from the {db} line"
            ));
            f.library = Some(ByteStr::from(module.as_str()));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::probe::RuntimeProbe;
    use crate::check::testing::*;

    fn with_nss(dbs: Vec<(&str, Vec<(&str, NssState)>)>) -> Vec<Finding> {
        let mut r = Fixture::glibc();
        r.probes.runtime = RuntimeProbe {
            nss: Some((
                ByteStr::from("/lib/x86_64-linux-gnu/libc.so.6"),
                dbs.into_iter()
                    .map(|(d, ss)| {
                        (
                            d.to_string(),
                            ss.into_iter().map(|(s, st)| (s.to_string(), st)).collect(),
                        )
                    })
                    .collect(),
            )),
            ..RuntimeProbe::default()
        };
        r.run(check)
    }

    #[test]
    fn a_missing_module_beside_a_usable_source_is_information() {
        let out = with_nss(vec![
            (
                "protocols",
                vec![("db", NssState::Missing), ("files", NssState::Builtin)],
            ),
            ("passwd", vec![("files", NssState::Builtin)]),
        ]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            (out[0].code, out[0].severity),
            (Code::NssModuleMissing, Severity::Info)
        );
        assert!(
            out[0].message.contains("go on with files"),
            "{}",
            out[0].message
        );
        assert_eq!(
            out[0].library.as_ref().map(|l| l.to_string()),
            Some("libnss_db.so.2".into())
        );
    }

    #[test]
    fn a_database_with_no_usable_source_is_a_warning() {
        let out = with_nss(vec![("netgroup", vec![("nis", NssState::Missing)])]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].severity, Severity::Warning);
        let found = NssState::Found(ByteStr::from("/lib/libnss_nis.so.2"));
        assert!(with_nss(vec![("netgroup", vec![("nis", found)])]).is_empty());
    }
}
