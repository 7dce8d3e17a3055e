//! A small streaming decoder of the WebAssembly binary format, written as a
//! test double for `tests/seeded_bugs.rs`, with seeded bugs of the kinds
//! production streaming decoders have had, one flag each.
//!
//! It is hand-written on purpose: the point is a state machine shaped like
//! an engine's (header, then section id and size, then payload; in the code
//! section the function count, then each body's size and body), buffering
//! only what the current unit needs, with the two paths engines have:
//!
//! - a chunk of [`BULK`] bytes or more is decoded in place, and only a unit
//!   that runs past its end is copied into the unit buffer;
//! - shorter chunks are copied into the unit buffer, and chunks shorter than
//!   [`READ_AHEAD`] bytes are first gathered in a small read-ahead buffer, so
//!   the state machine does not run once per byte of a trickling stream.
//!
//! It checks the framing itself (LEBs, section and body bounds, the code
//! section's function count against the function section's, custom-section
//! names as UTF-8) and hands the bytes it reassembled from its units to
//! wasmparser's one-shot validation ([`ReferenceBackend::compile_one_shot`],
//! how the reference backend judges), so with no bug it gives exactly the
//! reference's outcome, and a seeded bug shows as a different one.

use std::collections::HashMap;
use std::sync::Mutex;
use streamconform::{
    Backend, BackendInfo, BodyEnd, Features, Outcome, ReferenceBackend, StreamingBody,
};

/// Chunks this long or longer are decoded in place (the bulk path).
pub const BULK: usize = 16;
/// Chunks shorter than this are gathered until the read-ahead holds this
/// many bytes.
pub const READ_AHEAD: usize = 4;

const MAGIC_AND_VERSION: &[u8] = b"\0asm\x01\0\0\0";
const FUNCTION_SECTION: u8 = 3;
const CODE_SECTION: u8 = 10;
const CUSTOM_SECTION: u8 = 0;

/// The seeded bugs (test doubles, not harness code): each is one flag of
/// the decoder and fires only at particular chunk boundaries; the whole
/// body in one chunk always decodes right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeededBug {
    /// (a) The function section's count is kept in per-chunk state: when a
    /// chunk ends right after the function section, the count is lost, and
    /// a code section with bodies then mismatches ("no function section").
    FunctionCountLostAtChunkEnd,
    /// (b) The bulk path buffers nothing: when a chunk of [`BULK`]+ bytes
    /// ends inside a section header, a LEB or a function body, that partial
    /// unit is dropped instead of kept for the next chunk.
    LongChunkTailDropped,
    /// (c) An empty chunk right after a chunk of [`BULK`]+ bytes is taken
    /// for the end of the stream (the classic `read() == 0` check of the
    /// bulk reader; the short-chunk path skips empty chunks).
    EmptyReadAfterLongChunkEndsStream,
    /// (d) When the code section's header (id, size, function count) spans
    /// chunks (as the state machine gets them, after the read-ahead), the
    /// resumed parse counts the id byte against the section size, so the
    /// section is taken to end one byte early.
    SplitCodeHeaderOffByOne,
    /// (e) On the bulk path, the part of a custom section's name that a
    /// chunk holds is validated as UTF-8 on its own, so a name cut inside a
    /// multi-byte character is rejected.
    NameUtf8ValidatedPerChunk,
    /// (f) The read-ahead of short chunks is never flushed at the end: when
    /// the stream closes right after short final chunks, their bytes are
    /// never decoded.
    ReadAheadNotFlushedAtEnd,
    /// (g) A module cache keyed by the first chunk (when it has [`BULK`]+
    /// bytes, taken as the response's identity): a later compile whose
    /// first chunk equals an earlier one's gets the earlier module.
    CacheKeyedByFirstChunk,
}

