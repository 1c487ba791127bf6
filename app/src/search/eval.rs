//! Offline search evaluation: catalog files (`apps.jsonl`, `packages.jsonl[.gz]`), graded
//! judgments (`query_id, query, package, grade` TSV) and the metrics (NDCG@k, MRR@k, recall@k,
//! success@1). Definitions are in `docs/reference/search-evaluation.md`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{SearchDoc, SearchIndex, SearchQuery};
use crate::domain::Namespace;

/// One line of a catalog file: the AppStream-derived `apps.jsonl` shape or the Debian
/// `packages.jsonl` shape (fields either lacks are absent).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct CatalogRecord {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub license: Option<String>,
    /// Debian section (`packages.jsonl`): used as the category.
    #[serde(default)]
    pub section: Option<String>,
    /// Debian debtags (`packages.jsonl`): their values become keywords.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub installed_size_kib: Option<u64>,
    /// How many packages depend on or recommend this one: the offline stand-in for download
    /// counts.
    #[serde(default)]
    pub rdepends: u64,
}

impl CatalogRecord {
    /// Keywords: AppStream keywords, or the values of debtags (`use::editing` → `editing`).
    pub fn all_keywords(&self) -> Vec<String> {
        let mut out = self.keywords.clone();
        for tag in &self.tags {
            if let Some((_, value)) = tag.split_once("::") {
                let value = value.replace(['-', ':'], " ");
                if !out.contains(&value) {
                    out.push(value);
                }
            }
        }
        out
    }

    pub fn all_categories(&self) -> Vec<String> {
        if !self.categories.is_empty() {
            return self.categories.clone();
        }
        self.section
            .iter()
            .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
            .collect()
    }

    /// The search document of this record, as a released public snap would have it.
    pub fn to_doc(&self, id: &str) -> SearchDoc {
        SearchDoc {
            id: id.to_string(),
            namespace: Some(Namespace::Snap),
            name: self.name.clone(),
            title: self.title.clone().unwrap_or_default(),
            summary: self.summary.clone(),
            description: self.description.clone().unwrap_or_default(),
            keywords: self.all_keywords(),
            categories: self.all_categories(),
            publisher: self.publisher.clone().unwrap_or_default(),
            publisher_display: String::new(),
            kinds: vec!["app".into()],
            architectures: vec![self.architecture.clone().unwrap_or_else(|| "all".into())],
            channels: vec!["stable".into(), "latest/stable".into()],
            confinements: vec!["strict".into()],
        }
    }
}

/// Opens a file, gunzipping it when its name ends in `.gz`.
pub fn open_maybe_gz(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 16, reader)))
}

/// Reads a catalog file. Errors name the line.
pub fn read_catalog(path: &Path) -> Result<Vec<CatalogRecord>, String> {
    let reader = open_maybe_gz(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: CatalogRecord = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        out.push(record);
    }
    Ok(out)
}

/// One judged query.
#[derive(Clone, Debug, Default)]
pub struct JudgedQuery {
    pub id: String,
    pub query: String,
    /// Grade (0–3) by package name.
    pub grades: HashMap<String, u32>,
}

/// Reads `query_id<TAB>query<TAB>package<TAB>grade` lines (a header line is skipped).
pub fn read_judgments(text: &str) -> Result<Vec<JudgedQuery>, String> {
    let mut by_id: BTreeMap<String, JudgedQuery> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 4 {
            return Err(format!("line {}: expected 4 tab-separated columns", i + 1));
        }
        let Ok(grade) = cols[3].trim().parse::<u32>() else {
            if i == 0 {
                continue; // header
            }
            return Err(format!(
                "line {}: grade {:?} is not a number",
                i + 1,
                cols[3]
            ));
        };
        let q = by_id
            .entry(cols[0].to_string())
            .or_insert_with(|| JudgedQuery {
                id: cols[0].to_string(),
                query: cols[1].to_string(),
                grades: HashMap::new(),
            });
        q.grades.insert(cols[2].to_string(), grade);
    }
    Ok(by_id.into_values().collect())
}

/// Metrics of one query (or their mean over queries).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Metrics {
    pub ndcg: f64,
    pub mrr: f64,
    pub recall: f64,
    pub success_at_1: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct QueryReport {
    pub id: String,
    pub query: String,
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Rank (1-based) of the first relevant result within k, if any.
    pub first_relevant_rank: Option<usize>,
    pub results: Vec<String>,
    /// The ranking score of each result (comparable within one query only).
    pub scores: Vec<f32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub k: usize,
    pub queries: usize,
    pub overall: Metrics,
    pub per_query: Vec<QueryReport>,
}

fn gain(grade: u32) -> f64 {
    (2f64).powi(grade as i32) - 1.0
}

