//! Configuration: command-line flags, then environment variables (clap reads
//! both), then an optional TOML file, then defaults.

use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;
use yibao_store::{DbConfig, Synchronous};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./yibao-data";
pub const SQLITE_FILE: &str = "yibao.db";

/// Where the data lives; shared by every subcommand that opens the database.
#[derive(Args, Debug, Clone, Default)]
pub struct DbArgs {
    /// PostgreSQL URL (postgres://user@host:5432/db). Without it, yibao keeps
    /// its data in SQLite under --data-dir.
    #[arg(long, env = "YIBAO_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory for the embedded SQLite database.
    #[arg(long, env = "YIBAO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// SQLite durability: full (survives power loss, default), normal
    /// (survives a crashed process), off (tests only).
    #[arg(long, env = "YIBAO_SQLITE_SYNCHRONOUS")]
    pub sqlite_synchronous: Option<String>,
    /// SQLite memory map in MiB (0 to 2047; default 0, off): pages are read
    /// through the map instead of with a system call each.
    #[arg(long, env = "YIBAO_SQLITE_MMAP_MIB")]
    pub sqlite_mmap_mib: Option<u64>,
    /// Optional TOML configuration file (keys as the long flags, with underscores).
    #[arg(long, env = "YIBAO_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The TOML file's shape.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub sqlite_synchronous: Option<String>,
    pub sqlite_mmap_mib: Option<u64>,
    pub db_writers: Option<usize>,
    pub db_readers: Option<usize>,
    pub session_ttl_minutes: Option<i64>,
    pub node_id: Option<u16>,
    /// `none` or `required` (gateway authentication of /fsi).
    pub fsi_auth: Option<String>,
}

impl FileConfig {
    pub fn load(path: Option<&PathBuf>) -> Result<FileConfig, String> {
        let Some(path) = path else { return Ok(FileConfig::default()) };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

pub struct Resolved {
    pub db: DbConfig,
    pub description: String,
}

impl DbArgs {
    pub fn resolve(&self, file: &FileConfig) -> Result<Resolved, String> {
        let url = self.database_url.clone().or_else(|| file.database_url.clone()).filter(|u| !u.trim().is_empty());
        let mut db = match url {
            Some(url) => {
                if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                    return Err(format!("--database-url must start with postgres:// (got {url:?})"));
                }
                DbConfig::postgres(url.clone())
            }
            None => {
                let dir =
                    self.data_dir.clone().or_else(|| file.data_dir.clone()).unwrap_or_else(|| DEFAULT_DATA_DIR.into());
                let sync_text = self
                    .sqlite_synchronous
                    .clone()
                    .or_else(|| file.sqlite_synchronous.clone())
                    .unwrap_or_else(|| "full".into());
                let sync = Synchronous::parse(&sync_text)
                    .ok_or_else(|| format!("--sqlite-synchronous must be full, normal or off (got {sync_text:?})"))?;
                let mut db = DbConfig::sqlite(dir.join(SQLITE_FILE), sync);
                if let Some(mib) = self.sqlite_mmap_mib.or(file.sqlite_mmap_mib) {
                    let bytes = mib.saturating_mul(1 << 20);
                    if bytes > yibao_store::SQLITE_MMAP_BYTES_MAX {
                        return Err(format!("--sqlite-mmap-mib must be between 0 and 2047 (got {mib})"));
                    }
                    if let yibao_store::Location::Sqlite { mmap_bytes, .. } = &mut db.location {
                        *mmap_bytes = bytes;
                    }
                }
                db
            }
        };
        if let Some(w) = file.db_writers {
            db.writers = w;
        }
        if let Some(r) = file.db_readers {
            db.readers = r;
        }
        let description = match &db.location {
            yibao_store::Location::Sqlite { path, synchronous, mmap_bytes } => {
                format!("SQLite {} (synchronous={synchronous:?}, mmap={} MiB)", path.display(), mmap_bytes >> 20)
            }
            yibao_store::Location::Postgres { url } => format!("PostgreSQL {}", redact(url)),
        };
        Ok(Resolved { db, description })
    }
}

/// Hides a password in a database URL for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn sqlite_is_the_default_and_flags_beat_the_file() {
        let file: FileConfig = toml::from_str("data_dir = \"/tmp/x\"\nsqlite_synchronous = \"normal\"").unwrap();
        let r = DbArgs::default().resolve(&file).unwrap();
        assert!(r.description.contains("/tmp/x/yibao.db"), "{}", r.description);
        assert!(r.description.contains("Normal"));
        let args = DbArgs { data_dir: Some("/tmp/y".into()), ..Default::default() };
        assert!(args.resolve(&file).unwrap().description.contains("/tmp/y/yibao.db"));
        let bad = DbArgs { database_url: Some("mysql://x".into()), ..Default::default() };
        assert!(bad.resolve(&file).is_err());
        assert!(toml::from_str::<FileConfig>("unknown_key = 1").is_err());
    }

    #[test]
    fn the_sqlite_memory_map_is_a_setting_with_a_bound() {
        let mmap_of = |r: &Resolved| match &r.db.location {
            yibao_store::Location::Sqlite { mmap_bytes, .. } => *mmap_bytes,
            yibao_store::Location::Postgres { .. } => panic!("sqlite expected"),
        };
        let none = FileConfig::default();
        let default = DbArgs::default().resolve(&none).unwrap();
        assert_eq!(mmap_of(&default), yibao_store::SQLITE_MMAP_BYTES_DEFAULT);
        assert!(default.description.contains("mmap=0 MiB"), "{}", default.description);
        let file: FileConfig = toml::from_str("sqlite_mmap_mib = 1024").unwrap();
        let from_file = DbArgs::default().resolve(&file).unwrap();
        assert_eq!(mmap_of(&from_file), 1 << 30);
        assert!(from_file.description.contains("mmap=1024 MiB"), "{}", from_file.description);
        let flag = DbArgs { sqlite_mmap_mib: Some(256), ..Default::default() };
        assert_eq!(mmap_of(&flag.resolve(&file).unwrap()), 256 << 20);
        let too_big = DbArgs { sqlite_mmap_mib: Some(2048), ..Default::default() };
        let err = too_big.resolve(&none).err().expect("2048 MiB is above SQLite's maximum");
        assert!(err.contains("--sqlite-mmap-mib"), "{err}");
    }
}