impl SeededBug {
    pub const ALL: [SeededBug; 7] = [
        SeededBug::FunctionCountLostAtChunkEnd,
        SeededBug::LongChunkTailDropped,
        SeededBug::EmptyReadAfterLongChunkEndsStream,
        SeededBug::SplitCodeHeaderOffByOne,
        SeededBug::NameUtf8ValidatedPerChunk,
        SeededBug::ReadAheadNotFlushedAtEnd,
        SeededBug::CacheKeyedByFirstChunk,
    ];

    /// The backend name a run reports.
    pub fn name(self) -> &'static str {
        match self {
            SeededBug::FunctionCountLostAtChunkEnd => "seeded-a-function-count-lost-at-chunk-end",
            SeededBug::LongChunkTailDropped => "seeded-b-long-chunk-tail-dropped",
            SeededBug::EmptyReadAfterLongChunkEndsStream => {
                "seeded-c-empty-read-after-long-chunk-ends-stream"
            }
            SeededBug::SplitCodeHeaderOffByOne => "seeded-d-split-code-header-off-by-one",
            SeededBug::NameUtf8ValidatedPerChunk => "seeded-e-name-utf8-validated-per-chunk",
            SeededBug::ReadAheadNotFlushedAtEnd => "seeded-f-read-ahead-not-flushed-at-end",
            SeededBug::CacheKeyedByFirstChunk => "seeded-g-cache-keyed-by-first-chunk",
        }
    }
}

/// The decoder as an in-process backend: without a bug, the control.
pub struct SeededEngine {
    bug: Option<SeededBug>,
    /// First chunk → module, for [`SeededBug::CacheKeyedByFirstChunk`].
    cache: Mutex<HashMap<Vec<u8>, Outcome>>,
}

impl SeededEngine {
    pub fn control() -> SeededEngine {
        SeededEngine::with(None)
    }

    pub fn with(bug: Option<SeededBug>) -> SeededEngine {
        SeededEngine {
            bug,
            cache: Mutex::default(),
        }
    }

    fn decode(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        let mut chunks = body.chunks.peekable();
        let cache_key = match (self.bug, chunks.peek()) {
            (Some(SeededBug::CacheKeyedByFirstChunk), Some(first)) if first.len() >= BULK => {
                Some(first.to_vec())
            }
            _ => None,
        };
        if let Some(hit) = cache_key
            .as_ref()
            .and_then(|key| self.cache.lock().unwrap().get(key).cloned())
        {
            return hit;
        }
        let mut decoder = Decoder::new(self.bug);
        for chunk in chunks {
            decoder.push(chunk);
        }
        let outcome = decoder.finish(features);
        if let (Some(key), Outcome::Module { .. }) = (cache_key, &outcome) {
            self.cache.lock().unwrap().insert(key, outcome.clone());
        }
        outcome
    }
}

impl Backend for SeededEngine {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: self.bug.map_or("seeded-control", SeededBug::name).into(),
            version: "test double".into(),
        }
    }

    fn compile_streaming(&self, body: StreamingBody<'_>, features: &Features) -> Outcome {
        match body.end {
            BodyEnd::Close => self.decode(body, features),
            // As the reference: the stream's fate wins over any compile
            // result (only bytes cases run here; they end with close).
            BodyEnd::Error => Outcome::PassedThrough,
            BodyEnd::Never => Outcome::Pending,
        }
    }

    fn compile_one_shot(&self, bytes: &[u8], features: &Features) -> Outcome {
        ReferenceBackend.compile_one_shot(bytes, features)
    }
}

/// The unit the decoder is reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// Magic and version, 8 bytes.
    Header,
    /// A section id and its size LEB.
    SectionHeader,
    /// A whole non-custom, non-code section payload.
    Payload {
        id: u8,
        len: usize,
    },
    CustomNameLen,
    CustomName {
        len: usize,
    },
    /// The rest of a custom section, passed through as it comes.
    CustomRest,
    CodeCount,
    BodySize,
    Body {
        len: usize,
    },
}

