/*!
The pipeline: a configuration in, a [`Report`] out. The stages run in one direction (unpack the
image, scan, resolve, package ownership, checks, policy), each adding its own table to the report;
the renderers of [`crate::report`] then read it. This is what the binary runs, and what a library
user calls to get the same results (findings, policy verdict included).
*/

use std::path::{Path, PathBuf};

use crate::check::policy::{Gate, Policy};
use crate::check::{self, CheckOptions};
use crate::image;
use crate::pkgdb::{self, DbKind};
use crate::progress::Progress;
use crate::report::Report;
use crate::resolve::cpu::CpuProfile;
use crate::resolve::{self, ResolveOptions, Snapshot};
use crate::scan::{self, ScanOptions, WarningCode};

/// What to run, on what.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// ROOT as given: a directory, or an image reference (`oci:DIR[:TAG]`, `docker-archive:FILE`,
    /// `oci-archive:FILE[:TAG]`, or a plain path to a layout or an image tarball).
    pub root: PathBuf,
    /// The platform to pick from a multi-platform image (`linux/arm64`).
    pub platform: Option<String>,
    /// Caps on the decompressed bytes of one layer, and of the whole image.
    pub max_layer_size: u64,
    /// See `max_layer_size`.
    pub max_image_size: u64,
    /// Worker threads (`None`: one per core).
    pub jobs: Option<usize>,
    /// Scan settings (per-file limits, walk depth).
    pub scan: ScanOptions,
    /// Resolve every object as its loader would (`None`: facts only).
    pub resolve: Option<ResolveOptions>,
    /// Run the checks (needs `resolve`).
    pub checks: Option<CheckOptions>,
    /// Judge the findings by this policy, adding its own findings (`--deny-libc`, `--max-glibc`)
    /// and the verdict (needs `checks`).
    pub policy: Option<Policy>,
}

/// Why the pipeline could not produce a report: the input cannot be used as asked. The message
/// says what, where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Runs the stages `config` asks for.
pub fn run(config: &Config, progress: &Progress) -> Result<Report, Error> {
    let platform = config
        .platform
        .as_deref()
        .map(image::Platform::parse)
        .transpose()
        .map_err(Error)?;
    let unpacked = match image::parse_root(&config.root).map_err(|e| Error(e.to_string()))? {
        Some(r) => {
            let opts = image::ImageOptions {
                platform,
                max_layer: config.max_layer_size,
                max_image: config.max_image_size,
            };
            Some(
                image::unpack(&r, &opts)
                    .map_err(|e| Error(format!("cannot use the image {}: {e}", r.display())))?,
            )
        }
        // Silently ignored, --platform would let a user believe a directory was checked as
        // another architecture.
        None if config.platform.is_some() => {
            return Err(Error(format!(
                "--platform {}: {} is a directory, not an image: --platform chooses among the \
                 images of an OCI layout or image archive, and a directory has no images to \
                 choose from; drop --platform",
                config.platform.as_deref().unwrap_or_default(),
                config.root.display()
            )));
        }
        None => None,
    };
    let root = unpacked
        .as_ref()
        .map_or(config.root.as_path(), |u| u.root.as_path());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs.unwrap_or(0))
        .thread_name(|i| format!("elfdeps-{i}"))
        .build()
        .map_err(|e| Error(format!("cannot start worker threads: {e}")))?;
    let scanned = pool.install(|| scan::scan(root, &config.scan, progress));
    progress.finish();
    let mut report = Report::new(scanned.map_err(|e| Error(e.to_string()))?);
    if let Some(ropts) = &config.resolve {
        let inv = &report.inventory;
        let resolutions =
            pool.install(|| resolve::resolve_all(&inv.rootfs, &inv.tree, &inv.objects, ropts));
        report.set_resolutions(resolutions, ropts.cpu.clone());
        cpu_applies(&ropts.cpu, &report, &config.root)?;
    }
    // Package ownership, when the root has a database.
    let inv = &report.inventory;
    if let Some(db) = pkgdb::detect(&inv.rootfs, &inv.tree, DbKind::Auto) {
        report.ownership = Some(pkgdb::owners(&inv.objects, &db));
    }
    if let Some(u) = &unpacked {
        // An image's filesystem is a root by definition, even a scratch image holding one static
        // program: its absolute paths are meant to start at its top.
        report.warnings.retain(|w| w.code != WarningCode::NotARoot);
        report.layers = Some(
            report
                .inventory
                .objects
                .iter()
                .map(|o| u.layer_of(o.path.as_bytes()).map(str::to_string))
                .collect(),
        );
        report.image = Some(u.info.clone());
    }
    if let Some(copts) = &config.checks {
        pool.install(|| run_checks(&mut report, copts, config.policy.as_ref()));
    }
    report.unpacked = unpacked;
    Ok(report)
}

/// The checks on a resolved report, then the policy's own findings and verdict.
fn run_checks(report: &mut Report, opts: &CheckOptions, policy: Option<&Policy>) {
    let Some(root) = report.resolved() else {
        return;
    };
    let inv = &report.inventory;
    let view = Snapshot::new(&inv.rootfs, &inv.tree, &inv.objects);
    let (libc, mut checks) = check::analyze(root, &view, &inv.rootfs, opts);
    if let Some(policy) = policy {
        let items: Vec<_> = inv
            .objects
            .iter()
            .zip(&libc)
            .map(|(o, l)| (o.path.clone(), l))
            .collect();
        let extra = check::policy_findings(&items, policy, |i, v| {
            check::root_symbols(&inv.rootfs, &items[i].0, v, &opts.limits)
        });
        checks.findings.extend(extra);
        checks
            .findings
            .sort_by(|a, b| (&a.path, a.code).cmp(&(&b.path, b.code)));
        checks.gate = Some(policy.judge(&mut checks.findings));
    }
    report.libc = Some(libc);
    report.checks = Some(checks);
}

/// The verdict of a report the policy judged (`None`: no policy ran).
pub fn gate(report: &Report) -> Option<&Gate> {
    report.checks.as_ref().and_then(|c| c.gate.as_ref())
}

/// Refuses a `--cpu` profile that changes nothing in this root: one for a machine no glibc object
/// of the root is resolved for (musl's loader does not look at the CPU at all).
fn cpu_applies(cpu: &CpuProfile, report: &Report, root: &Path) -> Result<(), Error> {
    let machines = cpu.machines();
    if machines.is_empty() {
        return Ok(());
    }
    let Some(resolved) = report.resolved() else {
        return Ok(());
    };
    let glibc_machines: std::collections::BTreeSet<&str> = resolved
        .iter()
        .filter(|(_, _, r)| r.loader.as_ref().is_some_and(|l| l.family == "glibc"))
        .map(|(_, o, _)| o.facts.machine.as_str())
        .collect();
    if glibc_machines.iter().any(|m| machines.contains(m)) {
        return Ok(());
    }
    let found = if glibc_machines.is_empty() {
        "no object loaded by glibc (musl's loader does not look at the CPU)".to_string()
    } else {
        format!(
            "glibc objects only for {}",
            glibc_machines.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Err(Error(format!(
        "--cpu {}: the profile describes a CPU for {}, but {} has {found}; leave --cpu out, or \
         choose a profile for the root's machine",
        cpu.name,
        machines.join("/"),
        root.display()
    )))
}
