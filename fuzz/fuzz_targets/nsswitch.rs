//! `/etc/nsswitch.conf` parsing over arbitrary bytes (`elfdeps::runtime::nsswitch`). Must never
//! panic, and what it keeps must hold the bounds and the name rule.
#![no_main]

use elfdeps::runtime::nsswitch::{MAX_SERVICES, module_soname, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (config, warnings) = parse(data);
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    for db in &config.databases {
        assert!(plain(&db.name));
        assert!(db.services.len() <= MAX_SERVICES);
        for s in &db.services {
            assert!(plain(&s.name));
            assert!(!module_soname(&s.name).contains('/'));
        }
    }
    for w in &warnings {
        let _ = w.to_string();
    }
});
