//! Snaps: `meta/snap.yaml` inside a squashfs image.

use std::fmt;
use std::fs::File;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::{InspectError, Limits, RawEpoch, SnapMeta, fields, squashfs, utf8, yaml};

const SNAP_YAML: &str = "meta/snap.yaml";

pub(crate) fn inspect(file: File, limits: &Limits) -> Result<SnapMeta, InspectError> {
    let bytes = squashfs::read_file(file, SNAP_YAML, limits)?.ok_or_else(|| {
        InspectError::MissingMetadata("the snap has no meta/snap.yaml".to_owned())
    })?;
    let text = utf8(SNAP_YAML, bytes)?;
    parse(text, limits.max_metadata_size)
}

/// The keys of `snap.yaml` we read; everything else is ignored.
#[derive(Deserialize)]
struct SnapYaml {
    name: Option<String>,
    version: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    license: Option<String>,
    architectures: Option<Vec<String>>,
    base: Option<String>,
    confinement: Option<String>,
    grade: Option<String>,
    #[serde(rename = "type")]
    snap_type: Option<String>,
    epoch: Option<YamlEpoch>,
}

pub(crate) fn parse(text: String, max_bytes: u64) -> Result<SnapMeta, InspectError> {
    let raw: SnapYaml = yaml::parse(SNAP_YAML, &text, max_bytes)?;
    let required = |value: Option<String>, key: &str| {
        value
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| InspectError::malformed(SNAP_YAML, format!("it has no `{key}`")))
    };
    let meta = SnapMeta {
        name: required(raw.name, "name")?,
        version: required(raw.version, "version")?,
        // `summary: >` and `summary: |` end in a newline snapd does not mind.
        title: raw.title.map(|t| t.trim_end().to_owned()),
        summary: raw
            .summary
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default(),
        description: raw.description.unwrap_or_default(),
        license: raw.license.map(|l| l.trim_end().to_owned()),
        architectures: raw
            .architectures
            .filter(|list| !list.is_empty())
            .unwrap_or_else(|| vec!["all".to_owned()]),
        base: raw.base,
        confinement: raw.confinement.unwrap_or_else(|| "strict".to_owned()),
        grade: raw.grade.unwrap_or_else(|| "stable".to_owned()),
        snap_type: raw.snap_type.unwrap_or_else(|| "app".to_owned()),
        epoch: raw.epoch.map_or(RawEpoch::Absent, |e| e.0),
        snap_yaml: text,
    };
    fields::check_snap(SNAP_YAML, &meta)?;
    Ok(meta)
}

/// `epoch: 1`, `epoch: 1*`, or `epoch: {read: [0, 1], write: [1]}`.
struct YamlEpoch(RawEpoch);

impl<'de> Deserialize<'de> for YamlEpoch {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EpochVisitor).map(YamlEpoch)
    }
}

struct EpochVisitor;

impl<'de> Visitor<'de> for EpochVisitor {
    type Value = RawEpoch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an epoch such as 1, 1* or {read: [..], write: [..]}")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<RawEpoch, E> {
        Ok(RawEpoch::Scalar(value.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawEpoch, E> {
        Ok(RawEpoch::Scalar(value.to_string()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawEpoch, E> {
        Ok(RawEpoch::Scalar(value.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEpoch, A::Error> {
        let (mut read, mut write) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "read" if read.is_none() => read = Some(map.next_value::<Option<Vec<u32>>>()?),
                "write" if write.is_none() => write = Some(map.next_value::<Option<Vec<u32>>>()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unexpected or repeated key `{other}` in epoch"
                    )));
                }
            }
        }
        Ok(RawEpoch::Map {
            read: read.flatten().unwrap_or_default(),
            write: write.flatten().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(text: &str) -> Result<SnapMeta, InspectError> {
        parse(text.to_owned(), 1 << 20)
    }

    #[test]
    fn block_scalars_lose_their_final_newline() {
        let m = meta("name: a\nversion: '1'\nsummary: |\n  Hello\ntitle: >\n  Hi\n").unwrap();
        assert_eq!(
            (m.summary.as_str(), m.title.as_deref()),
            ("Hello", Some("Hi"))
        );
        assert!(meta("name: a\nversion: '1'\nsummary: \"one\\ntwo\"\n").is_err());
    }

    #[test]
    fn scalars_keep_their_text() {
        let m = meta("name: a\nversion: 1.10\nepoch: 2\n").unwrap();
        assert_eq!(m.version, "1.10");
        assert_eq!(m.epoch, RawEpoch::Scalar("2".into()));
        let m = meta("name: a\nversion: '1'\nepoch: 1*\n").unwrap();
        assert_eq!(m.epoch, RawEpoch::Scalar("1*".into()));
        let m = meta("name: a\nversion: '1'\nepoch: {read: [0, 1]}\n").unwrap();
        assert_eq!(
            m.epoch,
            RawEpoch::Map {
                read: vec![0, 1],
                write: vec![]
            }
        );
    }

    #[test]
    fn bad_documents() {
        for text in [
            "",
            "name: a\n",
            "version: 1\n",
            "name: ''\nversion: 1\n",
            "name: [a]\nversion: 1\n",
            "name: a\nversion: 1\nepoch: {read: [x]}\n",
            "name: a\nversion: 1\nepoch: {red: [1]}\n",
            "name: a\nname: b\nversion: 1\n",
            "- a\n",
            "name: a\nversion: 1\n---\nname: b\n",
        ] {
            assert_eq!(
                meta(text).unwrap_err().code(),
                "malformed-metadata",
                "{text:?}"
            );
        }
    }
}
