//! `depot admin import`: bulk-loads package metadata from a catalog file (the `apps.jsonl` /
//! `packages.jsonl[.gz]` shapes) through the normal write path — registered, revision 1,
//! released to `latest/stable`, categorised, each with its own entry in the change log, many
//! packages per transaction — so imported packages are ordinary packages, found by search,
//! info and refresh.
//!
//! Imported revisions carry no real artifact: they all point at one small placeholder blob
//! (content-addressed, stored once), so their download URLs work but serve that placeholder.

use std::sync::Arc;

use crate::blobs::BlobStore;
use crate::domain::{Channel, Namespace, PackageName, Risk};
use crate::search::eval::CatalogRecord;
use crate::store::{ArtifactText, ImportPackage, NewAccount, NewUpload, Store};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: usize,
    /// Already registered (a re-run skips them).
    pub existing: usize,
    /// Names that break the snap naming rules and could not be mapped onto one.
    pub invalid: Vec<String>,
    /// Names that break the snap naming rules, imported under [`snap_name_for`]'s name (the
    /// original becomes the title when the record has none).
    pub renamed: usize,
}

/// The bytes every imported revision points at.
pub const PLACEHOLDER: &[u8] = b"depot catalog import: this revision has no artifact\n";

/// Packages written per transaction by default: large enough that commits are not the cost,
/// small enough that a live server's other writers wait only a moment for the change counter.
pub const DEFAULT_BATCH: usize = 500;

/// Imports `records` as snaps published by `publisher` (created if missing), `batch`
/// packages per transaction (`Store::import_packages`), calling `progress` after each.
pub async fn import(
    store: Arc<dyn Store>,
    blobs: &dyn BlobStore,
    records: Vec<CatalogRecord>,
    publisher: &str,
    batch: usize,
    mut progress: impl FnMut(&ImportSummary),
) -> Result<ImportSummary, String> {
    let account = match store
        .account_by_username(publisher)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(a) => a,
        None => {
            store
                .create_account(NewAccount {
                    username: publisher.to_string(),
                    display_name: publisher.to_string(),
                    email: None,
                })
                .await
                .map_err(|e| e.to_string())?
                .0
        }
    };
    let blob = blobs
        .put(&mut &PLACEHOLDER[..], PLACEHOLDER.len() as u64)
        .await
        .map_err(|e| e.to_string())?;
    let mut summary = ImportSummary::default();
    // Names valid as they are keep them; the others are mapped afterwards, onto what is left.
    let mut taken: std::collections::HashSet<String> = records
        .iter()
        .filter(|r| PackageName::parse(&r.name).is_ok())
        .map(|r| r.name.clone())
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut packages = Vec::with_capacity(records.len());
    for mut r in records {
        if PackageName::parse(&r.name).is_err() {
            let Some(name) = snap_name_for(&r.name, &taken) else {
                summary.invalid.push(r.name.clone());
                continue;
            };
            taken.insert(name.clone());
            if r.title.as_deref().is_none_or(str::is_empty) {
                r.title = Some(r.name.clone());
            }
            r.name = name;
            summary.renamed += 1;
        }
        if !seen.insert(r.name.clone()) {
            // A file naming a package twice: the first record wins, as a re-run would.
            summary.existing += 1;
        } else {
            packages.push(to_import(&blob, &account.id, r));
        }
    }
    let mut packages = packages.into_iter().peekable();
    while packages.peek().is_some() {
        let chunk: Vec<ImportPackage> = packages.by_ref().take(batch.max(1)).collect();
        let (imported, _) = store
            .import_packages(chunk)
            .await
            .map_err(|e| e.to_string())?;
        for new in imported {
            if new {
                summary.imported += 1;
            } else {
                summary.existing += 1;
            }
        }
        progress(&summary);
    }
    Ok(summary)
}

