/*!
Reports: one view of everything the stages found (the [`Report`]), several renderers. Every
renderer writes to `&mut dyn Write`; only the binary decides where that goes.
*/

pub mod cyclonedx;
pub mod diff;
pub mod human;
pub mod json;
pub mod junit;
pub mod packages;
pub mod rebase;
pub mod sarif;
pub mod tree;
pub mod why;

use crate::check::Checks;
use crate::check::libc::LibcInfo;
use crate::error::PathError;
use crate::image::ImageInfo;
use crate::name::ByteStr;
use crate::pkgdb::Ownership;
use crate::resolve::cpu::CpuProfile;
use crate::resolve::{Resolution, Resolved};
use crate::scan::{Inventory, ScanWarning, Summary};

/// Everything the stages found about one root: the scan's inventory, and each later stage's table
/// (index-aligned with the inventory's objects) when that stage ran.
pub struct Report {
    /// What the scan found.
    pub inventory: Inventory,
    /// Counts (`errors` counts [`Report::errors`]).
    pub summary: Summary,
    /// Every per-path error, sorted by path: the scan's, and those of later stages (a bound on
    /// resolution work).
    pub errors: Vec<PathError>,
    /// Warnings about the root as a whole.
    pub warnings: Vec<ScanWarning>,
    /// What each object's loader would load (when resolution ran).
    pub resolutions: Option<Vec<Resolution>>,
    /// The target CPU glibc's loader was modelled for (when resolution ran).
    pub cpu: Option<CpuProfile>,
    /// The loader environment the sessions started with (when resolution ran).
    pub loader_env: Option<crate::resolve::runenv::LoaderEnv>,
    /// What each object loads at run time by conventions the loader does not see (when
    /// resolution ran).
    pub runtime: Option<Vec<Vec<crate::runtime::edges::EdgeLoads>>>,
    /// glibc's ld.so.conf and ld.so.cache as resolution read them (when it resolved glibc
    /// objects): the checks use them instead of reading them again.
    pub glibc_config: Option<crate::resolve::env::GlibcConfig>,
    /// The package database and the owner of each object (when the root has a database).
    pub ownership: Option<Ownership>,
    /// The image the root was unpacked from, when it was one.
    pub image: Option<ImageInfo>,
    /// The digest of the image layer that last wrote each object (when the root is an image).
    pub layers: Option<Vec<Option<String>>>,
    /// Which libc each object was built against (when the checks ran).
    pub libc: Option<Vec<LibcInfo>>,
    /// The root's libcs, the findings and the verdict (when the checks ran).
    pub checks: Option<Checks>,
    /// The private directory an image was unpacked into, removed when the report is dropped
    /// (the inventory's open root stays usable until then).
    pub unpacked: Option<crate::image::Unpacked>,
}

impl Report {
    /// The report of a scan alone.
    pub fn new(inventory: Inventory) -> Report {
        Report {
            summary: inventory.summary.clone(),
            errors: inventory.errors.clone(),
            warnings: inventory.warnings.clone(),
            inventory,
            resolutions: None,
            cpu: None,
            loader_env: None,
            runtime: None,
            glibc_config: None,
            ownership: None,
            image: None,
            layers: None,
            libc: None,
            checks: None,
            unpacked: None,
        }
    }

    /// The root's objects with their resolutions, when resolution ran.
    pub fn resolved(&self) -> Option<Resolved<'_>> {
        self.resolutions.as_deref().map(|resolutions| Resolved {
            objects: &self.inventory.objects,
            tree: &self.inventory.tree,
            resolutions,
        })
    }

    /// Adds the resolution table, with an error for each object a bound on resolution stopped.
    pub fn set_resolutions(&mut self, resolutions: Vec<Resolution>, cpu: CpuProfile) {
        let limits = crate::resolve::limit_errors(&self.inventory.objects, &resolutions);
        if !limits.is_empty() {
            self.errors.extend(limits);
            self.errors.sort_by(|a, b| a.path.cmp(&b.path));
            self.summary.errors = self.errors.len() as u64;
        }
        self.resolutions = Some(resolutions);
        self.cpu = Some(cpu);
    }

    /// What the report calls the root: the image reference, or the directory as given.
    pub fn root_name(&self) -> ByteStr {
        use std::os::unix::ffi::OsStrExt;
        match &self.image {
            Some(i) => ByteStr::from(i.reference.as_str()),
            None => ByteStr::from(self.inventory.root.as_os_str().as_bytes()),
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A summary for people, in a terminal or a log.
    Human,
    /// The `elfdeps/1` JSON document (docs/json.md).
    Json,
}

/// Rendering settings.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// ANSI colors in human output.
    pub color: bool,
}

/// Renders `report` in `format`.
pub fn render(
    report: &Report,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Human => human::render(report, opts, out),
        Format::Json => json::render(report, out),
    }
}

