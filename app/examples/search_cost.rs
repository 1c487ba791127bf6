//! What one search costs, without HTTP: the engine `depot serve` uses, over a catalog file,
//! running every query of a list as `GET /v2/snaps/find` asks it (snaps released for amd64,
//! the top 100), on one thread, several rounds. Prints the mean and percentiles of a query's
//! time, and the SLOWEST queries; for comparing changes to the engine (the HTTP figures are
//! `make bench`'s).
//!
//!     cargo run --release -p depot --example search_cost -- \
//!         ../shared/data/packages.jsonl.gz QUERIES.txt [ROUNDS [SLOWEST]]
//!
//! QUERIES.txt holds one query a line (`make bench` writes such a mix as `queries.txt`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use depot::domain::Namespace;
use depot::search::SearchQuery;
use depot::search::eval::{index_catalog, read_catalog};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: search_cost CATALOG QUERIES.txt [ROUNDS [SLOWEST]]";
    let catalog = PathBuf::from(args.next().ok_or(usage)?);
    let queries = PathBuf::from(args.next().ok_or(usage)?);
    let rounds: usize = match args.next() {
        Some(n) => n.parse().map_err(|_| usage)?,
        None => 5,
    };
    let show: usize = match args.next() {
        Some(n) => n.parse().map_err(|_| usage)?,
        None => 0,
    };
    let records = read_catalog(&catalog)?;
    let queries: Vec<String> = std::fs::read_to_string(&queries)
        .map_err(|e| format!("{}: {e}", queries.display()))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let building = Instant::now();
    let index = index_catalog(&records).map_err(|e| e.to_string())?;
    println!(
        "index of {} packages built in {} ms",
        records.len(),
        building.elapsed().as_millis()
    );
    // The index merges its build segments in the background; then a warm-up round.
    std::thread::sleep(Duration::from_secs(3));
    let run = |text: &str| {
        let query = SearchQuery {
            text: text.to_string(),
            namespace: Some(Namespace::Snap),
            architecture: Some("amd64".into()),
            limit: 100,
            ..SearchQuery::default()
        };
        index.search(&query).map(|r| r.hits.len())
    };
    for q in &queries {
        run(q).map_err(|e| e.to_string())?;
    }
    let mut times = Vec::with_capacity(queries.len() * rounds);
    let mut slowest = vec![Duration::ZERO; queries.len()];
    let mut found = 0;
    for _ in 0..rounds {
        for (q, slow) in queries.iter().zip(&mut slowest) {
            let started = Instant::now();
            found += run(q).map_err(|e| e.to_string())?;
            let took = started.elapsed();
            times.push(took);
            *slow = (*slow).max(took);
        }
    }
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    println!(
        "{} queries × {rounds} rounds over {} packages: mean {mean:.0} µs, p50 {:.0}, p90 {:.0}, p99 {:.0}, max {:.0} µs; {:.1} results a query",
        queries.len(),
        records.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        found as f64 / times.len() as f64,
    );
    let mut slowest: Vec<(Duration, &String)> = slowest.into_iter().zip(&queries).collect();
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    if show > 0 {
        println!("slowest (µs, worst of the rounds):");
    }
    for (took, q) in slowest.iter().take(show) {
        println!("  {:>6.0}  {q}", took.as_secs_f64() * 1e6);
    }
    Ok(())
}
