//! `depot eval`: offline quality measurements of the engines the server runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::search::eval::{evaluate, index_catalog, read_catalog, read_judgments, render_text};

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// Ranks the judged queries with the server's search engine over a catalog file and
    /// prints NDCG@k, MRR@k, recall@k and success@1, overall and per query.
    Search {
        /// Catalog in JSON lines (`apps.jsonl`, `packages.jsonl[.gz]` shapes); `rdepends`
        /// stands in for download counts.
        #[arg(long, value_name = "FILE")]
        catalog: PathBuf,
        /// Judgments: `query_id<TAB>query<TAB>package<TAB>grade` (0–3), with a header line.
        #[arg(long, value_name = "FILE.tsv")]
        judgments: PathBuf,
        /// Cut-off rank.
        #[arg(long, default_value_t = 10)]
        k: usize,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(command: EvalCommand) -> ExitCode {
    match command {
        EvalCommand::Search {
            catalog,
            judgments,
            k,
            format,
        } => {
            let result = (|| -> Result<String, String> {
                if k == 0 {
                    return Err("--k must be at least 1".into());
                }
                let records = read_catalog(&catalog)?;
                let text = std::fs::read_to_string(&judgments)
                    .map_err(|e| format!("{}: {e}", judgments.display()))?;
                let judged =
                    read_judgments(&text).map_err(|e| format!("{}: {e}", judgments.display()))?;
                let started = std::time::Instant::now();
                let index = index_catalog(&records).map_err(|e| e.to_string())?;
                let indexed = started.elapsed();
                let started = std::time::Instant::now();
                let report = evaluate(&index, &judged, k).map_err(|e| e.to_string())?;
                let ranked = started.elapsed();
                // On stderr: the report on stdout stays the same from run to run.
                eprintln!(
                    "indexed {} packages in {:.2} s; ranked {} queries in {:.0} ms ({:.0} µs a query, one thread)",
                    records.len(),
                    indexed.as_secs_f64(),
                    judged.len(),
                    ranked.as_secs_f64() * 1e3,
                    ranked.as_secs_f64() * 1e6 / judged.len().max(1) as f64,
                );
                Ok(match format {
                    Format::Text => render_text(&report),
                    Format::Json => {
                        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n"
                    }
                })
            })();
            match result {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("error: {err}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
