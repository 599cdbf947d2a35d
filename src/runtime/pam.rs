/*!
`/etc/pam.d/SERVICE`: the PAM modules libpam loads (with `dlopen`) for a service such as `login`.

A line is `[-]type control module-path [args...]`: the type `auth`, `account`, `password` or
`session` (a leading `-` makes a missing module silently skipped), the control a word or a
`[value=action ...]` bracket, and the module path relative to the module directory
(`pam_unix.so`) or absolute. `@include NAME` pulls in every line of another service file; the
controls `include` and `substack` pull in the lines of their type (the "module" is then a service
name). `#` starts a comment, and a `\` at the end of a line joins the next one, as in Linux-PAM.

The caller reads the files (confined to the root, each bounded); this walk bounds everything else
(nesting, files, modules, line length) and reports what it skipped as warnings in our words.
*/

use std::collections::HashMap;

/// The deepest include nesting followed.
pub const MAX_DEPTH: usize = 16;
/// The most service files read for one service.
pub const MAX_FILES: usize = 256;
/// The most module lines collected (before deduplication).
pub const MAX_MODULES: usize = 4096;
/// Longer (joined) lines are skipped.
pub const MAX_LINE: usize = 64 * 1024;

/// The modules one service loads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PamModules {
    /// Each module once (by path), in the order first met.
    pub modules: Vec<PamModule>,
    /// What was skipped, and why.
    pub warnings: Vec<String>,
}

/// One module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PamModule {
    /// As written: `pam_unix.so`, or an absolute path.
    pub path: String,
    /// Every line naming it has the `-` prefix: libpam skips it silently when it is missing.
    pub optional: bool,
    /// The service files from the one asked for to the one with the first line naming it (for
    /// `login` including `common-auth`: `["login", "common-auth"]`).
    pub via: Vec<String>,
}

/// The four management groups.
const TYPES: [&str; 4] = ["auth", "account", "password", "session"];

/// The modules `service` loads. `read(name)` gives the bytes of `/etc/pam.d/NAME`, or `None` when
/// it does not exist. A service without a file falls back to `other`, as libpam does.
pub fn pam_modules(service: &str, read: &mut dyn FnMut(&str) -> Option<Vec<u8>>) -> PamModules {
    let mut walk = Walk {
        read,
        out: PamModules::default(),
        chain: Vec::new(),
        files: 0,
        lines: 0,
        full: false,
        seen: HashMap::new(),
    };
    if !is_service_name(service) {
        walk.warn(format!(
            "the PAM service name {} is not a plain file name; it is not read",
            quoted(service)
        ));
        return walk.out;
    }
    if !walk.file(service, None) {
        walk.warn(format!(
            "/etc/pam.d/{service} does not exist; libpam uses /etc/pam.d/other instead"
        ));
        if !walk.file("other", None) {
            walk.warn("/etc/pam.d/other does not exist either".to_string());
        }
    }
    walk.out
}

/// A name for the messages: plain names as they are, anything else not at all.
fn quoted(name: &str) -> String {
    if is_service_name(name) {
        format!("`{name}`")
    } else {
        "(with unusual characters)".to_string()
    }
}

/// A file name in /etc/pam.d: no slash, not `.` or `..`, no NUL or control characters.
fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.chars().any(|c| c == '/' || c.is_control())
}

struct Walk<'r> {
    read: &'r mut dyn FnMut(&str) -> Option<Vec<u8>>,
    out: PamModules,
    /// The include chain, from the service asked for.
    chain: Vec<String>,
    files: usize,
    /// Module lines met (before deduplication).
    lines: usize,
    /// [`MAX_MODULES`] reached (warned once).
    full: bool,
    /// Index of each path in `out.modules`.
    seen: HashMap<String, usize>,
}

