//! The control API's bearer-token file, which whoever may drive the
//! simulator reads.
//!
//! By default it lives in a private directory of ours:
//! `$XDG_RUNTIME_DIR/softkey/` or, without a runtime directory,
//! `$TMPDIR/softkey-<uid>/` — created with mode 0700, or, if it exists,
//! accepted only when it is a real directory (not a symbolic link) that
//! belongs to us and is closed to others. The file in it,
//! `softkey-control-<port>.token`, replaces a stale one from an earlier run.
//! A path given with `--control-token-file` must not exist yet.
//!
//! Either way the file is created new (`O_CREAT | O_EXCL`), never through a
//! symbolic link (`O_NOFOLLOW`; inside the private directory through its
//! file descriptor, so the directory cannot be swapped after it was
//! checked), with mode 0600.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// Flags of every token-file creation.
const CREATE_NEW: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// The file name for the API on `port`.
pub fn file_name(port: u16) -> String {
    format!("softkey-control-{port}.token")
}

/// The private directory the token goes to by default, for this process's
/// environment and user.
pub fn default_dir() -> PathBuf {
    private_dir_for(
        std::env::var_os("XDG_RUNTIME_DIR"),
        std::env::temp_dir(),
        rustix::process::geteuid().as_raw(),
    )
}

/// `$XDG_RUNTIME_DIR/softkey` when that is set to an absolute path (the XDG
/// base directory spec ignores anything else), else `<temp>/softkey-<uid>`.
fn private_dir_for(xdg_runtime_dir: Option<OsString>, temp_dir: PathBuf, uid: u32) -> PathBuf {
    match xdg_runtime_dir.map(PathBuf::from) {
        Some(runtime) if runtime.is_absolute() => runtime.join("softkey"),
        _ => temp_dir.join(format!("softkey-{uid}")),
    }
}

/// Writes `token` to `file_name` in the private directory `dir` (made if
/// missing, checked if not), replacing a stale file of that name; returns
/// the file's path.
pub fn write_in_private_dir(dir: &Path, file_name: &str, token: &str) -> anyhow::Result<PathBuf> {
    let dir_fd = open_private_dir(dir)?;
    let path = dir.join(file_name);
    match rustix::fs::unlinkat(&dir_fd, file_name, AtFlags::empty()) {
        Ok(()) => tracing::debug!(path = %path.display(), "replaced a stale control token file"),
        Err(Errno::NOENT) => {}
        Err(errno) => {
            return Err(std::io::Error::from(errno))
                .with_context(|| format!("cannot remove the stale {}", path.display()));
        }
    }
    let file = rustix::fs::openat(&dir_fd, file_name, CREATE_NEW, Mode::RUSR | Mode::WUSR)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot create the control token file {}", path.display()))?;
    fill(file, token, &path)?;
    Ok(path)
}

/// Writes `token` to a new file at `path`: one that exists already (a
/// symbolic link included) is refused.
pub fn write_new(path: &Path, token: &str) -> anyhow::Result<()> {
    let file =
        rustix::fs::open(path, CREATE_NEW, Mode::RUSR | Mode::WUSR).map_err(
            |errno| match errno {
                Errno::EXIST | Errno::LOOP => anyhow::anyhow!(
                    "{} already exists (a stale token, or a link planted there): remove it or name \
                 another --control-token-file; softkey writes the control token only to a new file",
                    path.display()
                ),
                errno => anyhow::Error::from(std::io::Error::from(errno)).context(format!(
                    "cannot create the control token file {}",
                    path.display()
                )),
            },
        )?;
    fill(file, token, path)
}

