/*!
Pulling `docker://HOST[:PORT]/REPO(:TAG|@DIGEST)` (skopeo's syntax; docker's defaults: `docker.io`,
`library/`) into an OCI image layout, which [`super::unpack`] then reads like any other layout: the
scan of a pulled image is the scan of the layout that was pushed.

Only what the image needs is fetched: the manifest (through an index, the one for the platform), the
config and the layers. Every document and blob is checked against its digest, and held to a size
before and while it is read: a manifest or index to [`MAX_MANIFEST`], a config to [`MAX_CONFIG`], a
layer to its descriptor's size and to `--max-layer-size`, all layers together to
`--max-image-size`. Blobs stream to disk, never whole into memory.

The distribution API's pull requests (`/v2/`, the token service its `WWW-Authenticate` challenge
names, manifests, blobs) are made here with reqwest, every body read within a cap; oci-spec parses
the reference (docker's defaults), http-auth the challenge. (oci-client, tried first, reads
manifests, error bodies and token answers whole with no bound, and follows a layer descriptor's
`urls` to other hosts: see Cargo.toml.)

Time is bounded by `--connect-timeout`, and by `--read-timeout` twice over: no answer (headers or
the next bytes of a body) for that long, or fewer than [`MIN_BYTES_PER_WINDOW`] bytes in any such
span (a slow drip), abandons the transfer. Redirects are followed at most [`MAX_REDIRECTS`] times;
connection failures, HTTP 429 and 5xx are retried at most [`ATTEMPTS`] times in all.
*/

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use oci_spec::distribution::Reference;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ImageError, ImageOptions, Platform, bad, digest_hex, hex, json};

/// Most bytes of a manifest or an index (containers/image and containerd use the same bound).
pub const MAX_MANIFEST: u64 = 4 << 20;
/// Most bytes of an image config.
pub const MAX_CONFIG: u64 = 16 << 20;
/// Redirects followed per request.
pub const MAX_REDIRECTS: usize = 5;
/// Tries per request (connection failures, 429, 5xx).
pub const ATTEMPTS: u32 = 3;
/// Most bytes of a token service's answer.
pub const MAX_TOKEN: u64 = 1 << 20;
/// Fewer bytes than this in a `--read-timeout` span abandon a body.
pub const MIN_BYTES_PER_WINDOW: u64 = 16 << 10;

const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const ACCEPT: &[&str] = &[
    MEDIA_OCI_MANIFEST,
    MEDIA_OCI_INDEX,
    MEDIA_DOCKER_MANIFEST,
    MEDIA_DOCKER_LIST,
];

/// What `docker://` accepts, for messages.
const SYNTAX: &str = "expected docker://[HOST[:PORT]/]REPO[:TAG|@sha256:DIGEST], e.g. \
                      docker://docker.io/library/alpine:3.20 or docker://localhost:5000/app:v1";

/// A descriptor as a manifest or index has it (only the fields used).
#[derive(Clone, Deserialize)]
struct Desc {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    platform: Option<PlatformJson>,
}

#[derive(Clone, Deserialize)]
struct PlatformJson {
    os: String,
    architecture: String,
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion", default)]
    schema_version: i64,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct IndexDoc {
    manifests: Vec<Desc>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Desc,
    layers: Vec<Desc>,
}

/// What a manifest document is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Index,
    Image,
}

fn kind_of_media(m: &str) -> Option<Kind> {
    match m {
        MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST => Some(Kind::Index),
        MEDIA_OCI_MANIFEST | MEDIA_DOCKER_MANIFEST => Some(Kind::Image),
        _ => None,
    }
}

/// Pulls the image `text` (without `docker://`) names into a new OCI layout at `layout` (an empty
/// directory), for the platform of `opts` (default: the host's).
pub fn pull(text: &str, opts: &ImageOptions, layout: &Path) -> Result<(), ImageError> {
    let reference: Reference = text.parse().map_err(|_| {
        bad(format!(
            "`docker://{text}` is not a registry reference: {SYNTAX}"
        ))
    })?;
    if let Some(d) = reference.digest() {
        digest_hex(d)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| bad(format!("cannot start the network runtime: {e}")))?;
    rt.block_on(Puller::new(reference, opts)?.run(layout))
}

