//! snapd's assertion text format (`asserts/asserts.go`, `asserts/headers.go`):
//!
//! ```text
//! type: snap-declaration
//! authority-id: depot
//! series: 16
//! snap-id: …
//! publisher-id: …
//! snap-name: hello
//! timestamp: 2026-11-23T16:02:13Z
//! sign-key-sha3-384: …
//!
//! AcLBUgQAAQoABgUC…   (the signature, base64 in 76-character lines)
//! ```
//!
//! Headers in snapd's signing order: `type`, `authority-id`, the primary-key headers in the
//! type's order, the others sorted, `body-length` when there is a body, `sign-key-sha3-384`.
//! The signed content is the header text (and `\n\n` and the body). The encoded assertion is
//! the content, `\n\n`, the signature and a final `\n`.

use std::collections::BTreeMap;

use super::openpgp::SigningKey;

/// An assertion to sign: its headers and body.
#[derive(Clone, Debug)]
pub struct Draft {
    pub kind: &'static str,
    pub authority_id: String,
    /// The primary-key headers, in the type's order.
    pub primary_key: Vec<(&'static str, String)>,
    /// The other headers (sorted when written).
    pub headers: BTreeMap<&'static str, String>,
    pub body: String,
}

impl Draft {
    pub fn new(kind: &'static str, authority_id: &str) -> Draft {
        Draft {
            kind,
            authority_id: authority_id.to_string(),
            primary_key: Vec::new(),
            headers: BTreeMap::new(),
            body: String::new(),
        }
    }

    pub fn key(mut self, name: &'static str, value: impl Into<String>) -> Draft {
        self.primary_key.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Draft {
        self.headers.insert(name, value.into());
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Draft {
        self.body = body.into();
        self
    }

    /// The content snapd signs, with `sign_key_id` as `sign-key-sha3-384`.
    pub fn content(&self, sign_key_id: &str) -> String {
        let mut out = format!("type: {}", self.kind);
        // Types signed without an authority (a device's `device-session-request`) have none.
        if !self.authority_id.is_empty() {
            write_header(&mut out, "authority-id", &self.authority_id);
        }
        for (name, value) in &self.primary_key {
            write_header(&mut out, name, value);
        }
        for (name, value) in &self.headers {
            write_header(&mut out, name, value);
        }
        if !self.body.is_empty() {
            write_header(&mut out, "body-length", &self.body.len().to_string());
        }
        write_header(&mut out, "sign-key-sha3-384", sign_key_id);
        if !self.body.is_empty() {
            out.push_str("\n\n");
            out.push_str(&self.body);
        }
        out
    }
}

/// One header line, or a multi-line text value indented by four spaces (`appendEntry`).
fn write_header(out: &mut String, name: &str, value: &str) {
    out.push('\n');
    out.push_str(name);
    out.push(':');
    if value.contains('\n') {
        out.push_str("\n    ");
        out.push_str(&value.replace('\n', "\n    "));
    } else {
        out.push(' ');
        out.push_str(value);
    }
}

/// Joins signed content and its signature into an encoded assertion.
pub fn encode(content: &str, signature: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + signature.len() + 3);
    out.extend_from_slice(content.as_bytes());
    out.extend_from_slice(b"\n\n");
    out.extend_from_slice(signature.as_bytes());
    out.push(b'\n');
    out
}

/// Signs a draft: the encoded assertion.
pub fn sign(draft: &Draft, key: &SigningKey, when: chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    let content = draft.content(&key.id());
    encode(&content, &key.sign(content.as_bytes(), when))
}

/// A decoded assertion: its top-level single-line headers, body and the encoded bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub content: String,
    pub signature: String,
    /// The assertion as it came, ending with `\n`.
    pub encoded: Vec<u8>,
}

impl Decoded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A text header, single-line or multi-line (`name:` then lines indented by four spaces,
    /// as snapd writes a `serial`'s `device-key`): its lines, without the indentation, joined
    /// by `\n`. `None` when absent or not text (a list or a map).
    pub fn text_header(&self, name: &str) -> Option<String> {
        if let Some(value) = self.header(name) {
            return Some(value.to_string());
        }
        let head = self.content.split("\n\n").next().unwrap_or_default();
        let mut lines = head.lines();
        lines.by_ref().find(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.trim_end() == ":")
        })?;
        let text: Vec<&str> = lines.map_while(|line| line.strip_prefix("    ")).collect();
        (!text.is_empty()).then(|| text.join("\n"))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("malformed assertion: {0}")]
pub struct DecodeError(String);

