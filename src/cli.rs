//! The command line (the only clap user). Parsed arguments become plain library settings.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Statically analyzes every ELF file in a root filesystem: what each needs, what the real loader
/// would load, what is missing or mismatched. Nothing in the root is executed.
#[derive(Debug, Parser)]
#[command(name = "elfdeps", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk ROOT in parallel and report every ELF file's facts (class, machine, interpreter,
    /// needed libraries, soname, rpath/runpath, symbol versions) and what its loader would load.
    ///
    /// Symlinks are recorded but never followed, FIFOs and devices are never opened, other
    /// filesystems mounted inside ROOT are not entered, and a file that cannot be read is a
    /// per-file error: the scan goes on.
    Scan(ScanArgs),
    /// Show what the loader would load for one file of ROOT, as a tree, with where and why each
    /// library was found (like lddtree or libtree, but inside ROOT and without running anything).
    ///
    /// Exit 0 when the loader finds everything the file needs (or it loads nothing: static), 1 when
    /// something is missing or unusable (a library, a required symbol version, the interpreter:
    /// the file would not start; the report is still written), 2 on a usage or input error.
    Tree(TreeArgs),
    /// Show every chain from the programs of ROOT to a library (by soname, needed name or path).
    Why(WhyArgs),
    /// Judge ROOT (or, with --files, build artifacts) against a policy: libc mismatches, missing
    /// interpreters, libraries and symbol versions, glibc floor, RPATH hazards. Exit 0 when the
    /// policy passes, 1 when it fails, 2 on a usage or input error. Codes: docs/findings.md.
    Check(Box<CheckArgs>),
    /// The minimal set of (sub)packages whose files the programs of ROOT load: the owners of each
    /// program, of everything its loader loads, and of the loader itself.
    Packages(PackagesArgs),
    /// Compare two roots or images A and B: the libcs and glibc floor of each, the sonames added
    /// and removed, the objects at the same path newly broken or fixed in B, and the packages
    /// added, removed or at another version. Exit 0, or 1 when a change named by --gate occurred,
    /// 2 on a usage or input error.
    Diff(DiffArgs),
    /// Write the shell completion script for SHELL to standard output, e.g.
    /// `source <(elfdeps completions bash)`, or save it where the shell loads completions from.
    Completions(CompletionsArgs),
    /// Write the man page (roff) to standard output, e.g. `elfdeps man | man -l -`.
    Man,
}

/// `elfdeps completions` arguments.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `elfdeps packages` arguments.
#[derive(Debug, clap::Args)]
pub struct PackagesArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// Programs (paths inside ROOT); default: every ELF object of ROOT.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// The programs of this installed package instead.
    #[arg(long = "for", value_name = "PKG")]
    pub for_pkg: Option<String>,
    /// Output: one name per line, an `apk add`, `apt-get install` or `dnf install` command, apko
    /// YAML, the set's files, JSON with the reasons, or a CycloneDX SBOM of the set.
    #[arg(long, short = 'f', value_enum, default_value_t = PkgFormatArg::Lines)]
    pub format: PkgFormatArg,
    /// List the installed packages nothing needs instead, with what they contain.
    #[arg(long)]
    pub unneeded: bool,
    /// The package database to read.
    #[arg(long, value_enum, default_value_t = DbArg::Auto)]
    pub db: DbArg,
    /// An APK repository index (APKINDEX.tar.gz) naming the subpackages that provide missing
    /// sonames; repeatable.
    #[arg(long, value_name = "FILE")]
    pub apk_index: Vec<PathBuf>,
    /// Only the owners of what the loader loads (the answer before run-time needs were
    /// modelled): no declared dependencies, helper programs or run-time edges.
    #[arg(long)]
    pub elf_only: bool,
    /// The widest tier of run-time edges followed: required (the default set), recommended
    /// or suggested (`.note.dlopen` priorities).
    #[arg(long, value_enum, default_value_t = TierArg::Required)]
    pub tier: TierArg,
    /// Do not re-resolve the set in a view of the root holding only its files (by default the
    /// set is verified, and what does not resolve there is listed).
    #[arg(long)]
    pub no_verify: bool,
    /// Take this package out of the computed set (repeatable), then verify and write what is
    /// left: whether the program still runs without it.
    #[arg(long, value_name = "PKG")]
    pub drop: Vec<String>,
}

