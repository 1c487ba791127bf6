//! Configuration: built-in defaults < `depot.toml` (or `--config` / `DEPOT_CONFIG`) < `DEPOT_*`
//! environment variables. Every key is documented in `docs/reference/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The effective configuration of a depot process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// A second address serving only `GET /metrics`, so that Prometheus can scrape depot on a
    /// port that is not exposed to clients. When set, the main listener answers `/metrics` with
    /// 404 `metrics-elsewhere`. Unset (the default): `/metrics` is on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Base URL clients reach this store on; download URLs in responses are built from it.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Directory for the SQLite database, blobs and keys.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…` (TLS per `sslmode`). Defaults to
    /// `sqlite://{data_dir}/depot.db`.
    pub database_url: Option<String>,
    /// Largest artifact accepted by `POST /unscanned-upload/`, in bytes.
    pub max_upload_size: u64,
    /// `text` for humans, `json` for log collectors.
    pub log_format: LogFormat,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Maximum number of database connections per process.
    pub database_max_connections: u32,
    /// How often the change follower polls the database, in milliseconds (PostgreSQL also wakes it
    /// early through LISTEN/NOTIFY).
    pub follower_poll_interval_ms: u64,
    /// How often download counts are added to the database, in seconds; a crash loses at most
    /// this much counting.
    pub download_flush_interval_secs: u64,
    /// How often the search index is written to a checkpoint in the data directory while the
    /// catalog changes, in seconds (also once after start and on a clean stop). A start reads
    /// the checkpoint instead of building the index. `0`: no checkpoint is read or written.
    pub search_checkpoint_interval_secs: u64,
    /// Lifetime of a release to a branch, in seconds.
    pub branch_lifetime_secs: i64,
    /// Longest time a request may take before the store answers 503 `request-timeout`, in
    /// seconds. Uploads and download bodies are not limited by it.
    pub request_timeout_secs: u64,
    /// On SIGTERM or SIGINT: how long in-flight requests may take to finish, in seconds.
    pub shutdown_grace_secs: u64,
    /// Most memory, in MiB, the JSON kept with package states for device answers may take
    /// (rendered `storeSnap` objects and `info` answers); 0 keeps none.
    pub render_cache_mib: u64,
    /// Requests per minute to the publisher API (`/v1/…`, `/unscanned-upload/`) allowed per
    /// token and, separately, per client address; 0 turns the limit off.
    pub publisher_rate_limit_per_minute: u32,
    /// Requests per minute to search allowed per token and per client address; 0 turns the
    /// limit off.
    pub search_rate_limit_per_minute: u32,
    /// Take the client address for rate limits from the last `X-Forwarded-For` entry (set by
    /// the proxy in front of depot) instead of the connection's peer address.
    pub trust_forwarded_for: bool,
    /// Where blobs are kept: `fs` (`{data_dir}/blobs`) or `s3` (the `s3_*` keys).
    pub blob_backend: BlobBackend,
    /// S3 endpoint URL (`https://host[:port]`); unset for AWS S3 in `s3_region`.
    pub s3_endpoint: Option<String>,
    /// The bucket (it must exist); required with `blob_backend = "s3"`.
    pub s3_bucket: Option<String>,
    /// Signing region; `us-east-1` when unset.
    pub s3_region: Option<String>,
    /// Access key id; required with `blob_backend = "s3"`.
    pub s3_access_key: Option<String>,
    /// Secret key; required with `blob_backend = "s3"`. Never shown or logged.
    pub s3_secret_key: Option<Secret>,
    /// Account id of the authority that signs depot's assertions (`authority-id`).
    pub authority_id: String,
    /// The authority's root key (ASCII-armored OpenPGP private key, RSA, at least 4096 bits,
    /// unencrypted). Default: `{data_dir}/keys/root.asc`, generated on first start.
    pub root_key_file: Option<PathBuf>,
    /// The store key that signs snap assertions and publisher accounts, same format. Default:
    /// `{data_dir}/keys/store.asc`, generated on first start.
    pub store_key_file: Option<PathBuf>,
    /// Assertions of the authority made elsewhere (its `account`, root `account-key`, the
    /// store key's `account-key`), served instead of ones depot would sign.
    pub authority_assertions_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    Fs,
    S3,
}

