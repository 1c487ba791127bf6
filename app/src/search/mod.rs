//! Package search: an in-memory tantivy index over the catalog, kept in step with it change by
//! change, and a name-aware re-ranking on top.
//!
//! Ranking happens in two phases.
//!
//! 1. **Retrieval** (tantivy, BM25): every query word is looked up in the name, title,
//!    keywords and categories, summary, description and publisher fields with per-field
//!    boosts; words of four letters or more are also matched against names and titles with
//!    one typo (two from nine letters), and the last word as a prefix of a name or title word
//!    (search-as-you-type). The whole query, as a name, is an exact-name clause. Filters
//!    (namespace, type, category, architecture, channel, confinement, publisher) are required
//!    terms. The best [`CANDIDATES`] documents go on.
//! 2. **Re-ranking** of those candidates: the text score, normalised to the best candidate,
//!    gets bonuses for the name matching the query exactly (which pins it first), for the name
//!    starting with the query, for the name being one or two typos away from it, for the
//!    title equalling the query; then a bounded popularity prior (logarithm of the download
//!    count relative to the most downloaded candidate) multiplies it.
//!
//! The same [`SearchIndex`] answers `GET /v2/snaps/find`, `GET /v2/charms/find`,
//! `GET /v1/search` and `depot eval search`.

pub mod doc;
pub mod eval;
pub mod snippet;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

pub use doc::SearchDoc;

use crate::domain::Namespace;

/// Documents retrieved by BM25 and re-ranked by name and popularity.
pub const CANDIDATES: usize = 200;
/// The deepest result a query may page to.
pub const MAX_WINDOW: usize = 1000;

/// Retrieval boosts per field.
const W_NAME: f32 = 4.0;
const W_TITLE: f32 = 3.0;
const W_KEYWORDS: f32 = 2.0;
const W_SUMMARY: f32 = 1.6;
const W_DESCRIPTION: f32 = 0.5;
const W_PUBLISHER: f32 = 0.5;
/// Constant-score clauses (typo, prefix): in BM25 units.
const W_FUZZY_NAME: f32 = 2.0;
const W_FUZZY_TITLE: f32 = 1.0;
const W_PREFIX_NAME: f32 = 1.5;
const W_PREFIX_TITLE: f32 = 0.7;
const W_EXACT: f32 = 50.0;

/// Re-ranking bonuses, in units of the best candidate's text score.
const B_EXACT: f32 = 100.0;
const B_TITLE_EXACT: f32 = 1.0;
const B_NAME_TYPO: f32 = 1.2;
const B_NAME_PREFIX: f32 = 1.0;
/// How much the popularity prior can multiply a score by (1 + this).
const POPULARITY_WEIGHT: f32 = 0.35;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Poisoned(String),
}

pub type Result<T, E = SearchError> = std::result::Result<T, E>;

/// What to look for.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Free text; empty lists everything that passes the filters, most popular first.
    pub text: String,
    /// Only names starting with this (snapd's `name=foo*`).
    pub name_prefix: Option<String>,
    pub namespace: Option<Namespace>,
    pub kind: Option<String>,
    pub category: Option<String>,
    /// Packages with a release for this architecture (or for `all`).
    pub architecture: Option<String>,
    /// `risk` (on the default track) or `track/risk`.
    pub channel: Option<String>,
    /// Any of these confinements.
    pub confinements: Vec<String>,
    /// Publisher username.
    pub publisher: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

/// One result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: Arc<str>,
    pub name: Arc<str>,
    pub score: f32,
}

#[derive(Clone, Debug, Default)]
pub struct SearchResults {
    /// Documents matching the query and filters.
    pub total: usize,
    pub hits: Vec<Hit>,
}

struct Fields {
    key: Field,
    id: Field,
    namespace: Field,
    name_raw: Field,
    name: Field,
    title: Field,
    keywords: Field,
    summary: Field,
    description: Field,
    publisher: Field,
    publisher_raw: Field,
    kind: Field,
    category: Field,
    architecture: Field,
    channel: Field,
    confinement: Field,
}

/// What re-ranking needs to know about a document, by the index's document key.
struct DocInfo {
    id: Arc<str>,
    name: Arc<str>,
    title_lc: String,
}

#[derive(Default)]
struct Side {
    by_key: HashMap<u64, DocInfo>,
    key_of: HashMap<String, u64>,
    next_key: u64,
}

/// The search index. Cheap to query from many threads; updates are serialised.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    side: RwLock<Side>,
    /// Download counts (or another popularity signal) by package id.
    popularity: RwLock<HashMap<String, f64>>,
}