struct Puller<'a> {
    reference: Reference,
    opts: &'a ImageOptions,
    /// `--creds` or the auth files' user and password.
    creds: Option<(String, String)>,
    /// The `Authorization` header negotiated, and until when it holds (`None`: not yet asked).
    authorization: std::sync::Mutex<Option<(Option<String>, Instant)>>,
    http: Option<reqwest::Client>,
    scheme: &'static str,
    certs: Vec<Vec<u8>>,
    /// Where the credentials came from, for messages about a refusal.
    creds_from: String,
}

impl<'a> Puller<'a> {
    fn new(reference: Reference, opts: &'a ImageOptions) -> Result<Self, ImageError> {
        let r = &opts.registry;
        let (creds, creds_from) = match &r.creds {
            Some((u, p)) => (Some((u.clone(), p.clone())), "--creds".to_string()),
            None => match super::auth::lookup(
                reference.registry(),
                reference.repository(),
                r.authfile.as_deref(),
            )? {
                Some((u, p, from)) => (Some((u, p)), from),
                None => (None, String::new()),
            },
        };
        let certs = match &r.cert_dir {
            Some(d) => read_certs(d)?,
            None => Vec::new(),
        };
        Ok(Puller {
            reference,
            opts,
            creds,
            authorization: std::sync::Mutex::new(None),
            http: None,
            scheme: "https",
            certs,
            creds_from,
        })
    }

    /// Where the registry's API is: docker.io's at registry-1.docker.io (as docker and
    /// containers/image reach it).
    fn host(&self) -> &str {
        match self.reference.registry() {
            "docker.io" => "registry-1.docker.io",
            r => r,
        }
    }

    fn shown(&self) -> String {
        format!("docker://{}", self.reference.whole())
    }

