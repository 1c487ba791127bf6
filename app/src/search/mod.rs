//! Package search: an in-memory tantivy index over the catalog, kept in step with it change by
//! change, and a re-ranking on top.
//!
//! Ranking happens in three steps.
//!
//! 1. **Query words.** The query is split into words. A word no package uses (a misspelling)
//!    is replaced by its correction, the vocabulary word fewest typos away (one typo from four
//!    letters, two from nine); a last word that only starts vocabulary words (search-as-you-
//!    type) stands for the most used of them.
//! 2. **Retrieval** (tantivy, BM25): each word is looked up in the name, title, keywords and
//!    categories, summary, description and publisher fields with per-field boosts, and scores
//!    by the field it matches best (plus [`TIE_BREAKER`] of the others); corrections and
//!    completions count a little less. Misspelt words of four letters or more also match names and
//!    titles with typos (the vocabulary words near them, from the walk that found the
//!    correction), and the last word as a prefix of a name or title word. The whole
//!    query, as a name, is an exact-name clause. Filters (namespace, type, category,
//!    architecture, channel, confinement, publisher) are required terms. The best
//!    [`CANDIDATES`] documents go on, with every one tying with the last of them (up to
//!    [`MAX_WINDOW`]; see [`collect`]).
//! 3. **Re-ranking** of those candidates: the text score, normalised to the best candidate, is
//!    multiplied by the square of the share of the query's words the candidate contains, each
//!    word weighted by its rarity (a package with every word beats one with a single word in
//!    its name; of `git client`, `git` counts for more than `client`), gets bonuses for the
//!    words standing together as a phrase, for the name matching the query exactly (which
//!    pins it first), for the name starting with the query, for the name being one or two
//!    typos away from it, for the title equalling the query; then a bounded popularity prior
//!    (logarithm of the download count relative to the most downloaded candidate) multiplies
//!    it.
//!
//! The same [`SearchIndex`] answers `GET /v2/snaps/find`, `GET /v2/charms/find`,
//! `GET /v1/search` and `depot eval search`.

mod checkpoint;
mod collect;
pub mod doc;
pub mod eval;
mod filter;
pub mod snippet;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::Count;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery,
    Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{TextAnalyzer, TokenStream};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

pub use checkpoint::Stamp;
pub use doc::SearchDoc;

use crate::domain::Namespace;

/// The side tables' maps: looked up for every candidate of every query, so hashed with
/// foldhash (seeded per map) rather than SipHash.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Documents retrieved by BM25 and re-ranked by name and popularity.
pub const CANDIDATES: usize = 200;
/// The deepest result a query may page to.
pub const MAX_WINDOW: usize = 1000;
/// A filter at least this share of the documents pass is checked as matches are collected
/// rather than intersected with the query (see [`filter`]).
const BROAD_FILTER: f64 = 0.5;

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
/// A corrected word is a guess: its clauses count this much of a word typed right.
const W_CORRECTED: f32 = 0.8;
/// A completion of the last word is a guess too, one of several.
const W_COMPLETION: f32 = 0.8;
/// The verb of an agent noun (`editor` → `edit`, `player` → `play`, `viewer` → `view`), which
/// stemming leaves apart: a package that edits audio answers `audio editor` nearly as well as
/// one that calls itself an editor. Its clauses count this much of the word's own, and a
/// package with the verb and not the noun this much of the word's share of the query.
const W_RELATED: f32 = 0.5;
const RELATED_COVERAGE: f32 = 0.7;
/// Completions of a last word looked up, and vocabulary words scanned for them per segment.
const COMPLETIONS: usize = 4;
const COMPLETION_SCAN: usize = 5_000;
/// What the fields a word matches other than its best one add, as a share of their score.
const TIE_BREAKER: f32 = 0.3;

/// Re-ranking bonuses, in units of the best candidate's text score.
const B_EXACT: f32 = 100.0;
const B_TITLE_EXACT: f32 = 1.0;
const B_NAME_TYPO: f32 = 1.2;
const B_NAME_PREFIX: f32 = 1.0;
/// For the words of the query standing together, in that order, in the package's text.
const B_PHRASE: f32 = 0.5;
/// How strongly re-ranking prefers documents containing every word of a query of several:
/// the text score is multiplied by (matched words / query words) to this power.
const COVERAGE_POWER: i32 = 2;
/// How much the popularity prior can multiply a score by (1 + this).
const POPULARITY_WEIGHT: f32 = 1.0;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index: {0}")]
    Poisoned(String),
    #[error("search index checkpoint: {0}")]
    Checkpoint(String),
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
    /// Every word of the name, title, keywords, categories and summary, unstemmed: the
    /// vocabulary misspelt query words are corrected against.
    words: Field,
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
    /// The words of the name and title, lower case, for typo and prefix matching.
    words: Box<[Spelling]>,
    /// The characters of the name (see [`char_set`]).
    name_chars: u64,
    /// Hashes of the stems of the name, title, keywords, categories, summary and description,
    /// sorted: whether a query word occurs in the document at all.
    terms: Box<[u32]>,
    /// Hashes of adjacent stem pairs in the name, title, keywords, categories, summary and the
    /// start of the description, sorted: whether words of the query occur together.
    pairs: Box<[u32]>,
    /// The package's popularity (an `f64`'s bits, never negative): kept here, beside what
    /// re-ranking reads anyway, rather than looked up by id for every candidate of every
    /// query. [`SearchIndex::set_popularity`] updates it in place.
    popularity: AtomicU64,
}

