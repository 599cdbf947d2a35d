/*!
The target CPU, as glibc's dynamic loader sees it.

Four things glibc's `ld.so` decides from the CPU it runs on change what it loads:

- `$PLATFORM` in RPATH/RUNPATH: the kernel's AT_PLATFORM (`x86_64`, `i686`, `aarch64`), except that
  on Intel x86_64 CPUs glibc replaces it with `haswell` or `xeon_phi` (sysdeps/x86/cpu-features.c,
  `init_cpu_features`; unchanged from 2.26 to 2.39);
- the glibc-hwcaps subdirectories (2.33 and later) it searches under every directory, best first
  (`x86-64-v4`, `x86-64-v3`, `x86-64-v2` by the x86-64 ISA levels the CPU supports);
- before 2.37, the *legacy* capability subdirectories: the power set of the "important" hwcap
  names the CPU has, the platform and `tls` (elf/dl-hwcaps.c, `_dl_important_hwcaps`);
- which ld.so.cache entries it accepts: legacy hwcap and platform bits, and the x86 ISA level of
  glibc-hwcaps entries (elf/dl-cache.c `search_cache`, sysdeps/x86/dl-isa-level.h).

A [`CpuProfile`] describes one CPU; [`CpuProfile::for_loader`] gives what one glibc loader, of one
machine and release, derives from it ([`LoaderCpu`]). The default profile is [`CpuProfile::baseline`]:
a CPU with none of the optional features, on which a library that exists only in a capability
subdirectory is missing. Named profiles ([`PROFILES`]) cover the CPU kinds glibc tells apart;
`host` reads the running CPU (x86 only). A list given with `--hwcaps` replaces the profile's
glibc-hwcaps subdirectories and nothing else.

What is modelled per machine: x86_64 and x32 (platform, `x86_64`/`avx512_1` hwcaps, glibc-hwcaps
levels, cache bits), i386 (platform `i686`, `sse2`), aarch64 (platform `aarch64`, the `atomics`
hwcap). For every other machine the loader sees a baseline CPU: the kernel's AT_PLATFORM for the
oldest CPU of that machine, no important hwcaps, no glibc-hwcaps level.
*/

use serde::Serialize;

use crate::elf::Machine;
use crate::name::ByteStr;

/// `_DL_HWCAP_TLS_MASK` (dl-cache.c): the legacy "tls" hwcap, always present.
pub const HWCAP_TLS: u64 = 1 << 63;

/// What glibc computes instead of the kernel's AT_PLATFORM on x86_64 (Intel CPUs only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum X86Platform {
    /// glibc keeps AT_PLATFORM (`x86_64`): every non-Intel CPU, and Intel CPUs without AVX2.
    Kernel,
    /// Intel with AVX2, FMA, BMI1, BMI2, LZCNT, MOVBE and POPCNT usable.
    Haswell,
    /// Intel with AVX512CD, AVX512ER and AVX512PF (Knights Landing/Mill).
    XeonPhi,
}

/// The x86 features glibc's loader acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct X86Cpu {
    /// The x86-64 ISA levels supported, as a count: 1 baseline only, 2 up to x86-64-v2, 3 up to
    /// x86-64-v3, 4 up to x86-64-v4 (sysdeps/x86/get-isa-level.h; each level needs the one below).
    pub isa_level: u8,
    /// The platform glibc sets on x86_64.
    pub platform: X86Platform,
    /// `HWCAP_X86_AVX512_1`: Intel, AVX512CD, BW, DQ and VL usable, and not a Xeon Phi.
    pub avx512_1: bool,
    /// The ISA level glibc keeps in `cpu_features->isa_1`, which the cache's ISA-level check of
    /// glibc-hwcaps entries uses. It is computed before GLIBC_TUNABLES apply
    /// (cpu-features.c), so `glibc.cpu.hwcaps=-AVX2` lowers `isa_level` but not this; on a
    /// CPU without such tunables the two are equal.
    pub cache_isa_level: u8,
}

