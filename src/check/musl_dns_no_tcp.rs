//! `musl-dns-no-tcp`: a program that resolves host names (getaddrinfo, gethostbyname, the res_*
//! functions) on a musl older than 1.2.4, whose resolver never retried a truncated UDP answer over
//! TCP. A warning: lookups whose answers do not fit a UDP packet (many addresses, long CNAME
//! chains, DNSSEC, DKIM TXT records) come back cut short or fail.

use super::input::Input;
use super::musl_imports::{describe, parse_version};
use super::{Code, Finding, Severity};

/// The resolver entry points that send DNS queries (musl's `src/network`).
pub const RESOLVERS: &[&str] = &[
    "getaddrinfo",
    "gethostbyname",
    "gethostbyname2",
    "gethostbyname_r",
    "gethostbyname2_r",
    "gethostbyaddr",
    "gethostbyaddr_r",
    "getnameinfo",
    "res_query",
    "res_search",
    "res_querydomain",
    "res_send",
];

/// The first musl release with DNS over TCP.
const FIXED: (u32, u32, u32) = (1, 2, 4);

/// Adds the findings of `input` to `out`.
pub fn check(input: &Input<'_>, out: &mut Vec<Finding>) {
    for s in input.musl_sessions() {
        // An unknown release says nothing either way.
        let Some(version) = s.version else { continue };
        if parse_version(version).is_none_or(|v| v >= FIXED) {
            continue;
        }
        let hits = s.imported(RESOLVERS);
        if hits.is_empty() {
            continue;
        }
        let mut f = Finding::new(
            Code::MuslDnsNoTcp,
            Severity::Warning,
            &input.object(s.program).path,
            format!(
                "resolves host names with {}, and this root's musl {version} has no DNS over TCP (added in 1.2.4): answers too large for one UDP packet (many addresses, long CNAME chains, DNSSEC, DKIM) come back cut short or fail",
                describe(&hits)
            ),
        )
        .hint("use musl 1.2.4 or newer (Alpine 3.18 or newer), or a glibc-based image");
        f.symbols = hits.iter().map(|(n, _)| (*n).into()).collect();
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::musl_imports::testing::musl_app;
    use crate::name::ByteStr;

    #[test]
    fn a_resolver_on_a_musl_before_1_2_4() {
        let mut r = musl_app(Some("1.2.3"), &["printf"], &["getaddrinfo", "res_query"]);
        let found = r.run(check);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.code, f.severity),
            (Code::MuslDnsNoTcp, Severity::Warning)
        );
        assert_eq!(f.path, ByteStr::from("/usr/bin/app"));
        assert_eq!(
            f.symbols,
            [ByteStr::from("getaddrinfo"), "res_query".into()]
        );
        assert!(
            f.message.starts_with(
                "resolves host names with getaddrinfo (by /usr/lib/libdep.so.1), res_query (by /usr/lib/libdep.so.1), and this root's musl 1.2.3 has no DNS over TCP"
            ),
            "{}",
            f.message
        );
    }

    #[test]
    fn not_from_1_2_4_nor_without_a_resolver_or_a_known_release() {
        for (version, imports) in [
            (Some("1.2.4"), &["getaddrinfo"][..]),
            (Some("1.2.5"), &["gethostbyname"][..]),
            (Some("1.2.3"), &["printf"][..]),
            (None, &["getaddrinfo"][..]),
        ] {
            let mut r = musl_app(version, imports, &[]);
            assert_eq!(r.run(check), [], "{version:?} {imports:?}");
        }
    }
}
