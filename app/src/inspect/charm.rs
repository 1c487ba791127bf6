//! Charms: a zip archive with `metadata.yaml` (or `charmcraft.yaml`), `manifest.yaml`,
//! `config.yaml`, `actions.yaml` and `version`.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    CharmBase, CharmMeta, CharmResource, InspectError, Limits, fields, utf8, yaml, zip_reader,
};

const METADATA: &str = "metadata.yaml";
const CHARMCRAFT: &str = "charmcraft.yaml";
const MANIFEST: &str = "manifest.yaml";
const CONFIG: &str = "config.yaml";
const ACTIONS: &str = "actions.yaml";
const VERSION: &str = "version";

/// Architectures assumed when a `bases` entry lists none (charmcraft uses the build host's).
const DEFAULT_ARCHITECTURE: &str = "amd64";

pub(crate) fn inspect(file: File, limits: &Limits) -> Result<CharmMeta, InspectError> {
    let wanted = [METADATA, CHARMCRAFT, MANIFEST, CONFIG, ACTIONS, VERSION];
    let mut files = zip_reader::read_files(file, &wanted, limits)?
        .into_iter()
        .map(|(name, bytes)| utf8(name, bytes).map(|text| (name, text)))
        .collect::<Result<HashMap<_, _>, _>>()?;
    let max = limits.max_metadata_size;

    let charmcraft_text = files.remove(CHARMCRAFT);
    let (source, metadata_text) = match files.remove(METADATA) {
        Some(text) => (METADATA, text),
        None => match &charmcraft_text {
            Some(text) => (CHARMCRAFT, text.clone()),
            None => {
                return Err(InspectError::MissingMetadata(
                    "the charm has neither metadata.yaml nor charmcraft.yaml".to_owned(),
                ));
            }
        },
    };
    let metadata: MetadataYaml = yaml::parse(source, &metadata_text, max)?;
    let name = metadata
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| InspectError::malformed(source, "it has no `name`"))?;
    let resources = resources(source, metadata.resources)?;

    let bases = match files.remove(MANIFEST) {
        Some(text) => manifest_bases(&text, max)?,
        None => match &charmcraft_text {
            Some(text) => charmcraft_bases(text, max)?,
            None => Vec::new(),
        },
    };

    let config_yaml = files.remove(CONFIG);
    if let Some(text) = &config_yaml {
        yaml::check(CONFIG, text, max)?;
    }
    let actions_yaml = files.remove(ACTIONS);
    if let Some(text) = &actions_yaml {
        yaml::check(ACTIONS, text, max)?;
    }
    let version = files
        .remove(VERSION)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());

    let meta = CharmMeta {
        name,
        summary: metadata.summary.unwrap_or_default(),
        description: metadata.description.unwrap_or_default(),
        version,
        bases,
        resources,
        metadata_yaml: metadata_text,
        config_yaml,
        actions_yaml,
    };
    fields::check_charm(source, &meta)?;
    Ok(meta)
}

/// The keys of `metadata.yaml` / `charmcraft.yaml` we read.
#[derive(Deserialize)]
struct MetadataYaml {
    name: Option<String>,
    summary: Option<String>,
    description: Option<String>,
    resources: Option<Ordered<Option<ResourceYaml>>>,
}

#[derive(Deserialize)]
struct ResourceYaml {
    #[serde(rename = "type")]
    kind: Option<String>,
    filename: Option<String>,
    description: Option<String>,
}

fn resources(
    source: &str,
    declared: Option<Ordered<Option<ResourceYaml>>>,
) -> Result<Vec<CharmResource>, InspectError> {
    let Some(Ordered(declared)) = declared else {
        return Ok(Vec::new());
    };
    declared
        .into_iter()
        .map(|(name, resource)| {
            let resource = resource.unwrap_or(ResourceYaml {
                kind: None,
                filename: None,
                description: None,
            });
            let kind = resource.kind.unwrap_or_else(|| "file".to_owned());
            if kind != "file" && kind != "oci-image" {
                return Err(InspectError::malformed(
                    source,
                    format!("resource `{name}` has type `{kind}`; expected `file` or `oci-image`"),
                ));
            }
            Ok(CharmResource {
                name,
                kind,
                filename: resource.filename,
                description: resource.description,
            })
        })
        .collect()
}

/// `manifest.yaml`: `bases: [{name, channel, architectures: [..]}]`.
#[derive(Deserialize)]
struct ManifestYaml {
    bases: Option<Vec<BaseYaml>>,
}

/// One base, as in `manifest.yaml` and charmcraft's `bases` (short form or `run-on`).
/// `channel` is typed `String` so that `22.04` and `20.10` keep their text.
#[derive(Deserialize)]
struct BaseYaml {
    name: String,
    channel: String,
    architectures: Option<Vec<String>>,
}

fn manifest_bases(text: &str, max: u64) -> Result<Vec<CharmBase>, InspectError> {
    let manifest: ManifestYaml = yaml::parse(MANIFEST, text, max)?;
    let mut bases = Vec::new();
    for base in manifest.bases.unwrap_or_default() {
        flatten(&mut bases, base);
    }
    Ok(bases)
}

fn flatten(into: &mut Vec<CharmBase>, base: BaseYaml) {
    let architectures = base
        .architectures
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| vec![DEFAULT_ARCHITECTURE.to_owned()]);
    for architecture in architectures {
        push(into, &base.name, &base.channel, architecture);
    }
}

