//! APK's installed-database / APKINDEX record parser (`elfdeps::pkgdb::apk::parse`) over arbitrary
//! bytes: never panics, keeps every good record.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let db = elfdeps::pkgdb::apk::parse(data);
    for p in &db.packages {
        assert!(!p.name.as_bytes().is_empty());
    }
    let _ = db.providers(b"libc.musl-x86_64.so.1");
});
