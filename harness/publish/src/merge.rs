//! The reports of one run's shards (`run --shard K/N`) joined into the
//! report one unsharded run would have written: results in backend order
//! then case order, summary rows and counts summed, expectation rules
//! judged over every shard.
//!
//! Reports of different runs are refused, naming what differs: the tool
//! version, revision, suites, plans, backends or shard count, or load-time
//! findings (every shard loads every suite, so each carries the same
//! input errors and not-applicable cases: they are counted once).

use super::PublishError;
use std::collections::BTreeMap;
use std::fmt::Debug;
use streamconform::case::NotApplicable;
use streamconform::expectations::{ExpectationTally, RuleCheck};
use streamconform::reporter::json::Report;
use streamconform::reporter::summary::SummaryRow;

pub fn merge(reports: Vec<Report>) -> Result<Report, PublishError> {
    let refuse = |message: String| Err(PublishError::Refused(message));
    if reports.is_empty() {
        return refuse("no shard reports to merge".into());
    }
    let mut shards = Vec::with_capacity(reports.len());
    for (given, report) in reports.into_iter().enumerate() {
        match report.run.shard {
            Some(shard) => shards.push((shard, report)),
            None => {
                return refuse(format!(
                    "report {} of those given is not a shard's (its run has no `shard`): merge the reports of `run --shard K/N`",
                    given + 1
                ))
            }
        }
    }
    shards.sort_by_key(|(shard, _)| shard.index);
    let (first_shard, first) = &shards[0];
    let total = first_shard.total;
    for (shard, _) in &shards[1..] {
        if shard.total != total {
            return refuse(format!(
                "shard {shard} and shard {first_shard} are of different runs: the shard totals differ ({} vs {total})",
                shard.total
            ));
        }
    }
    for pair in shards.windows(2) {
        if pair[0].0.index == pair[1].0.index {
            return refuse(format!("shard {} is given twice", pair[0].0));
        }
    }
    if let Some(missing) = (1..=total).find(|i| shards.iter().all(|(s, _)| s.index != *i)) {
        return refuse(format!(
            "shard {missing}/{total} is missing: give the reports of all {total} shards"
        ));
    }

    // The same run: everything but which cases ran and when.
    for (shard, report) in &shards[1..] {
        let (a, b) = (&report.run, &first.run);
        let differing = first_difference(&[
            ("tool_version", &a.tool_version, &b.tool_version),
            ("revision", &a.revision, &b.revision),
            ("suites", &a.suites, &b.suites),
            ("plans", &a.plans, &b.plans),
            ("backends", &a.backends, &b.backends),
            ("proposal_support", &a.proposal_support, &b.proposal_support),
            ("input_errors", &report.input_errors, &first.input_errors),
            (
                "not_applicable",
                &report.not_applicable,
                &first.not_applicable,
            ),
        ]);
        if let Some((field, mine, theirs)) = differing {
            return refuse(format!(
                "shard {shard} is of a different run than shard {first_shard}: {field} differ ({mine} vs {theirs})"
            ));
        }
    }

    let mut merged = first.clone();
    merged.run.shard = None;
    merged.run.cases = shards.iter().map(|(_, r)| r.run.cases).sum();
    merged.run.started_at = shards
        .iter()
        .map(|(_, r)| r.run.started_at.clone())
        .min()
        .unwrap_or_default();
    let mut hosts: Vec<&str> = Vec::new();
    for (_, r) in &shards {
        if !hosts.contains(&r.run.host.as_str()) {
            hosts.push(&r.run.host);
        }
    }
    merged.run.host = hosts.join(", ");

    // Backend order, then the case's place in the unsharded selection.
    let backend_position = |name: &str| merged.run.backends.iter().position(|b| b.name == name);
    let mut results = Vec::new();
    for (shard, report) in &shards {
        for result in &report.results {
            let (Some(backend), Some(index)) =
                (backend_position(&result.backend), result.case_index)
            else {
                return refuse(format!(
                    "shard {shard}: the result of {} on {} has no case_index or an unknown backend; was it written by `run --shard`?",
                    result.id, result.backend
                ));
            };
            results.push(((backend, index), result.clone()));
        }
    }
    results.sort_by_key(|(key, _)| *key);
    for pair in results.windows(2) {
        if pair[0].0 == pair[1].0 {
            return refuse(format!(
                "{} on {} is in two shards: the shards overlap",
                pair[1].1.id, pair[1].1.backend
            ));
        }
    }
    merged.results = results
        .into_iter()
        .map(|(_, mut result)| {
            result.case_index = None;
            result
        })
        .collect();

    merged.summary = merge_summaries(
        &first.not_applicable,
        shards.iter().map(|(_, r)| r.summary.as_slice()),
    );

    let finished = &mut merged.finished;
    let all = || shards.iter().map(|(_, r)| &r.finished);
    finished.elapsed_secs = all().map(|f| f.elapsed_secs).fold(0.0, f64::max);
    finished.cases_run = all().map(|f| f.cases_run).sum();
    finished.unexpected = all().map(|f| f.unexpected).sum();
    finished.interrupted = all().any(|f| f.interrupted);
    finished.setup_errors.clear();
    for error in all().flat_map(|f| &f.setup_errors) {
        if !finished.setup_errors.contains(error) {
            finished.setup_errors.push(error.clone());
        }
    }
    // A rule that matched only passing cases in one shard may match failing
    // ones in another: judged on the tallies summed over every shard, as an
    // unsharded run judges them. A run that did not complete (interrupted,
    // a backend that could not start) is not judged, as unsharded.
    let complete = !finished.interrupted && finished.setup_errors.is_empty();
    let check = match sum_tallies(all().map(|f| f.expectation_tallies.as_slice())) {
        Some(tallies) if complete => RuleCheck::from_tallies(&tallies),
        Some(_) => RuleCheck::default(),
        None if complete => {
            return refuse(
                "the shards were judged against different expectations files (their entries and rules differ)"
                    .into(),
            )
        }
        None => RuleCheck::default(),
    };
    finished.stale_rules = check.stale;
    finished.expectations_not_run = check.not_run;
    finished.expectation_tallies = Vec::new();
    Ok(merged)
}

