//! snapd's `storeSnap` objects, serialised straight from the catalog: only the fields the
//! client asked for, written into the response body without an intermediate JSON tree.
//!
//! `info`, `refresh` and `find` answer with the same objects; building them as
//! `serde_json::Value` maps and then dropping the fields nobody asked for made allocation the
//! largest cost of those endpoints (docs/reference/benchmarks.md).

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::domain::Channel;
use crate::store::{PackageState, Release, RenderKey, Revision};

/// One field of snapd's `storeSnap`: the first sixteen are snap-level, the others belong to a
/// revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Field {
    Categories,
    CommonIds,
    Contact,
    Description,
    License,
    Links,
    Media,
    Name,
    Prices,
    Private,
    Publisher,
    SnapId,
    StoreUrl,
    Summary,
    Title,
    Website,
    Architectures,
    Base,
    Confinement,
    CreatedAt,
    Download,
    Epoch,
    Grade,
    Revision,
    SnapYaml,
    Type,
    Version,
}

impl Field {
    const ALL: [Field; 27] = [
        Field::Categories,
        Field::CommonIds,
        Field::Contact,
        Field::Description,
        Field::License,
        Field::Links,
        Field::Media,
        Field::Name,
        Field::Prices,
        Field::Private,
        Field::Publisher,
        Field::SnapId,
        Field::StoreUrl,
        Field::Summary,
        Field::Title,
        Field::Website,
        Field::Architectures,
        Field::Base,
        Field::Confinement,
        Field::CreatedAt,
        Field::Download,
        Field::Epoch,
        Field::Grade,
        Field::Revision,
        Field::SnapYaml,
        Field::Type,
        Field::Version,
    ];

    /// The name on the wire.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Categories => "categories",
            Field::CommonIds => "common-ids",
            Field::Contact => "contact",
            Field::Description => "description",
            Field::License => "license",
            Field::Links => "links",
            Field::Media => "media",
            Field::Name => "name",
            Field::Prices => "prices",
            Field::Private => "private",
            Field::Publisher => "publisher",
            Field::SnapId => "snap-id",
            Field::StoreUrl => "store-url",
            Field::Summary => "summary",
            Field::Title => "title",
            Field::Website => "website",
            Field::Architectures => "architectures",
            Field::Base => "base",
            Field::Confinement => "confinement",
            Field::CreatedAt => "created-at",
            Field::Download => "download",
            Field::Epoch => "epoch",
            Field::Grade => "grade",
            Field::Revision => "revision",
            Field::SnapYaml => "snap-yaml",
            Field::Type => "type",
            Field::Version => "version",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    const fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// A set of [`Field`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields(u32);

impl Fields {
    /// The set as bits, one per [`Field`] (for cache keys).
    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    /// Every snap-level field.
    pub(crate) const SNAP_LEVEL: Fields = Fields((1 << Field::Architectures as u8) - 1);
    /// Every revision-level field.
    pub(crate) const REVISION_LEVEL: Fields =
        Fields(((1 << Field::ALL.len()) - 1) & !Fields::SNAP_LEVEL.0);

    pub(crate) const fn of(fields: &[Field]) -> Fields {
        let mut bits = 0;
        let mut i = 0;
        while i < fields.len() {
            bits |= fields[i].bit();
            i += 1;
        }
        Fields(bits)
    }

    /// The fields named in `names`; names that are not `storeSnap` fields are left out.
    pub(crate) fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Fields {
        Fields(
            names
                .into_iter()
                .filter_map(|n| Field::from_name(n.trim()))
                .fold(0, |bits, f| bits | f.bit()),
        )
    }

