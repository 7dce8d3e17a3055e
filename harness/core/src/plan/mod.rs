//! Chunk plans: where a body is cut into chunks.
//!
//! A plan is a name and a sorted list of cut offsets into the body. Chunk `i`
//! is `body[cuts[i-1]..cuts[i]]` (with `0` before the first cut and the body
//! length after the last), so a repeated cut is an empty chunk, a cut at `0`
//! an empty first chunk and a cut at `n` an empty last chunk.
//!
//! - `structure.rs` finds the structural offsets of a module: coarse ones
//!   (section ids, LEB bytes, function boundaries...) tolerating malformed
//!   bytes, and fine ones (inside names, local declarations, immediates)
//!   where wasmparser reads the module.
//! - `sets.rs` makes the named plan sets (`default`, `exhaustive`, ...) and
//!   rebuilds any plan from its name, which is how failures are replayed. A
//!   run takes a case's plans one at a time (`LazyPlans`): a plan of a large
//!   body holds up to 16 bytes per body byte, so only plans in flight exist.

mod sets;
pub mod structure;

pub use sets::{plan_by_name, BodyKind, Coverage, LazyPlans, PlanName, PlanSet, PLAN_NAME_FORMS};

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where one body is cut into chunks: a name, and the cut offsets.
///
/// Chunk `i` is `body[cuts[i-1]..cuts[i]]` (with `0` before the first cut
/// and the body length after the last): a repeated cut is an empty chunk.
/// [`ChunkPlan::chunks`] gives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlan {
    /// The plan's name (`one-byte`, `split@8`, ...), from which a plan set
    /// rebuilds it for a given body: how a failure is replayed.
    pub name: String,
    /// The cut offsets into the body, sorted; repeats allowed.
    pub cuts: Vec<usize>,
}

impl ChunkPlan {
    /// A plan from explicit cuts; they are sorted, and must lie in `0..=len`.
    pub fn from_cuts(
        name: impl Into<String>,
        mut cuts: Vec<usize>,
        len: usize,
    ) -> Result<ChunkPlan, Error> {
        cuts.sort_unstable();
        if let Some(&bad) = cuts.iter().find(|&&c| c > len) {
            return Err(Error::InvalidCuts {
                text: format_cuts(&cuts),
                message: format!("cut {bad} is past the end of the {len}-byte body"),
            });
        }
        Ok(ChunkPlan {
            name: name.into(),
            cuts,
        })
    }

    /// The chunks of `body`, in order.
    pub fn chunks<'a>(&'a self, body: &'a [u8]) -> Chunks<'a> {
        Chunks {
            body,
            cuts: &self.cuts,
            next: 0,
            start: 0,
        }
    }

    /// How many chunks the plan makes (one more than its cuts).
    pub fn chunk_count(&self) -> usize {
        self.cuts.len() + 1
    }
}

/// Iterator over a plan's chunks of a body, in order: what
/// [`StreamingBody::chunks`](crate::StreamingBody::chunks) holds. Chunks
/// may be empty; concatenated they are the body.
#[derive(Clone, Debug)]
pub struct Chunks<'a> {
    body: &'a [u8],
    cuts: &'a [usize],
    next: usize,
    start: usize,
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.next > self.cuts.len() {
            return None;
        }
        let end = self
            .cuts
            .get(self.next)
            .copied()
            .unwrap_or(self.body.len())
            .min(self.body.len());
        let start = self.start.min(end);
        self.next += 1;
        self.start = end;
        Some(&self.body[start..end])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.cuts.len() + 1 - self.next.min(self.cuts.len() + 1);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Chunks<'_> {}

/// One entry of a compacted cut list: an offset, or a run of three or more
/// consecutive offsets `start..end` (half-open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutRun {
    Offset(usize),
    Range(usize, usize),
}

/// `cuts` compacted into runs, in order: what `format_cuts` writes and what
/// travels to process workers (a one-byte plan of a large module is one
/// range, not hundreds of thousands of offsets).
pub fn cut_runs(cuts: &[usize]) -> impl Iterator<Item = CutRun> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let first = *cuts.get(i)?;
        let mut j = i;
        while j + 1 < cuts.len() && cuts[j + 1] == cuts[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            i = j + 1;
            Some(CutRun::Range(first, cuts[j] + 1))
        } else {
            i += 1;
            Some(CutRun::Offset(first))
        }
    })
}