impl Unit {
    /// Units the bulk path reads only when a chunk holds them whole.
    fn is_framing_or_body(self) -> bool {
        matches!(
            self,
            Unit::SectionHeader
                | Unit::CodeCount
                | Unit::BodySize
                | Unit::CustomNameLen
                | Unit::Body { .. }
        )
    }
}

struct Decoder {
    bug: Option<SeededBug>,
    /// The bytes of every completed unit, in order: what is validated.
    module: Vec<u8>,
    unit: Unit,
    /// Bytes of the current unit that came in earlier chunks.
    partial: Vec<u8>,
    /// Offset in `module` where the current section ends.
    section_end: usize,
    /// The function section's count, once its payload is read (and could
    /// be decoded).
    declared_functions: Option<u64>,
    bodies_left: u64,
    /// Chunks the state machine has been fed (after the read-ahead).
    pieces: usize,
    /// The piece in which the current unit's first byte came.
    unit_start_piece: usize,
    /// The piece in which the code section's id came.
    code_header_piece: usize,
    read_ahead: Vec<u8>,
    /// Length of the last non-empty chunk pushed.
    last_chunk_len: usize,
    /// An empty chunk was taken for the end of the stream.
    ended_early: bool,
    /// The last piece ended inside a unit whose bytes were dropped.
    tail_dropped: bool,
    failed: Option<String>,
}

impl Decoder {
    fn new(bug: Option<SeededBug>) -> Decoder {
        Decoder {
            bug,
            module: Vec::new(),
            unit: Unit::Header,
            partial: Vec::new(),
            section_end: 0,
            declared_functions: None,
            bodies_left: 0,
            pieces: 0,
            unit_start_piece: 0,
            code_header_piece: 0,
            read_ahead: Vec::new(),
            last_chunk_len: 0,
            ended_early: false,
            tail_dropped: false,
            failed: None,
        }
    }

    fn has(&self, bug: SeededBug) -> bool {
        self.bug == Some(bug)
    }

    /// One chunk of the body.
    fn push(&mut self, chunk: &[u8]) {
        if self.ended_early || self.failed.is_some() {
            return;
        }
        if chunk.is_empty() {
            if self.has(SeededBug::EmptyReadAfterLongChunkEndsStream) && self.last_chunk_len >= BULK
            {
                self.ended_early = true;
            }
            return;
        }
        self.last_chunk_len = chunk.len();
        if chunk.len() < READ_AHEAD {
            self.read_ahead.extend_from_slice(chunk);
            if self.read_ahead.len() >= READ_AHEAD {
                let gathered = std::mem::take(&mut self.read_ahead);
                self.feed(&gathered);
            }
            return;
        }
        if !self.read_ahead.is_empty() {
            let gathered = std::mem::take(&mut self.read_ahead);
            self.feed(&gathered);
        }
        self.feed(chunk);
    }

    /// The end of the stream: the outcome.
    fn finish(mut self, features: &Features) -> Outcome {
        if !self.has(SeededBug::ReadAheadNotFlushedAtEnd) && !self.read_ahead.is_empty() {
            let gathered = std::mem::take(&mut self.read_ahead);
            self.feed(&gathered);
        }
        if let Some(message) = self.failed {
            return Outcome::CompileError { message };
        }
        if self.unit != Unit::SectionHeader || !self.partial.is_empty() || self.tail_dropped {
            return Outcome::CompileError {
                message: format!(
                    "unexpected end of the stream in {:?} at offset {}",
                    self.unit,
                    self.module.len() + self.partial.len()
                ),
            };
        }
        ReferenceBackend.compile_one_shot(&self.module, features)
    }

