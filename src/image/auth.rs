/*!
Registry credentials where the container ecosystem keeps them (containers-auth.json(5), docker's
`config.json`): `--authfile FILE` alone when given; else `$REGISTRY_AUTH_FILE` alone when set; else
`${XDG_RUNTIME_DIR}/containers/auth.json`, `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`,
then `${DOCKER_CONFIG:-~/.docker}/config.json`, the first that has an entry winning.

In each file: `credHelpers[HOST]` (a credential helper for that registry), then `auths` (the most
specific key first: `HOST/NS/REPO`, ..., `HOST`; docker.io also under its legacy names), then
`credsStore` (the helper for every registry). A helper is the user's own program,
`docker-credential-NAME get`, given the registry on standard input and answering JSON; it is run
with a time limit, and one that fails or has nothing gives no credentials.
*/

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{ImageError, bad, json};

/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: std::collections::HashMap<String, Entry>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: std::collections::HashMap<String, String>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct Entry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// The auth files read, in order.
fn files(authfile: Option<&Path>) -> Vec<PathBuf> {
    if let Some(f) = authfile {
        return vec![f.to_path_buf()];
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        return vec![f];
    }
    let home = env("HOME");
    let mut v = Vec::new();
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        v.push(d.join("containers/auth.json"));
    }
    if let Some(d) = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config"))) {
        v.push(d.join("containers/auth.json"));
    }
    if let Some(d) = env("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker"))) {
        v.push(d.join("config.json"));
    }
    v
}

/// The names a registry's entry may have: docker.io also under its legacy ones.
fn hosts(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        vec![
            "docker.io".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
            "https://index.docker.io/v1/".into(),
        ]
    } else {
        vec![registry.to_string()]
    }
}

/// An `auths` key without a scheme or a trailing `/`, as containers/image normalises them.
fn normalise(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    k.strip_suffix("/v1").or(k.strip_suffix("/v2")).unwrap_or(k)
}

/// Credentials for `registry` (as the reference names it: `docker.io`, `HOST:PORT`) and
/// `repository`: user, password, and where they were found (for messages).
pub fn lookup(
    registry: &str,
    repository: &str,
    authfile: Option<&Path>,
) -> Result<Option<(String, String, String)>, ImageError> {
    for f in files(authfile) {
        let bytes = match std::fs::read(&f) {
            Ok(b) => b,
            // A default file that is not there has nothing; one asked for must be there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && authfile.is_none() => continue,
            Err(e) => {
                return Err(bad(format!(
                    "cannot read the auth file {}: {e}",
                    f.display()
                )));
            }
        };
        let shown = format!("the auth file {}", f.display());
        let file: AuthFile = json(
            &bytes,
            &shown,
            "an auth file (an object with `auths`, `credHelpers` or `credsStore`)",
        )?;
        for h in hosts(registry) {
            if let Some(helper) = file.cred_helpers.get(&h)
                && let Some((u, p)) = helper_get(helper, &h)?
            {
                return Ok(Some((
                    u,
                    p,
                    format!("docker-credential-{helper} ({shown})"),
                )));
            }
        }
        // The most specific key first: HOST/NS/REPO, HOST/NS, HOST.
        let parts: Vec<&str> = repository.split('/').collect();
        let mut scopes = Vec::new();
        for h in hosts(registry) {
            for k in (1..=parts.len()).rev() {
                scopes.push(format!("{}/{}", normalise(&h), parts[..k].join("/")));
            }
            scopes.push(h);
        }
        for scope in &scopes {
            let hit = file
                .auths
                .iter()
                .find(|(k, _)| normalise(k) == normalise(scope) || k.as_str() == scope);
            if let Some((k, e)) = hit {
                return entry(e, &format!("{shown}, entry `{k}`")).map(Some);
            }
        }
        if let Some(store) = &file.creds_store {
            let server = hosts(registry).pop().unwrap_or_default();
            if let Some((u, p)) = helper_get(store, &server)? {
                return Ok(Some((u, p, format!("docker-credential-{store} ({shown})"))));
            }
        }
    }
    Ok(None)
}