/// The metrics of a ranked list of names against the grades of one query, cut at `k`.
/// A result is relevant when its grade is at least 1; unjudged results count as grade 0.
pub fn score(ranked: &[String], grades: &HashMap<String, u32>, k: usize) -> Metrics {
    let top = &ranked[..ranked.len().min(k)];
    let dcg: f64 = top
        .iter()
        .enumerate()
        .map(|(i, name)| gain(grades.get(name).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u32> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| gain(*g) / ((i + 2) as f64).log2())
        .sum();
    let relevant = grades.values().filter(|g| **g >= 1).count();
    let first = top
        .iter()
        .position(|n| grades.get(n).is_some_and(|g| *g >= 1));
    let found = top
        .iter()
        .filter(|n| grades.get(*n).is_some_and(|g| *g >= 1))
        .count();
    Metrics {
        ndcg: if idcg > 0.0 { dcg / idcg } else { 0.0 },
        mrr: first.map_or(0.0, |p| 1.0 / (p + 1) as f64),
        recall: if relevant > 0 {
            found as f64 / relevant as f64
        } else {
            0.0
        },
        success_at_1: if first == Some(0) { 1.0 } else { 0.0 },
    }
}

/// Builds the index over a catalog file's records, with `rdepends` as the popularity signal.
pub fn index_catalog(records: &[CatalogRecord]) -> Result<SearchIndex, super::SearchError> {
    let index = SearchIndex::build(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| r.to_doc(&format!("doc-{i}"))),
    )?;
    index.set_popularity(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("doc-{i}"), r.rdepends as f64))
            .collect(),
    );
    Ok(index)
}

/// Runs every judged query through `index` and scores the top `k`.
pub fn evaluate(
    index: &SearchIndex,
    judgments: &[JudgedQuery],
    k: usize,
) -> Result<Report, super::SearchError> {
    let mut per_query = Vec::new();
    for jq in judgments {
        let results = index.search(&SearchQuery {
            text: jq.query.clone(),
            limit: k,
            ..SearchQuery::default()
        })?;
        let names: Vec<String> = results.hits.iter().map(|h| h.name.to_string()).collect();
        let metrics = score(&names, &jq.grades, k);
        let first_relevant_rank = names
            .iter()
            .position(|n| jq.grades.get(n).is_some_and(|g| *g >= 1))
            .map(|p| p + 1);
        per_query.push(QueryReport {
            id: jq.id.clone(),
            query: jq.query.clone(),
            metrics,
            first_relevant_rank,
            results: names,
            scores: results.hits.iter().map(|h| h.score).collect(),
        });
    }
    let n = per_query.len().max(1) as f64;
    let mean = |f: fn(&Metrics) -> f64| per_query.iter().map(|q| f(&q.metrics)).sum::<f64>() / n;
    Ok(Report {
        k,
        queries: per_query.len(),
        overall: Metrics {
            ndcg: mean(|m| m.ndcg),
            mrr: mean(|m| m.mrr),
            recall: mean(|m| m.recall),
            success_at_1: mean(|m| m.success_at_1),
        },
        per_query,
    })
}

/// The report as a plain-text table.
pub fn render_text(report: &Report) -> String {
    let k = report.k;
    let mut out = format!(
        "{:<6} {:<24} {:>8} {:>7} {:>9} {:>6}\n",
        "id",
        "query",
        format!("NDCG@{k}"),
        format!("MRR@{k}"),
        format!("recall@{k}"),
        "first"
    );
    for q in &report.per_query {
        out.push_str(&format!(
            "{:<6} {:<24} {:>8.3} {:>7.3} {:>9.3} {:>6}\n",
            q.id,
            q.query,
            q.metrics.ndcg,
            q.metrics.mrr,
            q.metrics.recall,
            q.first_relevant_rank
                .map_or("-".to_string(), |r| r.to_string())
        ));
    }
    out.push_str(&format!(
        "{:<6} {:<24} {:>8.3} {:>7.3} {:>9.3}\n",
        "all",
        format!("({} queries)", report.queries),
        report.overall.ndcg,
        report.overall.mrr,
        report.overall.recall
    ));
    out.push_str(&format!("success@1 {:.3}\n", report.overall.success_at_1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(list: &[(&str, u32)]) -> HashMap<String, u32> {
        list.iter().map(|(n, g)| (n.to_string(), *g)).collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let g = grades(&[("a", 3), ("b", 2), ("c", 1)]);
        let m = score(&names(&["a", "b", "c"]), &g, 10);
        assert!((m.ndcg - 1.0).abs() < 1e-9);
        assert_eq!(m.mrr, 1.0);
        assert_eq!(m.recall, 1.0);
        assert_eq!(m.success_at_1, 1.0);
    }

    #[test]
    fn ndcg_uses_exponential_gain_and_log_discount() {
        let g = grades(&[("a", 3), ("b", 1)]);
        // Ranked b, a: DCG = 1/log2(2) + 7/log2(3); IDCG = 7/1 + 1/log2(3).
        let m = score(&names(&["b", "a"]), &g, 10);
        let expected = (1.0 + 7.0 / 3f64.log2()) / (7.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg - expected).abs() < 1e-9, "{}", m.ndcg);
        assert_eq!(m.mrr, 1.0);
    }

    #[test]
    fn cutoff_and_unjudged_results() {
        let g = grades(&[("a", 3), ("b", 2)]);
        let m = score(&names(&["x", "y", "a", "b"]), &g, 3);
        assert!((m.mrr - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(m.recall, 0.5);
        assert_eq!(m.success_at_1, 0.0);
        let none = score(&names(&["x"]), &g, 10);
        assert_eq!(none, Metrics::default());
    }

    #[test]
    fn judgments_parse_and_reject_garbage() {
        let q =
            read_judgments("query_id\tquery\tpackage\tgrade\nd1\tvlc\tvlc\t3\nd1\tvlc\tmpv\t1\n")
                .unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].grades["mpv"], 1);
        assert!(read_judgments("d1\tvlc\tvlc\n").is_err());
        assert!(read_judgments("h\th\th\th\nd1\tvlc\tvlc\tx\n").is_err());
    }
}
