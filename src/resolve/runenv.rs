//! The environment a program starts with, as far as the loaders read it: `LD_LIBRARY_PATH`,
//! `LD_PRELOAD` and the working directory (for relative and empty entries). Each loader model
//! splits the raw values its own way (glibc `elf/dl-load.c` `_dl_init_paths` and `elf/rtld.c`
//! `handle_preload_list`; musl `ldso/dynlink.c` `path_open` and `load_preload`).

use serde::Serialize;

use crate::name::ByteStr;

/// The names a loader environment reads; any other `--env NAME` has no effect on loading.
pub const NAMES: [&str; 2] = ["LD_LIBRARY_PATH", "LD_PRELOAD"];

/// The loader environment of the sessions (default: neither variable set, working directory `/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoaderEnv {
    /// `LD_LIBRARY_PATH` as set (`None`: unset).
    #[serde(rename = "LD_LIBRARY_PATH", skip_serializing_if = "Option::is_none")]
    pub library_path: Option<ByteStr>,
    /// `LD_PRELOAD` as set (`None`: unset).
    #[serde(rename = "LD_PRELOAD", skip_serializing_if = "Option::is_none")]
    pub preload: Option<ByteStr>,
    /// The working directory the program starts in (an image's `WorkingDir`, else `/`): where
    /// relative and empty entries point.
    pub workdir: ByteStr,
    /// Where the values came from (`image config`, `--env`, or both).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
}

impl Default for LoaderEnv {
    fn default() -> Self {
        LoaderEnv {
            library_path: None,
            preload: None,
            workdir: ByteStr::from("/"),
            sources: Vec::new(),
        }
    }
}

impl LoaderEnv {
    /// Whether neither variable is set (resolution is then the plain model).
    pub fn is_unset(&self) -> bool {
        self.library_path.is_none() && self.preload.is_none()
    }

    /// Sets `NAME=VALUE` when NAME is one the loaders read; `false` otherwise.
    pub fn set(&mut self, name: &str, value: &[u8]) -> bool {
        match name {
            "LD_LIBRARY_PATH" => self.library_path = Some(ByteStr::from(value)),
            "LD_PRELOAD" => self.preload = Some(ByteStr::from(value)),
            _ => return false,
        }
        true
    }

    /// `dir` made absolute against the working directory.
    fn absolute(&self, dir: &[u8]) -> Vec<u8> {
        if dir.starts_with(b"/") {
            return dir.to_vec();
        }
        let wd = self.workdir.as_bytes();
        let wd = wd.strip_suffix(b"/").unwrap_or(wd);
        [wd, b"/", dir].concat()
    }

    /// glibc's `LD_LIBRARY_PATH` elements, in order (`_dl_init_paths` with `fillin_rpath`):
    /// separated by `:` or `;`; an unset or empty variable gives none; an empty element is the
    /// working directory (`./`). Elements keep their dynamic string tokens (expanded by the
    /// session with the main program's origin); relative ones are made absolute by
    /// [`LoaderEnv::glibc_dir`] after expansion.
    pub fn glibc_library_path(&self) -> Vec<ByteStr> {
        let Some(v) = self
            .library_path
            .as_ref()
            .filter(|v| !v.as_bytes().is_empty())
        else {
            return Vec::new();
        };
        v.as_bytes()
            .split(|&b| b == b':' || b == b';')
            .map(|e| ByteStr::from(if e.is_empty() { b"." } else { e }))
            .collect()
    }

    /// An expanded glibc `LD_LIBRARY_PATH` element as the directory opened (relative to the
    /// working directory).
    pub fn glibc_dir(&self, expanded: &[u8]) -> Vec<u8> {
        if expanded.is_empty() || expanded == b"." || expanded == b"./" {
            return self.workdir.as_bytes().to_vec();
        }
        self.absolute(expanded)
    }

    /// glibc's `LD_PRELOAD` entries (`handle_preload_list`): separated by spaces or colons, empty
    /// ones dropped.
    pub fn glibc_preload(&self) -> Vec<ByteStr> {
        split_nonempty(self.preload.as_ref(), |b| b == b' ' || b == b':')
    }

    /// musl's `LD_LIBRARY_PATH` as the list `path_open` walks (`:` or newline separated, empty
    /// entries skipped, no `$ORIGIN` expansion), each directory made absolute against the
    /// working directory.
    pub fn musl_library_path(&self) -> Vec<u8> {
        split_nonempty(self.library_path.as_ref(), |b| b == b':' || b == b'\n')
            .iter()
            .map(|d| self.absolute(d.as_bytes()))
            .collect::<Vec<_>>()
            .join(&b':')
    }

    /// musl's `LD_PRELOAD` entries (`load_preload`): separated by white space or colons.
    pub fn musl_preload(&self) -> Vec<ByteStr> {
        split_nonempty(self.preload.as_ref(), |b| {
            b.is_ascii_whitespace() || b == b':'
        })
    }

    /// A preload entry with a slash, as the path opened (relative to the working directory).
    pub fn preload_path(&self, entry: &[u8]) -> Vec<u8> {
        self.absolute(entry)
    }

    /// One line for reports: what was set.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.library_path {
            parts.push(format!("LD_LIBRARY_PATH={v}"));
        }
        if let Some(v) = &self.preload {
            parts.push(format!("LD_PRELOAD={v}"));
        }
        if self.workdir.as_bytes() != b"/" {
            parts.push(format!("working directory {}", self.workdir));
        }
        let mut s = parts.join(", ");
        if !self.sources.is_empty() {
            s.push_str(&format!(" (from {})", self.sources.join(" and ")));
        }
        s
    }
}

fn split_nonempty(v: Option<&ByteStr>, sep: impl Fn(u8) -> bool) -> Vec<ByteStr> {
    v.map(|v| {
        v.as_bytes()
            .split(|&b| sep(b))
            .filter(|e| !e.is_empty())
            .map(ByteStr::from)
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(llp: &str, pre: &str, wd: &str) -> LoaderEnv {
        LoaderEnv {
            library_path: Some(llp.into()),
            preload: Some(pre.into()),
            workdir: wd.into(),
            sources: Vec::new(),
        }
    }

    #[test]
    fn each_loader_splits_its_own_way() {
        let e = env("/a;b::$ORIGIN/x:", "/p/libp.so libq.so:libr.so", "/srv");
        let g: Vec<String> = e
            .glibc_library_path()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(g, ["/a", "b", ".", "$ORIGIN/x", "."]);
        assert_eq!(e.glibc_dir(b"b"), b"/srv/b");
        assert_eq!(e.glibc_dir(b"."), b"/srv");
        assert_eq!(e.glibc_preload().len(), 3);
        // musl: ';' is no separator, empty entries are skipped, no token expansion.
        assert_eq!(e.musl_library_path(), b"/a;b:/srv/$ORIGIN/x".to_vec());
        let e = env("", "a\tb", "/");
        assert!(e.glibc_library_path().is_empty());
        assert!(e.musl_library_path().is_empty());
        assert_eq!(e.musl_preload().len(), 2);
        assert_eq!(e.glibc_preload().len(), 1);
    }
}