fn lc(s: &str) -> String {
    s.to_lowercase()
}

/// The canonical name form of a query: lower case, words joined by `-`.
pub fn canonical_name(q: &str) -> String {
    q.split(|c: char| c.is_whitespace() || c == '_')
        .filter(|w| !w.is_empty())
        .map(lc)
        .collect::<Vec<_>>()
        .join("-")
}

/// Optimal-string-alignment distance (a transposition is one edit), giving up past `max`.
pub fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let w = b.len() + 1;
    let mut prev2 = vec![0usize; w];
    let mut prev: Vec<usize> = (0..w).collect();
    let mut cur = vec![0usize; w];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Typos allowed in a word of `len` characters (Meilisearch's defaults, one from four).
fn typos_for(len: usize) -> u8 {
    match len {
        0..=3 => 0,
        4..=8 => 1,
        _ => 2,
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |tokenizer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(tokenizer)
                .set_index_option(IndexRecordOption::WithFreqs),
        )
    };
    let f = Fields {
        key: b.add_u64_field("key", FAST),
        id: b.add_text_field("id", STRING),
        namespace: b.add_text_field("namespace", STRING),
        name_raw: b.add_text_field("name_raw", STRING),
        name: b.add_text_field("name", text("default")),
        title: b.add_text_field("title", text("en_stem")),
        keywords: b.add_text_field("keywords", text("en_stem")),
        summary: b.add_text_field("summary", text("en_stem")),
        description: b.add_text_field("description", text("en_stem")),
        publisher: b.add_text_field("publisher", text("default")),
        publisher_raw: b.add_text_field("publisher_raw", STRING),
        kind: b.add_text_field("kind", STRING),
        category: b.add_text_field("category", STRING),
        architecture: b.add_text_field("architecture", STRING),
        channel: b.add_text_field("channel", STRING),
        confinement: b.add_text_field("confinement", STRING),
    };
    (b.build(), f)
}

/// Writer memory while building the whole index at once, and afterwards for changes.
const BUILD_HEAP: usize = 256 * 1024 * 1024;
const UPDATE_HEAP: usize = 32 * 1024 * 1024;

