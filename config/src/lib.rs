//! Typed settings for the appliance, loaded in layers with the `config` crate:
//! the shipped `config/parley.toml` (embedded, it is the documentation and the defaults)
//! < a config file < `PARLEY__SECTION__KEY` environment variables.
//!
//! Every value is validated here, so a bad one stops start-up with a message naming its key.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use parley_types::ServerName;
use serde::Deserialize;

/// The shipped defaults, also installed as `/etc/parley/parley.toml`.
pub const DEFAULT_TOML: &str = include_str!("../parley.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid value for `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("cannot read config file {path}: {source}")]
    File { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server_name: String,
    pub http: Http,
    pub storage: Storage,
    pub auth: Auth,
    pub limits: Limits,
    pub presence: Presence,
    pub media: MediaSettings,
    pub webtransport: WebTransport,
    pub federation: Federation,
    pub metrics: Metrics,
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub listen: SocketAddr,
    pub tls_cert: String,
    pub tls_key: String,
    pub trusted_proxies: Vec<String>,
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub url: String,
    pub namespace: String,
    pub database: String,
    pub max_batch: usize,
    pub cache_mib: u64,
    pub memtable_mib: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    Open,
    InviteOnly,
    Closed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub registration: Registration,
    pub login_per_account_per_minute: u32,
    pub login_per_ip_per_minute: u32,
    pub min_password_length: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub frames_per_second: u32,
    pub frames_burst: u32,
    pub max_message_chars: usize,
    pub outbound_queue: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    pub typing_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    pub max_upload_mib: u64,
    pub quota_mib: u64,
    pub unused_ttl_hours: u64,
    pub max_image_pixels: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebTransport {
    pub enabled: bool,
    /// UDP address; `None` (empty setting) means `http.listen`'s address and port.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
    pub cert_rotate_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Federation {
    pub enabled: bool,
    /// UDP address of the federation endpoint (QUIC).
    pub listen: SocketAddr,
    /// `host:port` other appliances dial; empty: `server_name` and the listen port.
    pub public_address: String,
    /// Whether peers may look up this appliance's users by address (`open`) or not (`closed`).
    pub directory: DirectoryPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirectoryPolicy {
    Open,
    Closed,
}

impl Federation {
    /// Where peers reach this appliance (goes into invites).
    pub fn public_address(&self, server_name: &str) -> String {
        if self.public_address.is_empty() {
            format!("{server_name}:{}", self.listen.port())
        } else {
            self.public_address.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Own listener for `/metrics`; `None` when the setting is empty.
    #[serde(deserialize_with = "optional_addr")]
    pub listen: Option<SocketAddr>,
    pub bearer_token: String,
}

fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() { Ok(None) } else { s.trim().parse().map(Some).map_err(serde::de::Error::custom) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub level: String,
    pub format: LogFormat,
}

/// Where the optional config file comes from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// Only the embedded defaults and the environment.
    DefaultsOnly,
    /// This file must exist.
    File(&'a Path),
    /// `/etc/parley/parley.toml` if it exists.
    System,
}

pub const SYSTEM_CONFIG: &str = "/etc/parley/parley.toml";

impl Settings {
    /// Loads defaults < file < environment (`PARLEY__...`), then validates.
    pub fn load(source: Source<'_>) -> Result<Self, ConfigError> {
        Self::load_with_env(source, std::env::vars())
    }

    /// Like [`Settings::load`] with an explicit environment (tests use this).
    pub fn load_with_env(
        source: Source<'_>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        match source {
            Source::DefaultsOnly => {}
            Source::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::File { path: path.to_owned(), source })?;
                builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
            }
            Source::System => {
                builder = builder
                    .add_source(config::File::new(SYSTEM_CONFIG, config::FileFormat::Toml).required(false));
            }
        }
        let env: config::Map<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with("PARLEY__")).collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PARLEY")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("http.trusted_proxies")
                .with_list_parse_key("http.allowed_origins")
                .try_parsing(true)
                .source(Some(env)),
        );
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that serde's types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
            ConfigError::Invalid { key, reason: reason.into() }
        }
        ServerName::parse(&self.server_name).map_err(|e| invalid("server_name", e.to_string()))?;
        if self.http.tls_cert.is_empty() != self.http.tls_key.is_empty() {
            return Err(invalid("http.tls_cert", "set both http.tls_cert and http.tls_key, or neither"));
        }
        self.trusted_proxies().map_err(|e| invalid("http.trusted_proxies", e))?;
        for o in &self.http.allowed_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                return Err(invalid(
                    "http.allowed_origins",
                    format!("`{o}` is not an origin like https://chat.example.org"),
                ));
            }
        }
        if !self.federation.public_address.is_empty() {
            let ok = self
                .federation
                .public_address
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                return Err(invalid("federation.public_address", "must be empty or host:port"));
            }
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(invalid("storage.data_dir", "must not be empty"));
        }
        if !self.storage.url.is_empty() && !self.storage.url.contains("://") {
            return Err(invalid("storage.url", "must be empty or a URL such as ws://host:8000"));
        }
        if self.storage.namespace.is_empty() || self.storage.database.is_empty() {
            return Err(invalid("storage.namespace", "namespace and database must not be empty"));
        }
        if !(1..=4096).contains(&self.storage.max_batch) {
            return Err(invalid("storage.max_batch", "must be between 1 and 4096"));
        }
        if !(16..=1 << 20).contains(&self.storage.cache_mib) {
            return Err(invalid("storage.cache_mib", "must be between 16 and 1048576"));
        }
        if !(8..=16_384).contains(&self.storage.memtable_mib) {
            return Err(invalid("storage.memtable_mib", "must be between 8 and 16384"));
        }
        if !(30..=86_400).contains(&self.auth.access_token_ttl_secs) {
            return Err(invalid("auth.access_token_ttl_secs", "must be between 30 and 86400"));
        }
        if !(1..=365).contains(&self.auth.refresh_token_ttl_days) {
            return Err(invalid("auth.refresh_token_ttl_days", "must be between 1 and 365"));
        }
        if self.auth.login_per_account_per_minute == 0 || self.auth.login_per_ip_per_minute == 0 {
            return Err(invalid("auth.login_per_account_per_minute", "login limits must be at least 1"));
        }
        if !(6..=128).contains(&self.auth.min_password_length) {
            return Err(invalid("auth.min_password_length", "must be between 6 and 128"));
        }
        if !(1024..=1 << 20).contains(&self.limits.max_frame_bytes) {
            return Err(invalid("limits.max_frame_bytes", "must be between 1024 and 1048576"));
        }
        if self.limits.frames_per_second == 0 || self.limits.frames_burst == 0 {
            return Err(invalid("limits.frames_per_second", "frame limits must be at least 1"));
        }
        if !(1..=65_536).contains(&self.limits.max_message_chars) {
            return Err(invalid("limits.max_message_chars", "must be between 1 and 65536"));
        }
        if self.limits.outbound_queue < 16 {
            return Err(invalid("limits.outbound_queue", "must be at least 16"));
        }
        if !(1..=16_384).contains(&self.media.max_upload_mib) {
            return Err(invalid("media.max_upload_mib", "must be between 1 and 16384"));
        }
        if !(1..=24 * 365).contains(&self.media.unused_ttl_hours) {
            return Err(invalid("media.unused_ttl_hours", "must be between 1 and 8760"));
        }
        if !(1_000_000..=1_000_000_000).contains(&self.media.max_image_pixels) {
            return Err(invalid("media.max_image_pixels", "must be between 1000000 and 1000000000"));
        }
        if self.webtransport.cert_rotate_secs == 0 || self.webtransport.cert_rotate_secs > 7 * 86_400 {
            return Err(invalid(
                "webtransport.cert_rotate_secs",
                "must be between 1 and 604800 (self-signed certificates are valid for 10 days)",
            ));
        }
        if !self.metrics.bearer_token.is_empty() && self.metrics.bearer_token.len() < 16 {
            return Err(invalid("metrics.bearer_token", "must be empty or at least 16 characters"));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return Err(invalid("log.level", "must be error, warn, info, debug or trace"));
        }
        Ok(())
    }

    pub fn server_name(&self) -> ServerName {
        // Validated in `validate`, so this cannot fail for a loaded `Settings`.
        ServerName::parse(&self.server_name)
            .unwrap_or_else(|_| ServerName::parse("localhost").expect("literal is a valid server name"))
    }

    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, String> {
        self.http
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{p}` is not an IP address or CIDR"))
            })
            .collect()
    }

    /// The SurrealDB endpoint to open.
    pub fn storage_url(&self) -> String {
        if self.storage.url.is_empty() {
            // sync=every: a commit returns only after fsync (verified in surrealdb-kvs-surrealkv
            // 3.3.5 cnf.rs, where URL parameters become `datastore_*` keys and win over the
            // default). An acknowledged message must survive kill -9 and power loss.
            format!("surrealkv://{}?sync=every", self.storage.data_dir.join("db").display())
        } else {
            self.storage.url.clone()
        }
    }

    pub fn tls_enabled(&self) -> bool {
        !self.http.tls_cert.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn shipped_defaults_are_valid() {
        let s = Settings::load_with_env(Source::DefaultsOnly, env(&[])).unwrap();
        assert_eq!(s.server_name, "localhost");
        assert_eq!(s.auth.registration, Registration::Open);
        assert!(s.storage_url().ends_with("?sync=every"));
    }

    #[test]
    fn environment_overrides_file() {
        let s = Settings::load_with_env(
            Source::DefaultsOnly,
            env(&[
                ("PARLEY__HTTP__LISTEN", "0.0.0.0:9000"),
                ("PARLEY__AUTH__REGISTRATION", "invite_only"),
                ("PARLEY__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.http.listen.port(), 9000);
        assert_eq!(s.auth.registration, Registration::InviteOnly);
        assert_eq!(s.trusted_proxies().unwrap().len(), 2);
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Settings::load_with_env(Source::DefaultsOnly, env(&[("PARLEY__SERVER_NAME", "bad name")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("server_name"), "{e}");
        let e = Settings::load_with_env(Source::DefaultsOnly, env(&[("PARLEY__HTTP__LISTEN", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.listen"), "{e}");
        let e =
            Settings::load_with_env(Source::DefaultsOnly, env(&[("PARLEY__LIMITS__MAX_FRAME_BYTES", "1")]))
                .unwrap_err()
                .to_string();
        assert!(e.contains("limits.max_frame_bytes"), "{e}");
    }

    /// The shipped file is the documentation: every setting, or a group of settings on
    /// consecutive lines, has a comment right above it.
    #[test]
    fn every_shipped_key_is_documented() {
        let mut previous = "";
        for line in DEFAULT_TOML.lines() {
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') && !t.starts_with('[') {
                let documented =
                    previous.starts_with('#') || (!previous.is_empty() && !previous.starts_with('['));
                assert!(documented, "undocumented key in config/parley.toml: {t}");
            }
            previous = t;
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let dir = std::env::temp_dir().join(format!("parley-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.toml");
        std::fs::write(&file, "[http]\nlistn = \"1.2.3.4:5\"\n").unwrap();
        let e = Settings::load_with_env(Source::File(&file), env(&[])).unwrap_err().to_string();
        assert!(e.contains("listn"), "{e}");
    }
}
