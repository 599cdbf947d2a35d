//! Applying a layer (a tar stream) onto a private directory (`elfdeps::image::layer::apply`):
//! whatever the tar holds, nothing is created outside the directory and nothing panics.
#![no_main]

use std::os::fd::AsFd;

use elfdeps::image::layer::{ApplyStats, Capped, Origins, apply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(base) = tempfile::tempdir() else { return };
    let root = base.path().join("root");
    let outside = base.path().join("outside");
    if std::fs::create_dir(&root).is_err() || std::fs::create_dir(&outside).is_err() {
        return;
    }
    let Ok(dir) = std::fs::File::open(&root) else { return };
    let mut origins = Origins::new();
    let mut stats = ApplyStats::default();
    let reader = Capped::new(data, 8 << 20, 8 << 20);
    let _ = apply(dir.as_fd(), reader, 0, &mut origins, &mut stats);
    // Nothing escaped into the sibling directory.
    assert_eq!(std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(0), 0);
});