    /// Runs the state machine over one piece: whole units in place, the
    /// unit that runs past its end into `partial`.
    fn feed(&mut self, mut data: &[u8]) {
        self.pieces += 1;
        self.tail_dropped = false;
        let bulk = data.len() >= BULK;
        while self.failed.is_none() {
            let len = match self.unit_len(data) {
                Ok(len) => len,
                Err(message) => return self.fail(message),
            };
            match len {
                Some(len) if self.partial.len() + data.len() >= len => {
                    if self.partial.is_empty() {
                        self.unit_start_piece = self.pieces;
                    }
                    let (now, rest) = data.split_at(len - self.partial.len());
                    if bulk
                        && self.has(SeededBug::NameUtf8ValidatedPerChunk)
                        && matches!(self.unit, Unit::CustomName { .. })
                        && !self.partial.is_empty()
                    {
                        if let Err(e) = std::str::from_utf8(now) {
                            return self.fail(format!("custom section name is not UTF-8: {e}"));
                        }
                    }
                    let unit = self.unit;
                    if self.partial.is_empty() {
                        self.complete(now);
                    } else {
                        let mut whole = std::mem::take(&mut self.partial);
                        whole.extend_from_slice(now);
                        self.complete(&whole);
                    }
                    data = rest;
                    if data.is_empty()
                        && matches!(
                            unit,
                            Unit::Payload {
                                id: FUNCTION_SECTION,
                                ..
                            }
                        )
                        && self.has(SeededBug::FunctionCountLostAtChunkEnd)
                    {
                        self.declared_functions = None;
                    }
                }
                _ => {
                    if data.is_empty() {
                        return;
                    }
                    if self.partial.is_empty() {
                        self.unit_start_piece = self.pieces;
                    }
                    if self.unit == Unit::CustomRest {
                        // Passed through, never buffered.
                        self.module.extend_from_slice(data);
                        return;
                    }
                    if bulk
                        && self.has(SeededBug::LongChunkTailDropped)
                        && self.unit.is_framing_or_body()
                    {
                        // The state still says "inside a unit" (so a stream
                        // that ends here is cut short); its bytes are gone.
                        self.tail_dropped = true;
                        return;
                    }
                    if bulk
                        && self.has(SeededBug::NameUtf8ValidatedPerChunk)
                        && matches!(self.unit, Unit::CustomName { .. })
                    {
                        if let Err(e) = std::str::from_utf8(data) {
                            return self.fail(format!("custom section name is not UTF-8: {e}"));
                        }
                    }
                    self.partial.extend_from_slice(data);
                    return;
                }
            }
        }
    }

    fn fail(&mut self, message: String) {
        self.failed = Some(message);
    }

    /// The current unit's length, if the bytes so far (`partial`, then
    /// `data`) tell it; an error where the framing is broken.
    fn unit_len(&self, data: &[u8]) -> Result<Option<usize>, String> {
        let start = self.module.len();
        let len = match self.unit {
            Unit::Header => return Ok(Some(MAGIC_AND_VERSION.len())),
            Unit::SectionHeader => return self.leb_len(1, data, usize::MAX),
            Unit::Payload { len, .. } | Unit::CustomName { len } | Unit::Body { len } => len,
            Unit::CustomRest => self.section_end - start,
            Unit::CodeCount | Unit::BodySize | Unit::CustomNameLen => {
                match self.leb_len(0, data, self.section_end - start)? {
                    Some(len) => len,
                    None => return Ok(None),
                }
            }
        };
        if start + len > self.section_end {
            return Err(format!(
                "{:?} at offset {start} runs past its section's end at {}",
                self.unit, self.section_end
            ));
        }
        Ok(Some(len))
    }

    /// The length of a unit of `prefix` bytes then an unsigned LEB128 of at
    /// most 5 bytes, if it is terminated within what has come and within
    /// `limit` bytes.
    fn leb_len(&self, prefix: usize, data: &[u8], limit: usize) -> Result<Option<usize>, String> {
        let bytes = self.partial.iter().chain(data).skip(prefix);
        for (i, byte) in bytes.enumerate() {
            if prefix + i >= limit {
                break;
            }
            if byte & 0x80 == 0 {
                return Ok(Some(prefix + i + 1));
            }
            if i == 4 {
                return Err(format!(
                    "LEB128 at offset {} is longer than 5 bytes",
                    self.module.len() + prefix
                ));
            }
        }
        if self.partial.len() + data.len() >= limit {
            return Err(format!(
                "LEB128 at offset {} runs past its section's end",
                self.module.len() + prefix
            ));
        }
        Ok(None)
    }

