/*!
Reports: one model (the [`ScanReport`]), several renderers. Every renderer writes to `&mut dyn Write`;
only the binary decides where that goes.
*/

pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

use crate::scan::ScanReport;

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
    report: &ScanReport,
    format: Format,
    opts: &RenderOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Human => human::render(report, opts, out),
        Format::Json => json::render(report, out),
    }
}