/// `elfdeps diff` arguments (ROOT is A).
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// The second root or image (any form ROOT takes), compared with ROOT.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Output format: the comparison for people, or the elfdeps-diff/1 JSON document.
    #[arg(long, short = 'f', value_enum, default_value_t = TextFormatArg::Human)]
    pub format: TextFormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when one of these changes occurs from ROOT to B (comma-separated, repeatable):
    /// floor-raised (B's glibc floor is higher), newly-broken (an object at the same path would
    /// not start or load in B and did in ROOT, or misses more), soname-removed (a soname ROOT's
    /// objects provide and B's do not), package-removed, libc-changed (the libc flavors
    /// differ), or all.
    #[arg(long, value_name = "CHANGES", value_delimiter = ',', value_enum)]
    pub gate: Vec<GateArg>,
}

/// `diff --gate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GateArg {
    /// B's glibc floor is higher than ROOT's.
    FloorRaised,
    /// An object at the same path is worse in B.
    NewlyBroken,
    /// A soname is provided in ROOT and not in B.
    SonameRemoved,
    /// A package installed in ROOT is not in B.
    PackageRemoved,
    /// The libc flavors differ.
    LibcChanged,
    /// Every change above.
    All,
}

impl DiffArgs {
    /// The kinds of change the gate fails on.
    pub fn gated(&self) -> Vec<elfdeps::diff::Gated> {
        use elfdeps::diff::Gated;
        let mut out = Vec::new();
        for g in &self.gate {
            match g {
                GateArg::FloorRaised => out.push(Gated::FloorRaised),
                GateArg::NewlyBroken => out.push(Gated::NewlyBroken),
                GateArg::SonameRemoved => out.push(Gated::SonameRemoved),
                GateArg::PackageRemoved => out.push(Gated::PackageRemoved),
                GateArg::LibcChanged => out.push(Gated::LibcChanged),
                GateArg::All => out.extend(Gated::ALL),
            }
        }
        out
    }
}

/// `packages --tier`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TierArg {
    /// What the program cannot run without.
    Required,
    /// Also what a feature needs.
    Recommended,
    /// Everything named.
    Suggested,
}

/// `packages --format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PkgFormatArg {
    /// One package name per line.
    Lines,
    /// `apk add --no-cache NAME...`.
    Apk,
    /// apko's `contents.packages` YAML.
    Apko,
    /// `apt-get install --no-install-recommends NAME...` (dpkg roots).
    Apt,
    /// `dnf install NAME...` (rpm roots).
    Dnf,
    /// Every path of the set's packages (and of unowned programs), one per line: what a
    /// distroless-style build extracts.
    Files,
    /// JSON: every package with the objects and files that need it.
    Json,
    /// A CycloneDX 1.6 JSON bill of materials of the set (docs/cyclonedx.md).
    Cyclonedx,
}

/// `--db`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DbArg {
    /// The first found: apk, then dpkg, then rpm.
    Auto,
    /// lib/apk/db/installed.
    Apk,
    /// var/lib/dpkg.
    Dpkg,
    /// var/lib/rpm/rpmdb.sqlite.
    Rpm,
}