/// Formats cuts compactly: runs of three or more consecutive offsets become
/// `a..b` (half-open), everything else is listed. `parse_cuts` reads it back.
pub fn format_cuts(cuts: &[usize]) -> String {
    use std::fmt::Write;
    // One string written in place: a large module's plans have hundreds of
    // thousands of cuts.
    let mut text = String::new();
    for run in cut_runs(cuts) {
        if !text.is_empty() {
            text.push(',');
        }
        let _ = match run {
            CutRun::Offset(offset) => write!(text, "{offset}"),
            CutRun::Range(start, end) => write!(text, "{start}..{end}"),
        };
    }
    text
}

/// The most cuts a cut list may have: a one-byte plan of a 64 MiB body.
pub const MAX_CUTS: usize = 64 << 20;

/// Parses `0,8,8,12` or `1..100,200` (ranges are half-open). An empty string
/// is no cuts: the whole body in one chunk.
pub fn parse_cuts(text: &str) -> Result<Vec<usize>, Error> {
    let invalid = |message: String| Error::InvalidCuts {
        text: text.to_string(),
        message,
    };
    let mut cuts = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let a: usize = a
                .trim()
                .parse()
                .map_err(|_| invalid(format!("{part:?} is not a range")))?;
            let b: usize = b
                .trim()
                .parse()
                .map_err(|_| invalid(format!("{part:?} is not a range")))?;
            if b < a {
                return Err(invalid(format!("range {part:?} runs backwards")));
            }
            if cuts.len() + (b - a) > MAX_CUTS {
                return Err(invalid(format!(
                    "more than {MAX_CUTS} cuts; no body is that long"
                )));
            }
            cuts.extend(a..b);
        } else {
            cuts.push(
                part.parse()
                    .map_err(|_| invalid(format!("{part:?} is not an offset")))?,
            );
        }
    }
    if cuts.windows(2).any(|w| w[0] > w[1]) {
        return Err(invalid("offsets must not decrease".into()));
    }
    Ok(cuts)
}

impl fmt::Display for ChunkPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.name, format_cuts(&self.cuts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(cuts: &[usize], body: &[u8]) -> Vec<Vec<u8>> {
        let plan = ChunkPlan {
            name: "t".into(),
            cuts: cuts.to_vec(),
        };
        plan.chunks(body).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn cuts_make_chunks_including_empty_ones() {
        assert_eq!(chunks(&[], b"abc"), [b"abc".to_vec()]);
        assert_eq!(chunks(&[0], b"abc"), [b"".to_vec(), b"abc".to_vec()]);
        assert_eq!(chunks(&[3], b"abc"), [b"abc".to_vec(), b"".to_vec()]);
        assert_eq!(
            chunks(&[1, 1, 2], b"abc"),
            [b"a".to_vec(), vec![], b"b".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn chunks_concatenate_to_the_body() {
        let body: Vec<u8> = (0..50).collect();
        let joined: Vec<u8> = chunks(&[0, 3, 3, 17, 49, 50], &body).concat();
        assert_eq!(joined, body);
    }

    #[test]
    fn cut_lists_round_trip_through_text() {
        for cuts in [
            vec![],
            vec![0],
            vec![1, 2, 3, 4, 9, 9, 10],
            vec![5, 6],
            vec![0, 0, 1, 1],
        ] {
            let text = format_cuts(&cuts);
            assert_eq!(parse_cuts(&text).unwrap(), cuts, "via {text:?}");
        }
        assert_eq!(format_cuts(&[1, 2, 3, 4, 9]), "1..5,9");
    }

    #[test]
    fn bad_cut_lists_say_what_is_expected() {
        let err = parse_cuts("3,x").unwrap_err().to_string();
        assert!(
            err.contains("\"x\" is not an offset") && err.contains("expected"),
            "{err}"
        );
        assert!(parse_cuts("5,3")
            .unwrap_err()
            .to_string()
            .contains("must not decrease"));
        assert!(ChunkPlan::from_cuts("c", vec![9], 4)
            .unwrap_err()
            .to_string()
            .contains("past the end"));
    }
}
