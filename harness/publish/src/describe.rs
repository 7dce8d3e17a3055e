//! How a case's result reads in the outputs: where it stands, a one-line
//! headline and the details of a failure. JUnit, wptreport and Markdown
//! share it so that they say the same thing about the same case.

use std::fmt::Write as _;
use streamconform::reporter::json::ReportedCase;
use streamconform::verdict::{PlanFailure, Status, TIMEOUT_PREFIX};

/// Where a case stands for CI: the six kinds every output tells apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Passed,
    /// Failed, unexpected pass or invalid: the run fails on it.
    Unexpected,
    /// Listed in the expectations as a deviation of the backend.
    ExpectedFailure,
    /// Listed, and its module uses a proposal the backend lacks.
    Unsupported,
    NotApplicable,
    /// Failed unexpectedly, then passed on a retry: whether it fails the
    /// run is the run's `flaky_result`.
    Flaky,
    /// Flaky where the expectations say the engine flakes: never fails
    /// the run.
    KnownFlaky,
}

impl Standing {
    pub fn of(case: &ReportedCase) -> Standing {
        match case.status {
            Status::Passed => Standing::Passed,
            Status::Failed | Status::UnexpectedPass | Status::Invalid => Standing::Unexpected,
            Status::ExpectedFailure if !case.unsupported.is_empty() => Standing::Unsupported,
            Status::ExpectedFailure => Standing::ExpectedFailure,
            Status::NotApplicable => Standing::NotApplicable,
            Status::Flaky => Standing::Flaky,
            Status::KnownFlaky => Standing::KnownFlaky,
        }
    }
}

/// Longest headline; engine messages can be whole stack traces.
const HEADLINE_CHARS: usize = 240;
/// Cut lists longer than this are shown by their ends.
const CUTS_SHOWN_HEAD: usize = 8;
const CUTS_SHOWN_TAIL: usize = 2;

/// `text` on one line (newlines and tabs as spaces), at most `max` chars.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The word for a status, as the terminal prints it.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Passed => "PASS",
        Status::Failed => "FAIL",
        Status::ExpectedFailure => "EXPECTED FAIL",
        Status::UnexpectedPass => "UNEXPECTED PASS",
        Status::NotApplicable => "NOT APPLICABLE",
        Status::Invalid => "INVALID CASE",
        Status::Flaky => "FLAKY",
        Status::KnownFlaky => "KNOWN FLAKY",
    }
}

/// Whether the case stopped on a timeout.
pub fn timed_out(case: &ReportedCase) -> bool {
    case.aborted
        .as_deref()
        .is_some_and(|a| a.starts_with(TIMEOUT_PREFIX))
}

/// One line saying what happened, for a JUnit message, a wptreport
/// message or a Markdown list item.
pub fn headline(case: &ReportedCase) -> String {
    let text = match (Standing::of(case), case.status) {
        (Standing::Passed, _) => format!("all {} plans passed", case.plans_run),
        (Standing::NotApplicable, _) => format!(
            "not applicable: {}",
            case.aborted
                .as_deref()
                .unwrap_or("the backend cannot run this case")
        ),
        (Standing::Unsupported, _) => format!(
            "unsupported proposal {}: the backend lacks it even with its switches",
            case.unsupported.join(", ")
        ),
        (_, Status::UnexpectedPass) => format!(
            "passed, but the expectations list it as failing: {}",
            case.expectation_reason.as_deref().unwrap_or("(no reason)")
        ),
        (standing, status) => {
            let mut text = String::new();
            if standing == Standing::ExpectedFailure {
                text.push_str("expected failure: ");
            } else if status == Status::Invalid {
                text.push_str("invalid case (its premise did not hold): ");
            }
            text.push_str(&failure_summary(case));
            if let Some(reason) = case
                .expectation_reason
                .as_deref()
                .filter(|_| standing == Standing::ExpectedFailure)
            {
                let _ = write!(text, " (listed: {reason})");
            }
            text
        }
    };
    one_line(&text, HEADLINE_CHARS)
}

/// "expected X; 3 of 22 plans failed [spec]; plan P gave Y", or the
/// reason the case was aborted.
fn failure_summary(case: &ReportedCase) -> String {
    let mut text = format!("expected {}", case.expected);
    if case.failing_plans_total > 0 {
        let _ = write!(
            text,
            "; {} of {} plans failed [{}]",
            case.failing_plans_total,
            case.plans_run,
            oracles(&case.failing_plans)
        );
    }
    if let Some(first) = case.failing_plans.first() {
        let _ = write!(text, "; plan {} gave {}", first.plan, first.actual);
    }
    if let Some(why) = &case.aborted {
        let _ = write!(text, "; aborted: {why}");
    }
    text
}

/// The oracles any of `plans` failed, e.g. `spec+invariance`.
fn oracles(plans: &[PlanFailure]) -> String {
    let mut all: Vec<_> = plans
        .iter()
        .flat_map(|p| p.failed.iter().copied())
        .collect();
    all.sort();
    all.dedup();
    all.iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("+")
}