/// The first of `(field, this shard's value, the first shard's value)`
/// whose values differ, as text for the message (long ones shortened).
/// Compared by their `Debug` text, which for these plain data types
/// (strings, lists, maps, derived `Debug`) is equal iff the values are.
fn first_difference(fields: &[(&str, &dyn Debug, &dyn Debug)]) -> Option<(String, String, String)> {
    let shorten = |text: String| match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    };
    fields.iter().find_map(|(field, mine, theirs)| {
        let (mine, theirs) = (format!("{mine:?}"), format!("{theirs:?}"));
        (mine != theirs).then(|| (field.to_string(), shorten(mine), shorten(theirs)))
    })
}

/// Rows per (backend, suite, group), counts summed. A row's
/// `not_applicable` has two parts: cases found not applicable when loading
/// (`load_time`, in every shard alike, so counted once) and cases a backend
/// judged not applicable (split between the shards, so summed).
fn merge_summaries<'a>(
    load_time: &[NotApplicable],
    shards: impl Iterator<Item = &'a [SummaryRow]>,
) -> Vec<SummaryRow> {
    let mut found: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for na in load_time {
        *found.entry((&na.suite, &na.group)).or_default() += 1;
    }
    let found_in = |row: &SummaryRow| {
        found
            .get(&(row.suite.as_str(), row.group.as_str()))
            .copied()
            .unwrap_or(0)
    };
    let mut rows: BTreeMap<(String, String, String), SummaryRow> = BTreeMap::new();
    for row in shards.flatten() {
        let key = (row.backend.clone(), row.suite.clone(), row.group.clone());
        let sum = rows.entry(key).or_insert_with(|| SummaryRow {
            backend: row.backend.clone(),
            suite: row.suite.clone(),
            group: row.group.clone(),
            not_applicable: found_in(row),
            ..SummaryRow::default()
        });
        sum.add_judged(row);
        sum.not_applicable += row.not_applicable.saturating_sub(found_in(row));
    }
    rows.into_values().collect()
}