/// `elfdeps check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// More files or directories (with --files).
    #[arg(value_name = "PATH")]
    pub more: Vec<PathBuf>,
    /// Treat ROOT and PATH... as build artifacts (files, or directories searched for ELF files),
    /// not as a root filesystem: classify each (libc, glibc floor, architecture) and apply the
    /// policy.
    #[arg(long)]
    pub files: bool,
    /// Output format (dot is not available for check).
    #[arg(long, short = 'f', value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A policy file (TOML; see docs/findings.md). Flags add to it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Fail on objects linked against this libc (glibc, musl, none, unknown); repeatable.
    #[arg(long, value_name = "LIBC")]
    pub deny_libc: Vec<String>,
    /// Fail on objects needing a newer glibc than this (e.g. 2.28).
    #[arg(long, value_name = "VERSION")]
    pub max_glibc: Option<String>,
    /// Fail on findings with this code, whatever their severity; repeatable.
    #[arg(long, value_name = "CODE")]
    pub deny: Vec<String>,
    /// The lowest severity that fails the check (default: error, or the policy file's).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Accept findings: CODE:GLOB, or GLOB for any code; repeatable.
    #[arg(long, value_name = "CODE:GLOB")]
    pub allow: Vec<String>,
    /// Leave objects matching GLOB out of every finding; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// Accept the findings of an earlier `elfdeps check --format json` report.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Also look for unresolved symbols (like ldd -r; reads every loaded object's symbols).
    #[arg(long)]
    pub symbols: bool,
    /// With --onto: ROOT is an application image built FROM this base image; its own layers
    /// (those above this base's, matched by diff_id) are laid over the --onto image, and what
    /// breaks there that did not break on this base is reported (exit 1 when something newly
    /// breaks).
    #[arg(long, value_name = "OLD_BASE", requires = "onto")]
    pub rebase_from: Option<PathBuf>,
    /// The new base image of --rebase-from.
    #[arg(long, value_name = "NEW_BASE", requires = "rebase_from")]
    pub onto: Option<PathBuf>,
    /// List every finding in human output. By default findings with the same code, severity and
    /// directory are one line with their count and one example (json, sarif and junit always
    /// list every finding).
    #[arg(long)]
    pub all: bool,
}

/// What every subcommand that reads a root takes.
#[derive(Debug, clap::Args)]
pub struct RootArgs {
    /// The root filesystem: a directory (an unpacked image, a chroot, or /), a tarball of one
    /// (.tar, .tar.gz, .tar.zst, .tar.xz: docker export, a minirootfs), or an image: oci:DIR[:TAG],
    /// docker-archive:FILE, oci-archive:FILE[:TAG] (a plain path to an OCI layout or an image
    /// tarball, even compressed whole, is detected), docker://[HOST[:PORT]/]REPO[:TAG|@DIGEST]
    /// (pulled from a registry; docker.io and library/ by default).
    pub root: PathBuf,
    /// The platform to pick from a multi-platform image (OS/ARCH[/VARIANT], e.g. linux/arm64);
    /// refused where no image of ROOT is for it (a directory, an image of another platform).
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Most decompressed bytes of one image layer (suffixes K, M, G allowed).
    #[arg(long, value_name = "BYTES", default_value = "4G", value_parser = parse_size)]
    pub max_layer_size: u64,
    /// Most decompressed bytes of a whole image.
    #[arg(long, value_name = "BYTES", default_value = "8G", value_parser = parse_size)]
    pub max_image_size: u64,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// No progress indicator.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Most bytes read from any one file while parsing it (suffixes K, M, G allowed).
    #[arg(long, value_name = "BYTES", default_value = "64M", value_parser = parse_size)]
    pub max_read: u64,
    /// Longest time the parse of any one file may take (e.g. 10s, 500ms, 2m; 0 for no limit).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub file_timeout: std::time::Duration,
    /// Most memory held at once for the files being parsed, across all workers (suffixes K, M, G;
    /// 0 for no limit). Files that would pass it wait briefly, then fail with limit-exceeded.
    #[arg(long, value_name = "BYTES", default_value = "512M", value_parser = parse_size_or_zero)]
    pub max_memory: u64,
    /// Deepest directory level walked below ROOT.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_depth: usize,
    /// Do not walk these paths (repeatable), e.g. /var/lib/docker or '/home/*/.cache': matched
    /// against absolute paths inside ROOT; *, ? and [...] stay within one path component, **
    /// spans several; a pattern not starting with / matches at any depth. What is excluded is
    /// unknown to resolution, as below a mount point.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// The target CPU, as glibc's loader sees it ($PLATFORM, glibc-hwcaps levels, glibc 2.36's
    /// legacy subdirectories, the ld.so.cache entries it takes): baseline (default), x86-64-v2,
    /// x86-64-v3, x86-64-v4, haswell, skylake-avx512, xeon_phi, armv8.1, or host (this machine's
    /// CPU, x86 only). A profile for a machine the root has no glibc object of is refused.
    #[arg(long, value_name = "NAME", default_value = "baseline")]
    pub cpu: String,
    /// glibc-hwcaps subdirectories the target CPU supports, best first, comma-separated
    /// (e.g. x86-64-v3,x86-64-v2). Replaces the levels of --cpu and nothing else of it.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub hwcaps: Vec<String>,
    /// Start every program with this loader environment, as `docker run -e NAME=VALUE` would
    /// (repeatable; LD_LIBRARY_PATH and LD_PRELOAD only, other variables do not change what a
    /// loader loads). For an image, overrides the same name of its config's Env.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// When to color human output (auto: when standard output is a terminal and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Lay the host file or directory SRC over ROOT at DEST first, as a Dockerfile `COPY SRC
    /// DEST` would (split at the last `:/`; DEST absolute, resolved through ROOT's symlinks;
    /// symlinks in SRC copied as symlinks); repeatable, later over earlier. ROOT is not walked or
    /// copied: `check` judges the added ELF files and the base programs they break.
    #[arg(long, value_name = "SRC:DEST")]
    pub add: Vec<String>,
}