/// A secret configuration value: `Debug` and `depot config show` print `***`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            public_url: None,
            data_dir: PathBuf::from("depot-data"),
            database_url: None,
            max_upload_size: 2 * 1024 * 1024 * 1024,
            log_format: LogFormat::Text,
            migrate_on_start: true,
            database_max_connections: 16,
            follower_poll_interval_ms: 500,
            download_flush_interval_secs: 60,
            search_checkpoint_interval_secs: 600,
            branch_lifetime_secs: crate::domain::BRANCH_LIFETIME_SECS,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            render_cache_mib: 256,
            publisher_rate_limit_per_minute: 600,
            search_rate_limit_per_minute: 600,
            trust_forwarded_for: false,
            blob_backend: BlobBackend::Fs,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: None,
            s3_access_key: None,
            s3_secret_key: None,
            authority_id: "depot".to_string(),
            root_key_file: None,
            store_key_file: None,
            authority_assertions_file: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// figment's errors, said in the configuration's own terms: the key as the file spells it
/// or the variable that set it, without figment's profile (`default.listen`).
fn describe(error: figment::Error) -> String {
    use figment::Source;
    use figment::error::Kind;
    error
        .into_iter()
        .map(|e| {
            let key = e
                .path
                .iter()
                .map(|k| k.to_lowercase())
                .collect::<Vec<_>>()
                .join(".");
            let file = e.metadata.as_ref().and_then(|m| match &m.source {
                Some(Source::File(path)) => Some(path.display().to_string()),
                _ => None,
            });
            let place = match (&file, key.is_empty()) {
                (Some(file), false) => format!("`{key}` in {file}"),
                (Some(file), true) => file.clone(),
                (None, false) => format!("DEPOT_{}", key.to_uppercase()),
                (None, true) => "the environment".to_string(),
            };
            match &e.kind {
                Kind::UnknownField(field, _) => format!(
                    "unknown key `{field}` in {}; the keys are listed in docs/reference/configuration.md",
                    file.as_deref().unwrap_or("the configuration")
                ),
                Kind::UnknownVariant(found, expected) => format!(
                    "{place}: `{found}` is not one of {}",
                    expected
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                kind => format!("{place}: {kind}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The settings whose values are text (strings, paths, URLs): from the environment they are
/// read verbatim, not as TOML values.
const TEXT_KEYS: [&str; 12] = [
    "public_url",
    "data_dir",
    "database_url",
    "s3_endpoint",
    "s3_bucket",
    "s3_region",
    "s3_access_key",
    "s3_secret_key",
    "authority_id",
    "root_key_file",
    "store_key_file",
    "authority_assertions_file",
];

impl Config {
    /// Loads the configuration. `file` is the `--config` argument; without it `DEPOT_CONFIG`
    /// is used, then `./depot.toml` if it exists.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let env_file = std::env::var_os("DEPOT_CONFIG").map(PathBuf::from);
        match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::MissingFile(path));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("depot.toml")),
        }
        // Only configuration keys are read from DEPOT_*: other DEPOT_ variables (the client's
        // DEPOT_STORE and DEPOT_TOKEN, a test harness's own) are not configuration.
        let keys = Config::keys();
        let mut figment = figment.merge(
            Env::prefixed("DEPOT_").only(&keys.iter().map(String::as_str).collect::<Vec<_>>()),
        );
        // Text settings are taken as written: read as TOML, a bucket named `2024` or an access
        // key `12345` became a number (and the setting an error), a quoted value lost its
        // quotes.
        for key in TEXT_KEYS {
            if let Ok(value) = std::env::var(format!("DEPOT_{}", key.to_uppercase())) {
                figment = figment.merge(Serialized::default(key, value));
            }
        }
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// The names of every configuration key.
    pub fn keys() -> Vec<String> {
        match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url {url:?} must start with http:// or https://"
            )));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid(format!(
                "database_url must be sqlite://PATH or postgres://…, got {}",
                redact_url(url)
            )));
        }
        if self.max_upload_size == 0 {
            return Err(ConfigError::Invalid(
                "max_upload_size must be greater than 0".into(),
            ));
        }
        if !crate::assertions::valid_account_id(&self.authority_id) {
            return Err(ConfigError::Invalid(format!(
                "authority_id {:?} is not an account id: 2 to 28 of a-z, 0-9 and '-', or 32 letters and digits",
                self.authority_id
            )));
        }
        if self.database_max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database_max_connections must be at least 1".into(),
            ));
        }
        if let Some(metrics) = self.metrics_listen
            && metrics == self.listen
            && metrics.port() != 0
        {
            return Err(ConfigError::Invalid(format!(
                "metrics_listen {metrics} is the same address as listen; give it another port \
                 or leave it unset to serve /metrics on {}",
                self.listen
            )));
        }
        if self.blob_backend == BlobBackend::S3 {
            self.s3_settings()?;
            if self.max_upload_size > crate::blobs::s3::MAX_BLOB_SIZE {
                return Err(ConfigError::Invalid(format!(
                    "max_upload_size can be at most {} (5 GiB) with blob_backend = \"s3\"",
                    crate::blobs::s3::MAX_BLOB_SIZE
                )));
            }
        }
        Ok(())
    }

    /// The S3 blob store's settings; an error names every missing or invalid `s3_*` key.
    pub fn s3_settings(&self) -> Result<crate::blobs::S3Settings, ConfigError> {
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().filter(|v| !v.trim().is_empty())
        }
        let secret = self
            .s3_secret_key
            .as_ref()
            .map(Secret::expose)
            .filter(|v| !v.trim().is_empty());
        let mut missing = Vec::new();
        if given(&self.s3_bucket).is_none() {
            missing.push("s3_bucket (DEPOT_S3_BUCKET)");
        }
        if given(&self.s3_access_key).is_none() {
            missing.push("s3_access_key (DEPOT_S3_ACCESS_KEY)");
        }
        if secret.is_none() {
            missing.push("s3_secret_key (DEPOT_S3_SECRET_KEY)");
        }
        if !missing.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "blob_backend = \"s3\" needs {}",
                missing.join(", ")
            )));
        }
        let endpoint = given(&self.s3_endpoint).map(str::to_string);
        if let Some(url) = &endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "s3_endpoint {url:?} must start with http:// or https://"
            )));
        }
        Ok(crate::blobs::S3Settings {
            endpoint,
            bucket: given(&self.s3_bucket).unwrap_or_default().to_string(),
            region: given(&self.s3_region).map(str::to_string),
            access_key: given(&self.s3_access_key).unwrap_or_default().to_string(),
            secret_key: secret.unwrap_or_default().to_string(),
            prefix: String::new(),
        })
    }

    /// The URL downloads and status URLs are built on, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Where the search index checkpoint is kept, unless checkpoints are off.
    pub fn search_checkpoint_path(&self) -> Option<PathBuf> {
        (self.search_checkpoint_interval_secs > 0)
            .then(|| self.data_dir.join("search-index.checkpoint"))
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("depot.db").display()),
        }
    }

    /// The configuration as TOML with secrets redacted, for `depot config show`.
    pub fn to_redacted_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = Some(redact_url(&self.database_url()));
        shown.public_url = Some(self.public_url());
        if shown.s3_secret_key.is_some() {
            shown.s3_secret_key = Some(Secret("***".into()));
        }
        toml_string(&shown)
    }
}

