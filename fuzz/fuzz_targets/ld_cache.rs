//! `/etc/ld.so.cache` parsing and glibc's lookup over arbitrary bytes
//! (`elfdeps::resolve::ldcache`). Must never panic, loop, or blow up memory.
#![no_main]

use elfdeps::elf::{Abi, ArmFloat, Machine};
use elfdeps::resolve::ldcache::{LdCache, flags_accepted_for};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cache) = LdCache::parse(data) else {
        return;
    };
    let _ = (cache.format(), cache.byte_order(), cache.generator(), cache.warnings());
    let entries = cache.entries();
    // Look up every key the cache itself has (capped), plus names that are not there, for two
    // loaders' flag rules and with and without glibc-hwcaps support.
    let mut names: Vec<&[u8]> = entries.iter().take(64).map(|e| e.key.as_slice()).collect();
    names.extend([&b"libc.so.6"[..], b"", b"lib\0c.so.6", b"libz.so.1"]);
    for (machine, abi) in [
        (Machine::X86_64, Abi::Base),
        (Machine::Arm, Abi::Arm(ArmFloat::Hard)),
    ] {
        let flags = flags_accepted_for(machine, abi);
        for name in &names {
            let _ = cache.lookup(name, &flags, |_| true);
            let _ = cache.lookup(name, &flags, |_| false);
            let _ = cache.lookup_ranked(name, &flags, |sub| Some(sub.len()));
        }
    }
});