impl Walk<'_> {
    fn warn(&mut self, w: String) {
        self.out.warnings.push(w);
    }

    /// Reads service `name` and walks its lines of type `only` (every line when `None`); `false`
    /// when the file does not exist.
    fn file(&mut self, name: &str, only: Option<&str>) -> bool {
        if self.chain.iter().any(|c| c == name) {
            self.warn(format!(
                "/etc/pam.d/{} includes itself through {}; the include is not followed",
                name,
                self.chain.join(" -> ")
            ));
            return true;
        }
        if self.chain.len() >= MAX_DEPTH {
            self.warn(format!(
                "the PAM includes below /etc/pam.d/{} nest deeper than {MAX_DEPTH}; /etc/pam.d/{name} is not read",
                self.chain.first().map_or("", String::as_str)
            ));
            return true;
        }
        if self.files >= MAX_FILES {
            if self.files == MAX_FILES {
                self.warn(format!(
                    "more than {MAX_FILES} PAM service files are included; the rest are not read"
                ));
                self.files += 1;
            }
            return true;
        }
        self.files += 1;
        let Some(bytes) = (self.read)(name) else {
            return false;
        };
        self.chain.push(name.to_string());
        self.lines_of(&bytes, only);
        self.chain.pop();
        true
    }

    fn lines_of(&mut self, bytes: &[u8], only: Option<&str>) {
        let name = self.chain.last().cloned().unwrap_or_default();
        let mut joined: Vec<u8> = Vec::new();
        let mut first = 0usize;
        let mut too_long = false;
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            if joined.is_empty() && !too_long {
                first = i.saturating_add(1);
            }
            let (part, continues) = match raw.strip_suffix(b"\\") {
                Some(p) => (p, true),
                None => (raw, false),
            };
            if !too_long {
                if joined.len().saturating_add(part.len()) > MAX_LINE {
                    too_long = true;
                    joined.clear();
                } else {
                    joined.extend_from_slice(part);
                    if continues {
                        joined.push(b' ');
                    }
                }
            }
            if continues {
                continue;
            }
            if too_long {
                self.warn(format!(
                    "line {first} of /etc/pam.d/{name} is longer than {MAX_LINE} bytes; it is ignored"
                ));
                too_long = false;
            } else {
                let line = std::mem::take(&mut joined);
                self.line(&line, first, &name, only);
            }
            joined.clear();
        }
    }

    fn line(&mut self, raw: &[u8], n: usize, name: &str, only: Option<&str>) {
        let raw = match memchr::memchr(b'#', raw) {
            Some(at) => raw.get(..at).unwrap_or(raw),
            None => raw,
        };
        let Ok(text) = std::str::from_utf8(raw) else {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} is not valid UTF-8; it is ignored"
            ));
            return;
        };
        let tokens = tokens(text);
        let Some(first) = tokens.first() else {
            return;
        };
        if first == "@include" {
            match tokens.get(1) {
                Some(target) if tokens.len() == 2 => self.include(target, None, n, name),
                _ => self.warn(format!(
                    "line {n} of /etc/pam.d/{name}: @include takes one service name; it is ignored"
                )),
            }
            return;
        }
        let (optional, kind) = match first.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, first.as_str()),
        };
        let kind = kind.to_ascii_lowercase();
        if !TYPES.contains(&kind.as_str()) {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} has no module type (auth, account, password, session); it is ignored"
            ));
            return;
        }
        if only.is_some_and(|t| t != kind) {
            return;
        }
        let (Some(control), Some(module)) = (tokens.get(1), tokens.get(2)) else {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} has no control or module; it is ignored"
            ));
            return;
        };
        let control = control.to_ascii_lowercase();
        if control == "include" || control == "substack" {
            self.include(module, Some(&kind), n, name);
            return;
        }
        if module.contains('\0') || module.split('/').any(|c| c == "..") || module.is_empty() {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} names a module path with `..` or a NUL byte; it is ignored"
            ));
            return;
        }
        self.module(module, optional);
    }

    fn include(&mut self, target: &str, only: Option<&str>, n: usize, name: &str) {
        if !is_service_name(target) {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} includes {}, which is not a service name in /etc/pam.d; it is not followed",
                quoted(target)
            ));
            return;
        }
        if !self.file(target, only) {
            self.warn(format!(
                "line {n} of /etc/pam.d/{name} includes /etc/pam.d/{target}, which does not exist"
            ));
        }
    }

    fn module(&mut self, path: &str, optional: bool) {
        if self.full {
            return;
        }
        if self.lines >= MAX_MODULES {
            self.full = true;
            self.warn(format!(
                "the PAM service files name more than {MAX_MODULES} modules; the rest are ignored"
            ));
            return;
        }
        self.lines += 1;
        if let Some(m) = self
            .seen
            .get(path)
            .and_then(|&i| self.out.modules.get_mut(i))
        {
            // Required anywhere means required.
            m.optional &= optional;
            return;
        }
        self.seen.insert(path.to_string(), self.out.modules.len());
        self.out.modules.push(PamModule {
            path: path.to_string(),
            optional,
            via: self.chain.clone(),
        });
    }
}

