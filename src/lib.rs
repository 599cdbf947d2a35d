/*!
elfdeps: static analysis of every ELF file in a root filesystem.

The stages, one module each, hand plain data to the next:

1. [`rootfs`]: the only filesystem access; every path is confined to the root.
2. [`walk`]: the parallel walk (symlinks recorded, never followed; special files never opened).
3. [`elf`]: facts from each ELF file, read lazily and within limits.
4. [`scan`]: puts the three together into a [`scan::ScanReport`].
5. [`resolve`] and [`graph`]: what each object's loader would load.
6. [`check`]: libc flavors and findings, judged by a policy.
7. [`report`]: renderers of that report (human, JSON, SARIF, JUnit).

Nothing here executes a file from the root, follows a path out of it, or blocks on a FIFO or device.
*/
#![deny(missing_docs)]
// Parsing hostile input is safe Rust throughout; the few `unsafe` blocks (CPUID, and the tests'
// calls of the host's libc as an oracle) are each allowed where they are, with their reason.
#![deny(unsafe_code)]

pub mod check;
pub mod diff;
pub mod elf;
pub mod error;
pub mod graph;
pub mod image;
pub mod name;
pub mod packages;
pub mod pipeline;
pub mod pkgdb;
pub mod progress;
pub mod rebase;
pub mod report;
pub mod resolve;
pub mod rootfs;
pub mod runtime;
pub mod scan;
pub mod tree;
pub mod walk;