    /// Sets up the HTTP client for `scheme` (kept for every later request) and hands it back.
    fn clients(&mut self, scheme: &'static str) -> Result<reqwest::Client, ImageError> {
        let r = &self.opts.registry;
        let mut b = reqwest::Client::builder()
            .connect_timeout(r.connect_timeout)
            .read_timeout(r.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .user_agent(concat!("elfdeps/", env!("CARGO_PKG_VERSION")))
            .danger_accept_invalid_certs(!r.tls_verify);
        for pem in &self.certs {
            let c = reqwest::Certificate::from_pem(pem)
                .map_err(|_| bad("a certificate of --cert-dir is not a PEM certificate"))?;
            b = b.add_root_certificate(c);
        }
        let http = b
            .build()
            .map_err(|_| bad("cannot set up HTTPS (the TLS settings were refused)"))?;
        self.http = Some(http.clone());
        self.scheme = scheme;
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(http)
    }

    /// Bounded wait for a future (the answer's headers, a token).
    fn deadline(&self) -> Duration {
        let r = &self.opts.registry;
        r.connect_timeout + r.read_timeout
    }

    async fn run(mut self, layout: &Path) -> Result<(), ImageError> {
        let http = self.clients("https")?;
        if !self.opts.registry.tls_verify {
            // As skopeo does with --tls-verify=false: HTTPS (unverified) when it answers, else
            // plain HTTP.
            let url = format!("https://{}/v2/", self.host());
            let answered = tokio::time::timeout(self.deadline(), http.get(&url).send())
                .await
                .is_ok_and(|r| r.is_ok());
            if !answered {
                self.clients("http")?;
            }
        }
        let top_ref = match self.reference.digest() {
            Some(d) => d.to_string(),
            None => self.reference.tag().unwrap_or("latest").to_string(),
        };
        let (bytes, digest, kind, media) = self.manifest(&top_ref, None).await?;
        let (bytes, digest, media) = match kind {
            Kind::Image => (bytes, digest, media),
            Kind::Index => {
                let index: IndexDoc =
                    json(&bytes, &format!("the index {digest}"), super::INDEX_SHAPE)?;
                let chosen = self.choose(&index)?;
                digest_hex(&chosen.digest)?;
                let (b, d, k, m) = self.manifest(&chosen.digest, Some(&chosen)).await?;
                if k != Kind::Image {
                    return Err(bad(format!(
                        "the index names {} for {}, but that is another index: nested \
                         indexes are not followed",
                        chosen.digest,
                        self.want().show()
                    )));
                }
                (b, d, m)
            }
        };
        let manifest: ManifestDoc = json(
            &bytes,
            &format!("the manifest {digest}"),
            super::MANIFEST_SHAPE,
        )?;
        self.check_sizes(&manifest)?;
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)
            .map_err(|e| bad(format!("cannot create {}: {e}", blobs.display())))?;
        let write = |name: &Path, data: &[u8]| {
            std::fs::write(name, data)
                .map_err(|e| bad(format!("cannot write {}: {e}", name.display())))
        };
        write(&blobs.join(digest_hex(&digest)?), &bytes)?;
        let total: u64 = std::iter::once(&manifest.config)
            .chain(&manifest.layers)
            .map(|d| d.size.max(0) as u64)
            .sum();
        let bar = crate::progress::Progress::bytes(
            &format!("pulling {}", self.shown()),
            total,
            self.opts.registry.progress,
        );
        self.blob(&manifest.config, None, &blobs, &bar).await?;
        let mut image_left = self.opts.max_image;
        for (i, l) in manifest.layers.iter().enumerate() {
            let got = self.blob(l, Some((i, image_left)), &blobs, &bar).await?;
            image_left = image_left.saturating_sub(got);
        }
        bar.finish();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_INDEX,
            "manifests": [{"mediaType": media, "digest": digest, "size": bytes.len()}],
        });
        write(
            &layout.join("index.json"),
            &serde_json::to_vec(&index).map_err(|e| bad(e.to_string()))?,
        )?;
        write(
            &layout.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Ok(())
    }

    fn want(&self) -> Platform {
        self.opts.platform.clone().unwrap_or_else(Platform::host)
    }

    /// The image of `index` for the platform asked (or the host's).
    fn choose(&self, index: &IndexDoc) -> Result<Desc, ImageError> {
        let want = self.want();
        let asked = if self.opts.platform.is_some() {
            ""
        } else {
            " (the host's; --platform chooses another)"
        };
        let hits: Vec<&Desc> = index
            .manifests
            .iter()
            .filter(|d| {
                d.platform.as_ref().is_some_and(|p| {
                    p.os == want.os
                        && p.architecture == want.arch
                        && (want.variant.is_none() || p.variant == want.variant)
                })
            })
            .collect();
        let list = || {
            let v: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| {
                    let mut s = format!("{}/{}", p.os, p.architecture);
                    if let Some(v) = &p.variant {
                        s.push('/');
                        s.push_str(v);
                    }
                    s
                })
                .collect();
            if v.is_empty() {
                "none says its platform".to_string()
            } else {
                v.join(", ")
            }
        };
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            // The index's only image, whose descriptor does not say its platform: its config is
            // checked against --platform once read (as for a layout).
            [] if index.manifests.len() == 1 && index.manifests[0].platform.is_none() => {
                Ok(index.manifests[0].clone())
            }
            [] => Err(bad(format!(
                "the index has no image for {}{asked}; its platforms: {}",
                want.show(),
                list()
            ))),
            [first, rest @ ..] if rest.iter().all(|d| d.digest == first.digest) => {
                Ok((*first).clone())
            }
            _ => Err(bad(format!(
                "the index has several images for {}{asked}: name the variant, e.g. \
                 --platform {}/VARIANT; its platforms: {}",
                want.show(),
                want.show(),
                list()
            ))),
        }
    }

    /// Refuses, before any download, a manifest whose declared sizes pass the caps.
    fn check_sizes(&self, m: &ManifestDoc) -> Result<(), ImageError> {
        if m.config.size < 0 || m.config.size as u64 > MAX_CONFIG {
            return Err(bad(format!(
                "the config {} declares {} bytes; elfdeps reads configs of at most {} bytes",
                m.config.digest, m.config.size, MAX_CONFIG
            )));
        }
        digest_hex(&m.config.digest)?;
        let mut sum = 0u64;
        for (i, l) in m.layers.iter().enumerate() {
            digest_hex(&l.digest)?;
            if l.size < 0 {
                return Err(ImageError::Layer(
                    i,
                    "its descriptor has a negative size".into(),
                ));
            }
            let s = l.size as u64;
            if s > self.opts.max_layer {
                return Err(ImageError::Layer(
                    i,
                    format!(
                        "its blob is {s} bytes, more than --max-layer-size ({}): not \
                         downloaded (raise --max-layer-size to allow it)",
                        self.opts.max_layer
                    ),
                ));
            }
            sum = sum.saturating_add(s);
        }
        if sum > self.opts.max_image {
            return Err(bad(format!(
                "the image's layers are {sum} bytes, more than --max-image-size ({}): not \
                 downloaded (raise --max-image-size to allow it)",
                self.opts.max_image
            )));
        }
        Ok(())
    }

    /// The `Authorization` header for the registry's requests, if any: negotiated once (the
    /// registry's `/v2/` answer: nothing asked, `Basic` with the credentials, or a `Bearer` token
    /// from the service its challenge names), again once a token is near its end.
    async fn authorization(&self) -> Result<Option<String>, ImageError> {
        if let Some((h, until)) = self
            .authorization
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            && Instant::now() < until
        {
            return Ok(h);
        }
        let url = format!("{}://{}/v2/", self.scheme, self.host());
        let resp = self.send(&url, None, None, "the API version check").await?;
        let forever = Instant::now() + Duration::from_secs(24 * 3600);
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        drop(resp);
        let (header, until) = match challenge {
            None => (None, forever),
            Some(c) => self.answer(&c).await?,
        };
        *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((header.clone(), until));
        Ok(header)
    }

    /// The header that answers the challenge `c`, and until when it holds.
    async fn answer(&self, c: &str) -> Result<(Option<String>, Instant), ImageError> {
        use base64::Engine;
        let forever = Instant::now() + Duration::from_secs(24 * 3600);
        let basic = self.creds.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let challenges = http_auth::parse_challenges(c).map_err(|_| {
            bad("the registry's authentication challenge (WWW-Authenticate) cannot be parsed")
        })?;
        let bearer = challenges
            .iter()
            .find(|ch| ch.scheme.eq_ignore_ascii_case("bearer"));
        let Some(bearer) = bearer else {
            // Basic (or a scheme elfdeps does not speak): the credentials as they are.
            return Ok((basic, forever));
        };
        let param = |k: &str| {
            bearer
                .params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.to_unescaped())
        };
        let Some(realm) = param("realm") else {
            return Err(bad(
                "the registry asks for a bearer token but names no token service (no realm)",
            ));
        };
        let mut url = reqwest::Url::parse(&realm).map_err(|_| {
            bad("the registry's token service (its challenge's realm) is not a URL")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the registry's token service is not an HTTP(S) URL"));
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = param("service") {
                q.append_pair("service", &s);
            }
            q.append_pair(
                "scope",
                &format!("repository:{}:pull", self.reference.repository()),
            );
        }
        let what = "a token from the registry's token service";
        let resp = self.send(url.as_str(), None, basic.clone(), what).await?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(bad(format!(
                "the registry's token service refused {} (HTTP {status}): {}",
                self.whose(),
                self.login_hint()
            )));
        }
        if resp.content_length().is_some_and(|n| n > MAX_TOKEN) {
            return Err(self.token_too_big());
        }
        let mut bytes = Vec::new();
        self.body(resp, what, MAX_TOKEN, &|| self.token_too_big(), |c| {
            bytes.extend_from_slice(c);
            Ok(())
        })
        .await?;
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let t: Token = json(
            &bytes,
            "the token service's answer",
            "a token (an object with `token` or `access_token`)",
        )?;
        let Some(token) = t.token.or(t.access_token).filter(|t| !t.is_empty()) else {
            return Err(bad("the registry's token service answered no token"));
        };
        // Asked for anew a little before it ends (60 s when it does not say, as the spec's
        // default).
        let life = t.expires_in.unwrap_or(60).clamp(10, 3600);
        let until = Instant::now() + Duration::from_secs(life.saturating_sub(5));
        Ok((Some(format!("Bearer {token}")), until))
    }

    fn token_too_big(&self) -> ImageError {
        bad(format!(
            "the registry's token service answered more than {MAX_TOKEN} bytes, more than any \
             real token: not read"
        ))
    }

    fn whose(&self) -> String {
        if self.creds_from.is_empty() {
            "an anonymous pull".to_string()
        } else {
            format!("the credentials of {}", self.creds_from)
        }
    }

    fn login_hint(&self) -> &'static str {
        "give --creds USER:PASS or --authfile FILE, or log in (skopeo login, docker login)"
    }

    /// Words for a transport failure.
    fn transport(&self, e: &reqwest::Error) -> ImageError {
        let host = self.host();
        let r = &self.opts.registry;
        bad(if e.is_redirect() {
            format!(
                "the registry redirected more than {MAX_REDIRECTS} times (a redirect loop): \
                 not followed further"
            )
        } else if e.is_timeout() {
            format!(
                "{host} did not answer within --connect-timeout ({}s) / --read-timeout \
                 ({}s)",
                r.connect_timeout.as_secs(),
                r.read_timeout.as_secs()
            )
        } else if e.is_connect() {
            if self.scheme == "https" && r.tls_verify {
                format!(
                    "cannot connect to {host} over HTTPS: it refused, is unreachable, or its \
                     certificate is not trusted (--cert-dir DIR trusts a CA; --tls-verify=false \
                     allows plain HTTP and unverified TLS)"
                )
            } else {
                format!(
                    "cannot connect to {host} ({}): it refused or is unreachable",
                    self.scheme.to_uppercase()
                )
            }
        } else {
            format!("the connection to {host} failed during the transfer")
        })
    }

    fn status_error(&self, status: u16, what: &str) -> ImageError {
        bad(match status {
            401 | 403 => format!(
                "the registry refused {} for {what} (HTTP {status}): {}",
                self.whose(),
                self.login_hint()
            ),
            404 => format!(
                "{what} is not in the registry (HTTP 404): check the repository, tag or digest"
            ),
            _ => format!("the registry answered HTTP {status} for {what}"),
        })
    }

    /// GET `url` with the registry's authorization; the response is successful. A bearer
    /// token refused (expired early) is asked for once more.
    async fn get(
        &self,
        url: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<reqwest::Response, ImageError> {
        let mut renewed = false;
        loop {
            let auth = self.authorization().await?;
            let bearer = auth.as_deref().is_some_and(|h| h.starts_with("Bearer "));
            let resp = self.send(url, accept, auth, what).await?;
            let status = resp.status().as_u16();
            if status == 401 && bearer && !renewed {
                renewed = true;
                *self.authorization.lock().unwrap_or_else(|p| p.into_inner()) = None;
                continue;
            }
            if !resp.status().is_success() {
                return Err(self.status_error(status, what));
            }
            return Ok(resp);
        }
    }

    /// GET `url`, retried on connection failures, 429 and 5xx (at most [`ATTEMPTS`] tries, 1 s
    /// and 2 s apart); any other answer is returned as it is.
    async fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        auth: Option<String>,
        what: &str,
    ) -> Result<reqwest::Response, ImageError> {
        // `run` sets the client up before any request.
        let Some(http) = self.http.as_ref() else {
            return Err(bad(
                "no HTTP client was set up before a request (a bug in elfdeps)",
            ));
        };
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
            }
            let mut req = http.get(url);
            if let Some(a) = accept {
                req = req.header(reqwest::header::ACCEPT, a);
            }
            if let Some(h) = &auth {
                req = req.header(reqwest::header::AUTHORIZATION, h);
            }
            let sent = tokio::time::timeout(self.deadline(), req.send()).await;
            let resp = match sent {
                Err(_) => {
                    return Err(bad(format!(
                        "{} did not answer the request for {what} within {}s \
                         (--connect-timeout + --read-timeout)",
                        self.host(),
                        self.deadline().as_secs()
                    )));
                }
                Ok(Err(e)) if e.is_connect() => {
                    last = Some(self.transport(&e));
                    continue;
                }
                Ok(Err(e)) => return Err(self.transport(&e)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status().as_u16();
            if status == 429 || status >= 500 {
                last = Some(self.status_error(status, what));
                continue;
            }
            return Ok(resp);
        }
        Err(last.unwrap_or_else(|| bad("no attempt was made")))
    }

    /// A manifest or index by tag or digest (`want`: the descriptor it was reached by), read
    /// within [`MAX_MANIFEST`] and checked: its digest, its media type against the answer's
    /// `Content-Type` and the descriptor's.
    async fn manifest(
        &self,
        reference: &str,
        want: Option<&Desc>,
    ) -> Result<(Vec<u8>, String, Kind, String), ImageError> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{reference}",
            self.scheme,
            self.host(),
            self.reference.repository()
        );
        let what = format!("the manifest `{reference}`");
        let resp = self.get(&url, Some(&ACCEPT.join(", ")), &what).await?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if resp.content_length().is_some_and(|n| n > MAX_MANIFEST) {
            return Err(self.too_big(&what));
        }
        let mut bytes = Vec::new();
        self.body(
            resp,
            &what,
            MAX_MANIFEST,
            &|| self.too_big(&what),
            |chunk| {
                bytes.extend_from_slice(chunk);
                Ok(())
            },
        )
        .await?;
        let digest = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
        let pinned = want.map(|d| d.digest.as_str()).or(self.reference.digest());
        if reference.starts_with("sha256:") || pinned.is_some() {
            let expected = if reference.starts_with("sha256:") {
                reference
            } else {
                pinned.unwrap_or_default()
            };
            if digest != expected {
                return Err(bad(format!(
                    "{what} hashes to {digest}, not to the digest it was asked by: corrupt \
                     or tampered"
                )));
            }
        }
        if let Some(h) = &header_digest
            && h.starts_with("sha256:")
            && *h != digest
        {
            return Err(bad(format!(
                "{what} hashes to {digest}, but the registry says it is {h} \
                 (Docker-Content-Digest): corrupt or tampered"
            )));
        }
        let probe: Probe = json(&bytes, &what, "a manifest")?;
        if probe.schema_version != 2 {
            return Err(bad(format!(
                "{what} is a schema {} manifest; elfdeps reads schema 2 (OCI, Docker v2.2) \
                 manifests and indexes",
                probe.schema_version
            )));
        }
        // The document's own media type, else the answer's, else its shape.
        let media = probe
            .media_type
            .clone()
            .or_else(|| content_type.clone().filter(|c| kind_of_media(c).is_some()))
            .unwrap_or_else(|| {
                if probe.manifests.is_some() {
                    MEDIA_OCI_INDEX.to_string()
                } else {
                    MEDIA_OCI_MANIFEST.to_string()
                }
            });
        let Some(kind) = kind_of_media(&media) else {
            return Err(bad(format!(
                "{what} is of media type `{}`, which is not an image manifest or index",
                crate::name::escape_controls(&media)
            )));
        };
        let mismatch = |other: &str, whose: &str| {
            bad(format!(
                "{what} says it is `{}` but {whose} says `{}`: the media types disagree, so \
                 it is not read",
                crate::name::escape_controls(&media),
                crate::name::escape_controls(other)
            ))
        };
        if let Some(ct) = &content_type
            && kind_of_media(ct).is_some()
            && kind_of_media(ct) != Some(kind)
        {
            return Err(mismatch(ct, "the registry's Content-Type"));
        }
        if let Some(d) = want
            && !d.media_type.is_empty()
            && kind_of_media(&d.media_type) != Some(kind)
        {
            return Err(mismatch(&d.media_type, "the index's descriptor"));
        }
        let shape_ok = match kind {
            Kind::Index => probe.manifests.is_some(),
            Kind::Image => probe.layers.is_some(),
        };
        if !shape_ok {
            return Err(mismatch(
                if kind == Kind::Index {
                    "a manifest (it has layers)"
                } else {
                    "an index (it has manifests)"
                },
                "its content",
            ));
        }
        Ok((bytes, digest, kind, media))
    }

    fn too_big(&self, what: &str) -> ImageError {
        bad(format!(
            "{what} is larger than {MAX_MANIFEST} bytes, more than any real manifest: not \
             read"
        ))
    }

    /// Reads a response body chunk by chunk into `sink`, within `max` bytes and the time rules.
    async fn body(
        &self,
        resp: reqwest::Response,
        what: &str,
        max: u64,
        over: &dyn Fn() -> ImageError,
        mut sink: impl FnMut(&[u8]) -> Result<(), ImageError>,
    ) -> Result<u64, ImageError> {
        let window = self.opts.registry.read_timeout;
        let mut stream = resp.bytes_stream();
        let mut got = 0u64;
        let mut window_start = Instant::now();
        let mut window_bytes = 0u64;
        loop {
            // A span is over: it must have moved enough, then the next one starts.
            if window_start.elapsed() >= window {
                if window_bytes < MIN_BYTES_PER_WINDOW {
                    return Err(self.stalled(what, window_bytes));
                }
                window_start = Instant::now();
                window_bytes = 0;
            }
            let left = window.saturating_sub(window_start.elapsed());
            let chunk = match tokio::time::timeout(left, stream.next()).await {
                Ok(None) => return Ok(got),
                Ok(Some(Ok(c))) => c,
                Ok(Some(Err(e))) => return Err(self.transport(&e)),
                // The span ended while waiting: judged at the top.
                Err(_) => continue,
            };
            got += chunk.len() as u64;
            window_bytes += chunk.len() as u64;
            if got > max {
                return Err(over());
            }
            sink(&chunk)?;
        }
    }

    fn stalled(&self, what: &str, bytes: u64) -> ImageError {
        bad(format!(
            "{what} came too slowly ({bytes} bytes in {}s, less than {} KiB per \
             --read-timeout): abandoned",
            self.opts.registry.read_timeout.as_secs(),
            MIN_BYTES_PER_WINDOW >> 10
        ))
    }

    /// Downloads the blob `d` into `dir` (or takes it from the cache), checking its size and
    /// digest; `layer`: its index and the bytes the image may still take. Returns its size.
    async fn blob(
        &self,
        d: &Desc,
        layer: Option<(usize, u64)>,
        dir: &Path,
        bar: &crate::progress::Progress,
    ) -> Result<u64, ImageError> {
        let hex_digest = digest_hex(&d.digest)?.to_string();
        let dest = dir.join(&hex_digest);
        let size = d.size.max(0) as u64;
        let on_layer = |e: ImageError| match (layer, e) {
            (Some((i, _)), ImageError::Image(m)) => ImageError::Layer(i, m),
            (_, e) => e,
        };
        if let Some(cache) = &self.opts.registry.blob_cache
            && let Some(n) = super::cache::take(cache, &hex_digest, &dest)
        {
            bar.inc_by(n);
            return Ok(n);
        }
        let what = match layer {
            Some(_) => format!("the layer blob {}", d.digest),
            None => format!("the config {}", d.digest),
        };
        let max = match layer {
            Some((_, image_left)) => size.min(self.opts.max_layer).min(image_left),
            None => size.min(MAX_CONFIG),
        };
        let url = format!(
            "{}://{}/v2/{}/blobs/{}",
            self.scheme,
            self.host(),
            self.reference.repository(),
            d.digest
        );
        let resp = self.get(&url, None, &what).await.map_err(on_layer)?;
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(on_layer(self.oversized_blob(&what, size)));
        }
        let part = dir.join(format!("{hex_digest}.part"));
        let mut f = std::fs::File::create(&part)
            .map_err(|e| bad(format!("cannot create {}: {e}", part.display())))?;
        let mut h = Sha256::new();
        let got = self
            .body(
                resp,
                &what,
                max,
                &|| self.oversized_blob(&what, size),
                |c| {
                    h.update(c);
                    bar.inc_by(c.len() as u64);
                    f.write_all(c)
                        .map_err(|e| bad(format!("cannot write {}: {e}", part.display())))
                },
            )
            .await;
        let got = match got {
            Ok(n) => n,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(on_layer(e));
            }
        };
        let actual = format!("sha256:{}", hex(&h.finalize()));
        if actual != d.digest || got != size {
            let _ = std::fs::remove_file(&part);
            let how = if got != size {
                format!("arrived as {got} bytes, not the {size} its descriptor names")
            } else {
                format!("hashes to {actual}, not to its digest")
            };
            return Err(on_layer(bad(format!("{what} {how}: corrupt or tampered"))));
        }
        std::fs::rename(&part, &dest)
            .map_err(|e| bad(format!("cannot write {}: {e}", dest.display())))?;
        if let Some(cache) = &self.opts.registry.blob_cache {
            super::cache::keep(cache, &hex_digest, &dest);
        }
        Ok(got)
    }

    fn oversized_blob(&self, what: &str, size: u64) -> ImageError {
        bad(format!(
            "{what} is larger than its descriptor's {size} bytes or the size caps \
             (--max-layer-size, --max-image-size): abandoned"
        ))
    }
}