impl DocInfo {
    /// A document's record, with what is derived from its name and no popularity yet (see
    /// [`SearchIndex::set_popularity`]).
    fn new(
        id: Arc<str>,
        name: Arc<str>,
        title_lc: String,
        words: Box<[Spelling]>,
        terms: Box<[u32]>,
        pairs: Box<[u32]>,
    ) -> DocInfo {
        DocInfo {
            name_chars: char_set(&lc(&name)),
            id,
            name,
            title_lc,
            words,
            terms,
            pairs,
            popularity: AtomicU64::new(0.0f64.to_bits()),
        }
    }

    fn popularity(&self) -> f64 {
        f64::from_bits(self.popularity.load(Ordering::Relaxed))
    }

    fn set_popularity(&self, popularity: f64) {
        self.popularity
            .store(popularity.max(0.0).to_bits(), Ordering::Relaxed);
    }

    fn has_term(&self, hash: u32) -> bool {
        self.terms.binary_search(&hash).is_ok()
    }

    fn has_pair(&self, hash: u32) -> bool {
        self.pairs.binary_search(&hash).is_ok()
    }

    /// Whether a query word occurs in the document: as a word or stem anywhere, one or two
    /// typos away from a name or title word, or (`prefix`) starting one.
    fn matches(&self, word: &QueryWord, prefix: bool) -> bool {
        if word.hashes.iter().any(|h| self.has_term(*h)) {
            return true;
        }
        self.words.iter().any(|w| {
            (prefix && w.text.starts_with(&*word.typed))
                || (word.typos > 0
                    && within(&w.text, w.chars, &word.typed, word.typed_chars, word.typos))
        })
    }
}

/// A word and the set of its characters (see [`char_set`]).
struct Spelling {
    text: Box<str>,
    chars: u64,
}

impl Spelling {
    fn new(text: Box<str>) -> Spelling {
        let chars = char_set(&text);
        Spelling { text, chars }
    }
}

/// The set of characters in `s`, one bit for each of `a`-`z` and `0`-`9`, the other characters
/// sharing the remaining 28 bits: one edit adds at most one bit and removes at most one, so two
/// words whose sets differ by more than `2 × max` bits are more than `max` edits apart. That
/// tells most of the words re-ranking compares apart without working out their distance.
fn char_set(s: &str) -> u64 {
    s.chars().fold(0u64, |set, c| {
        let bit = match c {
            'a'..='z' => c as u32 - 'a' as u32,
            '0'..='9' => 26 + (c as u32 - '0' as u32),
            _ => 36 + c as u32 % 28,
        };
        set | 1 << bit
    })
}

/// Whether `a` is at most `max` edits from `b`, given their [`char_set`]s.
fn within(a: &str, a_chars: u64, b: &str, b_chars: u64, max: usize) -> bool {
    (a_chars ^ b_chars).count_ones() as usize <= 2 * max && edit_distance(a, b, max).is_some()
}

/// A word of the query, as re-ranking checks it against documents.
struct QueryWord {
    /// As typed (lower case).
    typed: String,
    /// What is looked up: the word as typed, or its correction when no package uses it.
    word: String,
    stem: String,
    /// Typos allowed in the typed word.
    typos: usize,
    /// The characters of the typed word (see [`char_set`]).
    typed_chars: u64,
    /// Used by some package, as typed or corrected (see `SearchIndex::query_words`).
    known: bool,
    corrected: bool,
    /// For a last word that only starts vocabulary words (search-as-you-type): the most used
    /// of those words, with their stems.
    completions: Vec<(String, String)>,
    /// For a word no package uses as typed: the vocabulary words one typo away or, when there
    /// are none, every one within its typo budget, with their stems, the correction first.
    near: Vec<(String, String)>,
    /// The term hashes of the word, its stem and its completions (with theirs): what
    /// re-ranking looks up in each candidate's term set.
    hashes: Vec<u32>,
    /// For an agent noun the catalog also uses as a verb: the verb's stem and its hash (see
    /// [`W_RELATED`]).
    related: Option<(String, u32)>,
}

impl QueryWord {
    fn with_hashes(mut self) -> QueryWord {
        self.hashes = [&self.word, &self.stem]
            .into_iter()
            .chain(self.completions.iter().flat_map(|(w, stem)| [w, stem]))
            .map(|t| term_hash(t))
            .collect();
        self.hashes.sort_unstable();
        self.hashes.dedup();
        self
    }

    /// Used by some package exactly as typed (not corrected, not only the start of words).
    fn known_as_typed(&self) -> bool {
        self.known && !self.corrected && self.completions.is_empty()
    }
}

