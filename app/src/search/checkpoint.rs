//! A checkpoint of the search index in one file: the index's segment files and the side table
//! re-ranking reads, stamped with the change-log position they include.
//!
//! Building the index is most of a cold start (analysing and indexing every package's text).
//! With a checkpoint, a start reads the file while the catalog is read from the database, and
//! applies to the index only the packages changed since the stamp (the change log is gapless,
//! so that is exact). Anything that does not match exactly (another format or tantivy version,
//! another schema or analysis, a damaged file, a stamp the database does not have) means "no
//! checkpoint": the index is built from the catalog as before. Checkpoints are never a source
//! of truth. Another depot version reads it when its format is the same: a change to what is
//! indexed bumps `FORMAT` (a test fails until it does), so an upgrade that changes nothing
//! indexed starts from the checkpoint its predecessor wrote.
//!
//! Layout: `MAGIC`, `FORMAT` (u32), a JSON header (u32 length, then the bytes), the files the
//! header lists in order, the side table ([`encode_side`]), and a CRC-32 of everything before
//! it. Integers are little-endian.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tantivy::directory::error::OpenReadError;
use tantivy::directory::{Directory, OwnedBytes, RamDirectory};
use tantivy::{Index, IndexMeta};

use std::sync::atomic::Ordering;

use super::{DocInfo, FastMap, Result, SearchError, SearchIndex, Side};

const MAGIC: &[u8; 8] = b"DEPOTSIX";
/// Bump whenever what is indexed for a document or how changes (the schema, the analysers,
/// [`SearchIndex::prepare`], this layout): a checkpoint of another format is not read. The test
/// `what_documents_index_is_pinned_to_the_checkpoint_format` fails until it is bumped.
pub(super) const FORMAT: u32 = 1;
const META: &str = "meta.json";
const MANAGED: &str = ".managed.json";

/// Where a checkpoint stands in the change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// The index includes every change up to this one.
    pub seq: i64,
    /// What identifies change `seq` in the log (its kind, package and time): a checkpoint of
    /// another database, or of one since restored from an older backup, does not match it.
    pub change: String,
    /// No document of the index was made before this time (unix seconds): a release that
    /// expired since may have changed what is findable without a change in the log.
    pub fresh_as_of: i64,
}

/// One of the index's files: its name and its bytes as written.
type IndexFile = (String, OwnedBytes);

#[derive(Serialize, Deserialize)]
struct Header {
    /// The depot that wrote it (for whoever reads the file; another version may read it).
    depot: String,
    tantivy: String,
    /// What the analysers make of a sample text: another stemmer gives another index.
    analysis: Vec<String>,
    schema: String,
    stamp: Stamp,
    /// Index files, by name, with their lengths.
    files: Vec<(String, u64)>,
    side: u64,
}

fn damaged(what: impl Into<String>) -> SearchError {
    SearchError::Checkpoint(what.into())
}

impl From<std::io::Error> for SearchError {
    fn from(err: std::io::Error) -> Self {
        SearchError::Checkpoint(err.to_string())
    }
}

/// A consistent copy of an index, taken by [`SearchIndex::checkpoint`], to write to a file.
pub struct Checkpoint {
    seq: i64,
    fresh_as_of: i64,
    schema: String,
    analysis: Vec<String>,
    files: Vec<IndexFile>,
    side: Vec<u8>,
}