/// Decodes a stream of assertions (`asserts.Decoder`): each is headers, optionally `\n\n` and a
/// body of `body-length` bytes, `\n\n` and a signature; assertions are separated by blank lines.
/// Multi-line header values (lists, maps, text) are skipped; only single-line ones are kept.
pub fn decode_stream(text: &str) -> Result<Vec<Decoded>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = text.trim_start_matches('\n');
    while !rest.is_empty() {
        let head_end = rest
            .find("\n\n")
            .ok_or_else(|| DecodeError("no blank line after the headers".into()))?;
        let head = &rest[..head_end];
        let mut headers = BTreeMap::new();
        for line in head.lines() {
            if line.starts_with(' ') {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| DecodeError(format!("header line without ':': {line:?}")))?;
            if let Some(value) = value.strip_prefix(' ') {
                headers.insert(name.to_string(), value.to_string());
            }
        }
        if !headers.contains_key("type") {
            return Err(DecodeError("no type header".into()));
        }
        let body_length: usize = match headers.get("body-length") {
            Some(n) => n
                .parse()
                .map_err(|_| DecodeError(format!("bad body-length {n:?}")))?,
            None => 0,
        };
        let mut content_end = head_end;
        let mut body = String::new();
        if body_length > 0 {
            let start = head_end + 2;
            let end = start
                .checked_add(body_length)
                .ok_or_else(|| DecodeError(format!("bad body-length {body_length}")))?;
            body = rest
                .get(start..end)
                .ok_or_else(|| DecodeError("body shorter than body-length".into()))?
                .to_string();
            content_end = end;
        }
        let after = rest[content_end..]
            .strip_prefix("\n\n")
            .ok_or_else(|| DecodeError("no blank line before the signature".into()))?;
        // The signature (base64, which has no ':') ends at a blank line, or where the next
        // assertion's headers start: files joined with a plain `cat` have no blank line
        // between them.
        let mut sig_end = 0;
        for line in after.split_inclusive('\n') {
            if line.trim_end_matches('\n').is_empty() || line.contains(':') {
                break;
            }
            sig_end += line.len();
        }
        let signature = after[..sig_end].trim_end_matches('\n').to_string();
        if signature.is_empty() {
            return Err(DecodeError("empty signature".into()));
        }
        let content = rest[..content_end].to_string();
        let encoded = encode(&content, &signature);
        out.push(Decoded {
            headers,
            body,
            content,
            signature,
            encoded,
        });
        rest = after[sig_end..].trim_start_matches('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_length_past_any_size_is_an_error() {
        let text = "type: model\nbody-length: 18446744073709551615\nsign-key-sha3-384: x\n\nbody\n\nAcLB\n";
        let err = decode_stream(text).unwrap_err();
        assert!(err.to_string().contains("body-length"), "{err}");
    }

    #[test]
    fn headers_follow_snapds_order() {
        let draft = Draft::new("snap-declaration", "depot")
            .key("series", "16")
            .key("snap-id", "ID")
            .header("timestamp", "2026-01-01T00:00:00Z")
            .header("snap-name", "hello")
            .header("publisher-id", "P");
        assert_eq!(
            draft.content("KEY"),
            "type: snap-declaration\nauthority-id: depot\nseries: 16\nsnap-id: ID\n\
             publisher-id: P\nsnap-name: hello\ntimestamp: 2026-01-01T00:00:00Z\n\
             sign-key-sha3-384: KEY"
        );
    }

    #[test]
    fn a_body_is_counted_and_multiline_values_are_indented() {
        let draft = Draft::new("account-key", "a")
            .key("public-key-sha3-384", "K")
            .header("display-name", "two\nlines")
            .body("BODY");
        assert_eq!(
            draft.content("S"),
            "type: account-key\nauthority-id: a\npublic-key-sha3-384: K\n\
             display-name:\n    two\n    lines\nbody-length: 4\nsign-key-sha3-384: S\n\nBODY"
        );
    }

    #[test]
    fn streams_decode_into_their_assertions() {
        let one = encode(
            "type: account\nauthority-id: a\naccount-id: a",
            "SIG1\nSIG1",
        );
        let two = encode(
            "type: account-key\nauthority-id: a\nbody-length: 3\nsign-key-sha3-384: k\n\nB\nC",
            "SIG2",
        );
        let stream = [one.clone(), b"\n".to_vec(), two.clone()].concat();
        let decoded = decode_stream(std::str::from_utf8(&stream).unwrap()).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].encoded, one);
        assert_eq!(decoded[1].encoded, two);
        assert_eq!(decoded[1].body, "B\nC");
        assert_eq!(decoded[0].header("account-id"), Some("a"));
        // Files joined with a plain `cat` (no blank line between them) decode alike.
        let joined = [one.clone(), two.clone()].concat();
        let decoded = decode_stream(std::str::from_utf8(&joined).unwrap()).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(decoded[0].encoded, one);
        assert_eq!(decoded[1].encoded, two);
    }
}
