//! The small part of OpenPGP (RFC 4880) that snapd's assertions use, over the `rsa` crate:
//! RSA public-key and secret-key packets (v4), v4 signature packets with SHA-512, ASCII armor.
//!
//! snapd (`asserts/crypto.go`) encodes keys and signatures as `0x01` followed by one OpenPGP
//! packet, and names a key by the SHA3-384 of that encoding of its public-key packet, with the
//! packet's creation time fixed at 2016-01-01T00:00:00Z whatever the key's real creation time.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, PrivateKey};
use sha2::{Digest, Sha512};
use sha3::Sha3_384;

/// The creation time snapd puts into every public-key packet it hashes or encodes
/// (`v1FixedTimestamp`): 2016-01-01T00:00:00Z.
pub const V1_FIXED_TIMESTAMP: u32 = 1_451_606_400;

/// The smallest key snapd signs with (`asserts/crypto.go` refuses smaller external keys).
pub const MIN_KEY_BITS: usize = 4096;

const TAG_SIGNATURE: u8 = 2;
const TAG_SECRET_KEY: u8 = 5;
const TAG_PUBLIC_KEY: u8 = 6;
const ALGO_RSA: u8 = 1;
const HASH_SHA512: u8 = 10;
const SUBPACKET_CREATION_TIME: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an ASCII-armored OpenPGP private key block: {0}")]
    Armor(String),
    #[error("malformed OpenPGP data: {0}")]
    Packet(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("invalid RSA key: {0}")]
    Rsa(#[from] rsa::Error),
    #[error("the signature does not match the content and key")]
    BadSignature,
}