/// FNV-1a: a small, stable hash for the term sets.
fn term_hash(term: &str) -> u32 {
    term.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn pair_hash(first: &str, second: &str) -> u32 {
    pair_hashes(term_hash(first), term_hash(second))
}

/// [`pair_hash`] of two words given their [`term_hash`]es.
fn pair_hashes(first: u32, second: u32) -> u32 {
    first ^ second.rotate_left(13)
}

/// Words of the description that count for phrase matching: its opening, where a package says
/// what it is.
const DESCRIPTION_PAIR_WORDS: usize = 48;

/// `TerminalEmulator` → `Terminal Emulator`: freedesktop categories are CamelCase, and their
/// words are what people type.
pub fn split_camel_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if let Some(p) = prev
            && c.is_uppercase()
            && p.is_lowercase()
        {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[derive(Default)]
struct Side {
    by_key: FastMap<u64, DocInfo>,
    key_of: FastMap<String, u64>,
    next_key: u64,
}

/// The search index. Cheap to query from many threads; updates are serialised.
pub struct SearchIndex {
    index: Index,
    /// Where the index's files are, as written (checkpoints copy them byte for byte).
    files: tantivy::directory::RamDirectory,
    /// The last merge [`SearchIndex::compact`] started, until a checkpoint waits for it.
    merge: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The change-log position the documents include, and the time none was made before (see
    /// [`SearchIndex::set_position`]); written and read with the writer held.
    applied: AtomicI64,
    fresh_as_of: AtomicI64,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    f: Fields,
    side: RwLock<Side>,
    /// Download counts (or another popularity signal) by package id.
    popularity: RwLock<FastMap<String, f64>>,
    filters: Arc<filter::FilterCache>,
    /// Set when an update failed part way: the index may miss changes from then on, so it is
    /// not written to a checkpoint.
    damaged: AtomicBool,
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
    // Re-ranking asks this for every candidate's name and words: compare bytes when both are
    // ASCII (nearly always), characters otherwise.
    if a.is_ascii() && b.is_ascii() {
        return distance(a.as_bytes(), b.as_bytes(), max);
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    distance(&a, &b, max)
}

/// Damerau-Levenshtein (optimal string alignment) distance of `a` and `b` if at most `max`,
/// keeping three rows (on the stack for words of up to 47 letters) and working out only the
/// cells within `max` of the diagonal: the others are more than `max` edits anyway.
fn distance<T: PartialEq>(a: &[T], b: &[T], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    const STACK: usize = 48;
    // Any distance past `max`: what the cells outside the band hold.
    let far = max + 1;
    let w = b.len() + 1;
    let mut stack = [[far; STACK]; 3];
    let mut heap: Vec<usize>;
    let (mut prev2, mut prev, mut cur): (&mut [usize], &mut [usize], &mut [usize]) = if w <= STACK {
        let [x, y, z] = &mut stack;
        (&mut x[..w], &mut y[..w], &mut z[..w])
    } else {
        heap = vec![far; 3 * w];
        let (x, rest) = heap.split_at_mut(w);
        let (y, z) = rest.split_at_mut(w);
        (x, y, z)
    };
    for (j, v) in prev.iter_mut().enumerate().take(far) {
        *v = j;
    }
    for i in 1..=a.len() {
        let lo = i.saturating_sub(max).max(1);
        let hi = (i + max).min(b.len());
        // The cells left of the band and the one right of it are read as the row is worked
        // out, and by the next row.
        cur[lo - 1] = if lo == 1 { i.min(far) } else { far };
        if hi < b.len() {
            cur[hi + 1] = far;
        }
        let mut row_min = cur[lo - 1];
        for j in lo..=hi {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            let v = v.min(far);
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

/// The words of `text` as `field`'s analyser in `index` makes them.
fn analyse_with(index: &Index, field: Field, text: &str) -> Vec<String> {
    match index.tokenizer_for_field(field) {
        Ok(mut analyzer) => tokens(&mut analyzer, text),
        Err(_) => Vec::new(),
    }
}

fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The two analysers documents are read with, fetched once per batch of documents.
struct Analyzers {
    /// Lower-cased words (names, publishers).
    plain: TextAnalyzer,
    /// English stems (title, keywords, summary, description): the same words as `plain`,
    /// stemmed.
    stem: TextAnalyzer,
    /// The [`term_hash`] of each word's stem, as `stem` makes it, by word: most words of a
    /// catalog recur, and stemming one costs more than looking it up.
    stems: FastMap<String, u32>,
}

impl Analyzers {
    fn of(index: &Index, f: &Fields) -> Result<Analyzers> {
        Ok(Analyzers {
            plain: index.tokenizer_for_field(f.name)?,
            stem: index.tokenizer_for_field(f.title)?,
            stems: FastMap::default(),
        })
    }

    /// Calls `each` with the [`term_hash`] of the stem of every word of `text`, in order: what
    /// `stem` makes of `text`, hashed, without stemming a word seen before.
    fn stem_hashes(&mut self, text: &str, mut each: impl FnMut(u32)) {
        let Analyzers { plain, stem, stems } = self;
        let mut words = plain.token_stream(text);
        while words.advance() {
            let word = &words.token().text;
            let hash = match stems.get(word.as_str()) {
                Some(hash) => *hash,
                None => {
                    // A word of `plain` is one token to `stem` too: its stem.
                    let mut stemmed = stem.token_stream(word);
                    let hash = if stemmed.advance() {
                        term_hash(&stemmed.token().text)
                    } else {
                        term_hash(word)
                    };
                    stems.insert(word.clone(), hash);
                    hash
                }
            };
            each(hash);
        }
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
        words: b.add_text_field(
            "words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("default")
                    .set_index_option(IndexRecordOption::Basic),
            ),
        ),
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
        let files = tantivy::directory::RamDirectory::create();
        let index = Index::create(files.clone(), schema, tantivy::IndexSettings::default())?;
        let mut side = Side::default();
        {
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 4);
            let mut analyzers = Analyzers::of(&index, &f)?;
            let mut writer: IndexWriter = index.writer_with_num_threads(threads, BUILD_HEAP)?;
            for doc in docs {
                let prepared = Self::prepare(&mut analyzers, &f, &doc);
                writer.add_document(Self::file(&f, &mut side, prepared))?;
            }
            writer.commit()?;
            writer.wait_merging_threads()?;
        }
        let built = SearchIndex::serve(index, files, side)?;
        // Building on several threads leaves a segment per thread, and every query walks each
        // segment's term dictionaries.
        built.compact()?;
        Ok(built)
    }

    /// The index ready for queries and updates, from a committed `index` kept in `files`, and
    /// its side table.
    fn serve(
        index: Index,
        files: tantivy::directory::RamDirectory,
        side: Side,
    ) -> Result<SearchIndex> {
        let (_, f) = schema();
        let writer: IndexWriter = index.writer_with_num_threads(1, UPDATE_HEAP)?;
        let reader: IndexReader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            files,
            merge: Mutex::new(None),
            reader,
            writer: Mutex::new(writer),
            applied: AtomicI64::new(0),
            fresh_as_of: AtomicI64::new(0),
            f,
            side: RwLock::new(side),
            popularity: RwLock::default(),
            filters: Arc::default(),
            damaged: AtomicBool::new(false),
        })
    }

    /// Merges the segments into one, in the background, when there are several or some hold
    /// replaced documents (BM25 counts those until they are merged away): then the index
    /// answers as one built in one go would. Queries are served from the segments as they are
    /// meanwhile, and see the merged one once it is done.
    pub fn compact(&self) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let metas = self.index.searchable_segment_metas()?;
        if metas.len() < 2 && metas.iter().all(|m| !m.has_deletes()) {
            return Ok(());
        }
        let ids: Vec<_> = metas.iter().map(|m| m.id()).collect();
        let merging = writer.merge(&ids);
        let merged = self.reader.clone();
        let thread = std::thread::Builder::new()
            .name("depot-index-merge".into())
            .spawn(move || match merging.wait() {
                Ok(_) => {
                    if let Err(err) = merged.reload() {
                        tracing::warn!(%err, "cannot reload the search index after merging");
                    }
                }
                Err(err) => tracing::warn!(%err, "cannot merge the search index's segments"),
            })
            .map_err(|e| {
                tantivy::TantivyError::SystemError(format!("cannot start a thread: {e}"))
            })?;
        let earlier = self
            .merge
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?
            .replace(thread);
        drop(writer);
        if let Some(earlier) = earlier {
            let _ = earlier.join();
        }
        Ok(())
    }

    /// Records that the index includes every change of the log up to `seq`, with documents
    /// made no earlier than `fresh_as_of` (unix seconds): what a checkpoint is stamped with.
    pub fn set_position(&self, seq: i64, fresh_as_of: i64) -> Result<()> {
        let _writer = self
            .writer
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        self.applied.store(seq, Ordering::Relaxed);
        self.fresh_as_of.store(fresh_as_of, Ordering::Relaxed);
        Ok(())
    }

    /// Files a prepared document under the next key.
    fn file(
        f: &Fields,
        side: &mut Side,
        (info, mut d): (DocInfo, tantivy::TantivyDocument),
    ) -> tantivy::TantivyDocument {
        let key = side.next_key;
        side.next_key += 1;
        d.add_u64(f.key, key);
        side.key_of.insert(info.id.to_string(), key);
        side.by_key.insert(key, info);
        d
    }

    /// What re-ranking keeps of a document, and the document to index (without its key).
    /// A change to either must bump the checkpoint format (`checkpoint::FORMAT`).
    fn prepare(
        analyzers: &mut Analyzers,
        f: &Fields,
        doc: &SearchDoc,
    ) -> (DocInfo, tantivy::TantivyDocument) {
        let mut words: Vec<Spelling> = Vec::new();
        for text in [&doc.name, &doc.title] {
            for word in tokens(&mut analyzers.plain, text) {
                if !words.iter().any(|w| *w.text == *word) {
                    words.push(Spelling::new(word.into()));
                }
            }
        }
        // The term set holds stems only: a query word is looked up as itself and as its stem,
        // and a word of the document always has its stem there, so the words as written would
        // add no match (and reading every text once more to find them cost a start time).
        let categories = doc
            .categories
            .iter()
            .map(|c| std::borrow::Cow::Owned(split_camel_case(c)));
        let texts = [&doc.name, &doc.title, &doc.summary, &doc.description]
            .into_iter()
            .chain(&doc.keywords)
            .map(|text| std::borrow::Cow::Borrowed(text.as_str()))
            .chain(categories);
        let mut terms: Vec<u32> = Vec::new();
        let mut pairs: Vec<u32> = Vec::new();
        for (i, text) in texts.enumerate() {
            // Pairs of the description's opening words only.
            let paired = if i == 3 {
                DESCRIPTION_PAIR_WORDS
            } else {
                usize::MAX
            };
            let mut previous: Option<u32> = None;
            let mut n = 0;
            analyzers.stem_hashes(&text, |hash| {
                terms.push(hash);
                if n < paired
                    && let Some(previous) = previous
                {
                    pairs.push(pair_hashes(previous, hash));
                }
                previous = Some(hash);
                n += 1;
            });
        }
        terms.sort_unstable();
        terms.dedup();
        pairs.sort_unstable();
        pairs.dedup();
        let info = DocInfo::new(
            Arc::from(doc.id.as_str()),
            Arc::from(doc.name.as_str()),
            lc(&doc.title),
            words.into_boxed_slice(),
            terms.into_boxed_slice(),
            pairs.into_boxed_slice(),
        );
        let mut d = tantivy::TantivyDocument::default();
        d.add_text(f.id, &doc.id);
        if let Some(ns) = doc.namespace {
            d.add_text(f.namespace, ns.as_str());
        }
        d.add_text(f.name_raw, lc(&doc.name));
        for text in [&doc.name, &doc.title, &doc.summary]
            .into_iter()
            .chain(&doc.keywords)
        {
            d.add_text(f.words, text);
        }
        for c in &doc.categories {
            d.add_text(f.words, split_camel_case(c));
        }
        d.add_text(f.name, &doc.name);
        d.add_text(f.title, &doc.title);
        for k in &doc.keywords {
            d.add_text(f.keywords, k);
        }
        for c in &doc.categories {
            d.add_text(f.keywords, split_camel_case(c));
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
        (info, d)
    }

    /// Replaces the documents of the given packages (`None`: no longer findable) in one
    /// commit. Queries see the old or the new state, never a mix of one package's.
    pub fn apply(&self, updates: Vec<(String, Option<SearchDoc>)>) -> Result<()> {
        self.apply_through(None, updates)
    }

    /// [`SearchIndex::apply`], then records (`Some`) that the index includes every change of the
    /// log up to `seq`.
    pub fn apply_through(
        &self,
        seq: Option<i64>,
        updates: Vec<(String, Option<SearchDoc>)>,
    ) -> Result<()> {
        let applied = self.apply_updates(seq, updates);
        if applied.is_err() {
            self.damaged.store(true, Ordering::Relaxed);
        }
        applied
    }

    fn apply_updates(
        &self,
        seq: Option<i64>,
        updates: Vec<(String, Option<SearchDoc>)>,
    ) -> Result<()> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let through = |applied: &AtomicI64| {
            if let Some(seq) = seq {
                applied.fetch_max(seq, Ordering::Relaxed);
            }
        };
        if updates.is_empty() {
            through(&self.applied);
            return Ok(());
        }
        let mut stale = Vec::new();
        let mut analyzers = Analyzers::of(&self.index, &self.f)?;
        let mut fresh = Vec::new();
        {
            let mut side = self
                .side
                .write()
                .map_err(|e| SearchError::Poisoned(e.to_string()))?;
            let popularity = self
                .popularity
                .read()
                .map_err(|e| SearchError::Poisoned(e.to_string()))?;
            for (id, doc) in &updates {
                writer.delete_term(Term::from_field_text(self.f.id, id));
                if let Some(key) = side.key_of.remove(id) {
                    stale.push(key);
                }
                if let Some(doc) = doc {
                    let prepared = Self::prepare(&mut analyzers, &self.f, doc);
                    // Read while the side table is locked for writing: `set_popularity`
                    // updates the documents after replacing the map, so a document filed
                    // here sees either the new map or that update.
                    prepared
                        .0
                        .set_popularity(popularity.get(id).copied().unwrap_or(0.0));
                    fresh.push(Self::file(&self.f, &mut side, prepared));
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
        through(&self.applied);
        Ok(())
    }

    /// Replaces the popularity signal (download counts by package id).
    pub fn set_popularity(&self, counts: HashMap<String, f64>) {
        let counts: FastMap<String, f64> = counts.into_iter().collect();
        // The map first (documents filed from now on read it), then the documents already
        // filed, from the map as it is then (a later call may have replaced it meanwhile).
        // Both this and `apply` take the side table's lock before the map's.
        if let Ok(mut p) = self.popularity.write() {
            *p = counts;
        }
        let Ok(side) = self.side.read() else {
            return;
        };
        let Ok(popularity) = self.popularity.read() else {
            return;
        };
        for info in side.by_key.values() {
            info.set_popularity(popularity.get(&*info.id).copied().unwrap_or(0.0));
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
        analyse_with(&self.index, field, text)
    }

    /// The query, and the filters most documents pass (checked as matches are collected, see
    /// [`filter`]).
    fn build_query(
        &self,
        searcher: &tantivy::Searcher,
        q: &SearchQuery,
        words: &[QueryWord],
    ) -> Result<(Box<dyn Query>, Vec<filter::CachedFilter>)> {
        let f = &self.f;
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut broad = Vec::new();
        let mut filter = |field: Field, values: Vec<String>| -> Result<()> {
            let filter = filter::CachedFilter {
                cache: Arc::clone(&self.filters),
                field,
                values,
            };
            let share = filter.share(searcher)?;
            if share >= 1.0 {
                // Every document passes: nothing to check.
            } else if share >= BROAD_FILTER {
                broad.push(filter);
            } else {
                must.push((Occur::Must, Box::new(filter)));
            }
            Ok(())
        };
        // A filter narrows and scores nothing: as a BM25 term it would score a package with
        // one category above one with two, and decide between text ties and the order of an
        // empty query's matches.
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(ConstScoreQuery::new(
                Box::new(TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                )),
                0.0,
            ))
        };
        if let Some(ns) = q.namespace {
            filter(f.namespace, vec![ns.as_str().to_string()])?;
        }
        if let Some(a) = &q.architecture {
            filter(f.architecture, vec![a.clone(), "all".to_string()])?;
        }
        if !q.confinements.is_empty() {
            let mut confinements = q.confinements.clone();
            confinements.sort();
            confinements.dedup();
            filter(f.confinement, confinements)?;
        }
        if let Some(kind) = &q.kind {
            must.push((Occur::Must, term(f.kind, kind)));
        }
        if let Some(c) = &q.category {
            must.push((Occur::Must, term(f.category, &lc(c))));
        }
        if let Some(c) = &q.channel {
            must.push((Occur::Must, term(f.channel, c)));
        }
        if let Some(p) = &q.publisher {
            must.push((Occur::Must, term(f.publisher_raw, &lc(p))));
        }
        if let Some(prefix) = &q.name_prefix {
            must.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.name_raw, &lc(prefix)),
                        0,
                        false,
                    )),
                    0.0,
                )),
            ));
        }
        let text = q.text.trim();
        if !text.is_empty() {
            must.push((Occur::Must, self.text_query(text, words)));
        }
        let query: Box<dyn Query> = if must.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(must))
        };
        Ok((query, broad))
    }

    /// Whether a word occurs in any document's text (as itself in names, as its stem
    /// elsewhere): a word that does not is a misspelling or a word the catalog does not use.
    fn is_known(&self, searcher: &tantivy::Searcher, word: &str, stem: &str) -> bool {
        let f = &self.f;
        [
            (f.name, word),
            (f.title, stem),
            (f.keywords, stem),
            (f.summary, stem),
            (f.description, stem),
        ]
        .into_iter()
        .any(|(field, text)| {
            searcher
                .doc_freq(&Term::from_field_text(field, text))
                .is_ok_and(|n| n > 0)
        })
    }

    /// The query's words as both phases use them: each with its stem, its typo budget, and —
    /// when no package uses it as typed — its correction: the vocabulary word fewest typos
    /// away, the most used among equals. The last word is not corrected when it starts a
    /// vocabulary word (search-as-you-type).
    fn query_words(&self, searcher: &tantivy::Searcher, text: &str) -> Vec<QueryWord> {
        let typed = self.analyse(self.f.name, text);
        let last = typed.len().saturating_sub(1);
        let several = typed.len() > 1;
        typed
            .into_iter()
            .enumerate()
            .map(|(i, typed)| {
                let stem_of = |w: &str| {
                    self.analyse(self.f.title, w)
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| w.to_string())
                };
                let stem = stem_of(&typed);
                let typos = typos_for(typed.chars().count()) as usize;
                let mut qw = QueryWord {
                    known: self.is_known(searcher, &typed, &stem),
                    word: typed.clone(),
                    stem,
                    typos,
                    typed_chars: char_set(&typed),
                    typed,
                    corrected: false,
                    completions: Vec::new(),
                    near: Vec::new(),
                    hashes: Vec::new(),
                    related: None,
                };
                if qw.known {
                    // Only among other words (`sound editor`): alone, a word is the whole
                    // intent, often a name or a noun that only looks like an agent noun
                    // (`docker` is not one who docks).
                    if several {
                        qw.related = self.related_form(searcher, &qw.typed, &qw.stem);
                    }
                    return qw;
                }
                if i == last {
                    qw.completions = self
                        .completions(searcher, &qw.typed)
                        .into_iter()
                        .map(|w| (stem_of(&w), w))
                        .map(|(stem, w)| (w, stem))
                        .collect();
                    if !qw.completions.is_empty() {
                        qw.known = true;
                        return qw;
                    }
                }
                if typos == 0 {
                    return qw;
                }
                qw.near = self
                    .near(searcher, &qw.typed, typos as u8)
                    .into_iter()
                    .map(|w| (stem_of(&w), w))
                    .map(|(stem, w)| (w, stem))
                    .collect();
                if let Some((correction, stem)) = qw.near.first() {
                    qw.stem = stem.clone();
                    qw.word = correction.clone();
                    qw.known = true;
                    qw.corrected = true;
                }
                qw
            })
            .map(QueryWord::with_hashes)
            .collect()
    }

    /// The stem of the verb an agent noun comes from (`editor` → `edit`, `player` → `play`,
    /// `browser` → `brows`, as `browse` stems), when stemming left the two apart and some
    /// package uses the verb in its summary or description.
    fn related_form(
        &self,
        searcher: &tantivy::Searcher,
        word: &str,
        stem: &str,
    ) -> Option<(String, u32)> {
        if word.chars().count() < 5 || !word.is_ascii() {
            return None;
        }
        let verb = if let Some(base) = word.strip_suffix("or") {
            base
        } else {
            // `player` → `playe` → `play`; `manager` → `manage` → `manag`.
            word.strip_suffix('r').filter(|_| word.ends_with("er"))?
        };
        let related = self.analyse(self.f.title, verb).into_iter().next()?;
        if related == stem || related.len() < 3 {
            return None;
        }
        let used = [self.f.summary, self.f.description]
            .into_iter()
            .any(|field| {
                searcher
                    .doc_freq(&Term::from_field_text(field, &related))
                    .is_ok_and(|n| n > 0)
            });
        used.then(|| {
            let hash = term_hash(&related);
            (related, hash)
        })
    }

    /// How much finding `word` in a package says (BM25's inverse document frequency, from the
    /// number of packages that use the word in their short text or its stem in their
    /// description); 0 for a word no package uses. A word being completed counts as its most
    /// used completion.
    fn rarity(&self, searcher: &tantivy::Searcher, word: &QueryWord) -> f32 {
        if !word.known {
            return 0.0;
        }
        let f = &self.f;
        let used = |word: &str, stem: &str| -> u64 {
            [(f.words, word), (f.description, stem)]
                .into_iter()
                .filter_map(|(field, text)| {
                    searcher.doc_freq(&Term::from_field_text(field, text)).ok()
                })
                .max()
                .unwrap_or(0)
        };
        let used = if word.completions.is_empty() {
            used(&word.word, &word.stem)
        } else {
            word.completions
                .iter()
                .map(|(w, stem)| used(w, stem))
                .max()
                .unwrap_or(0)
        };
        let docs = searcher.num_docs() as f32;
        let used = (used as f32).min(docs);
        (1.0 + (docs - used + 0.5) / (used + 0.5)).ln()
    }

    /// The [`COMPLETIONS`] vocabulary words starting with `prefix` that most documents use
    /// (looking at the first [`COMPLETION_SCAN`] of them in each segment).
    fn completions(&self, searcher: &tantivy::Searcher, prefix: &str) -> Vec<String> {
        if prefix.chars().count() < 2 {
            return Vec::new();
        }
        // Each segment's most used completions (a short list, kept sorted by use, so that the
        // thousands of rarer words scanned are compared and never copied), then summed over
        // the segments.
        const PER_SEGMENT: usize = 4 * COMPLETIONS;
        let mut found: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            let Ok(index) = segment.inverted_index(self.f.words) else {
                continue;
            };
            let Ok(mut stream) = index.terms().range().ge(prefix.as_bytes()).into_stream() else {
                continue;
            };
            let mut top: Vec<(u64, Vec<u8>)> = Vec::with_capacity(PER_SEGMENT + 1);
            let mut seen = 0;
            while seen < COMPLETION_SCAN && stream.advance() {
                if !stream.key().starts_with(prefix.as_bytes()) {
                    break;
                }
                seen += 1;
                let used = u64::from(stream.value().doc_freq);
                if top.len() == PER_SEGMENT && top[PER_SEGMENT - 1].0 >= used {
                    continue;
                }
                let at = top.partition_point(|(n, _)| *n >= used);
                top.insert(at, (used, stream.key().to_vec()));
                top.truncate(PER_SEGMENT);
            }
            for (used, term) in top {
                if let Ok(term) = String::from_utf8(term) {
                    *found.entry(term).or_default() += used;
                }
            }
        }
        let mut found: Vec<(String, u64)> = found.into_iter().collect();
        found.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        found
            .into_iter()
            .take(COMPLETIONS)
            .map(|(w, _)| w)
            .collect()
    }

    /// The vocabulary words one typo from `word` or, when there are none, within `typos` of
    /// it, ordered as [`Self::near_within`] orders them. The first is the word's correction;
    /// all of them are what its typo clauses look up (one walk of the vocabulary serves both:
    /// every name and title word is in it).
    fn near(&self, searcher: &tantivy::Searcher, word: &str, typos: u8) -> Vec<String> {
        // Most misspellings are one typo away, and a walk allowing one explores a small part
        // of the vocabulary: the two-typo walk is for words with no one-typo neighbour.
        if typos > 1 {
            let near = self.near_within(searcher, word, 1);
            if !near.is_empty() {
                return near;
            }
        }
        self.near_within(searcher, word, typos)
    }

    /// The vocabulary words within `typos` of `word`: fewest typos first, then the ones most
    /// documents use, then alphabetical.
    fn near_within(&self, searcher: &tantivy::Searcher, word: &str, typos: u8) -> Vec<String> {
        let Ok(automaton) =
            FuzzyTermQuery::new(Term::from_field_text(self.f.words, word), typos, true).automaton()
        else {
            return Vec::new();
        };
        let mut found: HashMap<String, u64> = HashMap::new();
        for segment in searcher.segment_readers() {
            let Ok(index) = segment.inverted_index(self.f.words) else {
                continue;
            };
            let Ok(mut stream) = index.terms().search(&automaton).into_stream() else {
                continue;
            };
            while stream.advance() {
                if let Ok(term) = std::str::from_utf8(stream.key()) {
                    *found.entry(term.to_string()).or_default() +=
                        u64::from(stream.value().doc_freq);
                }
            }
        }
        let mut near: Vec<(usize, std::cmp::Reverse<u64>, String)> = found
            .into_iter()
            .filter_map(|(term, n)| {
                let d = edit_distance(&term, word, typos as usize)?;
                Some((d, std::cmp::Reverse(n), term))
            })
            .collect();
        near.sort_unstable();
        near.into_iter().map(|(_, _, term)| term).collect()
    }

    fn text_query(&self, text: &str, words: &[QueryWord]) -> Box<dyn Query> {
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
        // Typo clauses only for words no package uses as typed: a word of the vocabulary is
        // taken as meant, which spares scanning the term dictionaries for its neighbours.
        let misspelt = |qw: &QueryWord| qw.corrected || !qw.known;
        let last = words.len().saturating_sub(1);
        // Typo and prefix clauses are constant-score: in a query of several words they would
        // outweigh real matches of the other words, so they count less there.
        let loose = if words.len() > 1 { 0.3 } else { 1.0 };
        let boost = |query: Box<dyn Query>, boost: f32| -> Box<dyn Query> {
            Box::new(BoostQuery::new(query, boost))
        };
        for (i, qw) in words.iter().enumerate() {
            let (typed, word, stem) = (&qw.typed, &qw.word, &qw.stem);
            let sure = if qw.corrected { W_CORRECTED } else { 1.0 };
            // Each word scores by the field it matches best (plus a little for the others):
            // a word found in many fields of one package must not outweigh the other words of
            // the query found in another.
            let mut fields: Vec<Box<dyn Query>> = vec![
                boost(term(f.name, word), W_NAME * sure),
                boost(term(f.title, stem), W_TITLE * sure),
                boost(term(f.keywords, stem), W_KEYWORDS * sure),
                boost(term(f.summary, stem), W_SUMMARY * sure),
                boost(term(f.description, stem), W_DESCRIPTION * sure),
                boost(term(f.publisher, word), W_PUBLISHER * sure),
            ];
            if let Some((related, _)) = &qw.related {
                fields.extend([
                    boost(term(f.title, related), W_TITLE * W_RELATED),
                    boost(term(f.keywords, related), W_KEYWORDS * W_RELATED),
                    boost(term(f.summary, related), W_SUMMARY * W_RELATED),
                    boost(term(f.description, related), W_DESCRIPTION * W_RELATED),
                ]);
            }
            for (word, stem) in &qw.completions {
                fields.extend([
                    boost(term(f.name, word), W_NAME * W_COMPLETION),
                    boost(term(f.title, stem), W_TITLE * W_COMPLETION),
                    boost(term(f.keywords, stem), W_KEYWORDS * W_COMPLETION),
                    boost(term(f.summary, stem), W_SUMMARY * W_COMPLETION),
                    boost(term(f.description, stem), W_DESCRIPTION * W_COMPLETION),
                ]);
            }
            if qw.typos > 0 && misspelt(qw) && !qw.near.is_empty() {
                // The name and title words within the typo budget: the vocabulary words found
                // near it, looked up as terms (constant score, like any typo match).
                let near = |field: Field, stems: bool| -> Box<dyn Query> {
                    let terms = qw
                        .near
                        .iter()
                        .map(|(w, stem)| {
                            let text = if stems { stem } else { w };
                            let q: Box<dyn Query> = Box::new(TermQuery::new(
                                Term::from_field_text(field, text),
                                IndexRecordOption::Basic,
                            ));
                            (Occur::Should, q)
                        })
                        .collect();
                    Box::new(ConstScoreQuery::new(
                        Box::new(BooleanQuery::new(terms)),
                        1.0,
                    ))
                };
                fields.push(boost(near(f.name, false), W_FUZZY_NAME * loose));
                fields.push(boost(near(f.title, true), W_FUZZY_TITLE * loose));
            }
            // Two letters start too many words to look them all up, but as the whole query
            // they are someone starting to type a name. In a query of several words, a last
            // word the catalog uses as typed is taken as finished: expanding it would look up
            // every longer word it starts (hundreds of postings for `lib` or `pro`), the
            // largest cost of such queries, for matches its own clauses mostly find.
            let shortest = if words.len() == 1 { 2 } else { 3 };
            let unfinished = words.len() == 1 || !qw.known_as_typed();
            if i == last && unfinished && typed.chars().count() >= shortest {
                fields.push(boost(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.name, typed),
                        0,
                        false,
                    )),
                    W_PREFIX_NAME * loose,
                ));
                fields.push(boost(
                    Box::new(FuzzyTermQuery::new_prefix(
                        Term::from_field_text(f.title, typed),
                        0,
                        false,
                    )),
                    W_PREFIX_TITLE * loose,
                ));
            }
            should.push((
                Occur::Should,
                Box::new(DisjunctionMaxQuery::with_tie_breaker(fields, TIE_BREAKER)),
            ));
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
        let words = self.query_words(&searcher, q.text.trim());
        let (query, broad) = self.build_query(&searcher, q, &words)?;
        let text = q.text.trim();
        let top = if text.is_empty() {
            // No text: every match ties, and popularity decides among all of them.
            collect::TopWithTies::new(window, usize::MAX)
        } else {
            collect::TopWithTies::new(CANDIDATES.max(window), MAX_WINDOW.max(window))
        };
        let (top, total) = searcher.search(
            &query,
            &filter::Filtered {
                inner: (top, Count),
                filters: broad,
            },
        )?;
        let side = self
            .side
            .read()
            .map_err(|e| SearchError::Poisoned(e.to_string()))?;
        let mut columns: HashMap<u32, tantivy::columnar::Column<u64>> = HashMap::new();
        let mut candidates: Vec<(&DocInfo, f32, f64)> = Vec::with_capacity(top.len());
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
                candidates.push((info, score, info.popularity()));
            }
        }
        let max_score = candidates
            .iter()
            .map(|c| c.1)
            .fold(f32::MIN_POSITIVE, f32::max);
        let max_pop = candidates.iter().map(|c| c.2).fold(0.0f64, f64::max);
        let max_pop_ln = (1.0 + max_pop).ln();
        let query_name = canonical_name(text);
        let query_lc = lc(text);
        let query_len = query_name.chars().count();
        let query_chars = char_set(&query_name);
        // Of a query of several words, the share of those the catalog uses that each
        // candidate contains, each word weighted by how rare it is: of `git client`, `git` says
        // more than `client` (a misspelt word counts through its typo clauses alone).
        let weights: Vec<f32> = if words.len() < 2 {
            Vec::new()
        } else {
            words.iter().map(|w| self.rarity(&searcher, w)).collect()
        };
        let known_weight: f32 = weights.iter().sum();
        let coverage = |info: &DocInfo| -> f32 {
            if words.len() < 2 || known_weight <= 0.0 {
                return 1.0;
            }
            let last = words.len() - 1;
            let matched: f32 = words
                .iter()
                .zip(&weights)
                .enumerate()
                .filter(|(_, (w, _))| w.known)
                .map(|(i, (w, weight))| {
                    if info.matches(w, i == last) {
                        *weight
                    } else if w.related.as_ref().is_some_and(|(_, h)| info.has_term(*h)) {
                        weight * RELATED_COVERAGE
                    } else {
                        0.0
                    }
                })
                .sum();
            matched / known_weight
        };
        // Of its adjacent word pairs, the share a candidate has side by side (a phrase).
        let pairs: Vec<u32> = words
            .windows(2)
            .map(|p| pair_hash(&p[0].stem, &p[1].stem))
            .collect();
        let together = |info: &DocInfo| -> f32 {
            if pairs.is_empty() {
                return 0.0;
            }
            let found = pairs.iter().filter(|h| info.has_pair(**h)).count();
            found as f32 / pairs.len() as f32
        };
        let mut ranked: Vec<(f32, &DocInfo)> = candidates
            .into_iter()
            .map(|(info, score, pop)| {
                let mut s = if text.is_empty() {
                    0.0
                } else {
                    score / max_score * coverage(info).powi(COVERAGE_POWER)
                        + B_PHRASE * together(info)
                };
                if !text.is_empty() {
                    // Package names are lower case already; others are lowered here.
                    let name: std::borrow::Cow<'_, str> = if info.name.is_ascii()
                        && !info.name.bytes().any(|b| b.is_ascii_uppercase())
                    {
                        std::borrow::Cow::Borrowed(&info.name)
                    } else {
                        std::borrow::Cow::Owned(lc(&info.name))
                    };
                    if name == query_name {
                        s += B_EXACT;
                    } else {
                        if query_len >= 2 && name.starts_with(&query_name) {
                            s += B_NAME_PREFIX * query_len as f32 / name.chars().count() as f32;
                        }
                        let typos = typos_for(query_len) as usize;
                        if typos > 0
                            && within(&name, info.name_chars, &query_name, query_chars, typos)
                        {
                            s += B_NAME_TYPO;
                        }
                    }
                    if !info.title_lc.is_empty() && info.title_lc == query_lc {
                        s += B_TITLE_EXACT;
                    }
                }
                let prior = if max_pop > 0.0 {
                    ((1.0 + pop).ln() / max_pop_ln) as f32
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
        // Best first; equal scores by name, then id (a snap and a charm may share a name), so
        // that every process answers alike whatever order it filed the catalog in.
        let order = |a: &(f32, &DocInfo), b: &(f32, &DocInfo)| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.name.cmp(&b.1.name))
                .then_with(|| a.1.id.cmp(&b.1.id))
        };
        if ranked.len() > window {
            ranked.select_nth_unstable_by(window - 1, order);
            ranked.truncate(window);
        }
        ranked.sort_unstable_by(order);
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
