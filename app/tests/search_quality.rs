//! Search quality floors: the engine the server runs, over the 1,779-app catalog, must keep
//! the quality targets on both judgment sets (`depot eval search` prints the same figures).
//!
//! - `../shared/data/search-judgments-dev.tsv`: the development judgments the weights were
//!   chosen on;
//! - `tests/search/judgments-2.tsv`: 40 more queries (names, tasks, misspellings, prefixes),
//!   judged from the catalog by someone who had not seen the ranking;
//! - `tests/search/typos-and-prefixes.tsv` and `typos-in-names.tsv`: names with a typo or cut
//!   short, generated from the catalog by `tests/search/variants.py`, each with its one app.

use std::path::{Path, PathBuf};

use depot::search::eval::{Report, evaluate, index_catalog, read_catalog, read_judgments};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn report(judgments: &Path) -> Report {
    let catalog = repo().join("../shared/data/apps.jsonl");
    let records = read_catalog(&catalog).unwrap_or_else(|e| {
        panic!(
            "the test catalog is missing ({e}): it ships in ../shared/data next to the repository"
        )
    });
    let text = std::fs::read_to_string(judgments)
        .unwrap_or_else(|e| panic!("{}: {e}", judgments.display()));
    let judged = read_judgments(&text).expect("judgments parse");
    let index = index_catalog(&records).expect("the catalog indexes");
    evaluate(&index, &judged, 10).expect("every query runs")
}

/// NDCG@10 ≥ 0.85 and MRR ≥ 0.95 overall, and the queries named (misspelt names, names cut
/// short) answered with a relevant package first.
fn assert_quality(report: &Report, first: &[&str]) {
    let o = &report.overall;
    let table = depot::search::eval::render_text(report);
    assert!(o.ndcg >= 0.85, "NDCG@10 {:.3} < 0.85\n{table}", o.ndcg);
    assert!(o.mrr >= 0.95, "MRR {:.3} < 0.95\n{table}", o.mrr);
    for query in first {
        let found = report
            .per_query
            .iter()
            .find(|q| q.query == *query)
            .unwrap_or_else(|| panic!("no judged query {query:?}"));
        assert_eq!(
            found.first_relevant_rank,
            Some(1),
            "{query:?} ranked {:?}",
            found.results
        );
    }
}

#[test]
fn development_judgments_keep_their_targets() {
    let report = report(&repo().join("../shared/data/search-judgments-dev.tsv"));
    assert_eq!(report.queries, 30);
    assert_quality(&report, &["inksape", "thunderbrid", "kden"]);
}

#[test]
fn a_second_set_judged_without_the_ranking_meets_the_same_bar() {
    let report = report(&repo().join("tests/search/judgments-2.tsv"));
    assert_eq!(report.queries, 40);
    assert_quality(
        &report,
        &[
            "rythmbox",
            "telegarm",
            "scibus",
            "chromuim",
            "wallpapper",
            "dictionnary",
            "okul",
            "kica",
            "ardou",
            "geoge",
            "minet",
            "synfi",
        ],
    );
}

/// Of generated misspellings and prefixes of names, nearly every one finds its app first.
fn assert_found_first(report: &Report, share: f64) {
    let missed: Vec<String> = report
        .per_query
        .iter()
        .filter(|q| q.first_relevant_rank != Some(1))
        .map(|q| format!("{:?} -> {:?}", q.query, q.results.first()))
        .collect();
    assert!(
        report.overall.success_at_1 >= share,
        "success@1 {:.3} < {share}; missed: {missed:#?}",
        report.overall.success_at_1
    );
}

#[test]
fn misspelt_and_cut_short_names_find_their_app_first() {
    let report = report(&repo().join("tests/search/typos-and-prefixes.tsv"));
    assert_eq!(report.queries, 160);
    assert_found_first(&report, 0.98);
}

#[test]
fn names_of_several_words_typed_with_a_typo_find_their_app_first() {
    let report = report(&repo().join("tests/search/typos-in-names.tsv"));
    assert_eq!(report.queries, 60);
    assert_found_first(&report, 0.98);
}