/// An RSA signing key, as snapd uses it.
#[derive(Clone)]
pub struct SigningKey {
    key: PrivateKey,
    /// The creation time in the key's own secret-key packet (seconds since the epoch).
    created: u32,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id())
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a new RSA key of `bits` bits, created now.
    pub fn generate(bits: usize) -> Result<SigningKey, KeyError> {
        let key = PrivateKey::new(&mut rand::rng(), bits)?;
        let created = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        Ok(SigningKey { key, created })
    }

    /// Reads the first secret-key packet of an ASCII-armored OpenPGP private key block (what
    /// `gpg --export-secret-keys --armor` writes, and snapd's test keys are), unencrypted RSA.
    pub fn from_armored(text: &str) -> Result<SigningKey, KeyError> {
        let data = dearmor(text)?;
        let mut rest = data.as_slice();
        while !rest.is_empty() {
            let (tag, body, after) = read_packet(rest)?;
            rest = after;
            if tag == TAG_SECRET_KEY {
                return Self::from_secret_key_packet(body);
            }
        }
        Err(KeyError::Packet(
            "no secret-key packet in the key block".into(),
        ))
    }

    fn from_secret_key_packet(body: &[u8]) -> Result<SigningKey, KeyError> {
        let mut r = Reader(body);
        let (created, n, e) = r.rsa_public_key()?;
        let s2k = r.byte()?;
        if s2k != 0 {
            return Err(KeyError::Unsupported(
                "the private key is protected by a passphrase; export it without one \
                 (gpg --export-secret-keys after gpg --passwd with an empty passphrase)"
                    .into(),
            ));
        }
        let d = r.mpi()?;
        let p = r.mpi()?;
        let q = r.mpi()?;
        let key = PrivateKey::from_components(uint(n), uint(e), uint(d), vec![uint(p), uint(q)])?;
        Ok(SigningKey { key, created })
    }

    /// The key as an ASCII-armored OpenPGP private key block (one unencrypted secret-key
    /// packet), readable by [`SigningKey::from_armored`].
    pub fn to_armored(&self) -> String {
        let n = self.key.n_bytes();
        let e = self.key.e_bytes();
        let mut body = vec![4];
        body.extend_from_slice(&self.created.to_be_bytes());
        body.push(ALGO_RSA);
        body.extend(mpi(&n));
        body.extend(mpi(&e));
        body.push(0); // not encrypted
        let primes = self.key.primes();
        // OpenPGP stores u = p⁻¹ mod q; the rsa crate keeps q⁻¹ mod p: write the primes
        // swapped so that u is that value.
        let (p, q) = (&primes[1], &primes[0]);
        let u = self
            .key
            .crt_coefficient()
            .map(|u| u.to_be_bytes_trimmed_vartime())
            .unwrap_or_default();
        let mut secret = Vec::new();
        secret.extend(mpi(&self.key.d().to_be_bytes_trimmed_vartime()));
        secret.extend(mpi(&p.to_be_bytes_trimmed_vartime()));
        secret.extend(mpi(&q.to_be_bytes_trimmed_vartime()));
        secret.extend(mpi(&u));
        let checksum = secret
            .iter()
            .fold(0u16, |sum, b| sum.wrapping_add(u16::from(*b)));
        body.extend(secret);
        body.extend_from_slice(&checksum.to_be_bytes());
        armor("PGP PRIVATE KEY BLOCK", &packet(TAG_SECRET_KEY, &body))
    }

    pub fn bits(&self) -> usize {
        self.key.n().bit_width() as usize
    }

    /// A 32-byte secret for `purpose`, derived from the private key: every process serving
    /// with this key derives the same one, and nothing outside them can.
    pub fn derive_secret(&self, purpose: &str) -> [u8; 32] {
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"depot derived secret\0");
        hasher.update(purpose.as_bytes());
        hasher.update([0]);
        hasher.update(self.key.d().to_be_bytes_trimmed_vartime());
        hasher.finalize().into()
    }

    /// The creation time recorded in the key itself.
    pub fn created(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(i64::from(self.created), 0).unwrap_or_default()
    }

    /// The public-key packet with snapd's fixed creation time.
    pub fn public_key_packet(&self) -> Vec<u8> {
        let mut body = vec![4];
        body.extend_from_slice(&V1_FIXED_TIMESTAMP.to_be_bytes());
        body.push(ALGO_RSA);
        body.extend(mpi(&self.key.n_bytes()));
        body.extend(mpi(&self.key.e_bytes()));
        packet(TAG_PUBLIC_KEY, &body)
    }

    /// snapd's key id (`sign-key-sha3-384`, `public-key-sha3-384`): base64url, no padding, of
    /// the SHA3-384 of `0x01` and the public-key packet.
    pub fn id(&self) -> String {
        let mut hasher = Sha3_384::new();
        hasher.update([1u8]);
        hasher.update(self.public_key_packet());
        URL_SAFE_NO_PAD.encode(hasher.finalize())
    }

    /// The body of an `account-key` assertion: snapd's "v1" encoding of the public key.
    pub fn public_key_body(&self) -> String {
        encode_v1(&self.public_key_packet())
    }

    /// Signs `content` as snapd does: a v4 binary-document signature packet, RSA with SHA-512,
    /// made at `when`, with the creation time as its only (hashed) subpacket and no issuer
    /// subpacket (as snapd's own signer writes it: the key is named by the assertion's
    /// `sign-key-sha3-384`); returned in snapd's v1 encoding (base64 of `0x01` and the packet,
    /// 76-character lines). RSA PKCS#1 v1.5 is deterministic: the same content, key and time
    /// always give the same bytes.
    pub fn sign(&self, content: &[u8], when: chrono::DateTime<chrono::Utc>) -> String {
        let time = u32::try_from(when.timestamp()).unwrap_or(0);
        let mut hashed = vec![4, 0x00, ALGO_RSA, HASH_SHA512];
        let subpackets = [&[5, SUBPACKET_CREATION_TIME][..], &time.to_be_bytes()[..]].concat();
        hashed.extend_from_slice(&(subpackets.len() as u16).to_be_bytes());
        hashed.extend_from_slice(&subpackets);
        let mut hasher = Sha512::new();
        hasher.update(content);
        hasher.update(&hashed);
        hasher.update([4, 0xff]);
        hasher.update((hashed.len() as u32).to_be_bytes());
        let digest = hasher.finalize();
        let signature = self
            .key
            .pkcs1v15_sign_prehash::<Sha512>(&digest)
            .expect("a SHA-512 digest fits a 4096-bit RSA key");
        let mut body = hashed;
        body.extend_from_slice(&[0, 0]); // no unhashed subpackets
        body.extend_from_slice(&digest[..2]);
        // Go's openpgp package (snapd's signer) writes the RSA signature as all k bytes with a
        // bit count of 8·k, leading zero bits and all; do the same, to sign byte for byte as
        // snapd does.
        body.extend_from_slice(&((signature.len() * 8) as u16).to_be_bytes());
        body.extend_from_slice(&signature);
        encode_v1(&packet(TAG_SIGNATURE, &body))
    }
}