/// A target CPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CpuProfile {
    /// The name it was chosen by ([`PROFILES`], `host`), or `custom`.
    pub name: String,
    /// What x86 loaders (x86_64, x32, i386) see.
    pub x86: X86Cpu,
    /// aarch64: `HWCAP_ATOMICS` (LSE, Armv8.1), glibc's only important aarch64 hwcap.
    pub aarch64_atomics: bool,
}

impl Default for CpuProfile {
    fn default() -> Self {
        CpuProfile::baseline()
    }
}

/// A named profile: name, the machines it describes a CPU of, what it is.
pub struct NamedProfile {
    /// The name `--cpu` takes.
    pub name: &'static str,
    /// Machines whose loaders it changes; empty: all (the baseline).
    pub machines: &'static [Machine],
    /// One line for `--help` and the README.
    pub description: &'static str,
    profile: fn() -> CpuProfile,
}

const X86: &[Machine] = &[Machine::X86_64, Machine::X32, Machine::I386];

/// The named profiles, in the order `--help` lists them.
pub const PROFILES: &[NamedProfile] = &[
    NamedProfile {
        name: "baseline",
        machines: &[],
        description: "no optional feature: x86-64 v1, AT_PLATFORM as the kernel gives it, no \
                      legacy hwcaps (the default)",
        profile: CpuProfile::baseline,
    },
    NamedProfile {
        name: "x86-64-v2",
        machines: X86,
        description: "a non-Intel (or pre-Haswell Intel) CPU at x86-64-v2",
        profile: || x86("x86-64-v2", 2, X86Platform::Kernel, false),
    },
    NamedProfile {
        name: "x86-64-v3",
        machines: X86,
        description: "a non-Intel CPU at x86-64-v3 (e.g. AMD Zen 1-3)",
        profile: || x86("x86-64-v3", 3, X86Platform::Kernel, false),
    },
    NamedProfile {
        name: "x86-64-v4",
        machines: X86,
        description: "a non-Intel CPU at x86-64-v4 (e.g. AMD Zen 4)",
        profile: || x86("x86-64-v4", 4, X86Platform::Kernel, false),
    },
    NamedProfile {
        name: "haswell",
        machines: X86,
        description: "an Intel CPU with AVX2 but no AVX-512: platform haswell, x86-64-v3",
        profile: || x86("haswell", 3, X86Platform::Haswell, false),
    },
    NamedProfile {
        name: "skylake-avx512",
        machines: X86,
        description: "an Intel CPU with AVX-512 (Xeon since Skylake-SP): platform haswell, \
                      hwcap avx512_1, x86-64-v4",
        profile: || x86("skylake-avx512", 4, X86Platform::Haswell, true),
    },
    NamedProfile {
        name: "xeon_phi",
        machines: X86,
        description: "an Intel Xeon Phi (AVX512ER/PF): platform xeon_phi, x86-64-v3",
        profile: || x86("xeon_phi", 3, X86Platform::XeonPhi, false),
    },
    NamedProfile {
        name: "armv8.1",
        machines: &[Machine::Aarch64],
        description: "an aarch64 CPU with LSE atomics (Armv8.1 and later): hwcap atomics",
        profile: || CpuProfile {
            name: "armv8.1".into(),
            aarch64_atomics: true,
            ..CpuProfile::baseline()
        },
    },
];

fn x86(name: &str, isa_level: u8, platform: X86Platform, avx512_1: bool) -> CpuProfile {
    CpuProfile {
        name: name.into(),
        x86: X86Cpu {
            isa_level,
            platform,
            avx512_1,
            cache_isa_level: isa_level,
        },
        aarch64_atomics: false,
    }
}

/// Why a `--cpu` name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpuError {
    /// Not a name of [`PROFILES`] nor `host`.
    UnknownName(String),
    /// `host` on a machine whose CPU elfdeps cannot read.
    HostUnsupported(&'static str),
}

impl std::fmt::Display for CpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CpuError::UnknownName(n) => write!(
                f,
                "--cpu {n}: no such CPU profile; choose one of {}, or host",
                PROFILES
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CpuError::HostUnsupported(arch) => write!(
                f,
                "--cpu host reads the CPU through x86 CPUID, which this {arch} machine does not \
                 have; name a profile instead (elfdeps --help lists them)"
            ),
        }
    }
}

impl std::error::Error for CpuError {}