    /// A unit is complete: record its bytes and move to the next unit.
    fn complete(&mut self, bytes: &[u8]) {
        let start = self.module.len();
        self.module.extend_from_slice(bytes);
        let end = self.module.len();
        self.unit = match self.unit {
            Unit::Header => {
                if bytes != MAGIC_AND_VERSION {
                    return self.fail(format!("not a wasm module header: {bytes:02x?}"));
                }
                Unit::SectionHeader
            }
            Unit::SectionHeader => {
                let id = bytes[0];
                let Some(size) = leb_u32(&bytes[1..]) else {
                    return self.fail(format!("section size at offset {} is too large", start + 1));
                };
                let size = size as usize;
                self.section_end = end + size;
                match id {
                    CUSTOM_SECTION => Unit::CustomNameLen,
                    CODE_SECTION => {
                        self.code_header_piece = self.unit_start_piece;
                        Unit::CodeCount
                    }
                    id => Unit::Payload { id, len: size },
                }
            }
            Unit::Payload { id, .. } => {
                if id == FUNCTION_SECTION {
                    // An undecodable count is left to validation to reject.
                    self.declared_functions = leb_u32(leb_prefix(bytes)).map(u64::from);
                }
                Unit::SectionHeader
            }
            Unit::CustomNameLen => match leb_u32(bytes) {
                Some(len) => Unit::CustomName { len: len as usize },
                None => return self.fail(format!("name length at offset {start} is too large")),
            },
            Unit::CustomName { .. } => {
                if let Err(e) = std::str::from_utf8(bytes) {
                    return self.fail(format!("custom section name is not UTF-8: {e}"));
                }
                Unit::CustomRest
            }
            Unit::CustomRest => Unit::SectionHeader,
            Unit::CodeCount => {
                let Some(count) = leb_u32(bytes).map(u64::from) else {
                    return self.fail(format!("function count at offset {start} is too large"));
                };
                match self.declared_functions {
                    Some(declared) if declared == count => {}
                    None if count == 0 => {}
                    declared => {
                        return self.fail(format!(
                            "the code section has {count} bodies, the function section declares {}",
                            declared.map_or("none".into(), |d| d.to_string())
                        ))
                    }
                }
                if self.has(SeededBug::SplitCodeHeaderOffByOne)
                    && self.pieces != self.code_header_piece
                {
                    self.section_end -= 1;
                }
                self.bodies_left = count;
                self.after_body_or_count()
            }
            Unit::BodySize => match leb_u32(bytes) {
                Some(len) => Unit::Body { len: len as usize },
                None => return self.fail(format!("body size at offset {start} is too large")),
            },
            Unit::Body { .. } => {
                self.bodies_left -= 1;
                self.after_body_or_count()
            }
        };
    }

    /// After the function count or a body: the next body, or the end of
    /// the code section, which must be where its size said.
    fn after_body_or_count(&mut self) -> Unit {
        if self.bodies_left > 0 {
            return Unit::BodySize;
        }
        if self.module.len() != self.section_end {
            self.fail(format!(
                "the code section ends at offset {}, its last body at {}",
                self.section_end,
                self.module.len()
            ));
        }
        Unit::SectionHeader
    }
}

/// The bytes of the LEB128 at the start of `bytes` (all of them if it is
/// not terminated within 5).
fn leb_prefix(bytes: &[u8]) -> &[u8] {
    let len = bytes
        .iter()
        .take(5)
        .position(|b| b & 0x80 == 0)
        .map_or(bytes.len(), |i| i + 1);
    &bytes[..len]
}

/// A complete unsigned LEB128 of at most 5 bytes as a u32, or `None` if it
/// is unterminated or does not fit.
fn leb_u32(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(5) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok();
        }
    }
    None
}
