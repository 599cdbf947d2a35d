//! PAM service files (`elfdeps::runtime::pam`): the input is every file of /etc/pam.d at once, so
//! each include (of any name) reads it again: cycles, nesting and the file and module bounds are
//! all reached. Must never panic or loop, and what it keeps must hold the bounds.
#![no_main]

use elfdeps::runtime::pam::{MAX_DEPTH, MAX_FILES, MAX_MODULES, pam_modules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut reads = 0usize;
    let found = pam_modules("login", &mut |name| {
        assert!(!name.contains('/') && name != "." && name != "..");
        reads += 1;
        Some(data.to_vec())
    });
    assert!(reads <= MAX_FILES);
    assert!(found.modules.len() <= MAX_MODULES);
    for m in &found.modules {
        assert!(!m.path.contains('\0') && !m.path.split('/').any(|c| c == ".."));
        assert!(!m.via.is_empty() && m.via.len() <= MAX_DEPTH);
    }
});