/// The PEM certificates (`*.crt`) of `dir`, as skopeo's `--cert-dir` reads them.
fn read_certs(dir: &Path) -> Result<Vec<Vec<u8>>, ImageError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| bad(format!("--cert-dir {}: cannot read it: {e}", dir.display())))?;
    let mut names: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "crt"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for p in names {
        let data = std::fs::read(&p)
            .map_err(|e| bad(format!("--cert-dir: cannot read {}: {e}", p.display())))?;
        if reqwest::Certificate::from_pem(&data).is_err() {
            return Err(bad(format!(
                "--cert-dir: {} is not a PEM certificate",
                p.display()
            )));
        }
        out.push(data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::RegistryOptions;
    use super::*;

    fn index(platforms: &[(&str, &str, Option<&str>)]) -> IndexDoc {
        IndexDoc {
            manifests: platforms
                .iter()
                .enumerate()
                .map(|(i, (os, arch, variant))| Desc {
                    media_type: MEDIA_OCI_MANIFEST.into(),
                    digest: format!("sha256:{i:064}"),
                    size: 1,
                    platform: Some(PlatformJson {
                        os: os.to_string(),
                        architecture: arch.to_string(),
                        variant: variant.map(str::to_string),
                    }),
                })
                .collect(),
        }
    }

    fn choose(idx: &IndexDoc, platform: &str) -> Result<String, String> {
        let opts = ImageOptions {
            platform: Some(Platform::parse(platform).expect("platform")),
            // Credentials given: no auth file of this machine is read (nor a helper run).
            registry: RegistryOptions {
                creds: Some(("u".into(), "p".into())),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = Puller::new("localhost:5000/a:b".parse().expect("ref"), &opts).expect("puller");
        p.choose(idx).map(|d| d.digest).map_err(|e| e.to_string())
    }

    #[test]
    fn the_platform_chooses_and_says_why_it_cannot() {
        let idx = index(&[
            ("linux", "amd64", None),
            ("linux", "arm", Some("v6")),
            ("linux", "arm", Some("v7")),
            ("unknown", "unknown", None),
        ]);
        assert_eq!(choose(&idx, "linux/amd64"), Ok(format!("sha256:{:064}", 0)));
        assert_eq!(
            choose(&idx, "linux/arm/v7"),
            Ok(format!("sha256:{:064}", 2))
        );
        let e = choose(&idx, "linux/arm").unwrap_err();
        assert!(e.contains("several images for linux/arm"), "{e}");
        assert!(e.contains("--platform linux/arm/VARIANT"), "{e}");
        let e = choose(&idx, "linux/s390x").unwrap_err();
        assert!(
            e.contains("no image for linux/s390x")
                && e.contains("linux/amd64, linux/arm/v6, linux/arm/v7, unknown/unknown"),
            "{e}"
        );
    }

    #[test]
    fn media_types_are_told_apart() {
        assert_eq!(kind_of_media(MEDIA_DOCKER_LIST), Some(Kind::Index));
        assert_eq!(kind_of_media(MEDIA_OCI_INDEX), Some(Kind::Index));
        assert_eq!(kind_of_media(MEDIA_DOCKER_MANIFEST), Some(Kind::Image));
        assert_eq!(kind_of_media(MEDIA_OCI_MANIFEST), Some(Kind::Image));
        assert_eq!(
            kind_of_media("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            None
        );
    }
}
