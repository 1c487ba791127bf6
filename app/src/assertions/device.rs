//! Device sessions, as snapd asks for them (`store/auth.go`): a device with a `serial`
//! assertion gets a nonce, signs a `device-session-request` with its device key and trades it,
//! with its serial and model assertions, for a session it sends with every store request
//! (`Snap-Device-Authorization: Macaroon root="…"`). snapd does not send a store request at
//! all until it has a session, so a store without these endpoints serves no device that has
//! registered.
//!
//! What depot checks: the request is signed by the device key its serial assertion names,
//! names that serial's brand, model and serial, and carries a nonce depot issued in the last
//! ten minutes; the model assertion is the serial's model. What it does not: the serial's own
//! signature (made by the brand's or the serial vault's key, which depot does not hold). A
//! session therefore names the device a client says it is, with the key that client holds;
//! it grants nothing: it places the device in progressive releases' buckets.
//!
//! Nonces and sessions are stateless: both carry an HMAC made with a secret derived from the
//! store key, so every process serving with that key accepts what any of them issued.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};

use super::format::{Decoded, decode_stream};
use super::openpgp::PublicKey;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long a nonce may be used after it was issued.
pub const NONCE_LIFETIME_SECS: i64 = 600;

/// How far in the future a nonce's time may be (clocks of several processes differ).
const CLOCK_SKEW_SECS: i64 = 60;

/// What every session starts with, so that one is told apart from other stores' at a glance.
const SESSION_PREFIX: &str = "depot-device.";

/// The bytes of the HMAC kept in a nonce or session (128 bits).
const MAC_BYTES: usize = 16;

/// A device, as its serial assertion names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub brand_id: String,
    pub model: String,
    pub serial: String,
}

/// Why a session request is refused. The message says what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// A field is not one well-formed assertion of the right type.
    #[error("{0}")]
    Malformed(String),
    /// The assertions do not belong together, or the signature does not hold.
    #[error("{0}")]
    Invalid(String),
    /// The nonce is not one depot issued, or is too old.
    #[error("{0}")]
    Nonce(String),
}

/// Issues and checks nonces and sessions.
pub struct DeviceSessions {
    secret: [u8; 32],
}

impl std::fmt::Debug for DeviceSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSessions").finish_non_exhaustive()
    }
}

impl DeviceSessions {
    pub fn new(secret: [u8; 32]) -> DeviceSessions {
        DeviceSessions { secret }
    }