    pub(crate) fn has(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    pub(crate) fn and(self, other: Fields) -> Fields {
        Fields(self.0 & other.0)
    }

    pub(crate) fn or(self, other: Fields) -> Fields {
        Fields(self.0 | other.0)
    }
}

/// A `storeSnap` object: the snap-level fields of `state` and the revision-level fields of
/// `revision` that are in `fields`, plus an optional `channel` entry.
pub(crate) struct SnapObject<'a> {
    /// depot's public URL, for download URLs.
    pub public_url: &'a str,
    pub state: &'a PackageState,
    pub revision: Option<&'a Revision>,
    pub fields: Fields,
    /// The full name of a channel, added to the download URL as `?channel=` so that the
    /// download counts for it.
    pub download_channel: Option<String>,
    pub channel: ChannelEntry<'a>,
}

impl<'a> SnapObject<'a> {
    /// This object's JSON text, kept with the package state so that the next request for the
    /// same fields of the same revision and channels copies it instead of rendering it again.
    /// Not for `info`'s channel-map entries (one per channel and architecture).
    pub(crate) fn cached(self) -> CachedObject {
        let entry = match &self.channel {
            ChannelEntry::None => None,
            ChannelEntry::Name(name) => Some(name.clone()),
            ChannelEntry::Release { .. } => {
                return CachedObject(
                    serde_json::value::to_raw_value(&self)
                        .expect("a storeSnap object always serialises")
                        .into(),
                );
            }
        };
        let key = RenderKey::Object {
            fields: self.fields.0,
            revision: self.revision.map_or(0, |r| r.revision),
            channel: self.download_channel.clone(),
            entry,
        };
        let state = self.state;
        CachedObject(state.rendered.object(key, || {
            serde_json::value::to_raw_value(&self).expect("a storeSnap object always serialises")
        }))
    }

    /// The snap-level fields of `state` among `fields`.
    pub(crate) fn package(public_url: &'a str, state: &'a PackageState, fields: Fields) -> Self {
        SnapObject {
            public_url,
            state,
            revision: None,
            fields: fields.and(Fields::SNAP_LEVEL),
            download_channel: None,
            channel: ChannelEntry::None,
        }
    }

    /// The revision-level fields of `revision` among `fields`, with `channel`.
    pub(crate) fn revision(
        public_url: &'a str,
        state: &'a PackageState,
        revision: &'a Revision,
        fields: Fields,
        channel: ChannelEntry<'a>,
    ) -> Self {
        SnapObject {
            public_url,
            state,
            revision: Some(revision),
            fields: fields.and(Fields::REVISION_LEVEL),
            download_channel: None,
            channel,
        }
    }
}

/// A [`SnapObject`] rendered before (see [`SnapObject::cached`]).
pub(crate) struct CachedObject(std::sync::Arc<serde_json::value::RawValue>);

impl CachedObject {
    /// Bytes of JSON text.
    pub(crate) fn len(&self) -> usize {
        self.0.get().len()
    }
}

impl From<std::sync::Arc<serde_json::value::RawValue>> for CachedObject {
    fn from(text: std::sync::Arc<serde_json::value::RawValue>) -> Self {
        CachedObject(text)
    }
}

impl Serialize for CachedObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// The `channel` entry of a [`SnapObject`].
pub(crate) enum ChannelEntry<'a> {
    None,
    /// `find`: the short name of the channel the revision shown is on.
    Name(String),
    /// `info`'s channel map: the channel and its release.
    Release {
        channel: &'a Channel,
        architecture: &'a str,
        release: &'a Release,
    },
}

