//! A root filesystem tarball ([`ImageRef::RootTarball`]) unpacked: decompressed as it streams and
//! applied as a single layer with the layer rules ([`layer::apply`]), within both caps.
//!
//! Whether a compressed tarball is a root or an image archive compressed whole cannot be known
//! before its end (`docker save` writes `manifest.json` near the end), so it is applied as a root
//! first, which costs one pass and, non-ELF files being written sparse, little space; when its
//! top then holds `manifest.json` or `oci-layout`, that tree is dropped and the file is
//! decompressed into a private directory and read as the image archive it is.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::layer::{self, Capped};
use super::{
    FileKind, Hashing, ImageError, ImageOptions, ImageRef, Private, TARBALL_CODECS, Unpacked, bad,
    hex, open_archive, sniff,
};

/// The xz decoder's memory limit, in KiB: `xz -9` needs 65 MiB; this allows every preset with room
/// and refuses a header that asks for gigabytes.
const XZ_MEMORY_KIB: u32 = 256 << 10;

/// Read buffer for the stored file.
const BUFFER: usize = 256 << 10;

/// A reader that remembers whether its inner one failed: a decoder's error (damaged data, or the
/// file unreadable), told apart from a cap or the tar reader's own complaint.
struct Watch<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if r.is_err() {
            self.failed = true;
        }
        r
    }
}

/// A decoder has no buffer to pass over: skipped bytes are read (and a failure noted as ever).
impl<R: Read> layer::Skip for Watch<R> {}

/// zstd frames one after another (what `pzstd` and concatenated files hold), each decoded in
/// turn; the decoder of one frame stops at its end.
struct ZstdFrames<R: BufRead> {
    frame: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: BufRead> ZstdFrames<R> {
    fn new(r: R) -> io::Result<Self> {
        Ok(ZstdFrames {
            frame: Some(ruzstd::decoding::StreamingDecoder::new(r).map_err(io::Error::other)?),
        })
    }
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let n = frame.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(frame) = self.frame.take() else {
                return Ok(0);
            };
            let mut rest = frame.into_inner();
            if rest.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.frame =
                Some(ruzstd::decoding::StreamingDecoder::new(rest).map_err(io::Error::other)?);
        }
    }
}

/// The tarball's stream decompressed, for a compression of [`TARBALL_CODECS`] or none.
fn decoder<'a>(r: impl BufRead + 'a, kind: &str) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match kind {
        "gzip" => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        "zstd" => Box::new(ZstdFrames::new(r)?),
        "xz" => Box::new(lzma_rust2::XzReader::new_mem_limit(r, true, XZ_MEMORY_KIB)),
        _ => Box::new(r),
    })
}

/// The compression of the file at `path` by its magic bytes ("uncompressed" for none), or why it
/// cannot be read.
fn compression(path: &Path) -> Result<&'static str, ImageError> {
    match sniff(&super::read_head(path)?) {
        FileKind::Compressed(kind) if TARBALL_CODECS.contains(&kind) => Ok(kind),
        FileKind::Compressed(kind) => Err(bad(format!(
            "it is {kind}-compressed: elfdeps reads tarballs compressed with gzip, zstd or xz, or \
             uncompressed; decompress it first (e.g. `{kind} -dk {}`)",
            path.display()
        ))),
        _ => Ok("uncompressed"),
    }
}