/// An RSA public key in snapd's v1 encoding (`0x01` and an OpenPGP public-key packet, in
/// base64): a `serial` assertion's `device-key`, an `account-key`'s body. It checks signatures
/// made with the matching private key.
#[derive(Clone)]
pub struct PublicKey {
    key: rsa::PublicKey,
    id: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("id", &self.id).finish()
    }
}

impl PublicKey {
    /// The smallest key accepted: snapd makes 4096-bit device keys; older or external
    /// tooling may have made 2048-bit ones, still sound.
    pub const MIN_BITS: usize = 2048;
    /// The largest: snapd's own (`keyLength`). Checking a signature by a larger key costs more
    /// (an 8192-bit one about six times as much), and anyone may send one.
    pub const MAX_BITS: usize = 4096;

    /// Reads a key in snapd's v1 encoding (line breaks and indentation allowed).
    pub fn from_v1(text: &str) -> Result<PublicKey, KeyError> {
        let bytes = decode_v1(text)?;
        let body = single_packet(&bytes, TAG_PUBLIC_KEY, "public-key")?;
        let mut r = Reader(body);
        let (_, n, e) = r.rsa_public_key()?;
        if !r.0.is_empty() {
            return Err(KeyError::Packet(
                "trailing bytes in the public-key packet".into(),
            ));
        }
        let key = rsa::PublicKey::new_with_size_limits(
            uint(n),
            uint(e),
            Self::MIN_BITS..=Self::MAX_BITS,
        )?;
        Ok(PublicKey {
            key,
            id: URL_SAFE_NO_PAD.encode(Sha3_384::digest(&bytes)),
        })
    }

    /// snapd's id of the key (the `sign-key-sha3-384` of what it signs): base64url of the
    /// SHA3-384 of its v1 encoding.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Checks `signature` (snapd's v1 encoding of an OpenPGP v4 signature packet, RSA with
    /// SHA-512, as [`SigningKey::sign`] and snapd write them; subpackets, hashed or not, are
    /// allowed) over `content`.
    pub fn verify(&self, content: &[u8], signature: &str) -> Result<(), KeyError> {
        let bytes = decode_v1(signature)?;
        let body = single_packet(&bytes, TAG_SIGNATURE, "signature")?;
        let mut r = Reader(body);
        let version = r.byte()?;
        if version != 4 {
            return Err(KeyError::Unsupported(format!(
                "OpenPGP signature version {version}; only version 4 is supported"
            )));
        }
        let (kind, algo, hash) = (r.byte()?, r.byte()?, r.byte()?);
        if kind != 0x00 {
            return Err(KeyError::Unsupported(format!(
                "OpenPGP signature type {kind:#04x}; assertions are signed as binary documents (0x00)"
            )));
        }
        if algo != ALGO_RSA || hash != HASH_SHA512 {
            return Err(KeyError::Unsupported(format!(
                "a signature made with algorithm {algo} and hash {hash}; snapd signs with RSA (1) and SHA-512 (10)"
            )));
        }
        let hashed_len = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes")) as usize;
        r.take(hashed_len)?;
        let hashed = &body[..6 + hashed_len];
        let unhashed_len = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes")) as usize;
        r.take(unhashed_len)?;
        let left = r.take(2)?;
        let value = r.mpi()?;
        if !r.0.is_empty() {
            return Err(KeyError::Packet(
                "trailing bytes in the signature packet".into(),
            ));
        }
        let mut hasher = Sha512::new();
        hasher.update(content);
        hasher.update(hashed);
        hasher.update([4, 0xff]);
        hasher.update((hashed.len() as u32).to_be_bytes());
        let digest = hasher.finalize();
        // The quick check OpenPGP carries: the digest's first two bytes.
        if digest[..2] != *left {
            return Err(KeyError::BadSignature);
        }
        // The MPI drops leading zero bytes; RSA wants all k of them.
        let size = self.key.size();
        if value.len() > size {
            return Err(KeyError::BadSignature);
        }
        let mut padded = vec![0u8; size - value.len()];
        padded.extend_from_slice(value);
        self.key
            .verify(rsa::Pkcs1v15Sign::new::<Sha512>(), &digest, &padded)
            .map_err(|_| KeyError::BadSignature)
    }
}