    fn mac(&self, purpose: &str, payload: &str) -> String {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(&self.secret).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..MAC_BYTES])
    }

    /// A new nonce, issued at `now` (seconds since the epoch): `time.random.mac`.
    pub fn nonce(&self, now: i64) -> String {
        let random: [u8; 12] = rand::random();
        let payload = format!("{now}.{}", URL_SAFE_NO_PAD.encode(random));
        let mac = self.mac("nonce", &payload);
        format!("{payload}.{mac}")
    }

    /// Checks that `nonce` was issued by a process with this secret, at most
    /// [`NONCE_LIFETIME_SECS`] before `now`.
    pub fn check_nonce(&self, nonce: &str, now: i64) -> Result<(), SessionError> {
        let refused = || {
            SessionError::Nonce(format!(
                "the nonce {nonce:?} was not issued by this store; \
                 ask POST /api/v1/snaps/auth/nonces for one"
            ))
        };
        let (payload, mac) = nonce.rsplit_once('.').ok_or_else(refused)?;
        if !constant_time_eq(mac.as_bytes(), self.mac("nonce", payload).as_bytes()) {
            return Err(refused());
        }
        let issued: i64 = payload
            .split('.')
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(refused)?;
        if issued > now + CLOCK_SKEW_SECS || now - issued > NONCE_LIFETIME_SECS {
            return Err(SessionError::Nonce(format!(
                "the nonce expired: nonces are good for {NONCE_LIFETIME_SECS} s; ask for a new one"
            )));
        }
        Ok(())
    }

    /// The session of `device`: the same text every time for the same device, so that a
    /// device keeps its place in progressive releases when it asks again.
    pub fn session(&self, device: &Device) -> String {
        let payload = URL_SAFE_NO_PAD
            .encode([device.brand_id.as_str(), &device.model, &device.serial].join("\0"));
        let mac = self.mac("session", &payload);
        format!("{SESSION_PREFIX}{payload}.{mac}")
    }

    /// The device a session names, if depot (a process with this secret) issued it.
    pub fn device(&self, session: &str) -> Option<Device> {
        let rest = session.strip_prefix(SESSION_PREFIX)?;
        let (payload, mac) = rest.split_once('.')?;
        if !constant_time_eq(mac.as_bytes(), self.mac("session", payload).as_bytes()) {
            return None;
        }
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let mut parts = text.split('\0');
        let device = Device {
            brand_id: parts.next()?.to_string(),
            model: parts.next()?.to_string(),
            serial: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(device)
    }

    /// Checks a session request (snapd's `device-session-request`, `serial-assertion` and
    /// `model-assertion`, as encoded assertions) at `now`; the device it is for.
    pub fn check_request(
        &self,
        request: &str,
        serial: &str,
        model: &str,
        now: i64,
    ) -> Result<Device, SessionError> {
        let request = one("device-session-request", request)?;
        let serial = one("serial", serial)?;
        let model = one("model", model)?;
        let header = |a: &Decoded, kind: &str, name: &str| {
            let value = a.header(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                SessionError::Malformed(format!("the {kind} assertion has no {name} header"))
            })?;
            if value.chars().any(char::is_control) {
                return Err(SessionError::Malformed(format!(
                    "the {kind} assertion's {name} has control characters"
                )));
            }
            Ok(value.to_string())
        };
        let device = Device {
            brand_id: header(&serial, "serial", "brand-id")?,
            model: header(&serial, "serial", "model")?,
            serial: header(&serial, "serial", "serial")?,
        };
        for (name, value) in [
            ("brand-id", &device.brand_id),
            ("model", &device.model),
            ("serial", &device.serial),
        ] {
            let asked = header(&request, "device-session-request", name)?;
            if asked != *value {
                return Err(SessionError::Invalid(format!(
                    "the device-session-request's {name} is {asked:?}, the serial's is {value:?}"
                )));
            }
        }
        for (name, value) in [("brand-id", &device.brand_id), ("model", &device.model)] {
            let given = header(&model, "model", name)?;
            if given != *value {
                return Err(SessionError::Invalid(format!(
                    "the model assertion's {name} is {given:?}, the serial's is {value:?}"
                )));
            }
        }
        // The nonce before the signature: it is an HMAC, the signature an RSA operation.
        self.check_nonce(&header(&request, "device-session-request", "nonce")?, now)?;
        let key_text = serial.text_header("device-key").ok_or_else(|| {
            SessionError::Malformed("the serial assertion has no device-key header".into())
        })?;
        let key = PublicKey::from_v1(&key_text).map_err(|e| {
            SessionError::Malformed(format!("the serial assertion's device-key: {e}"))
        })?;
        if serial.header("device-key-sha3-384") != Some(key.id()) {
            return Err(SessionError::Invalid(
                "the serial assertion's device-key-sha3-384 is not the id of its device-key".into(),
            ));
        }
        if request.header("sign-key-sha3-384") != Some(key.id()) {
            return Err(SessionError::Invalid(
                "the device-session-request is not signed by the serial's device key \
                 (its sign-key-sha3-384 is not the serial's device-key-sha3-384)"
                    .into(),
            ));
        }
        key.verify(request.content.as_bytes(), &request.signature)
            .map_err(|e| {
                SessionError::Invalid(format!(
                    "the device-session-request's signature does not verify with the serial's device key: {e}"
                ))
            })?;
        Ok(device)
    }
}

/// The single assertion in `text`, of type `kind`.
fn one(kind: &str, text: &str) -> Result<Decoded, SessionError> {
    let malformed = |why: String| SessionError::Malformed(format!("the {kind} assertion: {why}"));
    let mut all = decode_stream(text).map_err(|e| malformed(e.to_string()))?;
    if all.len() != 1 {
        return Err(malformed(format!(
            "{} assertions where one was expected",
            all.len()
        )));
    }
    let assertion = all.remove(0);
    match assertion.header("type") {
        Some(t) if t == kind => Ok(assertion),
        other => Err(malformed(format!(
            "an assertion of type {:?}, not {kind:?}",
            other.unwrap_or_default()
        ))),
    }
}

