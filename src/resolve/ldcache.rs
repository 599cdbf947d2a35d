//! TEMPORARY stub of the ld.so.cache parser (new format, native endianness); replaced by the full
//! parser.
#![allow(missing_docs)]

use std::fmt;

#[derive(Debug, Clone)]
pub struct CacheEntry {
    pub flags: i32,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub osversion: u32,
    pub hwcap: u64,
    pub hwcaps_subdir: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct LdCache {
    entries: Vec<CacheEntry>,
}

#[derive(Debug)]
pub struct CacheError(String);

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn str_at(b: &[u8], o: usize) -> Option<Vec<u8>> {
    let s = b.get(o..)?;
    Some(s[..s.iter().position(|&c| c == 0)?].to_vec())
}

impl LdCache {
    pub fn parse(b: &[u8]) -> Result<LdCache, CacheError> {
        let start = b
            .windows(20)
            .position(|w| w == b"glibc-ld.so.cache1.1")
            .ok_or_else(|| CacheError("no new-format table".into()))?;
        let n = u32_at(b, start + 20).ok_or_else(|| CacheError("short".into()))? as usize;
        let mut entries = Vec::new();
        for i in 0..n.min(b.len() / 24) {
            let e = start + 48 + i * 24;
            let (Some(flags), Some(k), Some(v)) =
                (u32_at(b, e), u32_at(b, e + 4), u32_at(b, e + 8))
            else {
                break;
            };
            let (Some(key), Some(value)) = (str_at(b, k as usize), str_at(b, v as usize)) else {
                continue;
            };
            entries.push(CacheEntry {
                flags: flags as i32,
                key,
                value,
                osversion: 0,
                hwcap: 0,
                hwcaps_subdir: None,
            });
        }
        Ok(LdCache { entries })
    }
    pub fn entries(&self) -> &[CacheEntry] {
        &self.entries
    }
    pub fn lookup(
        &self,
        soname: &[u8],
        flags_ok: impl Fn(i32) -> bool,
        _hwcaps_ok: impl Fn(&[u8]) -> bool,
    ) -> Option<&CacheEntry> {
        self.entries
            .iter()
            .find(|e| e.key == soname && flags_ok(e.flags))
    }
}

pub fn flags_accepted_for(machine: &str) -> impl Fn(i32) -> bool + Clone + use<> {
    let want: &'static [i32] = match machine {
        "x86_64" => &[0x0303],
        "i386" => &[0x0003],
        "aarch64" => &[0x0a03],
        "s390x" => &[0x0403],
        _ => &[],
    };
    move |f| want.is_empty() || want.contains(&f)
}