/// A cut list for people: whole when short, else its first and last cuts
/// and how many there are (the plan name rebuilds it exactly).
pub fn cuts(cuts: &[usize]) -> String {
    let join = |c: &[usize]| {
        c.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if cuts.len() <= CUTS_SHOWN_HEAD + CUTS_SHOWN_TAIL {
        return format!("[{}]", join(cuts));
    }
    format!(
        "[{}, … {} more …, {}] ({} cuts)",
        join(&cuts[..CUTS_SHOWN_HEAD]),
        cuts.len() - CUTS_SHOWN_HEAD - CUTS_SHOWN_TAIL,
        join(&cuts[cuts.len() - CUTS_SHOWN_TAIL..]),
        cuts.len()
    )
}

/// One failing plan on one line: name, oracles, cuts and what it gave.
pub fn plan_line(plan: &PlanFailure) -> String {
    format!("plan {} {}", plan.plan, plan_outcome(plan))
}

/// A minimized failing plan: "minimized from P (812 cuts) in 140
/// compiles to [4711, 4712]: [spec+invariance] gave Y".
pub fn minimized_line(m: &streamconform::verdict::Minimized) -> String {
    let failed: Vec<String> = m.failed.iter().map(|o| o.to_string()).collect();
    format!(
        "minimized from plan {} ({} cuts) in {} compiles{} to cuts {}: [{}] {}",
        m.from_plan,
        m.from_cut_count,
        m.attempts,
        if m.budget_exhausted {
            " (budget exhausted, may not be minimal)"
        } else {
            ""
        },
        cuts(&m.cuts),
        failed.join("+"),
        one_line(&m.actual.to_string(), HEADLINE_CHARS)
    )
}

/// A failing plan without its name: oracles, cuts and what it gave.
pub fn plan_outcome(plan: &PlanFailure) -> String {
    let failed: Vec<String> = plan.failed.iter().map(|o| o.to_string()).collect();
    format!(
        "[{}] cuts {}: {}",
        failed.join("+"),
        cuts(&plan.cuts),
        one_line(&plan.actual_text(), HEADLINE_CHARS)
    )
}

/// Everything the report knows about a case that did not pass, one fact
/// a line: for a JUnit failure body.
pub fn details(case: &ReportedCase) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} [{}] {}",
        status_word(case.status),
        case.backend,
        case.id
    );
    let _ = writeln!(out, "expected (the spec): {}", case.expected);
    match &case.one_shot {
        Some(one_shot) => {
            let _ = writeln!(
                out,
                "one-shot compile: {}",
                one_line(&one_shot.to_string(), 1000)
            );
        }
        None => {
            let _ = writeln!(out, "one-shot compile: none (the case was aborted)");
        }
    }
    if let Some(reason) = &case.expectation_reason {
        if case.status == Status::KnownFlaky {
            let _ = writeln!(out, "known flaky: {reason}");
        } else {
            let _ = writeln!(out, "listed as failing: {reason}");
        }
    }
    if !case.unsupported.is_empty() {
        let _ = writeln!(
            out,
            "unsupported proposal {}: the backend lacks it even with its switches",
            case.unsupported.join(", ")
        );
    }
    if let Some(why) = &case.aborted {
        let _ = writeln!(out, "aborted: {why}");
    }
    let _ = writeln!(
        out,
        "failing plans: {} of {} run",
        case.failing_plans_total, case.plans_run
    );
    for plan in &case.failing_plans {
        let _ = writeln!(out, "  {}", plan_line(plan));
    }
    let unlisted = case
        .failing_plans_total
        .saturating_sub(case.failing_plans.len());
    if unlisted > 0 {
        let _ = writeln!(
            out,
            "  … and {unlisted} more failing plans (not kept in the report)"
        );
    }
    if let Some(repro) = &case.repro {
        let _ = writeln!(out, "repro: {repro}");
    }
    if let Some(m) = &case.minimized {
        let _ = writeln!(out, "{}", minimized_line(&m.minimized));
        let _ = writeln!(out, "minimized repro: {}", m.repro);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cut_lists_show_their_ends_and_length() {
        assert_eq!(cuts(&[]), "[]");
        assert_eq!(cuts(&[1, 2, 3]), "[1, 2, 3]");
        let long: Vec<usize> = (1..=100).collect();
        assert_eq!(
            cuts(&long),
            "[1, 2, 3, 4, 5, 6, 7, 8, … 90 more …, 99, 100] (100 cuts)"
        );
    }

    #[test]
    fn a_minimized_plan_is_shown_with_its_replay() {
        use crate::sample;
        use streamconform::reporter::json::ReportedMinimized;
        use streamconform::verdict::{Minimized, Oracle, Status};
        let mut case = sample::failing(
            sample::passed("node", "spec", "spec/x.wast:1"),
            2,
            Status::Failed,
        );
        case.minimized = Some(ReportedMinimized {
            minimized: Minimized {
                from_plan: "one-byte".into(),
                from_cut_count: 300,
                cuts: vec![17, 40],
                actual: case.failing_plans[0].actual.clone(),
                failed: vec![Oracle::Spec, Oracle::Invariance],
                attempts: 61,
                budget_exhausted: false,
            },
            repro: "streamconform run --cuts 17,40".into(),
        });
        let text = details(&case);
        assert!(
            text.contains("minimized from plan one-byte (300 cuts) in 61 compiles to cuts [17, 40]: [spec+invariance]")
                && text.contains("minimized repro: streamconform run --cuts 17,40"),
            "{text}"
        );
    }

    #[test]
    fn one_line_flattens_and_truncates() {
        assert_eq!(one_line("a\nb\tc", 10), "a b c");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }
}