impl Serialize for SnapObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let p = &self.state.package;
        let has = |f: Field| self.fields.has(f);
        if has(Field::Categories) {
            map.serialize_entry("categories", &Categories(&p.categories))?;
        }
        if has(Field::CommonIds) {
            map.serialize_entry("common-ids", &[(); 0])?;
        }
        if has(Field::Contact) {
            map.serialize_entry("contact", &p.contact)?;
        }
        if has(Field::Description) {
            map.serialize_entry("description", self.state.description_json())?;
        }
        if has(Field::License) {
            map.serialize_entry("license", &p.license)?;
        }
        if has(Field::Links) {
            map.serialize_entry("links", &EmptyObject)?;
        }
        if has(Field::Media) {
            map.serialize_entry("media", &[(); 0])?;
        }
        if has(Field::Name) {
            map.serialize_entry("name", &p.name)?;
        }
        if has(Field::Prices) {
            map.serialize_entry("prices", &EmptyObject)?;
        }
        if has(Field::Private) {
            map.serialize_entry("private", &p.private)?;
        }
        if has(Field::Publisher) {
            map.serialize_entry(
                "publisher",
                &PublisherObject {
                    id: &p.publisher.id,
                    username: &p.publisher.username,
                    display_name: &p.publisher.display_name,
                    validation: "unproven",
                },
            )?;
        }
        if has(Field::SnapId) {
            map.serialize_entry("snap-id", &p.id)?;
        }
        if has(Field::StoreUrl) {
            map.serialize_entry("store-url", "")?;
        }
        if has(Field::Summary) {
            map.serialize_entry("summary", &p.summary)?;
        }
        if has(Field::Title) {
            let title = if p.title.is_empty() {
                &p.name
            } else {
                &p.title
            };
            map.serialize_entry("title", title)?;
        }
        if has(Field::Website) {
            map.serialize_entry("website", &p.website)?;
        }
        if let Some(r) = self.revision {
            if has(Field::Architectures) {
                map.serialize_entry("architectures", &r.architectures)?;
            }
            if has(Field::Base) {
                map.serialize_entry("base", &r.base)?;
            }
            if has(Field::Confinement) {
                map.serialize_entry("confinement", &r.confinement)?;
            }
            if has(Field::CreatedAt) {
                map.serialize_entry("created-at", &Time(r.created_at))?;
            }
            if has(Field::Download) {
                map.serialize_entry(
                    "download",
                    &Download {
                        url: DownloadUrl {
                            public_url: self.public_url,
                            state: self.state,
                            revision: r.revision,
                            channel: self.download_channel.as_deref(),
                        },
                        sha3_384: &r.sha3_384,
                        size: r.size,
                        deltas: [(); 0],
                    },
                )?;
            }
            if has(Field::Epoch) {
                map.serialize_entry("epoch", &r.epoch)?;
            }
            if has(Field::Grade) {
                map.serialize_entry("grade", &r.grade)?;
            }
            if has(Field::Revision) {
                map.serialize_entry("revision", &r.revision)?;
            }
            if has(Field::SnapYaml) {
                map.serialize_entry("snap-yaml", &r.metadata.get("snap-yaml"))?;
            }
            if has(Field::Type) {
                map.serialize_entry("type", &r.kind)?;
            }
            if has(Field::Version) {
                map.serialize_entry("version", &r.version)?;
            }
        }
        match &self.channel {
            ChannelEntry::None => {}
            ChannelEntry::Name(name) => map.serialize_entry("channel", name)?,
            ChannelEntry::Release {
                channel,
                architecture,
                release,
            } => map.serialize_entry(
                "channel",
                &ChannelObject {
                    architecture,
                    name: channel.short(),
                    risk: channel.risk.as_str(),
                    track: &channel.track,
                    released_at: Time(release.released_at),
                    branch: release
                        .expires_at
                        .and_then(|expires| Some((channel.branch.as_deref()?, Time(expires)))),
                },
            )?,
        }
        map.end()
    }
}

/// A time as the Snap Store writes it: RFC 3339, microseconds, `Z`.
pub(crate) struct Time(pub chrono::DateTime<chrono::Utc>);

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            return f.write_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        }
        // Written by hand: chrono's formatting machinery was a visible share of `refresh`.
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, digits: usize, mut n: u32| {
            for i in (at..at + digits).rev() {
                out[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        // A leap second (nanoseconds past 10^9) is written as chrono writes it: second 60.
        let (second, nanos) = match t.nanosecond() {
            n if n >= 1_000_000_000 => (60, n - 1_000_000_000),
            n => (t.second(), n),
        };
        put(17, 2, second);
        put(20, 6, nanos / 1_000);
        f.write_str(std::str::from_utf8(&out).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A JSON response (`application/json`) serialised into a buffer of about the size it will
/// need, so that building a large answer does not copy it over and over as it grows.
pub(crate) fn json_response<T: Serialize>(value: &T, size_hint: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = Vec::with_capacity(size_hint);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(err) => {
            super::ApiError::internal(format!("cannot write the answer: {err}")).into_response()
        }
    }
}

/// A `200 application/json` response whose body is `text`, shared, not copied.
pub(crate) fn raw_json_response(
    text: std::sync::Arc<serde_json::value::RawValue>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    struct Text(std::sync::Arc<serde_json::value::RawValue>);
    impl AsRef<[u8]> for Text {
        fn as_ref(&self) -> &[u8] {
            self.0.get().as_bytes()
        }
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        bytes::Bytes::from_owner(Text(text)),
    )
        .into_response()
}

struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }
}

struct Categories<'a>(&'a [String]);