/// The shards' tallies summed entry by entry; `None` if the shards do not
/// list the same entries and rules in the same order.
fn sum_tallies<'a>(
    mut shards: impl Iterator<Item = &'a [ExpectationTally]>,
) -> Option<Vec<ExpectationTally>> {
    let mut sum = shards.next()?.to_vec();
    for tallies in shards {
        if tallies.len() != sum.len() {
            return None;
        }
        for (s, t) in sum.iter_mut().zip(tallies) {
            if (&s.file, s.line, s.kind, &s.name) != (&t.file, t.line, t.kind, &t.name) {
                return None;
            }
            s.matched += t.matched;
            s.failed += t.failed;
        }
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamconform::expectations::TallyKind;

    fn tally(line: usize, kind: TallyKind, matched: usize, failed: usize) -> ExpectationTally {
        ExpectationTally {
            file: "e.toml".into(),
            line,
            kind,
            name: format!("thing{line}"),
            matched,
            failed,
        }
    }

    #[test]
    fn rules_are_judged_over_all_shards() {
        // Rule 1 is stale in shard 1 but matches a failure in shard 2;
        // rule 2 matches only passing cases anywhere; rule 3 and entry 4
        // match nothing anywhere; entry 5 matches in shard 2 only.
        // Entries first, then rules, as `Expectations::tallies` lists them:
        // (line, kind, (matched, failed) in shard one, the same in two).
        let table = [
            (4, TallyKind::Entry, (0, 0), (0, 0)),
            (5, TallyKind::Entry, (0, 0), (1, 0)),
            (1, TallyKind::Rule, (2, 0), (1, 1)),
            (2, TallyKind::Rule, (1, 0), (2, 0)),
            (3, TallyKind::Rule, (0, 0), (0, 0)),
        ];
        let one: Vec<_> = table
            .iter()
            .map(|&(l, k, (m, f), _)| tally(l, k, m, f))
            .collect();
        let two: Vec<_> = table
            .iter()
            .map(|&(l, k, _, (m, f))| tally(l, k, m, f))
            .collect();
        let summed = sum_tallies([&one[..], &two[..]].into_iter()).unwrap();
        let check = RuleCheck::from_tallies(&summed);
        assert_eq!(check.stale.len(), 1, "{check:?}");
        assert!(
            check.stale[0].starts_with("e.toml:2: rule thing2 matched 3 case(s)"),
            "{check:?}"
        );
        let not_run: Vec<&str> = check.not_run.iter().map(|m| &m[..9]).collect();
        assert_eq!(not_run, ["e.toml:4:", "e.toml:3:"], "{check:?}");
        // Different files: not one run.
        assert!(sum_tallies([&one[..], &two[..4]].into_iter()).is_none());
    }

    #[test]
    fn not_applicable_when_loading_counts_once_and_when_judged_sums() {
        let row = |cases, na| SummaryRow {
            backend: "node".into(),
            suite: "webapi".into(),
            group: "fetch".into(),
            cases,
            passed: cases,
            not_applicable: na,
            ..SummaryRow::default()
        };
        let found = |id: &str| NotApplicable {
            id: id.into(),
            suite: "webapi".into(),
            group: "fetch".into(),
            reason: "text only".into(),
        };
        // Two found when loading (in both shards' rows), and 1 + 3 cases
        // the backend judged not applicable.
        let merged = merge_summaries(
            &[found("a"), found("b")],
            [&[row(3, 2 + 1)][..], &[row(4, 2 + 3)][..]].into_iter(),
        );
        assert_eq!(merged, [row(7, 2 + 1 + 3)]);
    }
}