fn toml_string(config: &Config) -> String {
    // figment re-exports no serializer; render the flat key table by hand through serde_json.
    let value = serde_json::to_value(config).expect("config serialises");
    let mut out = String::new();
    if let serde_json::Value::Object(map) = value {
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    out
}

/// Replaces the password of a URL (`scheme://user:password@host/…`) with `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}{}", redact_query_password(tail));
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    let redacted_tail = redact_query_password(tail);
    if userinfo.contains(':') {
        format!("{scheme}://{user}:***@{host}{redacted_tail}")
    } else {
        format!("{scheme}://{user}@{host}{redacted_tail}")
    }
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://depot:s3cret@db:5432/depot?sslmode=require"),
            "postgres://depot:***@db:5432/depot?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://depot@db/depot"),
            "postgres://depot@db/depot"
        );
        assert_eq!(
            redact_url("sqlite://depot-data/depot.db"),
            "sqlite://depot-data/depot.db"
        );
        assert_eq!(
            redact_url("postgres://db/depot?user=a&password=b"),
            "postgres://db/depot?user=a&password=***"
        );
    }

    #[test]
    fn text_keys_are_configuration_keys() {
        let keys = Config::keys();
        for key in TEXT_KEYS {
            assert!(keys.iter().any(|k| k == key), "{key}");
        }
    }

    #[test]
    fn defaults_derive_urls() {
        let config = Config::default();
        assert_eq!(config.public_url(), "http://127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://depot-data/depot.db");
        assert!(!config.to_redacted_toml().contains("null"));
    }

    #[test]
    fn s3_backend_needs_its_keys_and_hides_the_secret() {
        let mut config = Config {
            blob_backend: BlobBackend::S3,
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("s3_bucket"), "{err}");
        assert!(err.contains("s3_access_key"), "{err}");
        assert!(err.contains("s3_secret_key"), "{err}");
        config.s3_bucket = Some("blobs".into());
        config.s3_access_key = Some("AKIA".into());
        config.s3_secret_key = Some(Secret("hunter2".into()));
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
        assert!(!config.to_redacted_toml().contains("hunter2"));
        assert!(
            config
                .to_redacted_toml()
                .contains("s3_secret_key = \"***\"")
        );
        config.s3_endpoint = Some("s3.example.com".into());
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("s3_endpoint")
        );
        config.s3_endpoint = Some("http://127.0.0.1:9000".into());
        config.max_upload_size = 6 * 1024 * 1024 * 1024;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("max_upload_size")
        );
    }
}