/// How a docker:// ROOT is pulled (skopeo's flags where skopeo has them).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Registry (docker:// ROOT)")]
pub struct RegistryArgs {
    /// Require HTTPS and verified certificates (default); --tls-verify=false allows plain HTTP
    /// (when HTTPS does not answer) and unverified TLS.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: bool,
    /// Trust the CA certificates (*.crt, PEM) of DIR for the registry's TLS.
    #[arg(long, value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// Credentials, USER:PASSWORD (instead of the auth files).
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
    /// The auth file to read, alone (default: $REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json,
    /// ~/.docker/config.json, with their credential helpers).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Longest wait for a connection to the registry.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub connect_timeout: std::time::Duration,
    /// Longest wait for an answer; a download that moves less than 16 KiB in this span is
    /// abandoned too (a stalled or dripping registry).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub read_timeout: std::time::Duration,
    /// Keep downloaded blobs in DIR by digest, and take them from there when present (checked).
    #[arg(long, value_name = "DIR")]
    pub blob_cache: Option<PathBuf>,
    /// Empty the --blob-cache directory before pulling.
    #[arg(long, requires = "blob_cache")]
    pub clear_blob_cache: bool,
}

/// `elfdeps scan` arguments.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Report facts only: do not resolve what each object's loader would load.
    #[arg(long)]
    pub no_resolve: bool,
}

/// `elfdeps tree` arguments.
#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// The file, as a path inside ROOT (e.g. /usr/bin/curl); symlinks are followed inside ROOT.
    pub path: String,
    /// Output format: the tree for people, or the elfdeps-tree/1 JSON document.
    #[arg(long, short = 'f', value_enum, default_value_t = TextFormatArg::Human)]
    pub format: TextFormatArg,
    /// List like ldd: one line per loaded object in load order (`NAME => PATH (via)`, `NAME =>
    /// not found`), the interpreter last. For people only: the JSON document has the whole tree.
    #[arg(long, conflicts_with = "format")]
    pub flat: bool,
}

/// `elfdeps why` arguments.
#[derive(Debug, clap::Args)]
pub struct WhyArgs {
    #[command(flatten)]
    pub common: RootArgs,
    /// The library: a soname or needed name (libssl.so.3) or a path inside ROOT.
    pub library: String,
    /// Output format: the chains for people, or the elfdeps-why/1 JSON document.
    #[arg(long, short = 'f', value_enum, default_value_t = TextFormatArg::Human)]
    pub format: TextFormatArg,
    /// Only the shortest chain of each program (the first in path order among equally short ones).
    #[arg(long)]
    pub shortest: bool,
}

/// `--format` of tree and why.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TextFormatArg {
    /// For people.
    Human,
    /// JSON (docs/json.md).
    Json,
}

/// `--format`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// A summary for people.
    Human,
    /// The elfdeps/1 JSON document (see docs/json.md).
    Json,
    /// The dependency graph in Graphviz DOT (scan only).
    Dot,
    /// SARIF 2.1.0, for code-scanning services.
    Sarif,
    /// JUnit XML, one testcase per object, for CI test reports.
    Junit,
    /// A CycloneDX 1.6 JSON bill of materials (docs/cyclonedx.md).
    Cyclonedx,
}

