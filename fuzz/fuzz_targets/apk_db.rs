//! APK's installed-database / APKINDEX record parser (`elfdeps::pkgdb::apk::parse`) over arbitrary
//! bytes: never panics, keeps every good record; the declared-dependency closure of what it read
//! stays within the database.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let db = elfdeps::pkgdb::apk::parse(data);
    for p in &db.packages {
        assert!(!p.name.as_bytes().is_empty());
    }
    let _ = db.providers(b"libc.musl-x86_64.so.1");
    let closure = db.declared_closure(&[0]);
    assert!(closure.packages.keys().all(|&i| i < db.packages.len()));
});
