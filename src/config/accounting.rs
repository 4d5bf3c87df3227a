//! `[accounting]`: the request log's writer, its retention, and the optional capture of
//! prompts and completions. `SWITCHYARD_RETENTION_DAYS` and `SWITCHYARD_CAPTURE_CONTENT`
//! override the file (retention and privacy are often decided per deployment).

use std::time::Duration;

use super::raw::RawAccounting;
use super::EnvOverrides;

#[derive(Debug, Clone)]
pub struct AccountingSettings {
    pub batch_size: usize,
    pub flush_interval: Duration,
    pub queue_capacity: usize,
    /// Raw request records (and their attempts and dead letters) older than this many days
    /// are deleted; `None` keeps them forever. Spend and rollups are never deleted.
    pub retention_days: Option<u32>,
    /// How often each replica runs retention (and creates the coming days' partitions).
    pub retention_interval: Duration,
    /// Whose prompts and completions are stored.
    pub capture: CaptureMode,
    /// The most of each side (request body, response) stored per request.
    pub capture_max_bytes: usize,
    /// Captured content older than this many days is deleted (at the latest with its record).
    pub capture_retention_days: u32,
}

impl Default for AccountingSettings {
    fn default() -> Self {
        AccountingSettings {
            batch_size: 256,
            flush_interval: Duration::from_millis(20),
            queue_capacity: 65_536,
            retention_days: None,
            retention_interval: Duration::from_secs(3600),
            capture: CaptureMode::Off,
            capture_max_bytes: DEFAULT_CAPTURE_MAX_BYTES,
            capture_retention_days: 7,
        }
    }
}

pub const DEFAULT_CAPTURE_MAX_BYTES: usize = 64 * 1024;

/// Whose request and response content is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureMode {
    /// Nobody's (the default).
    #[default]
    Off,
    /// Requests made with a key whose `capture_content` flag is set.
    PerKey,
    /// Every request.
    All,
}

impl CaptureMode {
    fn parse(s: &str) -> Option<CaptureMode> {
        match s {
            "off" => Some(CaptureMode::Off),
            "per_key" => Some(CaptureMode::PerKey),
            "all" => Some(CaptureMode::All),
            _ => None,
        }
    }

    /// Whether a request made with a key flagged `key_flag` is captured.
    pub fn captures(self, key_flag: bool) -> bool {
        match self {
            CaptureMode::Off => false,
            CaptureMode::PerKey => key_flag,
            CaptureMode::All => true,
        }
    }
}

/// Validates `[accounting]` with its environment overrides; errors name the field.
pub(super) fn settings(
    a: RawAccounting,
    env: &EnvOverrides,
) -> Result<AccountingSettings, (&'static str, String)> {
    let d = AccountingSettings::default();
    let retention_days = match &env.retention_days {
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            (
                "SWITCHYARD_RETENTION_DAYS",
                format!("`{text}` is not a whole number of days"),
            )
        })?),
        None => a.retention_days,
    };
    let capture = match (&env.capture_content, &a.capture_content) {
        (Some(text), _) => CaptureMode::parse(text).ok_or((
            "SWITCHYARD_CAPTURE_CONTENT",
            format!("`{text}` is not one of \"off\", \"per_key\", \"all\""),
        ))?,
        (None, Some(text)) => CaptureMode::parse(text).ok_or((
            "accounting.capture_content",
            format!("`{text}` is not one of \"off\", \"per_key\", \"all\""),
        ))?,
        (None, None) => CaptureMode::Off,
    };
    let interval = a.retention_interval_secs.unwrap_or(3600.0);
    if !(interval.is_finite() && (0.05..=86_400.0).contains(&interval)) {
        return Err((
            "accounting.retention_interval_secs",
            format!("{interval} is not a number of seconds from 0.05 to 86400"),
        ));
    }
    Ok(AccountingSettings {
        batch_size: a.batch_size.unwrap_or(d.batch_size).max(1),
        flush_interval: a
            .flush_interval_ms
            .map_or(d.flush_interval, |ms| Duration::from_millis(ms.max(1))),
        queue_capacity: a.queue_capacity.unwrap_or(d.queue_capacity).max(16),
        // 0 means what unset means: keep forever.
        retention_days: retention_days.filter(|d| *d > 0),
        retention_interval: Duration::from_secs_f64(interval),
        capture,
        capture_max_bytes: a.capture_max_bytes.unwrap_or(d.capture_max_bytes).max(16),
        capture_retention_days: a.capture_retention_days.unwrap_or(d.capture_retention_days),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> RawAccounting {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_keep_forever_and_capture_nothing() {
        let s = settings(raw(""), &EnvOverrides::default()).unwrap();
        assert_eq!(s.retention_days, None);
        assert_eq!(s.capture, CaptureMode::Off);
        assert_eq!(s.capture_max_bytes, 64 * 1024);
        assert_eq!(s.capture_retention_days, 7);
        let s = settings(raw("retention_days = 0"), &EnvOverrides::default()).unwrap();
        assert_eq!(s.retention_days, None);
    }

    #[test]
    fn the_environment_wins_and_is_checked() {
        let env = EnvOverrides {
            retention_days: Some("30".into()),
            capture_content: Some("per_key".into()),
            ..Default::default()
        };
        let s = settings(raw("retention_days = 90\ncapture_content = \"all\""), &env).unwrap();
        assert_eq!(s.retention_days, Some(30));
        assert_eq!(s.capture, CaptureMode::PerKey);
        let bad = EnvOverrides {
            capture_content: Some("yes".into()),
            ..Default::default()
        };
        assert_eq!(
            settings(raw(""), &bad).unwrap_err().0,
            "SWITCHYARD_CAPTURE_CONTENT"
        );
        assert_eq!(
            settings(raw("capture_content = \"some\""), &EnvOverrides::default())
                .unwrap_err()
                .0,
            "accounting.capture_content"
        );
        assert!(!CaptureMode::PerKey.captures(false));
        assert!(CaptureMode::PerKey.captures(true));
        assert!(CaptureMode::All.captures(false));
    }
}
