//! Paths in the config file are relative to the file, not to wherever the gateway was started:
//! `switchyard --config /etc/switchyard/switchyard.toml serve` run from any folder opens the
//! same database. Paths given in the environment (`SWITCHYARD_DATABASE_URL`) are not passed
//! through here: like any path in the environment they are relative to the working directory.

use std::path::Path;

/// Resolves a database URL from the config file against the file's folder. Only a relative
/// SQLite path changes; absolute paths, in-memory databases and other schemes are returned as
/// they are, and so is everything when `config_dir` is empty (a file in the working directory).
pub fn database_url_in(url: &str, config_dir: &Path) -> String {
    if !url.starts_with("sqlite:") || config_dir.as_os_str().is_empty() {
        return url.to_owned();
    }
    // The same split sqlx makes: scheme, file name, parameters.
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = match rest.split_once('?') {
        Some((d, p)) => (d, Some(p)),
        None => (rest, None),
    };
    let in_memory = params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory"));
    if database.is_empty()
        || database == ":memory:"
        || database.starts_with("file:")
        || in_memory
        || Path::new(database).is_absolute()
    {
        return url.to_owned();
    }
    // sqlx percent-decodes the file name and splits at `?`, so the folder is encoded for it.
    let dir = config_dir.to_string_lossy();
    let mut encoded = String::with_capacity(dir.len());
    for c in dir.trim_end_matches('/').chars() {
        match c {
            '%' => encoded.push_str("%25"),
            '?' => encoded.push_str("%3F"),
            '#' => encoded.push_str("%23"),
            c => encoded.push(c),
        }
    }
    let params = params.map(|p| format!("?{p}")).unwrap_or_default();
    format!("sqlite://{encoded}/{database}{params}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(url: &str, dir: &str) -> String {
        database_url_in(url, Path::new(dir))
    }

    #[test]
    fn relative_sqlite_paths_are_relative_to_the_config_file() {
        assert_eq!(
            r("sqlite://data/switchyard.db", "/etc/switchyard"),
            "sqlite:///etc/switchyard/data/switchyard.db"
        );
        assert_eq!(
            r("sqlite:gw.db?mode=rwc", "/srv/gw/"),
            "sqlite:///srv/gw/gw.db?mode=rwc"
        );
        assert_eq!(
            r("sqlite://../data/x.db", "/repo/config"),
            "sqlite:///repo/config/../data/x.db"
        );
        // A relative folder (a relative --config) stays relative to the working directory.
        assert_eq!(r("sqlite://x.db", "config"), "sqlite://config/x.db");
    }

    #[test]
    fn absolute_memory_and_other_urls_are_unchanged() {
        for url in [
            "sqlite:///var/lib/switchyard/switchyard.db",
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite://?mode=memory",
            "sqlite://x.db?mode=memory&cache=shared",
            "sqlite://",
            "sqlite:file:x.db",
            "postgres://u@db/switchyard",
        ] {
            assert_eq!(r(url, "/etc/switchyard"), url);
        }
        // A config file in the working directory: nothing to add.
        assert_eq!(r("sqlite://data/x.db", ""), "sqlite://data/x.db");
    }

    #[test]
    fn folders_with_url_characters_survive_sqlx_decoding() {
        assert_eq!(
            r("sqlite://x.db", "/tmp/a%b?c#d"),
            "sqlite:///tmp/a%25b%3Fc%23d/x.db"
        );
    }
}
