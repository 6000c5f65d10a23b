//! The image as it was checked: read once, its sha256 taken from those very bytes, and served
//! from memory ([`Snapshot::held`]), so that editing or replacing the file on disk afterwards
//! changes nothing the router gets. A private copy on disk names it for our server and the
//! self-test.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::tftp::server::{HeldImage, hex_sha256};

/// The image's bytes, and the private copy our server hands out. The copy's folder goes when
/// this is dropped.
#[derive(Debug)]
pub struct Snapshot {
    bytes: Arc<[u8]>,
    sha256: String,
    dir: PathBuf,
    path: PathBuf,
}

impl Snapshot {
    /// Reads `image` once and writes the private copy; refuses bytes whose sha256 is not
    /// `checked` (the file changed between the image check and now).
    pub fn take(image: &Path, checked: &str) -> Result<Self, String> {
        // One folder per snapshot: a process may hold more than one (the tests do).
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bytes: Arc<[u8]> = read_whole(image)?.into();
        let sha256 = hex_sha256(&bytes);
        if sha256 != checked {
            return Err(format!(
                "the image {} changed after it was checked (sha256 {sha256}, checked {checked}).\n  fix: leave the file alone while rescue-wizard runs, then start again",
                image.display()
            ));
        }
        let dir = std::env::temp_dir().join(format!(
            "rescue-wizard-image-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir(&dir).map_err(|err| {
            format!(
                "cannot create {} for the image's copy: {err}",
                dir.display()
            )
        })?;
        let name = image
            .file_name()
            .map_or_else(|| "image".into(), |n| n.to_string_lossy().into_owned());
        let path = dir.join(name);
        let snapshot = Self {
            bytes,
            sha256,
            dir,
            path,
        };
        std::fs::write(&snapshot.path, &snapshot.bytes).map_err(|err| {
            format!(
                "cannot write the image's copy {}: {err}",
                snapshot.path.display()
            )
        })?;
        Ok(snapshot)
    }

    /// The bytes checked.
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }

    /// The bytes and their SHA-256, for our server to serve from memory.
    pub fn held(&self) -> HeldImage {
        HeldImage {
            bytes: Arc::clone(&self.bytes),
            sha256: self.sha256.clone(),
        }
    }

    /// The private copy the server hands out.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every byte of `image`, each read given a deadline (`image::timed`): an image on a mount
/// that stopped answering since its check is refused with a message, never waited on for good.
fn read_whole(image: &Path) -> Result<Vec<u8>, String> {
    let file = crate::image::open_image_timed(image).map_err(|err| err.to_string())?;
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; crate::image::timed::CHUNK];
    loop {
        match file.read_at(bytes.len() as u64, &mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(err) => {
                return Err(crate::image::read_error(image, err).to_string());
            }
        }
    }
}

/// A folder only this user can read: the copy is the technician's image.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_the_file_afterwards_changes_nothing_served() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("factory.bin");
        let original: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&image, &original).unwrap();
        let snapshot = Snapshot::take(&image, &hex_sha256(&original)).unwrap();
        std::fs::write(&image, b"edited").unwrap();
        assert_eq!(&snapshot.bytes()[..], &original[..]);
        assert_eq!(std::fs::read(snapshot.path()).unwrap(), original);
        let copy_dir = snapshot.path().parent().unwrap().to_path_buf();
        drop(snapshot);
        assert!(!copy_dir.exists());
    }

    #[test]
    fn a_file_changed_since_the_check_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("factory.bin");
        std::fs::write(&image, b"now").unwrap();
        let err = Snapshot::take(&image, &hex_sha256(b"then")).unwrap_err();
        assert!(err.contains("changed after it was checked"), "{err}");
        assert!(err.contains("fix:"), "{err}");
    }
}
