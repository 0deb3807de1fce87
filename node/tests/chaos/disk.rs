//! A node's own small disk: its data directory on an ext4 filesystem in a sparse file, loop-mounted
//! (`truncate`, `mkfs.ext4`, `mount -o loop`), so the runner can fill it to the last block and give
//! the space back. Unmounted on drop.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::hosts::sh;

pub struct Disk {
    image: PathBuf,
    pub mount: PathBuf,
}

/// The file that takes the space while the disk is full.
const FILLER: &str = "chaos-filler";

impl Disk {
    /// A `mib` MiB filesystem mounted at `mount` (created).
    pub fn create(image: &Path, mount: &Path, mib: u32) -> Result<Disk, String> {
        std::fs::create_dir_all(mount).map_err(|e| e.to_string())?;
        let img = image.to_str().unwrap();
        sh("truncate", &["-s", &format!("{mib}M"), img])?;
        sh("mkfs.ext4", &["-q", "-F", "-m", "0", img])?;
        sh("mount", &["-o", "loop", img, mount.to_str().unwrap()])?;
        Ok(Disk {
            image: image.to_path_buf(),
            mount: mount.to_path_buf(),
        })
    }

    /// Fills the filesystem until a write fails for want of space; returns the bytes taken.
    pub fn fill(&self) -> u64 {
        let path = self.mount.join(FILLER);
        let Ok(mut f) = std::fs::File::create(&path) else {
            return 0;
        };
        let mut taken = 0u64;
        for size in [1 << 20, 64 << 10, 4 << 10] {
            let chunk = vec![0u8; size];
            while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {
                taken += size as u64;
            }
        }
        taken
    }

    /// Gives the space back.
    pub fn free(&self) {
        let _ = std::fs::remove_file(self.mount.join(FILLER));
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let m = self.mount.to_str().unwrap();
        if sh("umount", &[m]).is_err() {
            let _ = sh("umount", &["-l", m]);
        }
        let _ = std::fs::remove_file(&self.image);
    }
}
