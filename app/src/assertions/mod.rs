//! Signed assertions in snapd's format: the store authority's `account` and `account-key`s,
//! and an `account` for each publisher, a `snap-declaration` for each registered snap and a
//! `snap-revision` for each pushed revision, signed with the store key.
//!
//! Keys (see docs/how-to/configure-signing-keys.md):
//! - the authority's **root key** signs the authority's `account` and the `account-key`s of
//!   its keys (its own and the store key's). Read from `root_key_file`, or generated on first
//!   start into `{data_dir}/keys/root.asc` (mode 0600).
//! - the **store key** signs everything else, as the Snap Store's store keys do. Read from
//!   `store_key_file`, or generated into `{data_dir}/keys/store.asc`.
//! - `authority_assertions_file` may hold assertions made elsewhere (the authority's `account`,
//!   its root `account-key`, the store key's `account-key`): depot serves those instead of
//!   signing its own, and then needs no root key at all.
//!
//! Signing is deterministic: every timestamp comes from stored data (the package's
//! registration, the revision's creation, the key's creation), the OpenPGP signature is made at
//! that time, and RSA PKCS#1 v1.5 signatures are deterministic, so every process with the same
//! keys serves identical bytes. Signatures are cached by content.

pub mod device;
pub mod format;
pub mod openpgp;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use sha3::{Digest, Sha3_384};

pub use format::{Decoded, Draft};
pub use openpgp::SigningKey;

use crate::config::Config;
use crate::store::{PackageState, Publisher, Revision};

/// The media type of assertions.
pub const MEDIA_TYPE: &str = "application/x.ubuntu.assertion";

/// Size of generated keys.
pub const KEY_BITS: usize = 4096;

/// Most signatures kept in the cache; it is emptied when full.
const CACHE_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum AssertionsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Key {
        path: PathBuf,
        source: openpgp::KeyError,
    },
    #[error("{0}")]
    Invalid(String),
}

/// snapd's rule for account ids (`validAccountID`).
pub fn valid_account_id(id: &str) -> bool {
    let b = id.as_bytes();
    (b.len() == 32 && b.iter().all(u8::is_ascii_alphanumeric))
        || ((2..=28).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-'))
}

/// snapd's times: RFC 3339 in UTC, whole seconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A hex SHA3-384 (how depot stores digests) as snapd's assertion key: base64url, no padding.
pub fn digest_key(hex_sha3_384: &str) -> Option<String> {
    let bytes = hex::decode(hex_sha3_384).ok()?;
    (bytes.len() == 48).then(|| URL_SAFE_NO_PAD.encode(bytes))
}

/// An assertion key (base64url SHA3-384) as a hex digest, when it is one.
pub fn digest_hex(key: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(key).ok()?;
    (bytes.len() == 48).then(|| hex::encode(bytes))
}

/// The store's signing keys and the authority's fixed assertions.
pub struct Assertions {
    authority_id: String,
    store_key: SigningKey,
    /// When the store key became valid (its `account-key`'s `since`): no assertion it signs
    /// is dated earlier.
    store_since: DateTime<Utc>,
    /// The authority's `account`, then its `account-key`s (root first), encoded.
    trust: Vec<Decoded>,
    cache: Mutex<HashMap<[u8; 48], String>>,
    /// Whether this load generated the root key (none was in the data directory): a new
    /// authority. A new store key alone is signed by the root devices trust already.
    generated: bool,
    /// Device nonces and sessions, with a secret derived from the store key.
    device_sessions: device::DeviceSessions,
}

impl std::fmt::Debug for Assertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertions")
            .field("authority_id", &self.authority_id)
            .field("store_key", &self.store_key.id())
            .finish_non_exhaustive()
    }
}

/// Where a key comes from.
enum KeySource {
    /// Given by configuration: must exist.
    Configured(PathBuf),
    /// Depot's own, in the data directory: generated when missing.
    Generated(PathBuf),
}