/// Splits a line on blanks, keeping a `[...]` bracket (which may hold blanks) as one token.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with('[') {
            // An unclosed bracket runs to the end of the line.
            rest.find(']').map_or(rest.len(), |i| i + 1)
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        let (tok, tail) = rest.split_at(end);
        out.push(tok.to_string());
        rest = tail.trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(files: &[(&str, &str)], service: &str) -> PamModules {
        let map: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        pam_modules(service, &mut |name| map.get(name).cloned())
    }

    fn paths(m: &PamModules) -> Vec<&str> {
        m.modules.iter().map(|m| m.path.as_str()).collect()
    }

    /// Debian bookworm's /etc/pam.d/login and the common files it includes (comments shortened).
    const LOGIN: &str = "\
# The PAM configuration file for the Shadow `login' service
auth       optional   pam_faildelay.so  delay=3000000
auth [success=ok new_authtok_reqd=ok ignore=ignore user_unknown=bad default=die] pam_securetty.so
auth       requisite  pam_nologin.so
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session    required     pam_loginuid.so
session    optional   pam_motd.so motd=/run/motd.dynamic
session    required   pam_env.so readenv=1
@include common-auth
auth       optional   pam_group.so
session    required   pam_limits.so
@include common-account
@include common-session
@include common-password
";
    const COMMON_AUTH: &str = "\
auth\t[success=1 default=ignore]\tpam_unix.so nullok
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
";
    const COMMON_ACCOUNT: &str = "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\naccount requisite pam_deny.so\n";
    const COMMON_SESSION: &str = "session [default=1] pam_permit.so\nsession optional pam_systemd.so\n-session optional /usr/lib/security/pam_gnome_keyring.so\n";
    const COMMON_PASSWORD: &str =
        "password [success=1 default=ignore] pam_unix.so obscure yescrypt\n";

    #[test]
    fn debian_login() {
        let files = [
            ("login", LOGIN),
            ("common-auth", COMMON_AUTH),
            ("common-account", COMMON_ACCOUNT),
            ("common-session", COMMON_SESSION),
            ("common-password", COMMON_PASSWORD),
        ];
        let m = run(&files, "login");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(
            paths(&m),
            [
                "pam_faildelay.so",
                "pam_securetty.so",
                "pam_nologin.so",
                "pam_selinux.so",
                "pam_loginuid.so",
                "pam_motd.so",
                "pam_env.so",
                "pam_unix.so",
                "pam_deny.so",
                "pam_permit.so",
                "pam_group.so",
                "pam_limits.so",
                "pam_systemd.so",
                "/usr/lib/security/pam_gnome_keyring.so",
            ]
        );
        let unix = &m.modules[7];
        assert_eq!(unix.via, ["login", "common-auth"]);
        assert!(!unix.optional);
        let keyring = m.modules.last().unwrap();
        assert!(keyring.optional);
        assert_eq!(keyring.via, ["login", "common-session"]);
    }

    #[test]
    fn include_and_substack_take_their_type_only() {
        let m = run(
            &[
                (
                    "sshd",
                    "auth substack base\n-session include base\naccount required pam_nologin.so\n",
                ),
                (
                    "base",
                    "auth required pam_a.so\naccount required pam_b.so\nsession optional pam_c.so \\\n  arg\nSESSION required pam_d.so\n",
                ),
            ],
            "sshd",
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(
            paths(&m),
            ["pam_a.so", "pam_c.so", "pam_d.so", "pam_nologin.so"]
        );
    }

    #[test]
    fn a_missing_service_falls_back_to_other() {
        let m = run(&[("other", "auth required pam_deny.so\n")], "nosuch");
        assert_eq!(paths(&m), ["pam_deny.so"]);
        assert_eq!(m.modules[0].via, ["other"]);
        assert_eq!(m.warnings.len(), 1);
    }

    #[test]
    fn cycles_depth_and_hostile_lines_warn() {
        let m = run(
            &[
                ("a", "@include b\nauth required pam_a.so\n"),
                ("b", "@include a\nauth include b\nauth required pam_b.so\n"),
            ],
            "a",
        );
        assert_eq!(paths(&m), ["pam_b.so", "pam_a.so"]);
        assert_eq!(m.warnings.len(), 2, "{:?}", m.warnings);
        assert!(m.warnings[0].contains("includes itself through a -> b"));

        // A chain of 40 files: 16 read.
        let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
        let texts: Vec<String> = (0..40)
            .map(|i| format!("@include s{}\nauth required pam_{i}.so\n", i + 1))
            .collect();
        let files: Vec<(&str, &str)> = names
            .iter()
            .zip(&texts)
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let m = run(&files, "s0");
        assert_eq!(m.modules.len(), MAX_DEPTH);
        assert_eq!(m.warnings.len(), 1);
        assert!(m.warnings[0].contains("nest deeper than 16"));

        let long = format!("auth required pam_x.so {}\n", "a".repeat(MAX_LINE));
        let hostile = format!(
            "auth required ../../tmp/evil.so\nauth required /lib/security/../../x.so\n\
             bogus required pam_y.so\nauth required\n@include ../../etc/shadow\n@include\n\
             auth include /etc/passwd\n{long}auth required pam_\u{0}z.so\nauth required pam_ok.so\n"
        );
        let mut bytes = hostile.into_bytes();
        bytes.extend_from_slice(b"auth required pam_\xff.so\n");
        let map = HashMap::from([("h".to_string(), bytes)]);
        let m = pam_modules("h", &mut |n| map.get(n).cloned());
        assert_eq!(paths(&m), ["pam_ok.so"]);
        assert_eq!(m.warnings.len(), 10, "{:#?}", m.warnings);
        assert!(
            !m.warnings
                .iter()
                .any(|w| w.contains("evil") || w.contains("shadow"))
        );
    }

    #[test]
    fn file_and_module_counts_are_bounded() {
        // One file including itself 300 times under other names: every name is the same text.
        let text: String = (0..300)
            .map(|i| format!("@include f{i}\n"))
            .collect::<String>()
            + &(0..5000)
                .map(|i| format!("auth optional pam_{i}.so\n"))
                .collect::<String>();
        let mut reads = 0;
        let m = pam_modules("f", &mut |_| {
            reads += 1;
            Some(text.clone().into_bytes())
        });
        assert!(reads <= MAX_FILES);
        assert!(m.modules.len() <= MAX_MODULES);
        assert!(m.warnings.iter().any(|w| w.contains("more than 256")));
        assert!(m.warnings.iter().any(|w| w.contains("more than 4096")));
    }
}
