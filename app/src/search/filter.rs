//! Facet filters (architecture, confinement) as bit sets computed once per index segment and
//! reused by every query, as Lucene caches filters.
//!
//! A filter such as "released for amd64 or for every architecture" matches nearly every
//! document: as a union of postings it was walked again, block by block, by every query it
//! narrowed (a fifth of a `find` with an architecture). Segments never change (updates add new
//! ones, merges replace them), so a segment's set is computed the first time a query needs it.
//! A filter scores nothing: it narrows, it does not rank.
//!
//! A filter that most documents pass (`released for amd64` in a catalog of amd64 packages,
//! `is a snap` in a snap store) is no help as a clause of the query: intersecting it with the
//! text query only adds a seek per match. Such a filter is checked as each match is collected
//! instead ([`Filtered`]); a selective one (charms among many snaps, `classic` confinement)
//! stays a clause, where it leads the intersection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{BitSet, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED, Term};

/// Sets kept at most; past this (segments merged away, odd architecture names sent by
/// clients) the cache starts again.
const MAX_SETS: usize = 256;

/// A segment's sets for one field, by the values they pass: looked up by segment and field,
/// then by comparing values, so that a look-up builds no key.
type Sets = HashMap<(SegmentId, Field), Vec<(Box<[String]>, Arc<BitSet>)>>;

/// The bit sets of the filters queries have used, per segment.
#[derive(Default)]
pub(crate) struct FilterCache {
    sets: Mutex<(Sets, usize)>,
}

impl std::fmt::Debug for FilterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterCache").finish_non_exhaustive()
    }
}

impl FilterCache {
    /// The documents of `reader`'s segment with any of `values` in `field`.
    fn set(
        &self,
        reader: &SegmentReader,
        field: Field,
        values: &[String],
    ) -> tantivy::Result<Arc<BitSet>> {
        let key = (reader.segment_id(), field);
        let cached = |sets: &Sets| {
            sets.get(&key)?
                .iter()
                .find(|(passing, _)| **passing == *values)
                .map(|(_, set)| Arc::clone(set))
        };
        if let Some(set) = cached(&self.lock().0) {
            return Ok(set);
        }
        let mut set = BitSet::with_max_value(reader.max_doc());
        let inverted = reader.inverted_index(field)?;
        for value in values {
            let term = Term::from_field_text(field, value);
            if let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? {
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    set.insert(doc);
                    doc = postings.advance();
                }
            }
        }
        let set = Arc::new(set);
        let mut guard = self.lock();
        let (sets, count) = &mut *guard;
        // Two queries racing both compute the set; the first one kept stays.
        if let Some(kept) = cached(sets) {
            return Ok(kept);
        }
        if *count >= MAX_SETS {
            sets.clear();
            *count = 0;
        }
        sets.entry(key)
            .or_default()
            .push((values.into(), Arc::clone(&set)));
        *count += 1;
        Ok(set)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Sets, usize)> {
        self.sets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Documents with any of `values` in `field`, from the cache; scores 0.
#[derive(Clone, Debug)]
pub(crate) struct CachedFilter {
    pub cache: Arc<FilterCache>,
    pub field: Field,
    pub values: Vec<String>,
}

impl CachedFilter {
    /// The share of the searcher's documents that pass.
    pub fn share(&self, searcher: &tantivy::Searcher) -> tantivy::Result<f64> {
        let (mut passed, mut all) = (0usize, 0usize);
        for reader in searcher.segment_readers() {
            passed += self.cache.set(reader, self.field, &self.values)?.len();
            all += reader.max_doc() as usize;
        }
        Ok(if all == 0 {
            1.0
        } else {
            passed as f64 / all as f64
        })
    }
}

/// A collector that passes `inner` only the matches every one of `filters` lets through.
pub(crate) struct Filtered<C> {
    pub inner: C,
    pub filters: Vec<CachedFilter>,
}

impl<C: Collector> Collector for Filtered<C> {
    type Fruit = C::Fruit;
    type Child = FilteredSegment<C::Child>;

    fn for_segment(
        &self,
        ordinal: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let sets = self
            .filters
            .iter()
            .map(|f| f.cache.set(reader, f.field, &f.values))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(FilteredSegment {
            inner: self.inner.for_segment(ordinal, reader)?,
            sets,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.inner.requires_scoring()
    }

    fn merge_fruits(
        &self,
        fruits: Vec<<Self::Child as SegmentCollector>::Fruit>,
    ) -> tantivy::Result<Self::Fruit> {
        self.inner.merge_fruits(fruits)
    }
}

pub(crate) struct FilteredSegment<C> {
    inner: C,
    sets: Vec<Arc<BitSet>>,
}

impl<C: SegmentCollector> SegmentCollector for FilteredSegment<C> {
    type Fruit = C::Fruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.sets.iter().all(|set| set.contains(doc)) {
            self.inner.collect(doc, score);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.inner.harvest()
    }
}

impl Query for CachedFilter {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for CachedFilter {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let set = self.cache.set(reader, self.field, &self.values)?;
        Ok(Box::new(ConstScorer::new(
            BitSetDocSet::from(BitSet::clone(&set)),
            0.0,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self
            .cache
            .set(reader, self.field, &self.values)?
            .contains(doc)
        {
            Ok(Explanation::new("filter", 0.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not pass the filter"
            )))
        }
    }
}
