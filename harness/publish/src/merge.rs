//! The reports of one run's shards (`run --shard K/N`) joined into the
//! report one unsharded run would have written: results in backend order
//! then case order, summary rows and counts recounted from the results,
//! expectation rules judged over every shard.
//!
//! Shards are evidence to verify, not to trust (see [`merge`]): a result
//! that disagrees with itself, a case in the wrong shard or in two, or a
//! shard whose counts are not those of its results is refused, naming the
//! shard's file.
//!
//! Reports of different runs are refused, naming what differs: the tool
//! version, revision, suites, plans, backends or shard count, or load-time
//! findings (every shard loads every suite, so each carries the same
//! input errors and not-applicable cases: they are counted once).

use super::PublishError;
use std::collections::HashMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use streamconform::expectations::{ExpectationTally, RuleCheck};
use streamconform::reporter::json::{Report, ReportedCase};
use streamconform::reporter::summary::Summary;
use streamconform::runner::Shard;

/// Refuses an output path that is one of the inputs, or the same file by
/// another name (a link, `./a.json`): merging must not destroy a shard.
pub fn check_output(inputs: &[PathBuf], output: &Path) -> Result<(), PublishError> {
    for input in inputs {
        // A missing output is no input; an unreadable one is an error later.
        if same_file::is_same_file(input, output).unwrap_or(false) {
            return Err(PublishError::Refused(format!(
                "the output {} is the input {}: write the merged report elsewhere",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Merges the reports of all shards of one run, each with the name of
/// the file it came from (for messages). Nothing a shard claims is taken
/// on trust: each result must agree with itself (its verdict with its
/// plans, its status with its verdict) and belong to its shard, no
/// (backend, case) may be in two shards, and each shard's counters and
/// summary must be those of the results it holds; the merged counts are
/// recounted from the results.
pub fn merge(reports: Vec<(String, Report)>) -> Result<Report, PublishError> {
    let refuse = |message: String| Err(PublishError::Refused(message));
    if reports.is_empty() {
        return refuse("no shard reports to merge".into());
    }
    let mut shards = Vec::with_capacity(reports.len());
    for (file, report) in reports {
        match report.run.shard {
            Some(shard) => shards.push((shard, file, report)),
            None => {
                return refuse(format!(
                    "{file} is not a shard's report (its run has no `shard`): merge the reports of `run --shard K/N`"
                ))
            }
        }
    }
    shards.sort_by_key(|(shard, _, _)| shard.index);
    let (first_shard, first_file, first) = &shards[0];
    let total = first_shard.total;
    for (shard, file, _) in &shards[1..] {
        if shard.total != total {
            return refuse(format!(
                "{file} (shard {shard}) and {first_file} (shard {first_shard}) are of different runs: the shard totals differ ({} vs {total})",
                shard.total
            ));
        }
    }
    for pair in shards.windows(2) {
        if pair[0].0.index == pair[1].0.index {
            return refuse(format!(
                "shard {} is given twice: {} and {}",
                pair[0].0, pair[0].1, pair[1].1
            ));
        }
    }
    if let Some(missing) = (1..=total).find(|i| shards.iter().all(|(s, _, _)| s.index != *i)) {
        return refuse(format!(
            "shard {missing}/{total} is missing: give the reports of all {total} shards"
        ));
    }

    // The same run: everything but which cases ran and when.
    for (shard, file, report) in &shards[1..] {
        let (a, b) = (&report.run, &first.run);
        let differing = first_difference(&[
            ("tool_version", &a.tool_version, &b.tool_version),
            ("revision", &a.revision, &b.revision),
            ("suites", &a.suites, &b.suites),
            ("plans", &a.plans, &b.plans),
            ("backends", &a.backends, &b.backends),
            ("proposal_support", &a.proposal_support, &b.proposal_support),
            ("retries", &a.retries, &b.retries),
            ("flaky_result", &a.flaky_result, &b.flaky_result),
            ("input_errors", &report.input_errors, &first.input_errors),
            (
                "not_applicable",
                &report.not_applicable,
                &first.not_applicable,
            ),
        ]);
        if let Some((field, mine, theirs)) = differing {
            return refuse(format!(
                "{file} (shard {shard}) is of a different run than {first_file} (shard {first_shard}): {field} differ ({mine} vs {theirs})"
            ));
        }
    }
    // What each result says of itself first (a result copied or moved
    // into another shard is named as such), then what each shard claims.
    let mut seen: HashMap<(&str, &str), &str> = HashMap::new();
    for (shard, file, report) in &shards {
        for result in &report.results {
            if let Some(other) = seen.insert((&result.backend, &result.id), file) {
                return refuse(format!(
                    "{} on {} is in {other} and in {file}: a (backend, case) has one result",
                    result.id, result.backend
                ));
            }
            verify_result(*shard, result)
                .map_err(|why| PublishError::Refused(format!("{file}: {why}")))?;
        }
    }
    for (_, file, report) in &shards {
        verify_counts(report).map_err(|why| PublishError::Refused(format!("{file}: {why}")))?;
    }

    let mut merged = first.clone();
    merged.run.shard = None;
    merged.run.cases = shards.iter().map(|(_, _, r)| r.run.cases).sum();
    merged.run.started_at = shards
        .iter()
        .map(|(_, _, r)| r.run.started_at.clone())
        .min()
        .unwrap_or_default();
    let mut hosts: Vec<&str> = Vec::new();
    for (_, _, r) in &shards {
        if !hosts.contains(&r.run.host.as_str()) {
            hosts.push(&r.run.host);
        }
    }
    merged.run.host = hosts.join(", ");

    // Backend order, then the case's place in the unsharded selection;
    // two results in one place are refused.
    let backend_position = |name: &str| merged.run.backends.iter().position(|b| b.name == name);
    let mut results = Vec::new();
    for (shard, file, report) in &shards {
        for result in &report.results {
            let (Some(backend), Some(index)) =
                (backend_position(&result.backend), result.case_index)
            else {
                return refuse(format!(
                    "{file} (shard {shard}): the result of {} on {} has no case_index or an unknown backend; was it written by `run --shard`?",
                    result.id, result.backend
                ));
            };
            results.push(((backend, index), file, result));
        }
    }
    results.sort_by_key(|(key, _, _)| *key);
    for pair in results.windows(2) {
        if pair[0].0 == pair[1].0 {
            return refuse(format!(
                "{} ({}) and {} ({}) on {} claim the same case_index {}: the shards overlap",
                pair[0].2.id, pair[0].1, pair[1].2.id, pair[1].1, pair[1].2.backend, pair[1].0 .1
            ));
        }
    }
    merged.results = results
        .into_iter()
        .map(|(_, _, result)| ReportedCase {
            case_index: None,
            ..result.clone()
        })
        .collect();
    merged.summary = recount_summary(&merged);

    let finished = &mut merged.finished;
    let all = || shards.iter().map(|(_, _, r)| &r.finished);
    finished.elapsed_secs = all().map(|f| f.elapsed_secs).fold(0.0, f64::max);
    finished.cases_run = merged.results.len();
    finished.unexpected = count_unexpected(&merged.results, merged.run.flaky_result);
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

/// Checks a result of `shard`: it agrees with itself and is of a case of
/// this shard (`xxh64(id) % N`, as `run --shard` assigns them).
fn verify_result(shard: Shard, result: &ReportedCase) -> Result<(), String> {
    result
        .check_consistent()
        .map_err(|why| format!("the result of {} on {}: {why}", result.id, result.backend))?;
    if !shard.contains(&result.id) {
        let home = (1..=shard.total)
            .map(|index| Shard {
                index,
                total: shard.total,
            })
            .find(|s| s.contains(&result.id))
            .expect("every id is in one shard");
        return Err(format!(
            "{} on {} belongs to shard {home}, not to this report's shard {shard}",
            result.id, result.backend
        ));
    }
    Ok(())
}

/// Checks what a shard claims (how many cases, results, unexpected ones,
/// input errors, its summary) against what its results and findings give.
fn verify_counts(report: &Report) -> Result<(), String> {
    let finished = &report.finished;
    let claims = |what: &str, claimed: usize, present: usize| {
        if claimed == present {
            Ok(())
        } else {
            Err(format!(
                "it claims {claimed} {what} but its results give {present}: the report was changed or cut"
            ))
        }
    };
    claims(
        "results (finished.cases_run)",
        finished.cases_run,
        report.results.len(),
    )?;
    claims(
        "unexpected results (finished.unexpected)",
        finished.unexpected,
        count_unexpected(&report.results, report.run.flaky_result),
    )?;
    claims(
        "input errors (finished.input_errors)",
        finished.input_errors,
        report.input_errors.len(),
    )?;
    if !finished.interrupted && finished.setup_errors.is_empty() {
        // A complete shard has a result for each of its cases on each backend.
        for backend in &report.run.backends {
            let present = report
                .results
                .iter()
                .filter(|r| r.backend == backend.name)
                .count();
            claims(
                &format!("cases (run.cases) on {}", backend.name),
                report.run.cases,
                present,
            )?;
        }
    }
    verify_tallies(report)?;
    if recount_summary(report) != report.summary {
        return Err(
            "its summary rows are not the counts of its results: the report was changed or cut"
                .into(),
        );
    }
    Ok(())
}

/// Checks a shard's expectation tallies against its results as far as
/// they tell: each judged (pass or fail) result counts toward at most one
/// entry or rule, and each failure a rule covers is an expected failure,
/// so a tally cannot claim the failure that keeps a rule from being stale
/// when the results hold none.
fn verify_tallies(report: &Report) -> Result<(), String> {
    use streamconform::expectations::TallyKind;
    use streamconform::verdict::{Status, Verdict};
    let tallies = &report.finished.expectation_tallies;
    if let Some(t) = tallies.iter().find(|t| t.failed > t.matched) {
        return Err(format!(
            "its tally of {}:{} counts {} failing of {} matched cases",
            t.file, t.line, t.failed, t.matched
        ));
    }
    let judged = report
        .results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Pass | Verdict::Fail))
        .count();
    let expected_failures = report
        .results
        .iter()
        .filter(|r| r.status == Status::ExpectedFailure)
        .count();
    let matched: usize = tallies.iter().map(|t| t.matched).sum();
    let covered: usize = tallies
        .iter()
        .filter(|t| t.kind == TallyKind::Rule)
        .map(|t| t.failed)
        .sum();
    if matched > judged || covered > expected_failures {
        return Err(format!(
            "its expectation tallies count {matched} matched and {covered} failing cases, but its results hold {judged} judged and {expected_failures} expected failures"
        ));
    }
    Ok(())
}

/// How many results make the run fail.
fn count_unexpected(results: &[ReportedCase], flaky: streamconform::verdict::FlakyResult) -> usize {
    results.iter().filter(|r| r.status.fails_run(flaky)).count()
}

/// The summary rows of `report`'s results and load-time findings, counted
/// as the run counts them.
fn recount_summary(report: &Report) -> Vec<streamconform::reporter::summary::SummaryRow> {
    let mut summary =
        Summary::for_backends(report.run.backends.iter().map(|b| b.name.clone()).collect());
    for na in &report.not_applicable {
        summary.add_not_applicable(na);
    }
    for r in &report.results {
        summary.add_result(
            &r.backend,
            &r.suite,
            &r.group,
            r.status,
            !r.unsupported.is_empty(),
        );
    }
    summary.rows()
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
            suites_not_run: Vec::new(),
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
}
