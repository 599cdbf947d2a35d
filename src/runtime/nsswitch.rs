/*!
`/etc/nsswitch.conf`: which NSS services each database asks, so which `libnss_SERVICE.so.2` modules
glibc loads at run time (a `getpwnam`, a `getaddrinfo`).

The syntax is glibc's: `database: service [[!]STATUS=action ...] service ...`, `#` starts a comment,
statuses (`SUCCESS`, `NOTFOUND`, `UNAVAIL`, `TRYAGAIN`) and actions (`return`, `continue`, `merge`)
in any case. The caller reads the file (at most 1 MiB, confined to the root); this parser bounds
the rest and reports, in [`NssWarning`]s, every line or name it skipped.
*/

/// Lines longer than this are skipped (glibc's own line buffer grows without bound; a real line
/// is under a hundred bytes).
pub const MAX_LINE: usize = 64 * 1024;

/// The most services kept per database.
pub const MAX_SERVICES: usize = 256;

/// The parsed file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NssConfig {
    /// The database lines in file order (a database named twice appears twice).
    pub databases: Vec<NssDatabase>,
}

impl NssConfig {
    /// The first line for `name` (database names compared as written).
    pub fn database(&self, name: &str) -> Option<&NssDatabase> {
        self.databases.iter().find(|d| d.name == name)
    }
}

/// One `database: ...` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NssDatabase {
    /// The database (`passwd`, `hosts`, ...), as written.
    pub name: String,
    /// The 1-based line number.
    pub line: usize,
    /// Its services in the order they are asked.
    pub services: Vec<NssService>,
}

/// One service of a database line, with the actions that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NssService {
    /// The service (`files`, `systemd`, ...); its module is [`module_soname`].
    pub name: String,
    /// `(STATUS, action, negated)`: the status in upper case, the action in lower case, and
    /// whether it was written `!STATUS`.
    pub actions: Vec<(String, String, bool)>,
}

/// What was skipped, and why. The messages are what users see; they never quote the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NssWarning {
    /// A line over [`MAX_LINE`] bytes.
    #[error("line {0} of nsswitch.conf is longer than {MAX_LINE} bytes; it is ignored")]
    LongLine(usize),
    /// Not valid UTF-8.
    #[error("line {0} of nsswitch.conf is not valid UTF-8; it is ignored")]
    NotUtf8(usize),
    /// No `:` after the database name.
    #[error("line {0} of nsswitch.conf has no `database:` prefix; it is ignored")]
    NoDatabase(usize),
    /// A database or service name with characters outside `[A-Za-z0-9_-]`.
    #[error(
        "line {0} of nsswitch.conf names a database or service with characters other than letters, digits, `_` and `-`; that name is ignored"
    )]
    BadName(usize),
    /// An action item that is not `[[!]STATUS=action ...]` with a known status and action.
    #[error("line {0} of nsswitch.conf has an action glibc does not know; it is ignored")]
    BadAction(usize),
    /// An action item before any service.
    #[error("line {0} of nsswitch.conf has an action before any service; it is ignored")]
    ActionFirst(usize),
    /// A `[` without its `]`.
    #[error("line {0} of nsswitch.conf has an unclosed `[`; the rest of the line is ignored")]
    Unclosed(usize),
    /// More than [`MAX_SERVICES`] services.
    #[error(
        "line {0} of nsswitch.conf names more than {MAX_SERVICES} services; the rest are ignored"
    )]
    TooManyServices(usize),
}

/// The soname of a service's module: `libnss_SERVICE.so.2` (glibc's `__nss_shlib_revision` is
/// `.2` on every architecture).
pub fn module_soname(service: &str) -> String {
    format!("libnss_{service}.so.2")
}