impl Checkpoint {
    /// The change-log position the copy includes every change up to.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// Writes the checkpoint to `path` (a temporary file beside it, synced, then renamed over
    /// it), stamped with `change`, what identifies change [`Checkpoint::seq`] in the log.
    /// Returns the file's size.
    pub fn write(&self, path: &Path, change: String) -> Result<u64> {
        let header = Header {
            depot: env!("CARGO_PKG_VERSION").to_string(),
            tantivy: tantivy::version_string().to_string(),
            analysis: self.analysis.clone(),
            schema: self.schema.clone(),
            stamp: Stamp {
                seq: self.seq,
                change,
                fresh_as_of: self.fresh_as_of,
            },
            files: self
                .files
                .iter()
                .map(|(name, bytes)| (name.clone(), bytes.len() as u64))
                .collect(),
            side: self.side.len() as u64,
        };
        let header = serde_json::to_vec(&header).map_err(|e| damaged(e.to_string()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("checkpoint");
        remove_stale_temporaries(path, name);
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| -> std::io::Result<u64> {
            let mut out = Crc32Writer::new(std::io::BufWriter::new(std::fs::File::create(&tmp)?));
            out.write_all(MAGIC)?;
            out.write_all(&FORMAT.to_le_bytes())?;
            out.write_all(&(header.len() as u32).to_le_bytes())?;
            out.write_all(&header)?;
            for (_, bytes) in &self.files {
                out.write_all(bytes.as_slice())?;
            }
            out.write_all(&self.side)?;
            let (mut file, crc, len) = out.finish();
            file.write_all(&crc.to_le_bytes())?;
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(len + 4)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(written?)
    }
}

impl SearchIndex {
    /// A copy of the committed index's files, its side table and its position, consistent
    /// with each other: taken once the last merge [`SearchIndex::compact`] started is done,
    /// with the writer held (no commit meanwhile), and again if a merge of tantivy's own
    /// replaced the segments while the files were being read.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let merge = self
            .merge
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?
            .take();
        if let Some(merge) = merge {
            let _ = merge.join();
        }
        let _writer = self
            .writer
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        if self.damaged.load(Ordering::Relaxed) {
            return Err(damaged(
                "an update of the index failed, so it may miss changes: not checkpointed",
            ));
        }
        for _ in 0..8 {
            let metas = self.index.load_metas()?;
            let meta = serde_json::to_vec(&metas).map_err(|e| damaged(e.to_string()))?;
            let mut files = vec![(META.to_string(), OwnedBytes::new(meta))];
            let mut names: Vec<_> = metas.list_segment_files().into_iter().collect();
            names.sort();
            for name in names {
                // As written, with tantivy's footer (the managed directory's reads drop it).
                match self.files.open_read(&name) {
                    Ok(slice) => {
                        files.push((name.to_string_lossy().into_owned(), slice.read_bytes()?))
                    }
                    // A component this segment does not have (positions, a temporary store).
                    Err(OpenReadError::FileDoesNotExist(_)) => {}
                    Err(err) => return Err(damaged(err.to_string())),
                }
            }
            if same_segments(&metas, &self.index.load_metas()?) {
                let side = self
                    .side
                    .read()
                    .map_err(|e| SearchError::Poisoned(e.to_string()))?;
                return Ok(Checkpoint {
                    seq: self.applied.load(Ordering::Relaxed),
                    fresh_as_of: self.fresh_as_of.load(Ordering::Relaxed),
                    schema: schema_json(&self.index.schema())?,
                    analysis: analysis_probe(&self.index, &self.f)?,
                    files,
                    side: encode_side(&side),
                });
            }
        }
        Err(damaged(
            "the index's segments kept changing while being read",
        ))
    }

    /// Reads the checkpoint at `path` into a new in-memory index: `Ok(None)` when there is
    /// none, an error when it cannot be used (damaged; of another format, tantivy version,
    /// schema or analysis).
    pub fn read_checkpoint(path: &Path) -> Result<Option<(SearchIndex, Stamp)>> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let (header, mut body) = parse(&bytes)?;
        if header.schema != schema_json(&super::schema().0)? {
            return Err(damaged("written with another index schema"));
        }
        if header.tantivy != tantivy::version_string() {
            return Err(damaged(format!(
                "written with tantivy {}, this is {}",
                header.tantivy,
                tantivy::version_string()
            )));
        }
        let ram = RamDirectory::create();
        let mut managed = Vec::new();
        for (name, len) in &header.files {
            let data = body.take(usize::try_from(*len).map_err(|e| damaged(e.to_string()))?)?;
            if name == MANAGED || name.contains('/') {
                return Err(damaged(format!("unexpected file {name}")));
            }
            if name != META {
                managed.push(name.clone());
            }
            ram.atomic_write(Path::new(name), data)?;
        }
        // Listed as tantivy's own, so that they are deleted once merged away.
        let managed = serde_json::to_vec(&managed).map_err(|e| damaged(e.to_string()))?;
        ram.atomic_write(Path::new(MANAGED), &managed)?;
        let side = decode_side(
            body.take(usize::try_from(header.side).map_err(|e| damaged(e.to_string()))?)?,
        )?;
        if !body.rest.is_empty() {
            return Err(damaged("trailing bytes after the side table"));
        }
        let index = Index::open(ram.clone())?;
        if header.analysis != analysis_probe(&index, &super::schema().1)? {
            return Err(damaged("written with analysers that read text otherwise"));
        }
        let documents = side.by_key.len() as u64;
        let search = SearchIndex::serve(index, ram, side)?;
        if search.len() != documents {
            return Err(damaged(format!(
                "{} documents in the index but {documents} in the side table",
                search.len()
            )));
        }
        search.set_position(header.stamp.seq, header.stamp.fresh_as_of)?;
        Ok(Some((search, header.stamp)))
    }
}

/// Temporary files that writes which never finished (a crash, a full disk) left beside `path`.
/// Only old ones: another process sharing the directory may be writing its own.
fn remove_stale_temporaries(path: &Path, name: &str) {
    const STALE: std::time::Duration = std::time::Duration::from_secs(3600);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE));
        if file.starts_with(&prefix) && file.ends_with(".tmp") && stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A sample text through `index`'s name and stemming analysers.
fn analysis_probe(index: &Index, f: &super::Fields) -> Result<Vec<String>> {
    let mut analyzers = super::Analyzers::of(index, f)?;
    const SAMPLE: &str = "Running editors' Über-fast GitHubClient, 3D modelling & écoles";
    let mut words = super::tokens(&mut analyzers.plain, SAMPLE);
    words.extend(super::tokens(&mut analyzers.stem, SAMPLE));
    Ok(words)
}

