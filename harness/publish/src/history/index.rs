//! The index kept beside the nights (`index.json.gz`), so that publishing
//! a night reads one report, not every night kept: each night's listing
//! (start, revision, pass rates) and fingerprint, and each (backend, case)'s
//! *strip*, one letter per night ([`mark`]).
//!
//! The index is a cache of the nights, never a source of results: a night
//! whose file no longer matches its fingerprint, or that the index lacks,
//! is read again; an index that is not this schema, or whose strips do not
//! have one known letter per night, is set aside and rebuilt from the
//! nights themselves.

use super::{Night, PassRate};
use crate::PublishError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use streamconform::output::OutputFile;
use streamconform::verdict::Status;

/// The index's file name; no night is named so (a night's name starts
/// with its date).
pub const INDEX_FILE: &str = "index.json.gz";
const INDEX_SCHEMA: &str = "streamconform-history-index";
const INDEX_VERSION: u32 = 1;
/// The most an index may inflate to (a year of nights of 850,000 cases is
/// about 400 MB).
const MAX_INDEX_BYTES: u64 = 2 << 30;

/// A night in which a case has no result.
pub const ABSENT: u8 = b'.';

/// A case's status on one night, as one letter of its strip.
pub fn mark(status: Status, unsupported: bool) -> u8 {
    match status {
        Status::Passed => b'p',
        Status::Failed => b'f',
        Status::ExpectedFailure if unsupported => b'u',
        Status::ExpectedFailure => b'x',
        Status::UnexpectedPass => b'a',
        Status::Invalid => b'i',
        // Known or not, it flaked that night.
        Status::Flaky | Status::KnownFlaky => b'k',
        Status::NotApplicable => b'n',
    }
}

/// The status a letter stands for; `None` for [`ABSENT`] or an unknown
/// letter.
pub fn status_of(mark: u8) -> Option<Status> {
    Some(match mark {
        b'p' => Status::Passed,
        b'f' => Status::Failed,
        b'u' | b'x' => Status::ExpectedFailure,
        b'a' => Status::UnexpectedPass,
        b'i' => Status::Invalid,
        b'k' => Status::Flaky,
        b'n' => Status::NotApplicable,
        _ => return None,
    })
}

fn known(mark: u8) -> bool {
    mark == ABSENT || status_of(mark).is_some()
}

/// Backend → case id → strip (one letter per night, oldest first).
pub type Strips = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IndexFile {
    schema: String,
    version: u32,
    pub nights: Vec<IndexedNight>,
    pub strips: Strips,
}

/// A night as the index keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IndexedNight {
    pub name: String,
    /// Its file's name in the directory.
    pub file: String,
    /// See [`fingerprint`].
    pub fingerprint: String,
    pub started_at: String,
    pub revision: Option<String>,
    pub pass_rates: Vec<PassRate>,
    /// Its report's schema version: a night of a version no longer read
    /// is read again (and refused).
    pub schema_version: u32,
}

impl IndexedNight {
    pub fn of(night: &Night, fingerprint: String) -> IndexedNight {
        IndexedNight {
            name: night.name.clone(),
            file: file_name(&night.path),
            fingerprint,
            started_at: night.started_at.clone(),
            revision: night.revision.clone(),
            pass_rates: night.pass_rates.clone(),
            schema_version: night.schema_version,
        }
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What identifies a night file's content without inflating it: its
/// length, and for a `.json.gz` the gzip trailer (the CRC-32 and length of
/// the JSON inside, which inflating it checks), for a `.json` the CRC-32 of
/// the file. A regular file only.
pub(super) fn fingerprint(path: &Path, gzipped: bool) -> Result<String, PublishError> {
    // Looked at before opening: opening a FIFO blocks, a device never
    // ends; the night reader refuses them, saying what they are.
    let meta = std::fs::metadata(path).map_err(PublishError::io(path))?;
    if !meta.is_file() {
        return crate::read_input(path, 0, "").map(|_| String::new());
    }
    let io = PublishError::io(path);
    let mut file = std::fs::File::open(path).map_err(PublishError::io(path))?;
    let len = meta.len();
    if gzipped {
        if len < 18 {
            return Err(PublishError::NotAReport {
                path: path.to_path_buf(),
                message: format!("{len} bytes is too short for a gzip file"),
            });
        }
        let mut trailer = [0u8; 8];
        file.seek(SeekFrom::End(-8))
            .and_then(|_| file.read_exact(&mut trailer))
            .map_err(io)?;
        let hex: String = trailer.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("gz:{len}:{hex}"))
    } else {
        let mut crc = flate2::Crc::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(PublishError::io(path))?;
            if n == 0 {
                break;
            }
            crc.update(&buf[..n]);
        }
        Ok(format!("json:{len}:{:08x}", crc.sum()))
    }
}

/// The index in `dir`: `Ok(None)` when there is none, `Err(why)` when the
/// one there cannot be used (it is then rebuilt).
pub(super) fn read(dir: &Path) -> Result<Option<IndexFile>, String> {
    let path = dir.join(INDEX_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes =
        super::read_bytes_within(&path, true, MAX_INDEX_BYTES).map_err(|e| e.to_string())?;
    let index: IndexFile = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if index.schema != INDEX_SCHEMA || index.version != INDEX_VERSION {
        return Err(format!(
            "schema {} version {}, this streamconform keeps {INDEX_SCHEMA} version {INDEX_VERSION}",
            index.schema, index.version
        ));
    }
    let nights = index.nights.len();
    for (backend, cases) in &index.strips {
        for (id, strip) in cases {
            if strip.len() != nights || !strip.bytes().all(known) {
                return Err(format!(
                    "the strip of {backend} {id:?} is {strip:?}: expected one of {:?} per night, {nights} nights",
                    "pfxuaikn."
                ));
            }
        }
    }
    Ok(Some(index))
}

/// Writes the index into `dir`, aside and renamed, so it is never half
/// there.
pub(super) fn write(
    dir: &Path,
    nights: Vec<IndexedNight>,
    strips: &Strips,
) -> Result<(), PublishError> {
    #[derive(Serialize)]
    struct Borrowed<'a> {
        schema: &'a str,
        version: u32,
        nights: Vec<IndexedNight>,
        strips: &'a Strips,
    }
    let path = dir.join(INDEX_FILE);
    let file = OutputFile::create(&path)?;
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let index = Borrowed {
        schema: INDEX_SCHEMA,
        version: INDEX_VERSION,
        nights,
        strips,
    };
    // Buffered before the encoder, as the nights are (see `History::add`).
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, encoder);
    serde_json::to_writer(&mut buffered, &index)
        .map_err(std::io::Error::from)
        .and_then(|()| buffered.into_inner().map_err(|e| e.into_error()))
        .and_then(|encoder| encoder.finish())
        .map_err(PublishError::io(&path))?
        .commit()?;
    Ok(())
}