/// The services built into libc that need no `libnss_` module, for a glibc version.
///
/// glibc 2.34 moved `files` ("nss_files: Move into libc", 2021-07-07) and `dns` ("nss: Directly
/// load nss_dns, without going through dlsym/dlopen", 2021-07-19) into libc.so.6; its
/// `libnss_files.so.2` and `libnss_dns.so.2` remain as empty compatibility stubs. glibc 2.36's
/// libc.so.6 (Debian bookworm) exports `_nss_files_getpwnam_r` and `_nss_dns_gethostbyname4_r`.
/// Before 2.34 every service is a module.
pub fn glibc_builtin_services(glibc_version: (u32, u32)) -> &'static [&'static str] {
    if glibc_version >= (2, 34) {
        &["files", "dns"]
    } else {
        &[]
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn status(s: &str) -> Option<&'static str> {
    ["SUCCESS", "NOTFOUND", "UNAVAIL", "TRYAGAIN"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(s))
}

fn action(s: &str) -> Option<&'static str> {
    ["return", "continue", "merge"]
        .into_iter()
        .find(|k| k.eq_ignore_ascii_case(s))
}

/// Parses the bytes of an nsswitch.conf.
pub fn parse(bytes: &[u8]) -> (NssConfig, Vec<NssWarning>) {
    let mut config = NssConfig::default();
    let mut warnings = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let n = i.saturating_add(1);
        if raw.len() > MAX_LINE {
            warnings.push(NssWarning::LongLine(n));
            continue;
        }
        // The comment is cut before the UTF-8 check: a comment may be in any encoding.
        let raw = match memchr::memchr(b'#', raw) {
            Some(at) => raw.get(..at).unwrap_or(raw),
            None => raw,
        };
        let Ok(line) = std::str::from_utf8(raw) else {
            warnings.push(NssWarning::NotUtf8(n));
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((db, rest)) = line.split_once(':') else {
            warnings.push(NssWarning::NoDatabase(n));
            continue;
        };
        let db = db.trim();
        if !is_name(db) {
            warnings.push(NssWarning::BadName(n));
            continue;
        }
        let services = parse_services(rest, n, &mut warnings);
        config.databases.push(NssDatabase {
            name: db.to_string(),
            line: n,
            services,
        });
    }
    (config, warnings)
}

fn parse_services(mut rest: &str, n: usize, warnings: &mut Vec<NssWarning>) -> Vec<NssService> {
    let mut services: Vec<NssService> = Vec::new();
    let mut skipping = false;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('[') {
            let Some((inside, tail)) = after.split_once(']') else {
                warnings.push(NssWarning::Unclosed(n));
                break;
            };
            rest = tail;
            match parse_actions(inside) {
                Some(actions) => match services.last_mut() {
                    // Actions after a skipped (bad or over-the-bound) service go with it.
                    _ if skipping => {}
                    Some(s) => s.actions.extend(actions),
                    None => warnings.push(NssWarning::ActionFirst(n)),
                },
                None => warnings.push(NssWarning::BadAction(n)),
            }
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '[')
            .unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        rest = tail;
        if !is_name(word) {
            warnings.push(NssWarning::BadName(n));
            skipping = true;
            continue;
        }
        if services.len() >= MAX_SERVICES {
            // Warned once: past the bound the line ends here.
            warnings.push(NssWarning::TooManyServices(n));
            break;
        }
        skipping = false;
        services.push(NssService {
            name: word.to_string(),
            actions: Vec::new(),
        });
    }
    services
}