/// Unpacks the tarball at `path`: a root filesystem, or an image archive compressed whole.
pub(super) fn unpack(path: &Path, opts: &ImageOptions) -> Result<Unpacked, ImageError> {
    let shown = path.display().to_string();
    let kind = compression(path)?;
    let mut out = Unpacked::empty(shown.clone())?;
    let root_dir =
        File::open(&out.root).map_err(|e| bad(format!("{}: {e}", out.root.display())))?;
    let mut stored = Hashing {
        inner: open_archive(path)?,
        hash: Sha256::new(),
        on: true,
    };
    {
        let mut dec = Watch {
            inner: decoder(BufReader::with_capacity(BUFFER, &mut stored), kind)
                .map_err(|_| damaged(kind, 0))?,
            failed: false,
        };
        let mut capped = Capped::new(&mut dec, opts.max_layer, opts.max_image);
        let applied = layer::apply(
            root_dir.as_fd(),
            &mut capped,
            0,
            &mut out.origins,
            &mut out.info.applied,
        )
        // The rest of the stream (tar padding, the compressed format's checksum) is read too:
        // a damaged or cut-short file is refused, not taken for a smaller root.
        .and_then(|()| {
            layer::drain(&mut capped)
                .map(drop)
                .map_err(|e| ImageError::Layer(0, e.to_string()))
        });
        if let Err(e) = applied {
            let (hit, read) = (capped.hit, capped.read);
            // A whole image archive is bigger than any of its layers: one that passes the layer
            // cap as a root is read as the archive, whose layers are then capped one by one.
            if hit == Some(layer::Cap::Layer) && kind != "uncompressed" && looks_like_archive(&out)
            {
                drop(out);
                return unpack_archive(path, kind, opts).map_err(|e| match e {
                    NotArchive => cap_error(layer::Cap::Layer),
                    Failed(e) => e,
                });
            }
            return Err(match (hit, dec.failed) {
                (Some(cap), _) => cap_error(cap),
                (None, true) if kind != "uncompressed" => damaged(kind, read),
                // The file itself could not be read (only a decoder's or the file's failure sets
                // `failed`); the tar reader's own complaints are worded by `apply`.
                (None, true) => bad(format!(
                    "it cannot be read to its end (after {read} bytes): copy it again"
                )),
                // The layer code words its messages for a layer; here the one layer is the
                // tarball, and is named so.
                (None, false) => match e {
                    ImageError::Layer(_, m) => bad(m.replace("the layer", "the tarball")),
                    e => e,
                },
            });
        }
    }
    // Bytes after the compressed stream still belong to the file its digest names.
    layer::drain(&mut stored).map_err(|e| bad(format!("reading it: {e}")))?;
    let top = |name: &str| {
        std::fs::symlink_metadata(out.root.join(name)).is_ok_and(|m| m.file_type().is_file())
    };
    if top("oci-layout") || top("manifest.json") {
        drop(out);
        return unpack_archive(path, kind, opts).map_err(|e| match e {
            NotArchive => {
                bad("it holds manifest.json or oci-layout at its top, but is not an image archive")
            }
            Failed(e) => e,
        });
    }
    if let Some(p) = &opts.platform {
        return Err(bad(format!(
            "--platform {}: this is a root filesystem tarball, which holds one root and no images \
             to choose from; drop --platform",
            p.show()
        )));
    }
    out.info.layers = vec![format!("sha256:{}", hex(&stored.hash.finalize()))];
    Ok(out)
}

/// Whether the top of a partly applied tree holds only what an image archive's does: `blobs/`,
/// `index.json`, `manifest.json`, `oci-layout`, `repositories`, and the digest-named layer
/// directories and configs of older `docker save` (`<64 hex>/`, `<64 hex>.json`).
fn looks_like_archive(out: &Unpacked) -> bool {
    let Ok(entries) = std::fs::read_dir(&out.root) else {
        return false;
    };
    let mut any = false;
    for e in entries {
        let Ok(e) = e else { return false };
        let name = e.file_name();
        let name = name.to_string_lossy();
        let stem = name
            .strip_suffix(".json")
            .or_else(|| name.strip_suffix(".tar"))
            .unwrap_or(&name);
        let digest = stem.len() == 64
            && stem
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let known = matches!(
            &*name,
            "blobs" | "index.json" | "manifest.json" | "oci-layout" | "repositories"
        );
        if !digest && !known {
            return false;
        }
        any = true;
    }
    any
}

/// Why a compressed tarball could not be read as an image archive.
enum ArchiveError {
    /// Decompressed, it is not one (no `manifest.json` or `oci-layout` at its top).
    NotArchive,
    /// It is one, and this is what is wrong with it.
    Failed(ImageError),
}
use ArchiveError::{Failed, NotArchive};

impl From<ImageError> for ArchiveError {
    fn from(e: ImageError) -> Self {
        Failed(e)
    }
}