impl Serialize for Categories<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Category<'a> {
            featured: bool,
            name: &'a str,
        }
        serializer.collect_seq(self.0.iter().map(|name| Category {
            featured: false,
            name,
        }))
    }
}

#[derive(serde::Serialize)]
struct PublisherObject<'a> {
    id: &'a str,
    username: &'a str,
    #[serde(rename = "display-name")]
    display_name: &'a str,
    validation: &'static str,
}

#[derive(serde::Serialize)]
struct Download<'a> {
    url: DownloadUrl<'a>,
    #[serde(rename = "sha3-384")]
    sha3_384: &'a str,
    size: u64,
    deltas: [(); 0],
}

/// `{public_url}/api/v1/snaps/download/{id}_{revision}.snap[?channel=…]`.
pub(crate) struct DownloadUrl<'a> {
    pub public_url: &'a str,
    pub state: &'a PackageState,
    pub revision: u32,
    /// The full name of the channel the download is counted for.
    pub channel: Option<&'a str>,
}

impl std::fmt::Display for DownloadUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = self.state.package.namespace;
        write!(
            f,
            "{}/api/v1/{}/download/{}_{}.{}",
            self.public_url,
            ns.plural(),
            self.state.package.id,
            self.revision,
            ns.file_extension()
        )?;
        if let Some(channel) = self.channel {
            write!(
                f,
                "?channel={}",
                super::refresh::percent_encode_channel(channel)
            )?;
        }
        Ok(())
    }
}

impl Serialize for DownloadUrl<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

struct ChannelObject<'a> {
    architecture: &'a str,
    name: String,
    risk: &'a str,
    track: &'a str,
    released_at: Time,
    /// A branch's name and when it expires.
    branch: Option<(&'a str, Time)>,
}

impl Serialize for ChannelObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("architecture", self.architecture)?;
        if let Some((branch, expires)) = &self.branch {
            map.serialize_entry("branch", branch)?;
            map.serialize_entry("expiration-date", expires)?;
        }
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("released-at", &self.released_at)?;
        map.serialize_entry("risk", self.risk)?;
        map.serialize_entry("track", self.track)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_split_at_the_first_revision_field() {
        assert!(Fields::SNAP_LEVEL.has(Field::Website));
        assert!(!Fields::SNAP_LEVEL.has(Field::Architectures));
        assert!(Fields::REVISION_LEVEL.has(Field::Architectures));
        assert!(Fields::REVISION_LEVEL.has(Field::Version));
        assert!(!Fields::REVISION_LEVEL.has(Field::Website));
        assert_eq!(
            Fields::SNAP_LEVEL.and(Fields::REVISION_LEVEL),
            Fields::default()
        );
    }

    #[test]
    fn parse_keeps_known_names_only() {
        let fields = Fields::parse(["title", " version ", "channel", "nope", ""]);
        assert_eq!(fields, Fields::of(&[Field::Title, Field::Version]));
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
    }

    #[test]
    fn times_are_written_as_the_store_writes_them() {
        for text in [
            "2026-11-24T01:02:03.5Z",
            "1970-01-01T00:00:00Z",
            "0999-12-31T23:59:59.999999999Z",
            "2016-12-31T23:59:60.25Z",
            "9999-06-15T12:30:45.000001Z",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&chrono::Utc);
            let chrono = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(Time(t).to_string(), chrono, "{text}");
            assert_eq!(
                serde_json::to_string(&Time(t)).unwrap(),
                format!("\"{chrono}\""),
                "{text}"
            );
        }
    }
}
