//! dpkg's status and diversions parsers over arbitrary bytes, and the declared-dependency closure
//! of what they read.
#![no_main]

use elfdeps::pkgdb::dpkg::{Parsing, parse_diversions, parse_status};
use elfdeps::pkgdb::{DbFormat, PackageDb};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parsing = Parsing::default();
    parse_status(data, &mut parsing);
    let _ = parse_diversions(data);
    let mut db = PackageDb::new(DbFormat::Dpkg);
    db.packages = parsing.into_packages();
    let all: Vec<usize> = (0..db.packages.len()).collect();
    let closure = db.declared_closure(&all);
    assert_eq!(closure.packages.len(), db.packages.len());
});