/// An image archive compressed whole (`docker save | gzip`): decompressed into a private
/// directory within `--max-image-size` (the archive reader seeks), then read as the archive it is.
fn unpack_archive(path: &Path, kind: &str, opts: &ImageOptions) -> Result<Unpacked, ArchiveError> {
    let shown = path.display().to_string();
    let image = if kind == "uncompressed" {
        None
    } else {
        let private = Private::new("elfdeps-archive-")?;
        let tar = private.path().join("archive.tar");
        let mut out =
            File::create(&tar).map_err(|e| bad(format!("cannot create {}: {e}", tar.display())))?;
        let mut dec = Watch {
            inner: decoder(BufReader::with_capacity(BUFFER, open_archive(path)?), kind)
                .map_err(|_| damaged(kind, 0))?,
            failed: false,
        };
        let mut capped = Capped::new(&mut dec, opts.max_image, opts.max_image);
        if let Err(e) = io::copy(&mut capped, &mut out) {
            let (hit, read) = (capped.hit, capped.read);
            return Err(Failed(match hit {
                Some(cap) => cap_error(cap),
                None if !dec.failed => bad(format!(
                    "cannot write its decompressed copy to {}: {e} (set TMPDIR to a place with \
                     room)",
                    tar.display()
                )),
                None => damaged(kind, read),
            }));
        }
        Some((private, tar))
    };
    let file = image
        .as_ref()
        .map_or(path.to_path_buf(), |(_, tar)| tar.clone());
    // Messages about the copy name the file the user gave.
    let temp = file.display().to_string();
    let named = |e: ImageError| match e {
        ImageError::Image(m) => bad(m.replace(&temp, &format!("{shown} (decompressed)"))),
        e => e,
    };
    let r = match super::parse_root(&file).map_err(named)? {
        Some(r @ (ImageRef::DockerArchive(_) | ImageRef::OciArchive(..))) => r,
        _ => return Err(NotArchive),
    };
    let mut u = super::unpack(&r, opts).map_err(named)?;
    u.info.reference = shown;
    Ok(u)
}

/// A passed cap, for a tarball (a root tarball is one layer, so both caps bound it).
fn cap_error(cap: layer::Cap) -> ImageError {
    bad(match cap {
        layer::Cap::Layer => {
            "it decompresses to more than --max-layer-size allows (a root \
                              filesystem tarball is one layer): raise --max-layer-size to allow it"
        }
        layer::Cap::Image => {
            "it decompresses to more than --max-image-size allows: raise \
                              --max-image-size to allow it"
        }
    })
}

/// A compressed stream that stops decompressing after `read` bytes.
fn damaged(kind: &str, read: u64) -> ImageError {
    bad(format!(
        "its {kind} data is damaged or cut short (it stops decompressing after {read} bytes): \
         copy or download it again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_with(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).expect("entry");
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn a_gzipped_root_is_one_layer_named_by_the_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_with(&[("etc/hostname", b"box\n")]))
            .expect("gzip");
        let bytes = gz.finish().expect("gzip");
        let path = d.path().join("root.tar.gz");
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(
            super::super::parse_root(&path).expect("parsed"),
            Some(ImageRef::RootTarball(path.clone()))
        );
        let u = unpack(&path, &ImageOptions::default()).expect("unpacked");
        assert_eq!(
            std::fs::read(u.root.join("etc/hostname")).expect("applied"),
            b"box\n"
        );
        assert_eq!(
            u.info.layers,
            vec![format!("sha256:{}", hex(&Sha256::digest(&bytes)))]
        );
        assert_eq!(
            u.layer_of(b"/etc/hostname"),
            Some(u.info.layers[0].as_str())
        );
        assert_eq!(u.info.reference, path.display().to_string());
    }

    #[test]
    fn only_an_archive_shaped_top_is_taken_for_one() {
        let d = tempfile::tempdir().expect("tempdir");
        let hexname = "a".repeat(64);
        for (files, archive) in [
            (
                vec![format!("{hexname}/layer.tar"), "repositories".into()],
                true,
            ),
            (vec!["blobs/sha256/x".into(), "index.json".into()], true),
            (vec![format!("{hexname}.json"), "etc/passwd".into()], false),
            (vec![], false),
        ] {
            let tar = tar_with(
                &files
                    .iter()
                    .map(|f| (f.as_str(), &b"x"[..]))
                    .collect::<Vec<_>>(),
            );
            let path = d.path().join("t.tar");
            std::fs::write(&path, tar).expect("write");
            let u = unpack(&path, &ImageOptions::default());
            // An archive-shaped top without manifest.json is still a root once applied whole;
            // the shape only matters when the layer cap stops it.
            let u = u.expect("unpacked");
            assert_eq!(looks_like_archive(&u), archive, "{files:?}");
        }
    }
}