/// `[!]STATUS=action` items separated by blanks (blanks around `=` allowed, as glibc allows them);
/// `None` when any item is not one.
fn parse_actions(inside: &str) -> Option<Vec<(String, String, bool)>> {
    // Blanks around '=' are joined first, so "NOTFOUND = return" reads as one item.
    let mut joined = String::with_capacity(inside.len());
    let mut parts = inside.split('=').peekable();
    while let Some(p) = parts.next() {
        let p = if joined.is_empty() {
            p.trim_end()
        } else {
            p.trim()
        };
        joined.push_str(p);
        if parts.peek().is_some() {
            joined.push('=');
        }
    }
    let mut out = Vec::new();
    for item in joined.split_whitespace() {
        let (st, act) = item.split_once('=')?;
        let (negated, st) = match st.strip_prefix('!') {
            Some(s) => (true, s),
            None => (false, st),
        };
        out.push((status(st)?.to_string(), action(act)?.to_string(), negated));
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian bookworm's default /etc/nsswitch.conf (libc-bin), with systemd's additions.
    const DEBIAN: &str = "\
# /etc/nsswitch.conf
#
# Example configuration of GNU Name Service Switch functionality.

passwd:         files systemd
group:          files systemd
shadow:         files
gshadow:        files

hosts:          files mymachines dns myhostname
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
";

    fn names(db: &NssDatabase) -> Vec<&str> {
        db.services.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn debian_default() {
        let (c, w) = parse(DEBIAN.as_bytes());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.databases.len(), 11);
        let hosts = c.database("hosts").unwrap();
        assert_eq!(names(hosts), ["files", "mymachines", "dns", "myhostname"]);
        assert_eq!(hosts.line, 10);
        assert_eq!(names(c.database("passwd").unwrap()), ["files", "systemd"]);
        assert_eq!(module_soname("systemd"), "libnss_systemd.so.2");
    }

    #[test]
    fn action_syntax() {
        let (c, w) = parse(
            b"hosts: files [NOTFOUND=return] dns [!UNAVAIL=return success=Continue] mdns4_minimal[notfound = RETURN] x\n\
              passwd:files[SUCCESS=merge]sss\n",
        );
        assert!(w.is_empty(), "{w:?}");
        let hosts = &c.databases[0];
        assert_eq!(names(hosts), ["files", "dns", "mdns4_minimal", "x"]);
        let a = |s: &str, act: &str, neg: bool| (s.to_string(), act.to_string(), neg);
        assert_eq!(hosts.services[0].actions, [a("NOTFOUND", "return", false)]);
        assert_eq!(
            hosts.services[1].actions,
            [
                a("UNAVAIL", "return", true),
                a("SUCCESS", "continue", false)
            ]
        );
        assert_eq!(hosts.services[2].actions, [a("NOTFOUND", "return", false)]);
        assert_eq!(names(&c.databases[1]), ["files", "sss"]);
    }

    #[test]
    fn hostile_lines_warn_and_the_rest_stands() {
        let long = format!("hosts: {}\n", "a".repeat(MAX_LINE));
        let many = format!(
            "group: {}\n",
            (0..300)
                .map(|i| format!("s{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let text = [
            "passwd: files ../../tmp/evil x/y systemd",
            "no colon here",
            "bad/db: files",
            "shadow: [NOTFOUND=return] files",
            "hosts: files [BOGUS=return] [NOTFOUND=explode] dns",
            "networks: files [NOTFOUND=return",
            long.trim_end(),
            many.trim_end(),
            "services: files\u{0}x",
        ]
        .join("\n");
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"\nethers: files \xff\nrpc: files # \xff comment\n");
        let (c, w) = parse(&bytes);
        assert_eq!(names(c.database("passwd").unwrap()), ["files", "systemd"]);
        assert_eq!(names(c.database("shadow").unwrap()), ["files"]);
        assert_eq!(names(c.database("hosts").unwrap()), ["files", "dns"]);
        assert!(c.database("hosts").unwrap().services[0].actions.is_empty());
        assert_eq!(names(c.database("networks").unwrap()), ["files"]);
        assert_eq!(c.database("group").unwrap().services.len(), MAX_SERVICES);
        assert_eq!(names(c.database("rpc").unwrap()), ["files"]);
        assert!(c.database("services").unwrap().services.is_empty());
        assert!(c.database("ethers").is_none());
        assert_eq!(
            w,
            [
                NssWarning::BadName(1),
                NssWarning::BadName(1),
                NssWarning::NoDatabase(2),
                NssWarning::BadName(3),
                NssWarning::ActionFirst(4),
                NssWarning::BadAction(5),
                NssWarning::BadAction(5),
                NssWarning::Unclosed(6),
                NssWarning::LongLine(7),
                NssWarning::TooManyServices(8),
                NssWarning::BadName(9),
                NssWarning::NotUtf8(10),
            ]
        );
        assert!(!w.iter().any(|w| w.to_string().contains("evil")));
    }

    #[test]
    fn builtin_services_by_version() {
        assert_eq!(glibc_builtin_services((2, 33)), [] as [&str; 0]);
        assert_eq!(glibc_builtin_services((2, 34)), ["files", "dns"]);
        assert_eq!(glibc_builtin_services((3, 0)), ["files", "dns"]);
    }
}
