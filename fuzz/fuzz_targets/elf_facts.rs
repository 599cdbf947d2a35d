//! ELF facts extraction over arbitrary bytes: the same reader, budgets and parser as a scan of a
//! file (`elfdeps::elf::parse_bytes`). Must never panic, loop, or allocate beyond its limits.
#![no_main]

use std::time::Duration;

use elfdeps::elf::{Limits, parse_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Limits smaller than the defaults, so that hitting them is exercised too; the time limit is
    // well under libFuzzer's -timeout, so a slow input shows up as a limit error, and a hang as a
    // libFuzzer timeout.
    let limits = Limits {
        max_read: 4 << 20,
        file_timeout: Some(Duration::from_secs(2)),
        max_memory: None,
    };
    if let Ok(Some(facts)) = parse_bytes(data, &limits) {
        // Everything reported came from the input: nothing can be longer than it... times the
        // entries that may share one string; bound it loosely to catch runaway growth.
        let total: usize = facts.needed.iter().map(|n| n.as_bytes().len()).sum();
        assert!(total <= 4 << 20, "needed names total {total} bytes");
        // Serializing (what every report does) must not panic either.
        let _ = facts.machine.to_string().len() + facts.osabi.len() + facts.e_type.to_string().len();
    }
});
