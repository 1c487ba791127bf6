//! The credentials file, `$XDG_CONFIG_HOME/depot/credentials.json` (or
//! `$HOME/.config/depot/credentials.json`): `{"store": URL, "token": TOKEN}`, mode 0600.
//! `DEPOT_STORE` and `DEPOT_TOKEN` override it.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::api::ClientError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub store: String,
    pub token: String,
}

/// Where the credentials file lives, from `XDG_CONFIG_HOME` and `HOME` as given.
pub fn path_from(xdg_config_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    // The XDG spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
    let config = match xdg_config_home.filter(|d| Path::new(d).is_absolute()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".config"),
    };
    Some(config.join("depot").join("credentials.json"))
}

/// The credentials file of this user.
pub fn path() -> Result<PathBuf, ClientError> {
    let xdg = std::env::var("XDG_CONFIG_HOME").ok();
    let home = std::env::var("HOME").ok();
    path_from(xdg.as_deref(), home.as_deref()).ok_or_else(|| {
        ClientError::usage(
            "no-config-directory",
            "cannot find a place for the credentials file: neither XDG_CONFIG_HOME nor HOME is set",
        )
        .with_hint("set HOME, or use DEPOT_STORE and DEPOT_TOKEN")
    })
}

/// Reads the credentials file; `None` when there is none.
pub fn load(path: &Path) -> Result<Option<Credentials>, ClientError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(ClientError::usage(
                "credentials-unreadable",
                format!("cannot read {}: {err}", path.display()),
            ));
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|err| {
        ClientError::usage(
            "credentials-invalid",
            format!("{} is not a valid credentials file: {err}", path.display()),
        )
        .with_hint("run `depot logout` and `depot login --store URL` again")
    })
}

/// Writes the credentials file atomically: a new file created with mode 0600 in the same
/// directory (itself created with mode 0700), then renamed over the old one. The token is
/// never readable by others, not even for a moment.
pub fn save(path: &Path, credentials: &Credentials) -> Result<(), ClientError> {
    let fail = |what: &str, err: std::io::Error| {
        ClientError::usage(
            "credentials-unwritable",
            format!("cannot {what} {}: {err}", path.display()),
        )
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail("create the directory of", e))?;
    let temporary = dir.join(format!(".credentials.json.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| fail("write", e))?;
    let mut text = serde_json::to_string_pretty(credentials).expect("credentials serialize");
    text.push('\n');
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail("write", err));
    }
    Ok(())
}

/// Removes the credentials file; whether there was one.
pub fn remove(path: &Path) -> Result<bool, ClientError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(ClientError::usage(
            "credentials-unwritable",
            format!("cannot remove {}: {err}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn location_follows_xdg() {
        assert_eq!(
            path_from(Some("/x/config"), Some("/home/u")),
            Some(PathBuf::from("/x/config/depot/credentials.json"))
        );
        assert_eq!(
            path_from(Some("relative"), Some("/home/u")),
            Some(PathBuf::from("/home/u/.config/depot/credentials.json"))
        );
        assert_eq!(
            path_from(None, Some("/home/u")),
            Some(PathBuf::from("/home/u/.config/depot/credentials.json"))
        );
        assert_eq!(path_from(None, None), None);
    }

    #[test]
    fn saved_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("depot/credentials.json");
        assert_eq!(load(&path).unwrap(), None);
        let credentials = Credentials {
            store: "http://store".into(),
            token: "depot_secret".into(),
        };
        save(&path, &credentials).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert_eq!(load(&path).unwrap(), Some(credentials.clone()));

        // Overwriting a file someone made world-readable still leaves a 0600 file.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        save(&path, &credentials).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(load(&path).unwrap_err().code, "credentials-invalid");
    }
}
