//! The retrieval step's cut: the best-scoring matches, and every match tying with the last of
//! them.
//!
//! BM25 scores tie often: tantivy keeps a field's length in one byte, so two packages using a
//! word once in summaries of about the same length score exactly alike. tantivy's own top-n
//! collector breaks such ties by index order, which is the order packages happened to be filed
//! in, so that of 500 packages tying for `player`, the 200 that went on to re-ranking (where
//! popularity orders them) were the oldest, not the most downloaded, and two processes that
//! filed the catalog in different orders answered differently. [`TopWithTies`] hands every
//! tying match on, up to a bound, and re-ranking decides among them.

use std::cmp::Ordering;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// The `depth` best matches by score, plus those tying with the last of them, `most` at the
/// very most (ties past that are dropped last-filed first). Unordered.
pub(crate) struct TopWithTies {
    pub depth: usize,
    pub most: usize,
}

impl TopWithTies {
    pub fn new(depth: usize, most: usize) -> TopWithTies {
        let depth = depth.max(1);
        TopWithTies {
            depth,
            most: most.max(depth),
        }
    }

    fn segment(&self, ordinal: SegmentOrdinal) -> TopWithTiesSegment {
        TopWithTiesSegment {
            ordinal,
            depth: self.depth,
            most: self.most,
            kept: Vec::new(),
            bar: Score::MIN,
            full: false,
        }
    }
}

/// Best score first; among equal scores, the earlier filed first. A total order (a NaN
/// score, which BM25 never gives, sorts as its bits say rather than breaking the sort).
fn better<D: Ord>(a: &(Score, D), b: &(Score, D)) -> Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1))
}

/// Cuts `kept` down to its `depth` best and the ties of the last of them, `most` at most;
/// returns the score a match needs to be kept from now on, and whether only a higher one will
/// do (the ties are full).
fn cut<D: Ord + Copy>(kept: &mut Vec<(Score, D)>, depth: usize, most: usize) -> (Score, bool) {
    if kept.len() <= depth {
        return (Score::MIN, false);
    }
    kept.select_nth_unstable_by(depth - 1, better);
    let bar = kept[depth - 1].0;
    kept.retain(|(score, _)| score.total_cmp(&bar) != Ordering::Less);
    if kept.len() > most {
        kept.sort_unstable_by(better);
        kept.truncate(most);
        return (bar, true);
    }
    (bar, false)
}

impl Collector for TopWithTies {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = TopWithTiesSegment;

    fn for_segment(
        &self,
        ordinal: SegmentOrdinal,
        _reader: &SegmentReader,
    ) -> tantivy::Result<TopWithTiesSegment> {
        Ok(self.segment(ordinal))
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        fruits: Vec<Vec<(Score, DocAddress)>>,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        cut(&mut all, self.depth, self.most);
        Ok(all)
    }
}

pub(crate) struct TopWithTiesSegment {
    ordinal: SegmentOrdinal,
    depth: usize,
    most: usize,
    kept: Vec<(Score, DocId)>,
    /// The score a match needs to be kept (after the last cut).
    bar: Score,
    /// The ties at `bar` are full: only a higher score is kept.
    full: bool,
}

impl SegmentCollector for TopWithTiesSegment {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        match score.total_cmp(&self.bar) {
            Ordering::Less => return,
            Ordering::Equal if self.full => return,
            _ => {}
        }
        self.kept.push((score, doc));
        // Cut when the matches past the bar are as many again as the depth (and the ties).
        if self.kept.len() >= self.most.max(self.depth * 2).saturating_add(self.depth) {
            (self.bar, self.full) = cut(&mut self.kept, self.depth, self.most);
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        cut(&mut self.kept, self.depth, self.most);
        self.kept
            .into_iter()
            .map(|(score, doc)| (score, DocAddress::new(self.ordinal, doc)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(depth: usize, most: usize, scores: &[Score]) -> Vec<(Score, DocId)> {
        let mut segment = TopWithTies::new(depth, most).segment(0);
        for (doc, score) in scores.iter().enumerate() {
            segment.collect(doc as DocId, *score);
        }
        let mut kept: Vec<(Score, DocId)> = segment
            .harvest()
            .into_iter()
            .map(|(s, a)| (s, a.doc_id))
            .collect();
        kept.sort_unstable_by(better);
        kept
    }

    #[test]
    fn keeps_the_best_and_every_tie_of_the_last() {
        // 1,000 matches, scoring 0 to 9 in turn: the best 150 are the 100 nines and 50 of the
        // 100 eights, so every eight is kept.
        let scores: Vec<Score> = (0..1000).map(|i| (i % 10) as Score).collect();
        let kept = run(150, 1000, &scores);
        assert_eq!(kept.len(), 200);
        assert!(kept.iter().all(|(s, _)| *s >= 8.0));
        // Without ties at the cut, exactly the depth.
        let distinct: Vec<Score> = (0..1000).map(|i| i as Score).collect();
        let kept = run(150, 1000, &distinct);
        assert_eq!(kept.len(), 150);
        assert_eq!(kept[149].0, 850.0);
    }

    #[test]
    fn ties_past_the_bound_drop_the_last_filed() {
        let scores = vec![1.0; 5000];
        let kept = run(10, 300, &scores);
        assert_eq!(kept.len(), 300);
        assert_eq!(kept.last().unwrap().1, 299, "the earliest filed are kept");
        // A better match after the ties filled up still gets in.
        let mut scores = vec![1.0; 5000];
        scores.push(2.0);
        let kept = run(10, 300, &scores);
        assert_eq!(kept[0], (2.0, 5000));
        assert_eq!(kept.len(), 300);
    }

    #[test]
    fn segments_merge_with_the_same_cut() {
        let collector = TopWithTies::new(3, 100);
        let fruits = vec![
            vec![
                (5.0, DocAddress::new(0, 1)),
                (3.0, DocAddress::new(0, 2)),
                (3.0, DocAddress::new(0, 3)),
            ],
            vec![
                (4.0, DocAddress::new(1, 0)),
                (3.0, DocAddress::new(1, 7)),
                (1.0, DocAddress::new(1, 8)),
            ],
        ];
        let mut merged = collector.merge_fruits(fruits).unwrap();
        merged.sort_unstable_by(better);
        let scores: Vec<Score> = merged.iter().map(|m| m.0).collect();
        assert_eq!(scores, [5.0, 4.0, 3.0, 3.0, 3.0]);
    }
}