/// A snap name for a catalog name that is not one (Debian's `g++`, `python3.11`, names over 40
/// characters, `2048`): lower case, every run of other characters one hyphen, `pkg-` in front
/// of a name without a letter, cut to the length limit, and `-2`, `-3`… when that is `taken`.
/// Deterministic for a given file. `None` when nothing usable is left.
pub fn snap_name_for(name: &str, taken: &std::collections::HashSet<String>) -> Option<String> {
    let mut base = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            base.push(c);
        } else if !base.is_empty() && !base.ends_with('-') {
            base.push('-');
        }
    }
    let base = base.trim_end_matches('-');
    if base.is_empty() {
        return None;
    }
    let base = if base.bytes().any(|b| b.is_ascii_lowercase()) {
        base.to_string()
    } else {
        format!("pkg-{base}")
    };
    let fit = |stem: &str, room: usize| -> String {
        stem[..stem.len().min(room)]
            .trim_end_matches('-')
            .to_string()
    };
    let max = crate::domain::name::MAX_NAME_LEN;
    (1..1000).find_map(|n| {
        let candidate = if n == 1 {
            fit(&base, max)
        } else {
            let suffix = format!("-{n}");
            format!("{}{suffix}", fit(&base, max - suffix.len()))
        };
        (PackageName::parse(&candidate).is_ok() && !taken.contains(&candidate)).then_some(candidate)
    })
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn to_import(blob: &crate::blobs::BlobInfo, account_id: &str, r: CatalogRecord) -> ImportPackage {
    let arch = match r.architecture.as_deref() {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => "all".to_string(),
    };
    let categories: Vec<String> = r
        .all_categories()
        .into_iter()
        .map(|c| {
            c.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .take(64)
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|c| !c.is_empty())
        .take(20)
        .collect();
    ImportPackage {
        namespace: Namespace::Snap,
        name: r.name.clone(),
        publisher_id: account_id.to_string(),
        upload: NewUpload {
            id: uuid::Uuid::new_v4().to_string(),
            sha3_384: blob.sha3_384.clone(),
            sha256: blob.sha256.clone(),
            sha384: blob.sha384.clone(),
            size: blob.size,
            created_by: Some(account_id.to_string()),
        },
        version: clip(r.version.as_deref().unwrap_or("imported"), 32),
        architectures: vec![arch],
        base: Some("core22".into()),
        confinement: Some("strict".into()),
        grade: Some("stable".into()),
        kind: "app".into(),
        metadata: serde_json::json!({
            "imported": true,
            "keywords": r.all_keywords(),
            "rdepends": r.rdepends,
        }),
        text: ArtifactText {
            title: r.title.clone().map(|t| clip(&t, 40)),
            summary: clip(&r.summary, 78),
            description: clip(r.description.as_deref().unwrap_or(""), 4096),
            license: r.license.clone(),
            website: r.website.clone(),
            contact: None,
        },
        channel: Channel::new("latest", Risk::Stable, None),
        categories,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::snap_name_for;

    #[test]
    fn names_that_are_not_snap_names_are_mapped_onto_free_ones() {
        let taken: HashSet<String> = ["python3-11", "gcc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let name = |n: &str| snap_name_for(n, &taken);
        assert_eq!(name("aclock.app").as_deref(), Some("aclock-app"));
        assert_eq!(name("afl++-clang").as_deref(), Some("afl-clang"));
        assert_eq!(name("Bad_Name").as_deref(), Some("bad-name"));
        assert_eq!(name("2048").as_deref(), Some("pkg-2048"));
        assert_eq!(name("python3.11").as_deref(), Some("python3-11-2"), "taken");
        assert_eq!(
            name("g++").as_deref(),
            Some("g-2"),
            "one letter is too short"
        );
        let long = "android-platform-frameworks-native-headers";
        assert_eq!(
            name(long).as_deref(),
            Some("android-platform-frameworks-native-heade")
        );
        assert_eq!(name("+++"), None);
        assert_eq!(name(""), None);
    }
}