fn push(into: &mut Vec<CharmBase>, name: &str, channel: &str, architecture: String) {
    let base = CharmBase {
        name: name.to_owned(),
        channel: channel.to_owned(),
        architecture,
    };
    if !into.contains(&base) {
        into.push(base);
    }
}

/// The parts of `charmcraft.yaml` that say where the charm runs.
#[derive(Deserialize)]
struct CharmcraftYaml {
    bases: Option<Vec<CharmcraftBase>>,
    base: Option<String>,
    platforms: Option<Ordered<Option<PlatformYaml>>>,
}

/// A `bases` entry: the short form `{name, channel, architectures}` or the long form
/// `{build-on: [..], run-on: [..]}`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CharmcraftBase {
    name: Option<String>,
    channel: Option<String>,
    architectures: Option<Vec<String>>,
    run_on: Option<Vec<BaseYaml>>,
    #[allow(dead_code)]
    build_on: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PlatformYaml {
    build_for: Option<OneOrMany>,
    #[allow(dead_code)]
    build_on: Option<IgnoredAny>,
}

fn charmcraft_bases(text: &str, max: u64) -> Result<Vec<CharmBase>, InspectError> {
    let charmcraft: CharmcraftYaml = yaml::parse(CHARMCRAFT, text, max)?;
    let mut bases = Vec::new();
    if let Some(list) = charmcraft.bases {
        for entry in list {
            if let Some(run_on) = entry.run_on {
                for base in run_on {
                    flatten(&mut bases, base);
                }
            } else if let (Some(name), Some(channel)) = (entry.name, entry.channel) {
                flatten(
                    &mut bases,
                    BaseYaml {
                        name,
                        channel,
                        architectures: entry.architectures,
                    },
                );
            } else {
                return Err(InspectError::malformed(
                    CHARMCRAFT,
                    "a `bases` entry has neither `name` and `channel` nor `run-on`",
                ));
            }
        }
        return Ok(bases);
    }
    let Some(Ordered(platforms)) = charmcraft.platforms else {
        return Ok(bases);
    };
    let default_base = charmcraft.base.as_deref();
    for (platform, spec) in platforms {
        let targets = match spec.and_then(|s| s.build_for) {
            Some(OneOrMany(targets)) => targets,
            None => vec![platform],
        };
        for target in targets {
            // `ubuntu@22.04:amd64`, or `amd64` with the top-level `base`.
            let (base, architecture) = match target.rsplit_once(':') {
                Some((base, architecture)) => (base, architecture),
                None => match default_base {
                    Some(base) => (base, target.as_str()),
                    None => {
                        return Err(InspectError::malformed(
                            CHARMCRAFT,
                            format!(
                                "platform `{target}` names no base and there is no top-level `base`"
                            ),
                        ));
                    }
                },
            };
            let Some((name, channel)) = base.split_once('@') else {
                return Err(InspectError::malformed(
                    CHARMCRAFT,
                    format!("base `{base}` is not of the form `name@channel`"),
                ));
            };
            push(&mut bases, name, channel, architecture.to_owned());
        }
    }
    Ok(bases)
}

/// A mapping kept in document order.
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: DeserializeOwned> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);
        impl<'de, V: DeserializeOwned> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(PhantomData))
    }
}

/// A string or a list of strings.
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor;
        impl<'de> Visitor<'de> for OneOrManyVisitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![value.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arches(bases: &[CharmBase]) -> Vec<String> {
        bases
            .iter()
            .map(|b| format!("{}@{}:{}", b.name, b.channel, b.architecture))
            .collect()
    }

    #[test]
    fn manifest_channels_keep_their_text() {
        let text = "bases:\n- name: ubuntu\n  channel: 20.10\n  architectures: [amd64]\n\
                    - name: ubuntu\n  channel: 22.04\n  architectures: [amd64, arm64]\n";
        let bases = manifest_bases(text, 1 << 20).unwrap();
        assert_eq!(
            arches(&bases),
            [
                "ubuntu@20.10:amd64",
                "ubuntu@22.04:amd64",
                "ubuntu@22.04:arm64"
            ]
        );
    }

    #[test]
    fn charmcraft_forms() {
        let long = "bases:\n- build-on: [{name: ubuntu, channel: '22.04'}]\n  run-on:\n  \
                    - {name: ubuntu, channel: 22.04, architectures: [arm64]}\n";
        assert_eq!(
            arches(&charmcraft_bases(long, 1 << 20).unwrap()),
            ["ubuntu@22.04:arm64"]
        );
        let short = "bases:\n- {name: ubuntu, channel: 20.04}\n";
        assert_eq!(
            arches(&charmcraft_bases(short, 1 << 20).unwrap()),
            ["ubuntu@20.04:amd64"]
        );
        let platforms = "base: ubuntu@24.04\nplatforms:\n  amd64:\n  arm64:\n  \
                         ubuntu@22.04:s390x:\n  other:\n    build-on: [ubuntu@22.04:amd64]\n    \
                         build-for: [ubuntu@22.04:ppc64el]\n";
        assert_eq!(
            arches(&charmcraft_bases(platforms, 1 << 20).unwrap()),
            [
                "ubuntu@24.04:amd64",
                "ubuntu@24.04:arm64",
                "ubuntu@22.04:s390x",
                "ubuntu@22.04:ppc64el"
            ]
        );
        let no_base = "platforms:\n  amd64:\n";
        assert_eq!(
            charmcraft_bases(no_base, 1 << 20).unwrap_err().code(),
            "malformed-metadata"
        );
    }
}