fn schema_json(schema: &tantivy::schema::Schema) -> Result<String> {
    serde_json::to_string(schema).map_err(|e| damaged(e.to_string()))
}

fn same_segments(a: &IndexMeta, b: &IndexMeta) -> bool {
    let ids = |m: &IndexMeta| {
        m.segments
            .iter()
            .map(|s| (s.id(), s.delete_opstamp()))
            .collect::<Vec<_>>()
    };
    a.opstamp == b.opstamp && ids(a) == ids(b)
}

/// Checks the frame (magic, format, checksum) and returns the header and what follows it.
fn parse(bytes: &[u8]) -> Result<(Header, Bytes<'_>)> {
    let Some((framed, crc)) = bytes.split_last_chunk::<4>() else {
        return Err(damaged("truncated"));
    };
    if crc32fast::hash(framed) != u32::from_le_bytes(*crc) {
        return Err(damaged("checksum mismatch (truncated or damaged)"));
    }
    let mut b = Bytes { rest: framed };
    if b.take(MAGIC.len())? != MAGIC {
        return Err(damaged("not a depot search index checkpoint"));
    }
    let format = b.u32()?;
    if format != FORMAT {
        return Err(damaged(format!(
            "format {format}, this depot reads {FORMAT}"
        )));
    }
    let len = b.u32()? as usize;
    let header = serde_json::from_slice(b.take(len)?).map_err(|e| damaged(e.to_string()))?;
    Ok((header, b))
}

/// The side table: the next key, the number of documents, then per document its key, id,
/// name, lower-case title, words, term hashes and pair hashes (strings and lists prefixed by
/// their length as a u32). Popularity is not kept: it is read from the download counts.
fn encode_side(side: &Side) -> Vec<u8> {
    let mut out = Vec::with_capacity(side.by_key.len() * 256);
    fn str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&side.next_key.to_le_bytes());
    out.extend_from_slice(&(side.by_key.len() as u64).to_le_bytes());
    for (key, info) in &side.by_key {
        out.extend_from_slice(&key.to_le_bytes());
        str(&mut out, &info.id);
        str(&mut out, &info.name);
        str(&mut out, &info.title_lc);
        out.extend_from_slice(&(info.words.len() as u32).to_le_bytes());
        for word in &info.words {
            str(&mut out, &word.text);
        }
        for hashes in [&info.terms, &info.pairs] {
            out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
            for h in hashes.iter() {
                out.extend_from_slice(&h.to_le_bytes());
            }
        }
    }
    out
}

fn decode_side(bytes: &[u8]) -> Result<Side> {
    let mut b = Bytes { rest: bytes };
    let next_key = b.u64()?;
    let count = usize::try_from(b.u64()?).map_err(|e| damaged(e.to_string()))?;
    // Bounded by what the bytes can hold (a document takes at least 28 of them).
    let capacity = count.min(bytes.len() / 28);
    let mut by_key = FastMap::with_capacity_and_hasher(capacity, Default::default());
    let mut key_of = FastMap::with_capacity_and_hasher(capacity, Default::default());
    for _ in 0..count {
        let key = b.u64()?;
        let id: std::sync::Arc<str> = b.str()?.into();
        let name: std::sync::Arc<str> = b.str()?.into();
        let title_lc = b.str()?.to_string();
        let words = (0..b.u32()?)
            .map(|_| b.str().map(|w| super::Spelling::new(w.into())))
            .collect::<Result<Box<[super::Spelling]>>>()?;
        let terms = b.hashes()?;
        let pairs = b.hashes()?;
        if key >= next_key || key_of.insert(id.to_string(), key).is_some() {
            return Err(damaged("inconsistent side table"));
        }
        by_key.insert(key, DocInfo::new(id, name, title_lc, words, terms, pairs));
    }
    if !b.rest.is_empty() || by_key.len() != count {
        return Err(damaged("inconsistent side table"));
    }
    Ok(Side {
        by_key,
        key_of,
        next_key,
    })
}

/// A bounds-checked reader over a byte slice.
struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(damaged("truncated"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn str(&mut self) -> Result<&'a str> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|e| damaged(e.to_string()))
    }

    fn hashes(&mut self) -> Result<Box<[u32]>> {
        let len = self.u32()? as usize;
        let bytes = self.take(len.checked_mul(4).ok_or_else(|| damaged("truncated"))?)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Writes through to `inner`, keeping a CRC-32 and a count of the bytes written.
struct Crc32Writer<W> {
    inner: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Crc32Writer<W> {
    fn new(inner: W) -> Self {
        Crc32Writer {
            inner,
            crc: crc32fast::Hasher::new(),
            len: 0,
        }
    }

    fn finish(self) -> (W, u32, u64) {
        (self.inner, self.crc.finalize(), self.len)
    }
}

impl<W: Write> Write for Crc32Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