fn entry(e: &Entry, whose: &str) -> Result<(String, String, String), ImageError> {
    use base64::Engine;
    if e.identitytoken.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(bad(format!(
            "{whose} holds an identity token, which elfdeps cannot use: give --creds USER:PASS"
        )));
    }
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        return Ok((u.clone(), p.clone(), whose.to_string()));
    }
    let decoded = e
        .auth
        .as_deref()
        .and_then(|a| {
            base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .ok()
        })
        .and_then(|d| String::from_utf8(d).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((u, p)) => Ok((u.to_string(), p.to_string(), whose.to_string())),
        None => Err(bad(format!(
            "{whose}: its `auth` is not base64 of USER:PASSWORD; log in again or give --creds"
        ))),
    }
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-NAME get` for `server`: `None` when it has nothing (or fails).
fn helper_get(name: &str, server: &str) -> Result<Option<(String, String)>, ImageError> {
    if name.is_empty() || name.contains('/') {
        return Err(bad(format!(
            "the credential helper `{name}` is not a helper name"
        )));
    }
    let program = format!("docker-credential-{name}");
    let Ok(mut child) = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return Err(bad(format!(
            "the auth file names the credential helper {program}, which cannot be run (is it \
             installed?); give --creds USER:PASS or --authfile FILE instead"
        )));
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(1 << 20).read_to_end(&mut out);
        }
        out
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > HELPER_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let out = reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(bad(format!(
            "the credential helper {program} did not answer within {}s",
            HELPER_TIMEOUT.as_secs()
        )));
    };
    if !status.success() {
        return Ok(None);
    }
    let a: HelperAnswer = json(
        &out,
        &format!("the answer of {program}"),
        "credentials (an object with Username and Secret)",
    )?;
    if a.username == "<token>" {
        return Err(bad(format!(
            "{program} holds an identity token, which elfdeps cannot use: give --creds USER:PASS"
        )));
    }
    Ok(Some((a.username, a.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(file: &str, registry: &str, repo: &str) -> Result<Option<(String, String)>, String> {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("auth.json");
        std::fs::write(&p, file).expect("write");
        lookup(registry, repo, Some(&p))
            .map(|o| o.map(|(u, p, _)| (u, p)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_most_specific_entry_wins_and_docker_io_has_its_legacy_names() {
        // "a:b" and "c:d" in base64.
        let file = r#"{"auths":{"reg.example:5000":{"auth":"YTpi"},
                      "reg.example:5000/team/app":{"auth":"Yzpk"},
                      "https://index.docker.io/v1/":{"auth":"Yzpk"}}}"#;
        let ab = Some(("a".to_string(), "b".to_string()));
        let cd = Some(("c".to_string(), "d".to_string()));
        assert_eq!(with(file, "reg.example:5000", "team/app"), Ok(cd.clone()));
        assert_eq!(with(file, "reg.example:5000", "team/other"), Ok(ab));
        assert_eq!(with(file, "docker.io", "library/alpine"), Ok(cd));
        assert_eq!(with(file, "other.example", "x"), Ok(None));
    }

    #[test]
    fn bad_auth_files_are_refused_in_our_words() {
        let e = with("{not json", "r", "x").unwrap_err();
        assert!(e.contains("is not valid JSON"), "{e}");
        let e = with(r#"{"auths":{"r":{"auth":"!!"}}}"#, "r", "x").unwrap_err();
        assert!(e.contains("not base64 of USER:PASSWORD"), "{e}");
        let e = with(r#"{"auths":{"r":{"identitytoken":"t"}}}"#, "r", "x").unwrap_err();
        assert!(e.contains("identity token"), "{e}");
        let e = with(r#"{"credHelpers":{"r":"../x"}}"#, "r", "x").unwrap_err();
        assert!(e.contains("not a helper name"), "{e}");
    }

    #[test]
    fn a_missing_authfile_asked_for_is_an_error() {
        let e = lookup("r", "x", Some(Path::new("/nonexistent/auth.json")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the auth file"), "{e}");
    }
}