/// Compares two byte strings in time that depends on their length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::format::{Draft, decode_stream, sign};
    use crate::assertions::openpgp::SigningKey;

    const NOW: i64 = 1_796_048_400;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn key(name: &str) -> SigningKey {
        SigningKey::from_armored(&fixture(&format!("testrootorg/{name}"))).unwrap()
    }

    fn when() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(NOW, 0).unwrap()
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    /// A device: its serial (signed by the brand) and model, and its key.
    struct Fixture {
        device_key: SigningKey,
        serial: String,
        model: String,
    }

    fn fixture_device() -> Fixture {
        let brand = key("testrootorg-root.private.asc");
        let device_key = key("testrootorg-store.private.asc");
        let serial = Draft::new("serial", "acme")
            .key("brand-id", "acme")
            .key("model", "kiosk")
            .key("serial", "K-0042")
            .header("device-key", device_key.public_key_body())
            .header("device-key-sha3-384", device_key.id())
            .header("timestamp", "2026-11-01T00:00:00Z");
        let model = Draft::new("model", "acme")
            .key("series", "16")
            .key("brand-id", "acme")
            .key("model", "kiosk")
            .header("architecture", "amd64")
            .header("timestamp", "2026-11-01T00:00:00Z");
        Fixture {
            serial: text(sign(&serial, &brand, when())),
            model: text(sign(&model, &brand, when())),
            device_key,
        }
    }

    /// A device-session-request as snapd signs it: no authority, the device's key.
    fn request(key: &SigningKey, serial: &str, nonce: &str) -> String {
        let draft = Draft::new("device-session-request", "")
            .key("brand-id", "acme")
            .key("model", "kiosk")
            .key("serial", serial)
            .header("nonce", nonce)
            .header("timestamp", "2026-11-23T10:00:00Z");
        text(sign(&draft, key, when()))
    }

    fn sessions() -> DeviceSessions {
        DeviceSessions::new([7; 32])
    }

    #[test]
    fn a_signed_request_with_a_fresh_nonce_gets_the_devices_session() {
        let d = fixture_device();
        let sessions = sessions();
        let nonce = sessions.nonce(NOW);
        let request = request(&d.device_key, "K-0042", &nonce);
        assert!(!request.contains("authority-id"), "{request}");
        let device = sessions
            .check_request(&request, &d.serial, &d.model, NOW + 30)
            .unwrap();
        assert_eq!(
            device,
            Device {
                brand_id: "acme".into(),
                model: "kiosk".into(),
                serial: "K-0042".into()
            }
        );
        let session = sessions.session(&device);
        assert!(session.starts_with(SESSION_PREFIX), "{session}");
        assert!(
            session
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "a session must fit in Macaroon root=\"…\": {session}"
        );
        // The same device, the same session; the session names the device.
        assert_eq!(sessions.session(&device), session);
        assert_eq!(sessions.device(&session), Some(device));
    }

    #[test]
    fn requests_that_do_not_hold_are_refused_with_what_is_wrong() {
        let d = fixture_device();
        let sessions = sessions();
        let nonce = sessions.nonce(NOW);
        let check = |request: &str, serial: &str, model: &str| {
            sessions.check_request(request, serial, model, NOW)
        };
        let good = request(&d.device_key, "K-0042", &nonce);

        // Signed by another key than the serial's device key.
        let other = key("testrootorg-root.private.asc");
        let err = check(&request(&other, "K-0042", &nonce), &d.serial, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Invalid(m) if m.contains("not signed by the serial's device key")),
            "{err:?}"
        );
        // For another serial.
        let err = check(
            &request(&d.device_key, "K-0043", &nonce),
            &d.serial,
            &d.model,
        )
        .unwrap_err();
        assert!(
            matches!(&err, SessionError::Invalid(m) if m.contains("serial")),
            "{err:?}"
        );
        // Content changed after signing (the nonce swapped for another valid one).
        let swapped = good.replace(&nonce, &sessions.nonce(NOW));
        let err = check(&swapped, &d.serial, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Invalid(m) if m.contains("does not verify")),
            "{err:?}"
        );
        // Another model than the serial's.
        let err = check(
            &good,
            &d.serial,
            &d.model.replace("model: kiosk", "model: till"),
        )
        .unwrap_err();
        assert!(
            matches!(&err, SessionError::Invalid(m) if m.contains("model")),
            "{err:?}"
        );
        // The fields swapped.
        let err = check(&d.serial, &good, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Malformed(m) if m.contains("not \"device-session-request\"")),
            "{err:?}"
        );
        let err = check("not an assertion", &d.serial, &d.model).unwrap_err();
        assert!(matches!(err, SessionError::Malformed(_)), "{err:?}");
        let two = format!("{}\n{}", d.serial, d.serial);
        let err = check(&good, &two, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Malformed(m) if m.contains("2 assertions")),
            "{err:?}"
        );
        // A serial whose device-key-sha3-384 is not its key's.
        let lying = d.serial.replace(&d.device_key.id(), &other.id());
        let err = check(&good, &lying, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Invalid(m) if m.contains("device-key-sha3-384")),
            "{err:?}"
        );
        // A nonce that has expired, and a nonce from another store.
        let err = sessions
            .check_request(&good, &d.serial, &d.model, NOW + NONCE_LIFETIME_SECS + 1)
            .unwrap_err();
        assert!(
            matches!(&err, SessionError::Nonce(m) if m.contains("expired")),
            "{err:?}"
        );
        let foreign = request(
            &d.device_key,
            "K-0042",
            &DeviceSessions::new([9; 32]).nonce(NOW),
        );
        let err = check(&foreign, &d.serial, &d.model).unwrap_err();
        assert!(
            matches!(&err, SessionError::Nonce(m) if m.contains("not issued")),
            "{err:?}"
        );
        // Values no device has.
        let err = check(
            &good,
            &d.serial.replace("serial: K-0042", "serial: K-0042\u{0}x"),
            &d.model,
        )
        .unwrap_err();
        assert!(
            matches!(&err, SessionError::Malformed(m) if m.contains("control")),
            "{err:?}"
        );
        // The good one passes.
        check(&good, &d.serial, &d.model).unwrap();
    }

    #[test]
    fn nonces_are_good_for_ten_minutes_and_only_from_this_secret() {
        let sessions = sessions();
        let nonce = sessions.nonce(NOW);
        sessions.check_nonce(&nonce, NOW).unwrap();
        sessions
            .check_nonce(&nonce, NOW + NONCE_LIFETIME_SECS)
            .unwrap();
        let expired = sessions
            .check_nonce(&nonce, NOW + NONCE_LIFETIME_SECS + 1)
            .unwrap_err();
        assert!(
            matches!(&expired, SessionError::Nonce(m) if m.contains("expired")),
            "{expired:?}"
        );
        // Issued by a process whose clock is ahead by more than the allowed skew.
        assert!(sessions.check_nonce(&nonce, NOW - 61).is_err());
        sessions.check_nonce(&nonce, NOW - 60).unwrap();
        // Another store's, or made up.
        let other = DeviceSessions::new([8; 32]);
        assert!(other.check_nonce(&nonce, NOW).is_err());
        assert!(sessions.check_nonce("blah", NOW).is_err());
        let (payload, _) = nonce.rsplit_once('.').unwrap();
        let later = payload.replacen(&NOW.to_string(), &(NOW + 3600).to_string(), 1);
        let forged = format!("{later}.{}", nonce.rsplit_once('.').unwrap().1);
        assert!(sessions.check_nonce(&forged, NOW + 3600).is_err());
        // Every nonce is new.
        assert_ne!(sessions.nonce(NOW), sessions.nonce(NOW));
    }

    #[test]
    fn sessions_are_only_those_this_secret_made() {
        let sessions = sessions();
        let device = Device {
            brand_id: "acme".into(),
            model: "kiosk".into(),
            serial: "K-0042".into(),
        };
        let session = sessions.session(&device);
        assert_eq!(DeviceSessions::new([8; 32]).device(&session), None);
        assert_eq!(sessions.device("blahblah"), None);
        assert_eq!(sessions.device(&session.replace("depot-device.", "")), None);
        // Another device's payload with this session's MAC.
        let other = sessions.session(&Device {
            serial: "K-0043".into(),
            ..device.clone()
        });
        let (_, mac) = session.rsplit_once('.').unwrap();
        let (payload, _) = other.rsplit_once('.').unwrap();
        assert_eq!(sessions.device(&format!("{payload}.{mac}")), None);
        assert_eq!(sessions.device(&other).unwrap().serial, "K-0043");
    }

    #[test]
    fn canonicals_own_signatures_verify() {
        // The generic-classic model snapd sends from classic systems, signed by Canonical's
        // `generic` models key (not by depot's code).
        let key_assertion =
            &decode_stream(&fixture("generic/generic-models.account-key")).unwrap()[0];
        let key = PublicKey::from_v1(&key_assertion.body).unwrap();
        assert_eq!(
            Some(key.id()),
            key_assertion.header("public-key-sha3-384"),
            "the key's id is snapd's"
        );
        let model = &decode_stream(&fixture("generic/generic-classic.model")).unwrap()[0];
        assert_eq!(model.header("sign-key-sha3-384"), Some(key.id()));
        key.verify(model.content.as_bytes(), &model.signature)
            .unwrap();
        let changed = model.content.replace("generic-classic", "generic-classix");
        assert!(matches!(
            key.verify(changed.as_bytes(), &model.signature),
            Err(crate::assertions::openpgp::KeyError::BadSignature)
        ));
        // Not the key that signed it.
        let depot = key_of("testrootorg-store.private.asc");
        assert!(
            depot
                .verify(model.content.as_bytes(), &model.signature)
                .is_err()
        );
    }

    fn key_of(name: &str) -> PublicKey {
        PublicKey::from_v1(&key(name).public_key_body()).unwrap()
    }

    #[test]
    fn depots_signatures_verify_with_the_public_key() {
        let signing = key("testrootorg-store.private.asc");
        let public = key_of("testrootorg-store.private.asc");
        assert_eq!(public.id(), signing.id());
        let signature = signing.sign(b"some content", when());
        public.verify(b"some content", &signature).unwrap();
        assert!(public.verify(b"some contenT", &signature).is_err());
        assert!(public.verify(b"some content", "AQ==").is_err());
        assert!(public.verify(b"some content", "not base64!").is_err());
        assert!(PublicKey::from_v1("AQ==").is_err());
        assert!(
            PublicKey::from_v1(&signature).is_err(),
            "a signature is not a key"
        );
    }
}
