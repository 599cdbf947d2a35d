/*!
Per-file errors are values: a bad file yields one of these and the scan goes on.

Codes are stable kebab-case strings (docs/json.md lists them); messages say what went wrong, and where a
user can do something about it, what.
*/

use std::io;

use serde::Serialize;
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::name::{ByteStr, escape_controls};

/// Stable codes of per-file errors.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    IntoStaticStr,
    EnumString,
    VariantArray,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ErrorCode {
    /// EACCES / EPERM while opening or reading.
    PermissionDenied,
    /// The entry disappeared between listing and opening.
    Vanished,
    /// Not a regular file: listed as one but replaced during the scan, or opened by name and a
    /// FIFO, device, directory or socket.
    NotRegular,
    /// Any other I/O error.
    IoError,
    /// ELF magic present, headers malformed.
    ElfInvalid,
    /// A file named as an ELF file (`check --files FILE`) has no ELF magic.
    NotElf,
    /// A header, table or string lies beyond the end of the file.
    ElfTruncated,
    /// A configured limit would be passed.
    LimitExceeded,
    /// The path is too long to open.
    NameTooLong,
    /// More symbolic links than the kernel would follow (ELOOP).
    SymlinkLoop,
    /// A component of a path resolved inside the root is not a directory (ENOTDIR).
    NotADirectory,
    /// elfdeps itself failed on this file (a bug: a panic caught at the file's boundary).
    InternalError,
}

impl ErrorCode {
    /// The kebab-case code as written in reports.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An error about one file (or directory): the code and a message (without the path).
///
/// Displayed as its message, control characters escaped (a message may quote a name from the root).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}", escape_controls(message))]
pub struct FileError {
    /// Stable code.
    pub code: ErrorCode,
    /// What happened, and what to do when there is something to do.
    pub message: String,
}

impl FileError {
    /// Builds an error from a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FileError {
            code,
            message: message.into(),
        }
    }

    /// Classifies an I/O error from `what` ("open", "read", ...).
    pub fn io(what: &str, err: &io::Error) -> Self {
        use rustix::io::Errno;
        let code = match Errno::from_io_error(err) {
            Some(Errno::ACCESS) | Some(Errno::PERM) => ErrorCode::PermissionDenied,
            Some(Errno::NOENT) | Some(Errno::NOTDIR) => ErrorCode::Vanished,
            Some(Errno::NAMETOOLONG) => ErrorCode::NameTooLong,
            Some(Errno::LOOP) => ErrorCode::SymlinkLoop,
            _ => ErrorCode::IoError,
        };
        let hint = match code {
            ErrorCode::PermissionDenied => {
                "; run as a user that can read the whole root (e.g. root)"
            }
            ErrorCode::Vanished => "; the tree changed during the scan",
            _ => "",
        };
        FileError::new(code, format!("{what} failed: {err}{hint}"))
    }
}

impl From<rustix::io::Errno> for FileError {
    fn from(e: rustix::io::Errno) -> Self {
        FileError::io("open", &io::Error::from(e))
    }
}

/// A per-file error with the path it is about, as reported.
///
/// Displayed as `PATH: MESSAGE (CODE)`, as the CLI lists them, path and message escaped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{path}: {} ({code})", escape_controls(message))]
pub struct PathError {
    /// Absolute path inside the root.
    pub path: ByteStr,
    /// Stable code.
    pub code: ErrorCode,
    /// What happened.
    pub message: String,
}

impl PathError {
    /// Attaches a path to a file error.
    pub fn new(path: ByteStr, err: FileError) -> Self {
        PathError {
            path,
            code: err.code,
            message: err.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes as they were hand-written before strum (docs/json.md lists them).
    const CODES: [&str; 12] = [
        "permission-denied",
        "vanished",
        "not-regular",
        "io-error",
        "elf-invalid",
        "not-elf",
        "elf-truncated",
        "limit-exceeded",
        "name-too-long",
        "symlink-loop",
        "not-a-directory",
        "internal-error",
    ];

    #[test]
    fn codes_keep_their_strings_and_serde_agrees() {
        let names: Vec<&str> = ErrorCode::VARIANTS.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, CODES);
        for &c in ErrorCode::VARIANTS {
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }

    #[test]
    fn errors_display_escaped() {
        let e = FileError::new(ErrorCode::ElfInvalid, "bad name a\x1bb\n");
        assert_eq!(e.to_string(), "bad name a\\x1bb\\x0a");
        let p = PathError::new(ByteStr::from("/usr/bin/x"), e);
        assert_eq!(
            p.to_string(),
            "/usr/bin/x: bad name a\\x1bb\\x0a (elf-invalid)"
        );
    }
}
