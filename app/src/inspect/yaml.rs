//! YAML parsing with hard budgets.
//!
//! Every metadata file comes from an untrusted upload, so it is parsed with serde-saphyr's
//! budget enforced during parsing: an alias bomb ("billion laughs"), a deeply nested
//! document or an event storm is rejected after a bounded amount of work instead of being
//! expanded. Typed targets keep scalar text as written, so `channel: 20.10` reads as the
//! string `"20.10"`, never the float `20.1`.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde_saphyr::options::AliasLimits;
use serde_saphyr::{Budget, Options};

use super::InspectError;

/// Parse options for one metadata file of at most `max_bytes` bytes.
fn options(max_bytes: u64) -> Options {
    let max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let mut budget = Budget::default();
    budget.max_reader_input_bytes = Some(max_bytes);
    budget.max_events = 200_000;
    budget.max_nodes = 100_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_depth = 48;
    budget.flow_nesting_limit = 48;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = max_bytes.saturating_mul(2);
    budget.max_merge_keys = 100;
    budget.max_recorded_anchor_events = 20_000;
    budget.max_recorded_anchor_bytes = max_bytes.saturating_mul(2);

    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = 20_000;
    alias_limits.max_replay_stack_depth = 16;
    alias_limits.max_alias_expansions_per_anchor = 1_000;

    let mut options = Options::default();
    options.budget = Some(budget);
    options.alias_limits = alias_limits;
    // Plain one-line errors: a rendered snippet would echo untrusted input across lines.
    options.with_snippet = false;
    options
}

/// Deserialize `text` (the contents of `file`) into `T` within the budget.
pub(crate) fn parse<T: DeserializeOwned>(
    file: &str,
    text: &str,
    max_bytes: u64,
) -> Result<T, InspectError> {
    serde_saphyr::from_str_with_options(text, options(max_bytes))
        .map_err(|err| InspectError::malformed(file, err.to_string()))
}

/// Check that `text` is well-formed YAML within the budget, without keeping anything.
pub(crate) fn check(file: &str, text: &str, max_bytes: u64) -> Result<(), InspectError> {
    parse::<Option<IgnoredAny>>(file, text, max_bytes).map(|_| ())
}