/// The body of the one packet, of type `tag`, in `bytes` (snapd's v1 encoding, decoded).
fn single_packet<'a>(bytes: &'a [u8], tag: u8, what: &str) -> Result<&'a [u8], KeyError> {
    match read_packet(&bytes[1..])? {
        (found, body, []) if found == tag => Ok(body),
        _ => Err(KeyError::Packet(format!(
            "not a single OpenPGP {what} packet"
        ))),
    }
}

/// Decodes snapd's v1 encoding (base64 of `0x01` and the data; whitespace ignored): the bytes,
/// the leading `0x01` included.
fn decode_v1(text: &str) -> Result<Vec<u8>, KeyError> {
    let compact: String = text.split_whitespace().collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| KeyError::Packet(format!("bad base64: {e}")))?;
    match bytes.first() {
        Some(1) if bytes.len() > 1 => Ok(bytes),
        Some(1) => Err(KeyError::Packet("nothing after the format byte".into())),
        Some(other) => Err(KeyError::Unsupported(format!(
            "format version {other}; snapd's keys and signatures are version 1"
        ))),
        None => Err(KeyError::Packet("empty".into())),
    }
}

fn uint(bytes: &[u8]) -> BoxedUint {
    let bits = (bytes.len().max(1) * 8) as u32;
    BoxedUint::from_be_slice(bytes, bits).expect("the precision fits the bytes")
}

