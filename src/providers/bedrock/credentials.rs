//! Where SigV4 credentials come from: fixed at start (environment variables), or a shared
//! credentials file (`credentials_file`, AWS's INI format) that something outside the gateway
//! refreshes — a sidecar exchanging a web identity token, a vault agent — so temporary
//! credentials (STS session tokens) never expire under a running gateway. The file is read
//! again whenever its modification time changes; a file that cannot be read keeps the last
//! good credentials (and says so in the log).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use super::sign::Credentials;
use crate::providers::ProviderError;

pub enum Source {
    Fixed(Credentials),
    File(CredentialsFile),
}

impl Source {
    /// The credentials to sign this request with.
    pub fn current(&self) -> Result<Credentials, ProviderError> {
        match self {
            Source::Fixed(c) => Ok(c.clone()),
            Source::File(f) => f.current(),
        }
    }
}

pub struct CredentialsFile {
    path: PathBuf,
    profile: String,
    last: Mutex<Option<(SystemTime, Credentials)>>,
}

impl CredentialsFile {
    /// Reads the file once to check it; `Err` explains what is wrong.
    pub fn open(path: impl Into<PathBuf>, profile: &str) -> Result<CredentialsFile, String> {
        let f = CredentialsFile {
            path: path.into(),
            profile: profile.to_owned(),
            last: Mutex::new(None),
        };
        let (mtime, creds) = f.read()?;
        *f.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((mtime, creds));
        Ok(f)
    }

    fn read(&self) -> Result<(SystemTime, Credentials), String> {
        let shown = self.path.display();
        let meta = std::fs::metadata(&self.path).map_err(|e| format!("{shown}: {e}"))?;
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let text = std::fs::read_to_string(&self.path).map_err(|e| format!("{shown}: {e}"))?;
        let creds = parse(&text, &self.profile).ok_or_else(|| {
            format!(
                "{shown}: no aws_access_key_id and aws_secret_access_key in profile `{}`",
                self.profile
            )
        })?;
        Ok((mtime, creds))
    }

    fn current(&self) -> Result<Credentials, ProviderError> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = matches!((&*last, mtime), (Some((seen, _)), Some(now)) if *seen == now);
        if !fresh {
            match self.read() {
                Ok(read) => *last = Some(read),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot re-read the AWS credentials file; using the last good credentials")
                }
            }
        }
        last.as_ref().map(|(_, c)| c.clone()).ok_or_else(|| {
            crate::providers::http::config_error("no AWS credentials could be read".into())
        })
    }
}

/// The credentials of `profile` in an AWS shared credentials file.
fn parse(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_profile =
                name == profile || name.strip_prefix("profile ").map(str::trim) == Some(profile);
            continue;
        }
        if !in_profile {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = Some(v),
            "aws_secret_access_key" => secret = Some(v),
            "aws_session_token" => token = Some(v),
            _ => {}
        }
    }
    Some(Credentials {
        access_key_id: id.filter(|v| !v.is_empty())?,
        secret_access_key: secret.filter(|v| !v.is_empty())?,
        session_token: token.filter(|v| !v.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_profiles() {
        let text = "# c\n[default]\naws_access_key_id = A1\naws_secret_access_key=S1\n\n[profile ci]\naws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token = T2\n";
        let d = parse(text, "default").unwrap();
        assert_eq!((d.access_key_id.as_str(), d.session_token), ("A1", None));
        let ci = parse(text, "ci").unwrap();
        assert_eq!(
            (ci.access_key_id.as_str(), ci.session_token.as_deref()),
            ("A2", Some("T2"))
        );
        assert!(parse(text, "other").is_none());
    }

    /// Credentials were read once at build time and never refreshed, so STS session tokens
    /// expired under a running gateway.
    #[test]
    fn a_refreshed_file_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let write = |id: &str, token: &str, at: u64| {
            std::fs::write(&path, format!("[default]\naws_access_key_id={id}\naws_secret_access_key=s\naws_session_token={token}\n")).unwrap();
            let f = std::fs::File::options().write(true).open(&path).unwrap();
            f.set_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(at))
                .unwrap();
        };
        write("OLD", "t1", 1_000);
        let src = Source::File(CredentialsFile::open(&path, "default").unwrap());
        assert_eq!(src.current().unwrap().session_token.as_deref(), Some("t1"));
        write("NEW", "t2", 2_000);
        let c = src.current().unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("NEW", Some("t2"))
        );
        // A broken rewrite keeps the last good credentials.
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(src.current().unwrap().access_key_id, "NEW");
    }
}