/// `--color`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ColorArg {
    /// Color when writing to a terminal and NO_COLOR is not set.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// Parses `10s`, `500ms`, `2m` or plain seconds; `0` means no limit.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1000)
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("'{s}' is not a duration (examples: 10s, 500ms, 2m, 0 for none)"))
}

/// Like [`parse_size`], but `0` (no limit) is allowed.
fn parse_size_or_zero(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    parse_size(s)
}

/// Parses `64M`-style sizes.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{s}' is not a size (examples: 4096, 512K, 64M, 1G)"))
}

// Parsed arguments as the library's settings.

impl RootArgs {
    /// The pipeline's configuration (`resolve`: run the loader models).
    pub fn config(&self, resolve: bool) -> Result<elfdeps::pipeline::Config, String> {
        let cpu = elfdeps::resolve::cpu::CpuProfile::named(&self.cpu).map_err(|e| e.to_string())?;
        let limits = elfdeps::elf::Limits {
            max_read: self.max_read,
            file_timeout: Some(self.file_timeout).filter(|t| !t.is_zero()),
            max_memory: Some(self.max_memory).filter(|&m| m > 0),
        };
        let mut env = elfdeps::resolve::runenv::LoaderEnv::default();
        for e in &self.env {
            let Some((name, value)) = e.split_once('=') else {
                return Err(format!(
                    "--env {e}: give NAME=VALUE (the value is not taken from this shell's \
                     environment)"
                ));
            };
            if !env.set(name, value.as_bytes()) {
                return Err(format!(
                    "--env {e}: elfdeps models only {} (the variables the loaders read); {name} \
                     does not change what a loader loads: drop it",
                    elfdeps::resolve::runenv::NAMES.join(" and ")
                ));
            }
        }
        if !env.is_unset() {
            env.sources.push("--env".into());
        }
        Ok(elfdeps::pipeline::Config {
            root: self.root.clone(),
            platform: self.platform.clone(),
            max_layer_size: self.max_layer_size,
            max_image_size: self.max_image_size,
            registry: self.registry.options(!self.quiet)?,
            jobs: self.jobs.map(usize::from),
            scan: elfdeps::scan::ScanOptions {
                limits,
                walk: elfdeps::walk::WalkOptions {
                    max_depth: self.max_depth,
                    exclude: (!self.exclude.is_empty())
                        .then(|| elfdeps::walk::Exclude::new(&self.exclude))
                        .transpose()
                        .map_err(|e| e.to_string())?,
                    known_plain: None,
                },
            },
            resolve: resolve.then(|| elfdeps::resolve::ResolveOptions {
                cpu,
                hwcaps: (!self.hwcaps.is_empty())
                    .then(|| self.hwcaps.iter().map(|h| h.as_str().into()).collect()),
                failed_edges_only: false,
                env,
            }),
            checks: None,
            policy: None,
            adds: self
                .add
                .iter()
                .map(|a| elfdeps::resolve::AddSpec::parse(a))
                .collect::<Result<_, _>>()?,
        })
    }
}

impl RegistryArgs {
    /// The pull settings (`progress`: a bar may be drawn, when stderr is a terminal).
    pub fn options(&self, progress: bool) -> Result<elfdeps::image::RegistryOptions, String> {
        use std::io::IsTerminal;
        let creds = match &self.creds {
            None => None,
            Some(c) => match c.split_once(':') {
                Some((u, p)) if !u.is_empty() => Some((u.to_string(), p.to_string())),
                _ => {
                    return Err(
                        "--creds: expected USER:PASSWORD (elfdeps does not prompt for one)".into(),
                    );
                }
            },
        };
        let zero = |t: std::time::Duration, flag: &str| {
            if t.is_zero() {
                Err(format!("--{flag} 0: a registry pull needs a time limit"))
            } else {
                Ok(t)
            }
        };
        Ok(elfdeps::image::RegistryOptions {
            tls_verify: self.tls_verify,
            cert_dir: self.cert_dir.clone(),
            creds,
            authfile: self.authfile.clone(),
            connect_timeout: zero(self.connect_timeout, "connect-timeout")?,
            read_timeout: zero(self.read_timeout, "read-timeout")?,
            blob_cache: self.blob_cache.clone(),
            progress: progress && std::io::stderr().is_terminal(),
        })
    }
}