fn load_key(source: KeySource) -> Result<SigningKey, AssertionsError> {
    let (path, generate) = match source {
        KeySource::Configured(path) => (path, false),
        KeySource::Generated(path) => (path, true),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_key(&path, &text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && generate => generate_key(&path),
        Err(source) => Err(AssertionsError::Read { path, source }),
    }
}

fn parse_key(path: &Path, text: &str) -> Result<SigningKey, AssertionsError> {
    let key = SigningKey::from_armored(text).map_err(|source| AssertionsError::Key {
        path: path.to_path_buf(),
        source,
    })?;
    if key.bits() < openpgp::MIN_KEY_BITS {
        return Err(AssertionsError::Invalid(format!(
            "{}: a {}-bit key; snapd needs RSA keys of at least {} bits",
            path.display(),
            key.bits(),
            openpgp::MIN_KEY_BITS
        )));
    }
    Ok(key)
}

/// Generates a key into `path` (mode 0600). When another process created the file first,
/// that key is used.
fn generate_key(path: &Path) -> Result<SigningKey, AssertionsError> {
    let write_err = |source| AssertionsError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    tracing::info!(path = %path.display(), bits = KEY_BITS, "generating a signing key");
    let key = SigningKey::generate(KEY_BITS).map_err(|source| AssertionsError::Key {
        path: path.to_path_buf(),
        source,
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    // Write beside and link into place, so that a reader never sees half a key.
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let mut file = options.open(&tmp).map_err(write_err)?;
    file.write_all(key.to_armored().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    drop(file);
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|source| AssertionsError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            parse_key(path, &text)
        }
        Err(err) => Err(write_err(err)),
    }
}

impl Assertions {
    /// Loads (or on first start generates) the keys named by `config`, and prepares the
    /// authority's assertions.
    pub fn load(config: &Config) -> Result<Assertions, AssertionsError> {
        let authority = config.authority_id.clone();
        let keys_dir = config.data_dir.join("keys");
        let provided = match &config.authority_assertions_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| AssertionsError::Read {
                        path: path.clone(),
                        source,
                    })?;
                format::decode_stream(&text)
                    .map_err(|e| AssertionsError::Invalid(format!("{}: {e}", path.display())))?
            }
            None => Vec::new(),
        };
        for assertion in &provided {
            let kind = assertion.header("type").unwrap_or_default();
            if !matches!(kind, "account" | "account-key") {
                return Err(AssertionsError::Invalid(format!(
                    "authority_assertions_file: a {kind} assertion; only account and account-key belong there"
                )));
            }
            if assertion.header("account-id") != Some(authority.as_str()) {
                return Err(AssertionsError::Invalid(format!(
                    "authority_assertions_file: a {kind} assertion for account {:?}, not the authority {authority:?} (authority_id)",
                    assertion.header("account-id").unwrap_or_default()
                )));
            }
        }
        let provided_key = |id: &str| {
            provided.iter().find(|a| {
                a.header("type") == Some("account-key")
                    && a.header("public-key-sha3-384") == Some(id)
            })
        };

        let root_missing = !keys_dir.join("root.asc").exists();
        let store_key = load_key(match &config.store_key_file {
            Some(path) => KeySource::Configured(path.clone()),
            None => KeySource::Generated(keys_dir.join("store.asc")),
        })?;
        let store_provided = provided_key(&store_key.id()).cloned();
        // The root key is needed unless the store key's account-key is provided.
        let root = match (&config.root_key_file, &store_provided) {
            (Some(path), _) => Some(load_key(KeySource::Configured(path.clone()))?),
            (None, None) => Some(load_key(KeySource::Generated(keys_dir.join("root.asc")))?),
            (None, Some(_)) => None,
        };
        let generated = config.root_key_file.is_none() && store_provided.is_none() && root_missing;
        if let Some(root) = &root
            && root.id() == store_key.id()
        {
            return Err(AssertionsError::Invalid(
                "root_key_file and store_key_file name the same key; the store key must be another key".into(),
            ));
        }

        let sign_account_key = |root: &SigningKey, key: &SigningKey, name: &str| {
            let draft = Draft::new("account-key", &authority)
                .key("public-key-sha3-384", key.id())
                .header("account-id", authority.clone())
                .header("name", name)
                .header("since", time(key.created()))
                .body(key.public_key_body());
            decoded(format::sign(&draft, root, key.created()))
        };

        let mut trust = Vec::new();
        let account = provided
            .iter()
            .find(|a| a.header("type") == Some("account"))
            .cloned()
            .or_else(|| {
                root.as_ref().map(|root| {
                    let draft = Draft::new("account", &authority)
                        .key("account-id", authority.clone())
                        .header("display-name", authority.clone())
                        .header("timestamp", time(root.created()))
                        .header("username", authority.clone())
                        .header("validation", "verified");
                    decoded(format::sign(&draft, root, root.created()))
                })
            });
        trust.extend(account);
        let root_account_key = match &root {
            Some(root) => Some(match provided_key(&root.id()) {
                Some(given) => given.clone(),
                None => sign_account_key(root, root, "root"),
            }),
            // Without the root key: the provided account-key that signed the store key's.
            None => store_provided
                .as_ref()
                .and_then(|s| s.header("sign-key-sha3-384"))
                .and_then(provided_key)
                .cloned(),
        };
        trust.extend(root_account_key);
        let store_account_key = match (store_provided, &root) {
            (Some(given), _) => given,
            (None, Some(root)) => sign_account_key(root, &store_key, "store"),
            (None, None) => {
                unreachable!("the root key is loaded when the store key has no account-key")
            }
        };
        let store_since = store_account_key
            .header("since")
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| store_key.created());
        if !trust.iter().any(|a| a.encoded == store_account_key.encoded) {
            trust.push(store_account_key);
        }
        if !trust.iter().any(|a| a.header("type") == Some("account")) {
            tracing::warn!(
                authority = %authority,
                "no account assertion for the authority: give it in authority_assertions_file"
            );
        }
        Ok(Assertions {
            authority_id: authority,
            device_sessions: device::DeviceSessions::new(
                store_key.derive_secret("device sessions"),
            ),
            store_key,
            store_since,
            trust,
            cache: Mutex::new(HashMap::new()),
            generated,
        })
    }

    /// Issues and checks device nonces and sessions (see [`device`]).
    pub fn device_sessions(&self) -> &device::DeviceSessions {
        &self.device_sessions
    }

    /// Whether loading generated the root key, making a new authority: a first start, or a
    /// data directory whose keys were lost (see `depot serve`'s warning).
    pub fn generated_keys(&self) -> bool {
        self.generated
    }

    pub fn authority_id(&self) -> &str {
        &self.authority_id
    }

    /// The store key's id (`sign-key-sha3-384` of what depot signs).
    pub fn store_key_id(&self) -> String {
        self.store_key.id()
    }

    /// The authority's `account` and `account-key` assertions, as a stream (what
    /// `depot admin export-trust` prints).
    pub fn trust_stream(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, assertion) in self.trust.iter().enumerate() {
            if i > 0 {
                out.push(b'\n');
            }
            out.extend_from_slice(&assertion.encoded);
        }
        out
    }

    /// The authority's own `account` or one of its `account-key`s.
    pub fn authority_assertion(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
        let header = match kind {
            "account" => "account-id",
            "account-key" => "public-key-sha3-384",
            _ => return None,
        };
        self.trust
            .iter()
            .find(|a| a.header("type") == Some(kind) && a.header(header) == Some(key))
            .map(|a| a.encoded.clone())
    }

    /// Signs with the store key, dated no earlier than the key's validity.
    fn sign(&self, draft: Draft, when: DateTime<Utc>) -> Vec<u8> {
        let when = when.max(self.store_since);
        let draft = draft.header("timestamp", time(when));
        let content = draft.content(&self.store_key.id());
        let digest: [u8; 48] = Sha3_384::digest(content.as_bytes()).into();
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .cloned();
        let signature = match cached {
            Some(signature) => signature,
            None => {
                let signature = self.store_key.sign(content.as_bytes(), when);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= CACHE_LIMIT {
                    cache.clear();
                }
                cache.insert(digest, signature.clone());
                signature
            }
        };
        format::encode(&content, &signature)
    }

    /// The `account` assertion of a publisher.
    pub fn publisher_account(&self, publisher: &Publisher) -> Vec<u8> {
        let draft = Draft::new("account", &self.authority_id)
            .key("account-id", publisher.id.clone())
            .header("display-name", publisher.display_name.clone())
            .header("username", publisher.username.clone())
            .header("validation", "unproven");
        self.sign(draft, publisher.created_at)
    }

    /// The `snap-declaration` of a registered snap.
    pub fn snap_declaration(&self, state: &PackageState) -> Vec<u8> {
        let package = &state.package;
        let draft = Draft::new("snap-declaration", &self.authority_id)
            .key("series", "16")
            .key("snap-id", package.id.clone())
            .header("publisher-id", package.publisher.id.clone())
            .header("snap-name", package.name.clone());
        self.sign(draft, package.created_at)
    }

    /// The `snap-revision` of a pushed revision (`None` when its digest is not a SHA3-384).
    pub fn snap_revision(&self, state: &PackageState, revision: &Revision) -> Option<Vec<u8>> {
        let draft = Draft::new("snap-revision", &self.authority_id)
            .key("snap-sha3-384", digest_key(&revision.sha3_384)?)
            .header("developer-id", revision.created_by.clone())
            .header("snap-id", state.package.id.clone())
            .header("snap-revision", revision.revision.to_string())
            .header("snap-size", revision.size.to_string());
        Some(self.sign(draft, revision.created_at))
    }
}