impl SearchIndex {
    /// Builds the index over `docs` in one commit.
    pub fn build(docs: impl IntoIterator<Item = SearchDoc>) -> Result<SearchIndex> {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        let mut side = Side::default();
        {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4);
            let mut writer: IndexWriter = index.writer_with_num_threads(threads, BUILD_HEAP)?;
            for doc in docs {
                let d = Self::document(&f, &mut side, &doc);
                writer.add_document(d)?;
            }
            writer.commit()?;
            writer.wait_merging_threads()?;
        }
        let writer: IndexWriter = index.writer_with_num_threads(1, UPDATE_HEAP)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            f,
            side: RwLock::new(side),
            popularity: RwLock::new(HashMap::new()),
        })
    }

    fn document(f: &Fields, side: &mut Side, doc: &SearchDoc) -> tantivy::TantivyDocument {
        let key = side.next_key;
        side.next_key += 1;
        side.by_key.insert(
            key,
            DocInfo {
                id: Arc::from(doc.id.as_str()),
                name: Arc::from(doc.name.as_str()),
                title_lc: lc(&doc.title),
            },
        );
        side.key_of.insert(doc.id.clone(), key);
        let mut d = tantivy::TantivyDocument::default();
        d.add_u64(f.key, key);
        d.add_text(f.id, &doc.id);
        if let Some(ns) = doc.namespace {
            d.add_text(f.namespace, ns.as_str());
        }
        d.add_text(f.name_raw, lc(&doc.name));
        d.add_text(f.name, &doc.name);
        d.add_text(f.title, &doc.title);
        for k in doc.keywords.iter().chain(&doc.categories) {
            d.add_text(f.keywords, k);
        }
        for c in &doc.categories {
            d.add_text(f.category, lc(c));
        }
        d.add_text(f.summary, &doc.summary);
        d.add_text(f.description, &doc.description);
        d.add_text(f.publisher, &doc.publisher);
        d.add_text(f.publisher, &doc.publisher_display);
        d.add_text(f.publisher_raw, lc(&doc.publisher));
        for k in &doc.kinds {
            d.add_text(f.kind, k);
        }
        for a in &doc.architectures {
            d.add_text(f.architecture, a);
        }
        for c in &doc.channels {
            d.add_text(f.channel, c);
        }
        for c in &doc.confinements {
            d.add_text(f.confinement, c);
        }
        d
    }

    /// Replaces the documents of the given packages (`None`: no longer findable) in one
    /// commit. Queries see the old or the new state, never a mix of one package's.
    pub fn apply(&self, updates: Vec<(String, Option<SearchDoc>)>) -> Result<()> {
        if updates.is_empty() {
            return Ok(());
        }
        let mut writer = self
            .writer
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let mut stale = Vec::new();
        let mut fresh = Vec::new();
        {
            let mut side = self
                .side
                .write()
                .map_err(|e| SearchError::Poisoned(e.to_string()))?;
            for (id, doc) in &updates {
                writer.delete_term(Term::from_field_text(self.f.id, id));
                if let Some(key) = side.key_of.remove(id) {
                    stale.push(key);
                }
                if let Some(doc) = doc {
                    let d = Self::document(&self.f, &mut side, doc);
                    fresh.push(d);
                }
            }
            // The new documents' keys are known before they become visible.
        }
        for d in fresh {
            writer.add_document(d)?;
        }
        writer.commit()?;
        self.reader.reload()?;
        let mut side = self
            .side
            .write()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        for key in stale {
            side.by_key.remove(&key);
        }
        Ok(())
    }

    /// Replaces the popularity signal (download counts by package id).
    pub fn set_popularity(&self, counts: HashMap<String, f64>) {
        if let Ok(mut p) = self.popularity.write() {
            *p = counts;
        }
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The words of `text` as `field`'s analyser makes them.
    fn analyse(&self, field: Field, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(mut analyzer) = self.index.tokenizer_for_field(field) {
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                out.push(stream.token().text.clone());
            }
        }
        out
    }

    fn build_query(&self, q: &SearchQuery) -> Box<dyn Query> {
        let f = &self.f;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        if let Some(ns) = q.namespace {
            must.push((Occur::Must, term(f.namespace, ns.as_str())));
        }
        if let Some(kind) = &q.kind {
            must.push((Occur::Must, term(f.kind, kind)));
        }
        if let Some(c) = &q.category {
            must.push((Occur::Must, term(f.category, &lc(c))));
        }
        if let Some(a) = &q.architecture {
            must.push((
                Occur::Must,
                Box::new(BooleanQuery::new(vec![
                    (Occur::Should, term(f.architecture, a)),
                    (Occur::Should, term(f.architecture, "all")),
                ])),
            ));
        }
        if let Some(c) = &q.channel {
            must.push((Occur::Must, term(f.channel, c)));
        }
        if !q.confinements.is_empty() {
            must.push((
                Occur::Must,
                Box::new(BooleanQuery::new(
                    q.confinements
                        .iter()
                        .map(|c| (Occur::Should, term(f.confinement, c)))
                        .collect(),
                )),
            ));
        }
        if let Some(p) = &q.publisher {
            must.push((Occur::Must, term(f.publisher_raw, &lc(p))));
        }
        if let Some(prefix) = &q.name_prefix {
            must.push((
                Occur::Must,
                Box::new(FuzzyTermQuery::new_prefix(
                    Term::from_field_text(f.name_raw, &lc(prefix)),
                    0,
                    false,
                )),
            ));
        }
        let text = q.text.trim();
        if !text.is_empty() {
            must.push((Occur::Must, self.text_query(text)));
        }
        if must.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(must))
        }
    }

    fn text_query(&self, text: &str) -> Box<dyn Query> {
        let f = &self.f;
        let boosted = |query: Box<dyn Query>, boost: f32| -> (Occur, Box<dyn Query>) {
            (Occur::Should, Box::new(BoostQuery::new(query, boost)))
        };
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::WithFreqs,
            ))
        };
        let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        should.push(boosted(term(f.name_raw, &canonical_name(text)), W_EXACT));
        let whole = canonical_name(text);
        let whole_typos = typos_for(whole.chars().count());
        if whole_typos > 0 {
            should.push(boosted(
                Box::new(FuzzyTermQuery::new(
                    Term::from_field_text(f.name_raw, &whole),
                    whole_typos,
                    true,
                )),
                W_FUZZY_NAME,
            ));
        }
        let words = self.analyse(f.name, text);
        let last = words.len().saturating_sub(1);
        // Typo and prefix clauses are constant-score: in a query of several words they would
        // outweigh real matches of the other words, so they count less there.
        let loose = if words.len() > 1 { 0.3 } else { 1.0 };
        for (i, word) in words.iter().enumerate() {
            let stems = self.analyse(f.title, word);
            let stem = stems.first().unwrap_or(word);
            should.push(boosted(term(f.name, word), W_NAME));
            should.push(boosted(term(f.title, stem), W_TITLE));
            should.push(boosted(term(f.keywords, stem), W_KEYWORDS));
            should.push(boosted(term(f.summary, stem), W_SUMMARY));
            should.push(boosted(term(f.description, stem), W_DESCRIPTION));
            should.push(boosted(term(f.publisher, word), W_PUBLISHER));
            let typos = typos_for(word.chars().count());
            if typos > 0 {
                should.push(boosted(
                    Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(f.name, word),
                        typos,
                        true,
                    )),
                    W_FUZZY_NAME * loose,
                ));
                should.push(boosted(
                    Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(f.title, word),
                        typos,
                        true,
                    )),
                    W_FUZZY_TITLE * loose,
                ));
            }
            if i == last && word.chars().count() >= 2 {
                should.push(boosted(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.name, word),
                        0,
                        false,
                    )),
                    W_PREFIX_NAME * loose,
                ));
                should.push(boosted(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.title, word),
                        0,
                        false,
                    )),
                    W_PREFIX_TITLE * loose,
                ));
            }
        }
        Box::new(BooleanQuery::new(should))
    }

    /// Runs a query: retrieval, re-ranking, then the page `offset..offset+limit`.
    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults> {
        let limit = q.limit.max(1);
        let window = (q.offset + limit).min(MAX_WINDOW);
        if q.offset >= window {
            return Ok(SearchResults::default());
        }
        let searcher = self.reader.searcher();
        let query = self.build_query(q);
        let text = q.text.trim();
        let depth = if text.is_empty() {
            // No text: every match ties; popularity decides, so look at all of them up to the
            // window (bounded).
            MAX_WINDOW.max(window)
        } else {
            CANDIDATES.max(window)
        };
        let (top, total) = searcher.search(
            &query,
            &(TopDocs::with_limit(depth).order_by_score(), Count),
        )?;
        let side = self
            .side
            .read()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let popularity = self
            .popularity
            .read()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
        let mut candidates: Vec<(&DocInfo, f32)> = Vec::with_capacity(top.len());
        for (score, address) in top {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .u64("key")?,
                ),
            };
            let Some(key) = column.first(address.doc_id) else {
                continue;
            };
            if let Some(info) = side.by_key.get(&key) {
                candidates.push((info, score));
            }
        }
        let max_score = candidates
            .iter()
            .map(|c| c.1)
            .fold(f32::MIN_POSITIVE, f32::max);
        let pop_of = |id: &str| popularity.get(id).copied().unwrap_or(0.0).max(0.0);
        let max_pop = candidates
            .iter()
            .map(|c| pop_of(&c.0.id))
            .fold(0.0f64, f64::max);
        let query_name = canonical_name(text);
        let query_lc = lc(text);
        let query_len = query_name.chars().count();
        let mut ranked: Vec<(f32, &DocInfo)> = candidates
            .into_iter()
            .map(|(info, score)| {
                let mut s = if text.is_empty() {
                    0.0
                } else {
                    score / max_score
                };
                if !text.is_empty() {
                    let name = lc(&info.name);
                    if name == query_name {
                        s += B_EXACT;
                    } else {
                        if query_len >= 2 && name.starts_with(&query_name) {
                            s += B_NAME_PREFIX * query_len as f32 / name.chars().count() as f32;
                        }
                        let typos = typos_for(query_len) as usize;
                        if typos > 0 && edit_distance(&name, &query_name, typos).is_some() {
                            s += B_NAME_TYPO;
                        }
                    }
                    if !info.title_lc.is_empty() && info.title_lc == query_lc {
                        s += B_TITLE_EXACT;
                    }
                }
                let pop = pop_of(&info.id);
                let prior = if max_pop > 0.0 {
                    ((1.0 + pop).ln() / (1.0 + max_pop).ln()) as f32
                } else {
                    0.0
                };
                let s = if text.is_empty() {
                    prior
                } else {
                    s * (1.0 + POPULARITY_WEIGHT * prior)
                };
                (s, info)
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.1.name.cmp(&b.1.name))
        });
        let hits = ranked
            .into_iter()
            .skip(q.offset)
            .take(window - q.offset)
            .map(|(score, info)| Hit {
                id: info.id.clone(),
                name: info.name.clone(),
                score,
            })
            .collect();
        Ok(SearchResults { total, hits })
    }
}

#[cfg(test)]
mod tests;