impl ColorArg {
    /// Whether to color output that goes to a terminal (`to_terminal`) or not.
    pub fn enabled(self, to_terminal: bool) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

impl CheckArgs {
    /// The policy the flags describe.
    pub fn policy_spec(&self) -> elfdeps::pipeline::PolicySpec {
        elfdeps::pipeline::PolicySpec {
            file: self.policy.clone(),
            deny_libc: self.deny_libc.clone(),
            max_glibc: self.max_glibc.clone(),
            deny: self.deny.clone(),
            fail_on: self.fail_on.clone(),
            allow: self.allow.clone(),
            ignore: self.ignore.clone(),
            baseline: self.baseline.clone(),
        }
    }
}

impl PackagesArgs {
    /// What `packages` is asked.
    pub fn query(&self) -> elfdeps::pipeline::PackagesQuery {
        use elfdeps::pkgdb::DbKind;
        elfdeps::pipeline::PackagesQuery {
            db: match self.db {
                DbArg::Auto => DbKind::Auto,
                DbArg::Apk => DbKind::Apk,
                DbArg::Dpkg => DbKind::Dpkg,
                DbArg::Rpm => DbKind::Rpm,
            },
            for_pkg: self.for_pkg.clone(),
            paths: self.paths.clone(),
            apk_index: self.apk_index.clone(),
            unneeded: self.unneeded,
            elf_only: self.elf_only,
            tier: match self.tier {
                TierArg::Required => elfdeps::runtime::edges::Tier::Required,
                TierArg::Recommended => elfdeps::runtime::edges::Tier::Recommended,
                TierArg::Suggested => elfdeps::runtime::edges::Tier::Suggested,
            },
            verify: !self.no_verify,
            files: matches!(self.format, PkgFormatArg::Files),
            drop: self.drop.clone(),
        }
    }
}

impl From<PkgFormatArg> for elfdeps::report::packages::PackagesFormat {
    fn from(f: PkgFormatArg) -> Self {
        use elfdeps::report::packages::PackagesFormat as P;
        match f {
            PkgFormatArg::Lines => P::Lines,
            PkgFormatArg::Apk => P::Apk,
            PkgFormatArg::Apko => P::Apko,
            PkgFormatArg::Apt => P::Apt,
            PkgFormatArg::Dnf => P::Dnf,
            PkgFormatArg::Files => P::Files,
            PkgFormatArg::Json => P::Json,
            PkgFormatArg::Cyclonedx => P::Cyclonedx,
        }
    }
}

/// Writes through `render` to FILE or standard output; a closed pipe (`elfdeps scan / | head`)
/// is the reader's choice, not an error. The error says what could not be written.
pub fn emit(
    output: Option<&std::path::Path>,
    render: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), String> {
    use std::io::Write;
    let result = match output {
        Some(path) => std::fs::File::create(path)
            .map_err(|e| (format!("cannot create output file {}", path.display()), e))
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                render(&mut w)
                    .and_then(|()| w.flush())
                    .map_err(|e| (format!("cannot write {}", path.display()), e))
            }),
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            render(&mut w)
                .and_then(|()| w.flush())
                .map_err(|e| ("cannot write to standard output".to_string(), e))
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err((_, e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err((what, e)) => Err(format!("{what}: {e}")),
    }
}

/// Writes the completion script for `shell`. Generated from the same definitions as the parser, so
/// the two cannot drift apart.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "elfdeps", out);
}

/// Writes the man page of the whole command (roff): the top-level page names every subcommand.
pub fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(Cli::command()).render(out)
}

/// SARIF or JUnit, from `--format` (anything else is JUnit's caller's mistake).
pub fn findings_format(f: FormatArg) -> elfdeps::report::FindingsFormat {
    match f {
        FormatArg::Sarif => elfdeps::report::FindingsFormat::Sarif,
        _ => elfdeps::report::FindingsFormat::Junit,
    }
}
