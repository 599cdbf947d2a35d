//! dpkg's status and diversions parsers over arbitrary bytes.
#![no_main]

use elfdeps::pkgdb::dpkg::{Parsing, parse_diversions, parse_status};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut db = Parsing::default();
    parse_status(data, &mut db);
    let _ = parse_diversions(data);
});
