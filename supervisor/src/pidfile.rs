//! The pidfile, with gunicorn's rules: refuse to start while it names a live process,
//! write it atomically (temp file + rename, mode 0644), remove it on exit only if it
//! still holds our pid.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    #[error("Already running on PID {pid} (or pid file {path} is stale)")]
    AlreadyRunning { pid: i32, path: PathBuf },
    #[error("cannot write pid file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: i32,
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn is_alive(pid: i32) -> bool {
    pid > 0 && matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

impl Pidfile {
    /// Checks for a running owner, then writes `pid`.
    pub fn create(path: &Path, pid: i32) -> Result<Pidfile, PidfileError> {
        if let Some(existing) = read_pid(path)
            && existing != pid
            && is_alive(existing)
        {
            return Err(PidfileError::AlreadyRunning {
                pid: existing,
                path: path.to_owned(),
            });
        }
        let pidfile = Pidfile {
            path: path.to_owned(),
            pid,
        };
        pidfile.write()?;
        Ok(pidfile)
    }

    fn write(&self) -> Result<(), PidfileError> {
        let io = |source| PidfileError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir
            .unwrap_or(Path::new("."))
            .join(format!(".{name}.{}.tmp", self.pid));
        let mut file = std::fs::File::create(&tmp).map_err(io)?;
        file.write_all(format!("{}\n", self.pid).as_bytes())
            .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(0o644)))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io(e)
            })
    }

    /// Moves our pidfile to `path` (a promoted upgrade takes the plain name).
    pub fn rename_to(&mut self, path: &Path) {
        if read_pid(&self.path) == Some(self.pid) {
            match std::fs::rename(&self.path, path) {
                Ok(()) => self.path = path.to_owned(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot rename the pidfile to {}", path.display())
                }
            }
        }
    }

    /// Removes the file if it still names us.
    pub fn remove(&self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lrm-pid-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("master.pid")
    }

    #[test]
    fn refuses_a_live_owner_and_replaces_a_stale_one() {
        let path = temp_path("live");
        let parent = nix::unistd::getppid().as_raw();
        std::fs::write(&path, format!("{parent}\n")).unwrap();
        let err = Pidfile::create(&path, 1_000_000).unwrap_err();
        assert!(err.to_string().contains("Already running"), "{err}");

        std::fs::write(&path, "999999999\n").unwrap();
        let pidfile = Pidfile::create(&path, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        pidfile.remove();
        assert!(!path.exists());
    }

    #[test]
    fn leaves_a_file_that_names_someone_else() {
        let path = temp_path("other");
        let pidfile = Pidfile::create(&path, 4243).unwrap();
        std::fs::write(&path, "17\n").unwrap();
        pidfile.remove();
        assert!(path.exists());
    }
}