/// An OpenPGP multiprecision integer: bit count, then the big-endian bytes without leading
/// zeros.
fn mpi(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let bits = match bytes.first() {
        Some(first) => (bytes.len() * 8) as u16 - first.leading_zeros() as u16,
        None => 0,
    };
    let mut out = bits.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A packet with a new-format header, as Go's openpgp package writes them.
fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc0 | tag];
    let len = body.len();
    if len < 192 {
        out.push(len as u8);
    } else if len < 8384 {
        let l = len - 192;
        out.push(((l >> 8) + 192) as u8);
        out.push((l & 0xff) as u8);
    } else {
        out.push(0xff);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// Reads one packet (old or new format header): (tag, body, rest).
fn read_packet(data: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    let bad = |what: &str| KeyError::Packet(what.to_string());
    let ctb = *data.first().ok_or_else(|| bad("empty packet"))?;
    if ctb & 0x80 == 0 {
        return Err(bad("not an OpenPGP packet header"));
    }
    let (tag, len, header) = if ctb & 0x40 != 0 {
        let tag = ctb & 0x3f;
        let first = *data.get(1).ok_or_else(|| bad("truncated header"))? as usize;
        match first {
            0..=191 => (tag, first, 2),
            192..=223 => {
                let second = *data.get(2).ok_or_else(|| bad("truncated header"))? as usize;
                (tag, ((first - 192) << 8) + second + 192, 3)
            }
            255 => {
                let b = data.get(2..6).ok_or_else(|| bad("truncated header"))?;
                (
                    tag,
                    u32::from_be_bytes(b.try_into().expect("4")) as usize,
                    6,
                )
            }
            _ => return Err(bad("partial body lengths are not supported")),
        }
    } else {
        let tag = (ctb >> 2) & 0x0f;
        match ctb & 3 {
            0 => (
                tag,
                *data.get(1).ok_or_else(|| bad("truncated header"))? as usize,
                2,
            ),
            1 => {
                let b = data.get(1..3).ok_or_else(|| bad("truncated header"))?;
                (
                    tag,
                    u16::from_be_bytes(b.try_into().expect("2")) as usize,
                    3,
                )
            }
            2 => {
                let b = data.get(1..5).ok_or_else(|| bad("truncated header"))?;
                (
                    tag,
                    u32::from_be_bytes(b.try_into().expect("4")) as usize,
                    5,
                )
            }
            _ => return Err(bad("indeterminate packet lengths are not supported")),
        }
    };
    let body = data
        .get(header..header + len)
        .ok_or_else(|| bad("truncated packet"))?;
    Ok((tag, body, &data[header + len..]))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], KeyError> {
        if self.0.len() < n {
            return Err(KeyError::Packet("truncated key packet".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, KeyError> {
        Ok(self.take(1)?[0])
    }
    fn mpi(&mut self) -> Result<&'a [u8], KeyError> {
        let bits = u16::from_be_bytes(self.take(2)?.try_into().expect("2 bytes")) as usize;
        self.take(bits.div_ceil(8))
    }
    /// The public part that starts a v4 public-key or secret-key packet: its creation time
    /// and the RSA modulus and exponent.
    fn rsa_public_key(&mut self) -> Result<(u32, &'a [u8], &'a [u8]), KeyError> {
        let version = self.byte()?;
        if version != 4 {
            return Err(KeyError::Unsupported(format!(
                "OpenPGP key version {version}; only version 4 keys are supported"
            )));
        }
        let created = u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes"));
        let algo = self.byte()?;
        if algo != ALGO_RSA {
            return Err(KeyError::Unsupported(format!(
                "OpenPGP public-key algorithm {algo}; snapd's assertions need RSA (1)"
            )));
        }
        Ok((created, self.mpi()?, self.mpi()?))
    }
}

/// snapd's v1 encoding: base64 of `0x01` and `data`, in lines of 76 characters.
pub fn encode_v1(data: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(1);
    bytes.extend_from_slice(data);
    wrap(&STANDARD.encode(bytes), 76)
}

fn wrap(text: &str, width: usize) -> String {
    text.as_bytes()
        .chunks(width)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The CRC-24 of RFC 4880 §6.1.
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00b7_04ce;
    for byte in data {
        crc ^= u32::from(*byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4cfb;
            }
        }
    }
    crc & 0x00ff_ffff
}

fn armor(kind: &str, data: &[u8]) -> String {
    let crc = crc24(data).to_be_bytes();
    format!(
        "-----BEGIN {kind}-----\n\n{}\n={}\n-----END {kind}-----\n",
        wrap(&STANDARD.encode(data), 64),
        STANDARD.encode(&crc[1..])
    )
}

fn dearmor(text: &str) -> Result<Vec<u8>, KeyError> {
    let mut lines = text.lines().map(str::trim_end);
    lines
        .by_ref()
        .find(|l| l.starts_with("-----BEGIN PGP PRIVATE KEY BLOCK-----"))
        .ok_or_else(|| KeyError::Armor("no BEGIN PGP PRIVATE KEY BLOCK line".into()))?;
    // Armor headers ("Version: …") end at the first empty line.
    let mut body = String::new();
    let mut checksum = None;
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line.starts_with("-----END PGP PRIVATE KEY BLOCK-----") {
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
            } else if !line.contains(": ") {
                // No headers at all: this line is data already.
                in_headers = false;
                body.push_str(line);
            }
            continue;
        }
        if let Some(crc) = line.strip_prefix('=') {
            checksum = Some(crc.to_string());
        } else {
            body.push_str(line.trim());
        }
    }
    if !ended {
        return Err(KeyError::Armor("no END PGP PRIVATE KEY BLOCK line".into()));
    }
    let data = STANDARD
        .decode(body.as_bytes())
        .map_err(|e| KeyError::Armor(format!("bad base64: {e}")))?;
    if let Some(checksum) = checksum {
        let expected = STANDARD
            .decode(checksum.as_bytes())
            .map_err(|e| KeyError::Armor(format!("bad checksum line: {e}")))?;
        if expected != crc24(&data).to_be_bytes()[1..] {
            return Err(KeyError::Armor("the armor checksum does not match".into()));
        }
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpis_count_bits_without_leading_zeros() {
        assert_eq!(mpi(&[0, 0, 1]), vec![0, 1, 1]);
        assert_eq!(mpi(&[0x80, 0]), vec![0, 16, 0x80, 0]);
        assert_eq!(mpi(&[]), vec![0, 0]);
    }

    #[test]
    fn packet_lengths_use_the_new_format() {
        assert_eq!(&packet(6, &[0; 10])[..2], &[0xc6, 10]);
        assert_eq!(&packet(6, &[0; 525])[..3], &[0xc6, 0xc1, 0x4d]);
        let long = packet(2, &[7; 9000]);
        let (tag, body, rest) = read_packet(&long).unwrap();
        assert_eq!((tag, body.len(), rest.len()), (2, 9000, 0));
    }

    #[test]
    fn crc24_of_rfc_4880() {
        // The CRC of no data is the initial value.
        assert_eq!(crc24(&[]), 0xb704ce);
    }
}