impl CpuProfile {
    /// The default: a CPU with none of the optional features glibc acts on.
    pub fn baseline() -> CpuProfile {
        CpuProfile {
            name: "baseline".into(),
            x86: X86Cpu {
                isa_level: 1,
                platform: X86Platform::Kernel,
                avx512_1: false,
                cache_isa_level: 1,
            },
            aarch64_atomics: false,
        }
    }

    /// A profile by name: one of [`PROFILES`], or `host` (the CPU this runs on).
    pub fn named(name: &str) -> Result<CpuProfile, CpuError> {
        if name == "host" {
            return host();
        }
        PROFILES
            .iter()
            .find(|p| p.name == name)
            .map(|p| (p.profile)())
            .ok_or_else(|| CpuError::UnknownName(name.to_string()))
    }

    /// The CPU this runs on ([`host`]).
    pub fn host() -> Result<CpuProfile, CpuError> {
        host()
    }

    /// The machines whose loaders this profile changes (empty for the baseline, which changes
    /// nothing): a profile for which a root has none of these does not apply to it.
    pub fn machines(&self) -> Vec<Machine> {
        let mut m = Vec::new();
        if self.x86 != CpuProfile::baseline().x86 {
            m.extend_from_slice(X86);
        }
        if self.aarch64_atomics {
            m.push(Machine::Aarch64);
        }
        m
    }

    /// What a glibc loader of `machine` (release `version`, when known) derives from this CPU.
    /// `hwcaps`, when given (`--hwcaps`), replaces the glibc-hwcaps subdirectories and nothing
    /// else.
    pub fn for_loader(
        &self,
        machine: Machine,
        version: Option<(u32, u32)>,
        hwcaps: Option<&[ByteStr]>,
    ) -> LoaderCpu {
        let x = &self.x86;
        // `important`: the legacy hwcap names the loader has, in bit order (the order of `temp`
        // in `_dl_important_hwcaps`); `hwcap_bits`: `dl_hwcap & dl_hwcap_mask` with the bit
        // numbers ldconfig writes into the cache.
        let (platform, important, hwcap_bits, platforms): (&str, Vec<&str>, u64, Platforms) =
            match machine {
                Machine::X86_64 | Machine::X32 => {
                    let mut names = vec!["x86_64"];
                    let mut bits = X86_HWCAP_X86_64;
                    if x.avx512_1 {
                        names.push("avx512_1");
                        bits |= X86_HWCAP_AVX512_1;
                    }
                    let platform = match x.platform {
                        X86Platform::Kernel => "x86_64",
                        X86Platform::Haswell => "haswell",
                        X86Platform::XeonPhi => "xeon_phi",
                    };
                    (platform, names, bits, Platforms::X86_64)
                }
                // The 32-bit loader: `i686` on every CPU with CMOV (all that run x86_64 kernels),
                // and SSE2, which is part of the baseline ISA level.
                Machine::I386 => ("i686", vec!["sse2"], X86_HWCAP_SSE2, Platforms::I386),
                Machine::Aarch64 if self.aarch64_atomics => (
                    "aarch64",
                    vec!["atomics"],
                    AARCH64_HWCAP_ATOMICS,
                    Platforms::None,
                ),
                _ => (
                    super::env::platform_for(machine),
                    Vec::new(),
                    0,
                    Platforms::None,
                ),
            };
        let levels: Vec<ByteStr> = match hwcaps {
            Some(list) => list.to_vec(),
            None => match machine {
                Machine::X86_64 | Machine::X32 => ["x86-64-v4", "x86-64-v3", "x86-64-v2"]
                    .iter()
                    .zip([4u8, 3, 2])
                    .filter(|(_, l)| x.isa_level >= *l)
                    .map(|(n, _)| ByteStr::from(*n))
                    .collect(),
                _ => Vec::new(),
            },
        };
        let glibc_hwcaps_ok = version.is_none_or(|v| v >= (2, 33));
        let legacy = version.is_some_and(|v| v < (2, 37));
        let mut components: Vec<&str> = important.clone();
        if !platform.is_empty() {
            components.push(platform);
        }
        components.push("tls");
        let (platform_mask, platform_bit) = platforms.bits(platform);
        LoaderCpu {
            platform: ByteStr::from(platform),
            hwcaps: if glibc_hwcaps_ok { levels } else { Vec::new() },
            legacy_subdirs: if legacy {
                power_set_subdirs(&components)
            } else {
                Vec::new()
            },
            cache: CacheCpu {
                hwcap_exclude: !(hwcap_bits | platform_mask | HWCAP_TLS),
                platform_mask,
                platform: platform_bit,
                isa_1: matches!(machine, Machine::X86_64 | Machine::X32 | Machine::I386)
                    .then(|| (1u32 << x.cache_isa_level.min(4)) - 1),
            },
        }
    }
}

