//! One slice of a run's cases (`run --shard K/N`), so a long nightly can
//! run on N machines and be joined again (`report merge`).
//!
//! A case belongs to shard K iff `xxh64(case id, seed 0) % N == K - 1`:
//! nextest's `hash:K/N`. It depends on the id alone, so a case stays in
//! its shard whatever other cases are added or removed, and every machine
//! computes the same slices with no coordination.

use serde::{Deserialize, Serialize};

/// Shard `index` of `total` (1-based, as written on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    pub index: u64,
    pub total: u64,
}

impl Shard {
    /// Whether the case with this id is in this shard.
    pub fn contains(&self, case_id: &str) -> bool {
        xxhash_rust::xxh64::xxh64(case_id.as_bytes(), 0) % self.total == self.index - 1
    }

    /// The positions (in `ids`' order) of the cases in this shard.
    pub fn positions<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<usize> {
        ids.into_iter()
            .enumerate()
            .filter(|(_, id)| self.contains(id))
            .map(|(position, _)| position)
            .collect()
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let usage = || format!("{text:?} is not a shard: write K/N, e.g. 2/3 (shard 2 of 3)");
        let (index, total) = text.split_once('/').ok_or_else(usage)?;
        let index: u64 = index.trim().parse().map_err(|_| usage())?;
        let total: u64 = total.trim().parse().map_err(|_| usage())?;
        if total == 0 {
            return Err(format!(
                "{text:?}: the number of shards N must be at least 1"
            ));
        }
        if index == 0 || index > total {
            return Err(format!(
                "{text:?}: the shard K must be between 1 and N ({total})"
            ));
        }
        Ok(Shard { index, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_of(id: &str, total: u64) -> u64 {
        (1..=total)
            .find(|&index| Shard { index, total }.contains(id))
            .expect("every id is in exactly one shard")
    }

    #[test]
    fn cases_land_where_nextest_hash_partitioning_puts_them() {
        // xxh64 seed 0 values computed with the system libxxhash (see
        // notes): h % N + 1.
        for (id, of_two, of_three) in [
            ("", 2, 1),
            ("a", 2, 3),
            ("abc", 2, 1),
            ("tests::it_works", 1, 3),
            ("spec/i32.wast", 1, 2),
        ] {
            assert_eq!(shard_of(id, 2), of_two, "{id:?} of 2");
            assert_eq!(shard_of(id, 3), of_three, "{id:?} of 3");
        }
    }

    #[test]
    fn shards_partition_the_cases() {
        let ids: Vec<String> = (0..500).map(|i| format!("spec/x.wast:{i}")).collect();
        let mut seen = vec![0; ids.len()];
        for index in 1..=3 {
            let positions = Shard { index, total: 3 }.positions(ids.iter().map(String::as_str));
            assert!(
                positions.len() > 100,
                "shard {index} holds {}",
                positions.len()
            );
            positions.iter().for_each(|&p| seen[p] += 1);
        }
        assert!(
            seen.iter().all(|&n| n == 1),
            "each case in exactly one shard"
        );
        assert_eq!(
            Shard { index: 1, total: 1 }
                .positions(ids.iter().map(String::as_str))
                .len(),
            ids.len()
        );
    }

    #[test]
    fn shard_arguments_are_checked() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, total: 3 }));
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, total: 1 }));
        for (bad, says) in [
            ("0/3", "between 1 and N"),
            ("4/3", "between 1 and N"),
            ("1/0", "at least 1"),
            ("3", "write K/N"),
            ("a/b", "write K/N"),
            ("-1/3", "write K/N"),
        ] {
            let error = bad.parse::<Shard>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
