//! RPM header blobs (`elfdeps::pkgdb::rpm::parse_header`) over arbitrary bytes: bounds-checked,
//! never panics, never allocates what a count claims.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = elfdeps::pkgdb::rpm::parse_header(data) {
        assert!(p.files.len() <= data.len());
        assert!(p.depends.len() <= data.len());
        for r in p.depends.iter().flatten() {
            let _ = r.to_string();
        }
    }
});
