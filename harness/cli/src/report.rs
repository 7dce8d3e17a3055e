//! `streamconform report`: the published outputs made from a JSON report,
//! and `report merge` of shard reports.

use crate::args::{ReportArgs, ReportCommand};
use crate::terminal::out;
use anyhow::Context as _;
use streamconform::reporter::json::Report;
use streamconform::session::PublishSpec;
use streamconform_publish as publish;

/// Makes the outputs `spec` asks for from `report`, prints what was
/// written and the changes since the night before; the exit code is 1 if
/// `fail_on_regression` and a case regressed.
pub fn publish_report(report: &Report, spec: &PublishSpec) -> anyhow::Result<i32> {
    if !spec.any() {
        return Ok(0);
    }
    let published = publish::publish(report, &publish::Outputs::from(spec))?;
    for path in &published.written {
        out(format_args!("wrote {}", path.display()))?;
    }
    if let Some((nights, read, rebuilt)) = &published.history {
        if let Some(why) = rebuilt {
            out(format_args!(
                "history: its index was set aside and rebuilt from the nights: {why}"
            ))?;
        }
        out(format_args!(
            "history: {nights} night(s), {} read from their reports, the rest from its index",
            read.len()
        ))?;
    }
    let regressed = published.changes.as_ref().map_or(0, |c| c.regressed.len());
    if let Some(changes) = &published.changes {
        out(format_args!(
            "since {}: {} regressed, {} fixed",
            changes.previous,
            changes.regressed.len(),
            changes.fixed.len()
        ))?;
    }
    Ok(if spec.fail_on_regression && regressed > 0 {
        1
    } else {
        0
    })
}

pub fn report_command(args: ReportArgs) -> anyhow::Result<i32> {
    let spec = args.publish.spec();
    match (args.command, args.file) {
        (Some(ReportCommand::Merge { files, output }), _) => {
            publish::merge::check_output(&files, &output)?;
            let shards = files
                .iter()
                .map(|f| Ok((f.display().to_string(), publish::load(f)?)))
                .collect::<Result<Vec<_>, publish::PublishError>>()?;
            let merged = publish::merge::merge(shards)?;
            let text = serde_json::to_string(&merged)?;
            streamconform::output::write(&output, text + "\n")
                .with_context(|| format!("writing {}", output.display()))?;
            out(format_args!(
                "merged {} shard reports into {}",
                files.len(),
                output.display()
            ))?;
            // What only the whole run can tell: rules judged over every
            // shard. The exit code is the unsharded run's.
            let finished = &merged.finished;
            for note in &finished.expectations_not_run {
                out(format_args!("note: {note}"))?;
            }
            for stale in &finished.stale_rules {
                out(format_args!("STALE RULE {stale}"))?;
            }
            out(format_args!(
                "{} (case, backend) pairs, {} unexpected",
                finished.cases_run, finished.unexpected
            ))?;
            Ok(finished.exit_code())
        }
        (None, Some(file)) => {
            if !spec.any() {
                anyhow::bail!(
                    "nothing to make: give --junit, --wptreport, --markdown, --html or --history"
                );
            }
            let report = publish::load(&file)?;
            publish_report(&report, &spec)
        }
        (None, None) => {
            anyhow::bail!("give a JSON report (`run --report FILE`), or `report merge`")
        }
    }
}