// Legacy hwcap bits as ldconfig numbers them (sysdeps/x86/dl-hwcap.h; aarch64: HWCAP_ATOMICS).
const X86_HWCAP_SSE2: u64 = 1 << 0;
const X86_HWCAP_X86_64: u64 = 1 << 1;
const X86_HWCAP_AVX512_1: u64 = 1 << 2;
const AARCH64_HWCAP_ATOMICS: u64 = 1 << 8;

/// The platform names a loader knows for the cache's platform bits (sysdeps/x86/dl-procinfo.h:
/// `_DL_FIRST_PLATFORM` 48, the list `i586 i686 haswell xeon_phi`, of which the x86_64 loader
/// knows the last two and the i386 loader the first two).
#[derive(Clone, Copy)]
enum Platforms {
    X86_64,
    I386,
    None,
}

impl Platforms {
    /// `(_DL_HWCAP_PLATFORM, 1 << _dl_string_platform (platform))`; the bit is all ones for a
    /// platform the loader does not know (glibc's `(uint64_t) -1`), so that no entry with a
    /// platform bit matches it.
    fn bits(self, platform: &str) -> (u64, u64) {
        const FIRST: u32 = 48;
        let (start, count) = match self {
            Platforms::X86_64 => (2, 4),
            Platforms::I386 => (0, 2),
            Platforms::None => return (0, u64::MAX),
        };
        let names = ["i586", "i686", "haswell", "xeon_phi"];
        let mask = ((1u64 << count) - 1) << FIRST;
        let bit = (start..count)
            .find(|&i| names[i] == platform)
            .map_or(u64::MAX, |i| 1u64 << (FIRST + i as u32));
        (mask, bit)
    }
}

/// `_dl_important_hwcaps`' power set: for `n` components (hwcap names in bit order, then the
/// platform, then `tls`), every non-empty subset, from the full set down, each written with the
/// highest component first (`tls/haswell/avx512_1/x86_64`, ..., `x86_64`). Repeated strings (the
/// platform `x86_64` next to the hwcap `x86_64`) name the same directory and are kept once.
fn power_set_subdirs(components: &[&str]) -> Vec<ByteStr> {
    let n = components.len();
    let mut out: Vec<ByteStr> = Vec::new();
    for m in (1u32..(1 << n)).rev() {
        let parts: Vec<&str> = (0..n)
            .rev()
            .filter(|k| m & (1 << k) != 0)
            .map(|k| components[k])
            .collect();
        let s = ByteStr::from(parts.join("/").as_str());
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// What one glibc loader derives from the CPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoaderCpu {
    /// The value of `$PLATFORM` (empty: unknown, the element using it is dropped).
    pub platform: ByteStr,
    /// glibc-hwcaps subdirectories searched, best first.
    pub hwcaps: Vec<ByteStr>,
    /// Legacy capability subdirectories searched before each directory itself (before 2.37).
    pub legacy_subdirs: Vec<ByteStr>,
    /// How ld.so.cache entries are filtered.
    #[serde(skip)]
    pub cache: CacheCpu,
}

/// The CPU-dependent part of `search_cache` (dl-cache.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheCpu {
    /// `hwcap_exclude`: an ordinary entry with any of these bits is skipped.
    pub hwcap_exclude: u64,
    /// `_DL_HWCAP_PLATFORM`.
    pub platform_mask: u64,
    /// The loader's platform bit; an entry with platform bits must have exactly this one.
    pub platform: u64,
    /// x86: the ISA levels supported (`cpu_features->isa_1`: bit 0 baseline, 1 v2, 2 v3, 3 v4),
    /// which a glibc-hwcaps entry's ISA-level field must be in. `None`: no such check.
    pub isa_1: Option<u32>,
}

