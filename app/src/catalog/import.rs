//! `depot admin import`: bulk-loads package metadata from a catalog file (the `apps.jsonl` /
//! `packages.jsonl[.gz]` shapes) through the normal write path — register, push a revision,
//! release to `latest/stable`, set categories — so imported packages are ordinary packages
//! with a change-log history, found by search, info and refresh.
//!
//! Imported revisions carry no real artifact: they all point at one small placeholder blob
//! (content-addressed, stored once), so their download URLs work but serve that placeholder.

use std::sync::Arc;

use futures::StreamExt;

use crate::blobs::BlobStore;
use crate::domain::{Channel, Epoch, Namespace, PackageName, Risk};
use crate::search::eval::CatalogRecord;
use crate::store::{
    ArtifactText, MetadataUpdate, NewAccount, NewPackage, NewRevision, NewUpload, ReleaseItem,
    ReleaseRequest, Store,
};

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub imported: usize,
    /// Already registered (a re-run skips them).
    pub existing: usize,
    /// Names that break the snap naming rules.
    pub invalid: Vec<String>,
}

/// The bytes every imported revision points at.
pub const PLACEHOLDER: &[u8] = b"depot catalog import: this revision has no artifact\n";

/// Imports `records` as snaps published by `publisher` (created if missing), `parallel`
/// packages at a time.
pub async fn import(
    store: Arc<dyn Store>,
    blobs: &dyn BlobStore,
    records: Vec<CatalogRecord>,
    publisher: &str,
    parallel: usize,
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
    let mut valid = Vec::new();
    for r in records {
        if PackageName::parse(&r.name).is_ok() {
            valid.push(r);
        } else {
            summary.invalid.push(r.name.clone());
        }
    }
    let account_id = account.id.clone();
    let results: Vec<Result<bool, String>> = futures::stream::iter(valid)
        .map(|r| {
            let store = store.clone();
            let blob = blob.clone();
            let account_id = account_id.clone();
            async move { import_one(store.as_ref(), &blob, &account_id, r).await }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    for r in results {
        match r? {
            true => summary.imported += 1,
            false => summary.existing += 1,
        }
    }
    Ok(summary)
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

async fn import_one(
    store: &dyn Store,
    blob: &crate::blobs::BlobInfo,
    account_id: &str,
    r: CatalogRecord,
) -> Result<bool, String> {
    let err = |e: crate::store::StoreError| format!("{}: {e}", r.name);
    if store
        .package_id(Namespace::Snap, &r.name)
        .await
        .map_err(err)?
        .is_some()
    {
        return Ok(false);
    }
    let (package, _) = store
        .register_package(NewPackage {
            namespace: Namespace::Snap,
            name: r.name.clone(),
            publisher_id: account_id.to_string(),
            private: false,
        })
        .await
        .map_err(err)?;
    let upload_id = uuid::Uuid::new_v4().to_string();
    store
        .stage_upload(NewUpload {
            id: upload_id.clone(),
            sha3_384: blob.sha3_384.clone(),
            sha256: blob.sha256.clone(),
            sha384: blob.sha384.clone(),
            size: blob.size,
            created_by: Some(account_id.to_string()),
        })
        .await
        .map_err(err)?;
    let arch = match r.architecture.as_deref() {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => "all".to_string(),
    };
    let (revision, _) = store
        .push_revision(NewRevision {
            package_id: package.id.clone(),
            upload_id,
            version: clip(r.version.as_deref().unwrap_or("imported"), 32),
            architectures: vec![arch],
            bases: vec![],
            base: Some("core22".into()),
            confinement: Some("strict".into()),
            grade: Some("stable".into()),
            kind: "app".into(),
            epoch: Epoch::default(),
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
            created_by: account_id.to_string(),
        })
        .await
        .map_err(err)?;
    store
        .release(ReleaseRequest {
            package_id: package.id.clone(),
            items: vec![ReleaseItem {
                channel: Channel::new("latest", Risk::Stable, None),
                revision: Some(revision.revision),
                progressive_percentage: None,
                resources: vec![],
            }],
            released_by: account_id.to_string(),
            branch_lifetime_secs: crate::domain::BRANCH_LIFETIME_SECS,
        })
        .await
        .map_err(err)?;
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
    if !categories.is_empty() {
        store
            .update_metadata(
                &package.id,
                MetadataUpdate {
                    categories: Some(categories),
                    ..MetadataUpdate::default()
                },
            )
            .await
            .map_err(err)?;
    }
    Ok(true)
}