/// What `check --files` found: the artifacts, the policy's findings and verdict.
pub struct FilesReport {
    /// Every ELF artifact, classified.
    pub artifacts: Vec<crate::check::Artifact>,
    /// The policy's findings.
    pub findings: Vec<crate::check::Finding>,
    /// The verdict.
    pub gate: crate::check::policy::Gate,
    /// Files that could not be read.
    pub errors: Vec<crate::error::PathError>,
    /// Files given that are not ELF (skipped, and said so).
    pub skipped: Vec<crate::error::PathError>,
}

/// Findings for machines: SARIF or JUnit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingsFormat {
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Writes `findings` about `subjects` (the objects or files judged) as SARIF or JUnit. `root` is
/// where the paths of the findings live (SARIF makes them URIs below it); `name` is the test
/// suite's name (JUnit). Each finding's `violation` (set by the policy) says whether it fails.
pub fn render_findings(
    format: FindingsFormat,
    root: &std::path::Path,
    name: String,
    subjects: Vec<String>,
    findings: &[crate::check::Finding],
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    match format {
        FindingsFormat::Sarif => sarif::render(
            &sarif::SarifInput {
                root: Some(&abs),
                findings,
            },
            out,
        ),
        FindingsFormat::Junit => junit::render(
            &junit::JunitInput {
                name,
                subjects,
                findings,
            },
            out,
        ),
    }
}

/// Writes the `check --files` JSON document.
pub fn render_files_json(o: &FilesReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // Keys in byte order, as this document has always had them.
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        artifacts: &'a [crate::check::Artifact],
        errors: &'a [PathError],
        findings: &'a [crate::check::Finding],
        gate: &'a crate::check::policy::Gate,
        mode: &'static str,
        schema: &'static str,
        skipped: &'a [PathError],
        tool: json::Tool,
    }
    let doc = Doc {
        schema: json::SCHEMA,
        tool: json::Tool::this(),
        mode: "files",
        artifacts: &o.artifacts,
        findings: &o.findings,
        gate: &o.gate,
        errors: &o.errors,
        skipped: &o.skipped,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}

/// What `check` judged: a root, or build artifacts (`--files`).
pub enum Judged<'a> {
    /// A root, through the pipeline.
    Root(&'a Report),
    /// Build artifacts.
    Files(&'a FilesReport),
}

/// How `check` writes its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// The findings for people, grouped unless `all`.
    Human {
        /// List every finding.
        all: bool,
    },
    /// The JSON document (the scan document of a root, the files document of artifacts).
    Json,
    /// SARIF or JUnit.
    Findings(FindingsFormat),
    /// The CycloneDX BOM of the root (not of `--files` artifacts, which have no root).
    Bom(cyclonedx::BomOptions),
}

/// Writes the verdict of `check`. `title` names the run (`elfdeps check ROOT`); `root` is where
/// the findings' paths live. The findings are read as the policy judged them (`violation`).
pub fn render_check(
    judged: &Judged<'_>,
    format: CheckFormat,
    title: &str,
    root: &std::path::Path,
    opts: &RenderOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let (findings, libcs, artifacts, gate, errors, subjects): (_, _, &[_], _, _, Vec<String>) =
        match judged {
            Judged::Root(r) => {
                let c = r.checks.as_ref();
                (
                    c.map_or(&[][..], |c| &c.findings[..]),
                    c.map_or(&[][..], |c| &c.libcs[..]),
                    &[],
                    c.and_then(|c| c.gate.as_ref()),
                    &r.errors[..],
                    r.inventory
                        .objects
                        .iter()
                        .map(|o| o.path.escaped())
                        .collect(),
                )
            }
            Judged::Files(o) => (
                &o.findings[..],
                &[][..],
                &o.artifacts[..],
                Some(&o.gate),
                &o.errors[..],
                o.artifacts.iter().map(|a| a.path.escaped()).collect(),
            ),
        };
    match (format, judged) {
        (CheckFormat::Json, Judged::Root(r)) => json::render(r, out),
        (CheckFormat::Json, Judged::Files(o)) => render_files_json(o, out),
        (CheckFormat::Bom(opts), Judged::Root(r)) => cyclonedx::render(r, &opts, out),
        (CheckFormat::Bom(_), Judged::Files(_)) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a CycloneDX BOM describes a root, not build artifacts",
        )),
        (CheckFormat::Findings(f), _) => {
            render_findings(f, root, title.to_string(), subjects, findings, out)
        }
        (CheckFormat::Human { all }, _) => human::render_check(
            &human::CheckView {
                title: title.to_string(),
                libcs,
                artifacts,
                findings,
                gate,
                errors,
                all,
                loader_env: match judged {
                    Judged::Root(r) => r.loader_env.as_ref().filter(|e| !e.is_unset()),
                    Judged::Files(_) => None,
                },
            },
            opts,
            out,
        ),
    }
}