fn decoded(encoded: Vec<u8>) -> Decoded {
    let text = String::from_utf8(encoded).expect("assertions are UTF-8");
    format::decode_stream(&text)
        .expect("depot's own assertions decode")
        .remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/testrootorg")
            .join(name)
    }

    fn read(name: &str) -> String {
        std::fs::read_to_string(fixture(name)).unwrap()
    }

    fn decode_one(name: &str) -> Decoded {
        format::decode_stream(&read(name)).unwrap().remove(0)
    }

    fn test_config(dir: &Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            authority_id: "testrootorg".into(),
            root_key_file: Some(fixture("testrootorg-root.private.asc")),
            store_key_file: Some(fixture("testrootorg-store.private.asc")),
            ..Config::default()
        }
    }

    #[test]
    fn key_ids_and_public_keys_are_snapds() {
        for (key, account_key) in [
            (
                "testrootorg-root.private.asc",
                "testrootorg-root.account-key",
            ),
            (
                "testrootorg-store.private.asc",
                "testrootorg-store.account-key",
            ),
        ] {
            let key = SigningKey::from_armored(&read(key)).unwrap();
            let account_key = decode_one(account_key);
            assert_eq!(key.bits(), 4096);
            assert_eq!(
                Some(key.id().as_str()),
                account_key.header("public-key-sha3-384")
            );
            assert_eq!(key.public_key_body(), account_key.body);
        }
    }

    #[test]
    fn signatures_are_snapds_bit_for_bit() {
        // snapd's own code signed testrootorg.account at its timestamp (no issuer subpacket);
        // the same key, content and time give the same RSA signature and hash prefix.
        let root = SigningKey::from_armored(&read("testrootorg-root.private.asc")).unwrap();
        let account = decode_one("testrootorg.account");
        let when = DateTime::parse_from_rfc3339(account.header("timestamp").unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let unwrap = |s: &str| STANDARD.decode(s.lines().collect::<String>()).unwrap();
        let ours = root.sign(account.content.as_bytes(), when);
        assert_eq!(ours, account.signature);
        assert_eq!(
            unwrap(&ours)[..4],
            [1, 0xc2, 0xc1, 0x52],
            "v1 marker, packet header"
        );
        // The key round-trips through depot's own key file format.
        let again = SigningKey::from_armored(&root.to_armored()).unwrap();
        assert_eq!(again.id(), root.id());
        assert_eq!(again.sign(b"x", when), root.sign(b"x", when));
    }

    #[test]
    fn a_root_key_signs_the_authority_and_the_store_key() {
        let dir = tempfile::tempdir().unwrap();
        let assertions = Assertions::load(&test_config(dir.path())).unwrap();
        assert!(
            !assertions.generated_keys(),
            "keys from files are not generated"
        );
        let stream = String::from_utf8(assertions.trust_stream()).unwrap();
        let trust = format::decode_stream(&stream).unwrap();
        let kinds: Vec<_> = trust.iter().map(|a| a.header("type").unwrap()).collect();
        assert_eq!(kinds, ["account", "account-key", "account-key"]);
        let root = decode_one("testrootorg-root.account-key");
        let root_id = root.header("public-key-sha3-384").unwrap();
        for a in &trust {
            assert_eq!(a.header("authority-id"), Some("testrootorg"));
            assert_eq!(a.header("sign-key-sha3-384"), Some(root_id));
        }
        assert_eq!(trust[1].header("public-key-sha3-384"), Some(root_id));
        assert_eq!(trust[1].header("name"), Some("root"));
        assert_eq!(
            trust[2].header("public-key-sha3-384"),
            Some(assertions.store_key_id().as_str())
        );
        assert_eq!(
            assertions.authority_assertion("account", "testrootorg"),
            Some(trust[0].encoded.clone())
        );
        // No key was written: both were given.
        assert!(!dir.path().join("keys").exists());
    }

    #[test]
    fn given_assertions_replace_depots_and_make_the_root_key_unnecessary() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authority.assert");
        std::fs::write(
            &file,
            [
                read("testrootorg.account"),
                read("testrootorg-root.account-key"),
                read("testrootorg-store.account-key"),
            ]
            .join("\n"),
        )
        .unwrap();
        let config = Config {
            root_key_file: None,
            authority_assertions_file: Some(file.clone()),
            ..test_config(dir.path())
        };
        let assertions = Assertions::load(&config).unwrap();
        let expected = [
            read("testrootorg.account"),
            read("testrootorg-root.account-key"),
            read("testrootorg-store.account-key"),
        ]
        .join("\n");
        assert_eq!(
            String::from_utf8(assertions.trust_stream()).unwrap(),
            expected
        );
        assert!(!dir.path().join("keys").exists(), "no root key generated");
        // The store key's account-key is valid since 2016-08-11: nothing it signs is earlier.
        assert_eq!(time(assertions.store_since), "2016-08-11T16:42:22Z");

        // Assertions of another account are refused.
        std::fs::write(&file, read("testrootorg.account")).unwrap();
        let config = Config {
            authority_id: "someone-else".into(),
            authority_assertions_file: Some(file),
            ..test_config(dir.path())
        };
        let err = Assertions::load(&config).unwrap_err().to_string();
        assert!(err.contains("not the authority"), "{err}");
    }

    #[test]
    fn keys_are_generated_once_into_the_data_directory() {
        // Generates two RSA-4096 keys: the one test that does.
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let first = Assertions::load(&config).unwrap();
        for name in ["root.asc", "store.asc"] {
            let path = dir.path().join("keys").join(name);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"));
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{name}");
            }
            assert_eq!(SigningKey::from_armored(&text).unwrap().bits(), KEY_BITS);
        }
        // A second start (or `admin export-trust`) uses the same keys: the same assertions.
        let second = Assertions::load(&config).unwrap();
        assert_eq!(first.store_key_id(), second.store_key_id());
        assert!(first.generated_keys());
        assert!(!second.generated_keys());
        assert_eq!(first.trust_stream(), second.trust_stream());
        let trust =
            format::decode_stream(std::str::from_utf8(&first.trust_stream()).unwrap()).unwrap();
        assert_eq!(trust[0].header("account-id"), Some("depot"));
        assert_eq!(trust.len(), 3);
    }

    #[test]
    fn digests_convert_between_hex_and_base64url() {
        let hex = "ab".repeat(48);
        let key = digest_key(&hex).unwrap();
        assert_eq!(key.len(), 64);
        assert_eq!(digest_hex(&key).as_deref(), Some(hex.as_str()));
        assert_eq!(digest_key("abcd"), None);
        assert_eq!(digest_hex("not-a-digest"), None);
    }

    #[test]
    fn account_ids_follow_snapds_rule() {
        assert!(valid_account_id("depot"));
        assert!(valid_account_id("testrootorg"));
        assert!(valid_account_id(&"A1".repeat(16)));
        assert!(!valid_account_id("x"));
        assert!(!valid_account_id("Depot"));
        assert!(!valid_account_id(&"a".repeat(29)));
    }
}