fn fill(file: OwnedFd, token: &str, path: &Path) -> anyhow::Result<()> {
    // The mode asked for at creation passed through the umask: make it exact.
    rustix::fs::fchmod(&file, Mode::RUSR | Mode::WUSR)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    let mut file = std::fs::File::from(file);
    writeln!(file, "{token}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Opens `dir`, creating it with mode 0700 if it does not exist, and checks
/// that it is a directory (not a link to one) that belongs to us and that
/// nobody else may enter.
fn open_private_dir(dir: &Path) -> anyhow::Result<OwnedFd> {
    match rustix::fs::mkdir(dir, Mode::RWXU) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => {
            return Err(std::io::Error::from(errno))
                .with_context(|| format!("cannot create the directory {}", dir.display()));
        }
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(dir, flags, Mode::empty()).map_err(|errno| match errno {
        Errno::LOOP | Errno::NOTDIR => anyhow::anyhow!(
            "{} is a symbolic link or not a directory: the control token needs a directory of \
             its own (remove it, or name a file with --control-token-file)",
            dir.display()
        ),
        errno => anyhow::Error::from(std::io::Error::from(errno))
            .context(format!("cannot open the directory {}", dir.display())),
    })?;
    let stat = rustix::fs::fstat(&fd)
        .map_err(std::io::Error::from)
        .with_context(|| format!("cannot inspect {}", dir.display()))?;
    let me = rustix::process::geteuid().as_raw();
    anyhow::ensure!(
        stat.st_uid == me,
        "{} belongs to uid {}, not to this user ({me}): the control token needs a directory of its own",
        dir.display(),
        stat.st_uid
    );
    let mode = stat.st_mode & 0o7777;
    anyhow::ensure!(
        mode & 0o077 == 0,
        "{} is open to other users (mode {mode:o}): `chmod 700` it or remove it",
        dir.display()
    );
    Ok(fd)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("softkey-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn control_token_file_refuses_planted_symlink() {
        let dir = scratch("token-link");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let link = dir.join(file_name(8120));
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(write_new(&link, "secret-token").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // A dangling link (the file it names does not exist yet) neither.
        let dangling = dir.join("dangling");
        std::os::unix::fs::symlink(dir.join("created-through-link"), &dangling).unwrap();
        assert!(write_new(&dangling, "secret-token").is_err());
        assert!(!dir.join("created-through-link").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn control_token_file_is_created_new_with_mode_0600() {
        let dir = scratch("token-new");
        let path = dir.join("token");
        write_new(&path, "first").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        // An existing file is not reused.
        assert!(write_new(&path, "second").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn control_token_directory_is_created_private_0700() {
        let base = scratch("token-private");
        let dir = base.join("softkey-1000");
        let path = write_in_private_dir(&dir, &file_name(8120), "token").unwrap();
        assert_eq!(path, dir.join("softkey-control-8120.token"));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
        // Run again (a stale file from a run that was killed): replaced.
        write_in_private_dir(&dir, &file_name(8120), "again").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "again\n");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn stale_symlink_in_private_directory_is_replaced_not_followed() {
        let base = scratch("token-stale-link");
        let dir = base.join("private");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = base.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(file_name(1))).unwrap();
        let path = write_in_private_dir(&dir, &file_name(1), "token").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "token\n");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn control_token_directory_planted_as_symlink_is_refused() {
        let base = scratch("token-dir-link");
        let elsewhere = base.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o700)).unwrap();
        let dir = base.join("softkey-1000");
        std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
        let error = write_in_private_dir(&dir, &file_name(1), "token").unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error:#}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn control_token_directory_open_to_others_is_refused() {
        let base = scratch("token-dir-open");
        let dir = base.join("softkey-1000");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let error = write_in_private_dir(&dir, &file_name(1), "token").unwrap_err();
        assert!(
            error.to_string().contains("open to other users"),
            "{error:#}"
        );
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn control_token_directory_of_another_user_is_refused() {
        let base = scratch("token-dir-theirs");
        let dir = base.join("softkey-1000");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        if rustix::process::geteuid().is_root() {
            // As root, hand it to `nobody`.
            rustix::fs::chown(&dir, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
            let error = write_in_private_dir(&dir, &file_name(1), "token").unwrap_err();
            assert!(
                error.to_string().contains("belongs to uid 65534"),
                "{error:#}"
            );
        } else {
            // Otherwise a directory that is root's: `/`.
            assert!(write_in_private_dir(Path::new("/"), "softkey-test", "token").is_err());
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn default_token_directory_is_per_user_without_runtime_dir() {
        let temp = PathBuf::from("/tmp");
        assert_eq!(
            private_dir_for(None, temp.clone(), 1000),
            Path::new("/tmp/softkey-1000")
        );
        assert_eq!(
            private_dir_for(Some("relative".into()), temp.clone(), 1000),
            Path::new("/tmp/softkey-1000")
        );
        assert_eq!(
            private_dir_for(Some("/run/user/1000".into()), temp, 1000),
            Path::new("/run/user/1000/softkey")
        );
    }
}