impl Default for CacheCpu {
    fn default() -> Self {
        CpuProfile::baseline()
            .for_loader(Machine::X86_64, None, None)
            .cache
    }
}

impl CacheCpu {
    /// Whether an ordinary (legacy) entry with hwcap word `hwcap` is accepted.
    pub fn accepts_legacy(&self, hwcap: u64) -> bool {
        if hwcap & self.hwcap_exclude != 0 {
            return false;
        }
        let p = hwcap & self.platform_mask;
        p == 0 || p == self.platform
    }

    /// Whether a glibc-hwcaps entry's ISA-level field (bits 32..41 of `hwcap`) is supported.
    pub fn accepts_isa_level(&self, hwcap: u64) -> bool {
        match self.isa_1 {
            None => true,
            Some(isa) => {
                let level = (hwcap >> 32) & ((1 << 10) - 1);
                level < 32 && (1u32 << level) & isa == 1u32 << level
            }
        }
    }
}

/// The CPU this runs on, as glibc's `init_cpu_features` would classify it.
pub fn host() -> Result<CpuProfile, CpuError> {
    #[cfg(target_arch = "x86_64")]
    {
        Ok(host_x86())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Err(CpuError::HostUnsupported(std::env::consts::ARCH))
    }
}

#[cfg(target_arch = "x86_64")]
// CPUID is the only way to the vendor, LAHF and AVX512ER/PF bits glibc classifies by (std's
// feature detection has none of them), and `__cpuid` is still an unsafe fn in Rust 1.88, our
// rust-version: the one place the library needs `unsafe`. It only reads identification registers.
#[allow(unsafe_code)]
fn host_x86() -> CpuProfile {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    macro_rules! has {
        ($($f:tt),+) => { true $(&& std::arch::is_x86_feature_detected!($f))+ };
    }
    // CPUID itself has no preconditions on x86_64; `unsafe` only for toolchains that still mark
    // the intrinsic unsafe.
    #[allow(unused_unsafe)]
    let leaf0 = unsafe { __cpuid(0) };
    let vendor = [leaf0.ebx, leaf0.edx, leaf0.ecx]
        .iter()
        .flat_map(|r| r.to_le_bytes())
        .collect::<Vec<u8>>();
    let intel = vendor == b"GenuineIntel";
    #[allow(unused_unsafe)]
    let ext = unsafe { __cpuid(0x8000_0000) };
    #[allow(unused_unsafe)]
    let lahf = ext.eax >= 0x8000_0001 && unsafe { __cpuid(0x8000_0001) }.ecx & 1 != 0;
    #[allow(unused_unsafe)]
    let leaf7 = if leaf0.eax >= 7 {
        unsafe { __cpuid_count(7, 0) }.ebx
    } else {
        0
    };
    // AVX512ER (bit 27) and AVX512PF (bit 26) are usable when AVX512F is (same register state).
    let avx512f = has!("avx512f");
    let er = avx512f && leaf7 & (1 << 27) != 0;
    let pf = avx512f && leaf7 & (1 << 26) != 0;
    let mut level = 0u8;
    if has!("sse2", "fxsr") {
        level = 1;
        if has!("cmpxchg16b", "popcnt", "sse3", "ssse3", "sse4.1", "sse4.2") && lahf {
            level = 2;
            if has!("avx", "avx2", "f16c", "fma", "lzcnt", "movbe") {
                level = 3;
                if has!("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl") {
                    level = 4;
                }
            }
        }
    }
    let mut platform = X86Platform::Kernel;
    let mut avx512_1 = false;
    if intel {
        if has!("avx512cd") {
            if er {
                if pf {
                    platform = X86Platform::XeonPhi;
                }
            } else if has!("avx512bw", "avx512dq", "avx512vl") {
                avx512_1 = true;
            }
        }
        if platform == X86Platform::Kernel
            && has!("avx2", "fma", "bmi1", "bmi2", "lzcnt", "movbe", "popcnt")
        {
            platform = X86Platform::Haswell;
        }
    }
    x86("host", level.max(1), platform, avx512_1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[ByteStr]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn baseline_on_glibc_2_36_x86_64() {
        let l = CpuProfile::baseline().for_loader(Machine::X86_64, Some((2, 36)), None);
        assert_eq!(l.platform, ByteStr::from("x86_64"));
        assert!(l.hwcaps.is_empty());
        // As LD_DEBUG=libs shows on such a CPU.
        assert_eq!(
            strs(&l.legacy_subdirs),
            [
                "tls/x86_64/x86_64",
                "tls/x86_64",
                "tls",
                "x86_64/x86_64",
                "x86_64"
            ]
        );
    }

    #[test]
    fn skylake_avx512_power_set() {
        let p = CpuProfile::named("skylake-avx512").unwrap();
        let l = p.for_loader(Machine::X86_64, Some((2, 36)), None);
        assert_eq!(l.platform, ByteStr::from("haswell"));
        assert_eq!(strs(&l.hwcaps), ["x86-64-v4", "x86-64-v3", "x86-64-v2"]);
        assert_eq!(l.legacy_subdirs.len(), 15);
        assert_eq!(
            l.legacy_subdirs[0],
            ByteStr::from("tls/haswell/avx512_1/x86_64")
        );
        assert_eq!(l.legacy_subdirs[14], ByteStr::from("x86_64"));
        // glibc 2.37 dropped the legacy subdirectories; 2.32 had no glibc-hwcaps.
        assert!(
            p.for_loader(Machine::X86_64, Some((2, 37)), None)
                .legacy_subdirs
                .is_empty()
        );
        assert!(
            p.for_loader(Machine::X86_64, Some((2, 32)), None)
                .hwcaps
                .is_empty()
        );
        // --hwcaps replaces the levels only.
        let only = [ByteStr::from("x86-64-v2")];
        let l = p.for_loader(Machine::X86_64, Some((2, 36)), Some(&only));
        assert_eq!(strs(&l.hwcaps), ["x86-64-v2"]);
        assert_eq!(l.platform, ByteStr::from("haswell"));
    }

    #[test]
    fn i386_has_its_own_platform() {
        let l =
            CpuProfile::named("haswell")
                .unwrap()
                .for_loader(Machine::I386, Some((2, 36)), None);
        assert_eq!(l.platform, ByteStr::from("i686"));
        assert!(l.hwcaps.is_empty());
        assert_eq!(strs(&l.legacy_subdirs)[0], "tls/i686/sse2");
    }

    #[test]
    fn cache_bits() {
        let haswell = CpuProfile::named("haswell").unwrap();
        let c = haswell
            .for_loader(Machine::X86_64, Some((2, 36)), None)
            .cache;
        let haswell_bit = 1u64 << 50;
        let xeon_phi_bit = 1u64 << 51;
        assert!(c.accepts_legacy(0));
        assert!(c.accepts_legacy(HWCAP_TLS));
        assert!(c.accepts_legacy(haswell_bit | X86_HWCAP_X86_64));
        assert!(!c.accepts_legacy(xeon_phi_bit));
        assert!(!c.accepts_legacy(X86_HWCAP_AVX512_1));
        let base = CpuProfile::baseline()
            .for_loader(Machine::X86_64, None, None)
            .cache;
        assert!(!base.accepts_legacy(haswell_bit));
        assert!(base.accepts_legacy(X86_HWCAP_X86_64));
        // ISA-level field 2 (x86-64-v3) needs a v3 CPU.
        let v3_entry = 2u64 << 32;
        assert!(c.accepts_isa_level(v3_entry));
        assert!(!base.accepts_isa_level(v3_entry));
        assert!(base.accepts_isa_level(0));
    }

    #[test]
    fn names() {
        for p in PROFILES {
            assert_eq!(CpuProfile::named(p.name).unwrap().name, p.name);
        }
        assert!(matches!(
            CpuProfile::named("pentium"),
            Err(CpuError::UnknownName(_))
        ));
        assert!(CpuProfile::baseline().machines().is_empty());
        assert_eq!(
            CpuProfile::named("armv8.1").unwrap().machines(),
            [Machine::Aarch64]
        );
    }
}
