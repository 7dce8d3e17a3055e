//! Structural offsets of a module: the byte positions where a streaming
//! decoder changes state. A two-chunk split at each of them is the sweep
//! production engines run in their own decoder tests.
//!
//! Two scans, for two costs:
//! - [`structural_offsets`], the *coarse* offsets (header, section framing,
//!   code-section counts and body boundaries). It is a tolerant hand-written
//!   walk of the framing, because invalid and truncated modules are cases
//!   too and no parser follows them; it follows the framing as far as it
//!   holds and stops there. Each coarse offset gets its own two-chunk split,
//!   and truncation cases are derived at them.
//! - [`Structure::scan`] adds the *fine* offsets ([`FineKind`]): inside
//!   names, after local declarations, inside multi-byte immediates and
//!   prefixed opcodes. They come from wasmparser (its readers know every
//!   proposal's encoding) and stop where the module stops parsing, so a
//!   malformed module keeps its coarse offsets only. A module can have one
//!   fine offset every byte or two, so the plan sets cover them with a few
//!   plans that cut at many of them at once, not a split each.

use wasmparser::{
    BinaryReader, FunctionBody, KnownCustom, Name, OperatorsReader, Parser, Payload, WasmFeatures,
};

/// Sorted, de-duplicated offsets in `0..=bytes.len()`:
/// every header byte; per section its id, each byte of its size LEB, the
/// payload start, middle and end; in custom sections the name; in the code
/// section each byte of the function-count LEB and of every body-size LEB,
/// each body's start, middle and end; and `n - 1`, `n`.
pub fn structural_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    walk_framing(bytes, &mut offsets);
    offsets
}

/// One section's framing as the tolerant walk found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionFrame {
    pub id: u8,
    /// The offset of the id byte.
    pub start: usize,
    /// The first payload byte (just after the size LEB).
    pub payload: usize,
    /// The declared end of the payload; may lie past the body.
    pub end: usize,
}

/// The framing walk: pushes the coarse offsets (then sorts them) and returns
/// the sections whose size LEB was complete.
fn walk_framing(bytes: &[u8], offsets: &mut Vec<usize>) -> Vec<SectionFrame> {
    let n = bytes.len();
    let mut frames = Vec::new();
    offsets.extend(0..=8.min(n));
    let mut pos = 8;
    while pos < n {
        let id = bytes[pos];
        offsets.push(pos);
        let Some((size, size_end)) = leb_with_offsets(bytes, pos + 1, offsets) else {
            break;
        };
        let payload_end = size_end.saturating_add(size as usize);
        frames.push(SectionFrame {
            id,
            start: pos,
            payload: size_end,
            end: payload_end,
        });
        offsets.push(size_end);
        offsets.push(size_end + (size as usize) / 2);
        let limit = payload_end.min(n);
        match id {
            0 => {
                if let Some((len, name_start)) = leb_with_offsets(bytes, size_end, offsets) {
                    offsets.push(name_start.saturating_add(len as usize));
                }
            }
            10 => code_section(bytes, size_end, limit, offsets),
            _ => {}
        }
        offsets.push(payload_end);
        pos = payload_end;
    }
    offsets.push(n.saturating_sub(1));
    offsets.push(n);
    offsets.retain(|&o| o <= n);
    offsets.sort_unstable();
    offsets.dedup();
    frames
}

fn code_section(bytes: &[u8], start: usize, limit: usize, offsets: &mut Vec<usize>) {
    let Some((count, mut pos)) = leb_with_offsets(&bytes[..limit], start, offsets) else {
        return;
    };
    for _ in 0..count {
        if pos >= limit {
            return;
        }
        let Some((size, body_start)) = leb_with_offsets(&bytes[..limit], pos, offsets) else {
            return;
        };
        let body_end = body_start.saturating_add(size as usize);
        offsets.extend([body_start, body_start + (size as usize) / 2, body_end]);
        pos = body_end;
    }
}

/// Reads an unsigned LEB128 (up to 5 bytes) at `pos`, pushing the offset of
/// every byte inside it. Returns the value and the offset after it, or
/// `None` where the LEB is unterminated or runs past the end.
fn leb_with_offsets(bytes: &[u8], pos: usize, offsets: &mut Vec<usize>) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..5 {
        let byte = *bytes.get(pos + i)?;
        offsets.push(pos + i);
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, pos + i + 1));
        }
    }
    None
}

/// The kinds of fine offsets (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FineKind {
    /// Inside every name (imports, exports, custom section names, the name
    /// section): its start, middle and end, and between the bytes of every
    /// multi-byte UTF-8 character.
    Names,
    /// After each function's local-declaration count and after each local
    /// group (count and type).
    Locals,
    /// Inside every prefixed opcode (0xFB to 0xFE: after the prefix and
    /// inside and after the sub-opcode LEB) and every instruction of three
    /// or more bytes (after the opcode, the middle, before the last byte).
    Immediates,
}

impl FineKind {
    pub const ALL: [FineKind; 3] = [FineKind::Names, FineKind::Locals, FineKind::Immediates];

    pub fn name(self) -> &'static str {
        match self {
            FineKind::Names => "names",
            FineKind::Locals => "locals",
            FineKind::Immediates => "immediates",
        }
    }

    pub fn parse(name: &str) -> Option<FineKind> {
        FineKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Everything the plan sets need of a module's structure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Structure {
    /// [`structural_offsets`].
    pub coarse: Vec<usize>,
    /// Sections whose size LEB was complete, in order.
    pub sections: Vec<SectionFrame>,
    /// The code section's header: the offset of its id byte and the end of
    /// its function-count LEB (both within the body).
    pub code_header: Option<(usize, usize)>,
    /// Fine offsets by kind (empty from [`Structure::coarse`]); each sorted,
    /// de-duplicated, within `0..=n`.
    pub names: Vec<usize>,
    pub locals: Vec<usize>,
    pub immediates: Vec<usize>,
}

impl Structure {
    /// The coarse offsets and the framing only: cheap, for plan sets that
    /// need no fine offsets.
    pub fn coarse(bytes: &[u8]) -> Structure {
        let mut coarse = Vec::new();
        let sections = walk_framing(bytes, &mut coarse);
        let code_header = sections.iter().find(|s| s.id == 10).and_then(|s| {
            let (_, count_end) = leb_with_offsets(bytes, s.payload, &mut Vec::new())?;
            (count_end <= bytes.len()).then_some((s.start, count_end))
        });
        Structure {
            coarse,
            sections,
            code_header,
            ..Structure::default()
        }
    }

    /// Coarse and fine offsets.
    pub fn scan(bytes: &[u8]) -> Structure {
        let mut structure = Structure::coarse(bytes);
        fine_scan(bytes, &mut structure);
        let n = bytes.len();
        for kind in FineKind::ALL {
            let offsets = structure.fine_mut(kind);
            offsets.retain(|&o| o <= n);
            offsets.sort_unstable();
            offsets.dedup();
        }
        structure
    }

    pub fn fine(&self, kind: FineKind) -> &[usize] {
        match kind {
            FineKind::Names => &self.names,
            FineKind::Locals => &self.locals,
            FineKind::Immediates => &self.immediates,
        }
    }

    fn fine_mut(&mut self, kind: FineKind) -> &mut Vec<usize> {
        match kind {
            FineKind::Names => &mut self.names,
            FineKind::Locals => &mut self.locals,
            FineKind::Immediates => &mut self.immediates,
        }
    }

    /// Every offset, coarse and fine, sorted and de-duplicated.
    pub fn all_offsets(&self) -> Vec<usize> {
        let mut all = self.coarse.clone();
        for kind in FineKind::ALL {
            all.extend_from_slice(self.fine(kind));
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The fine offsets, as far as wasmparser parses the module. Every proposal
/// is enabled: this reads encodings, it does not validate.
fn fine_scan(bytes: &[u8], out: &mut Structure) {
    let mut parser = Parser::new(0);
    parser.set_features(WasmFeatures::all());
    for payload in parser.parse_all(bytes) {
        let Ok(payload) = payload else { break };
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let Ok(import) = import else { break };
                    name_offsets(bytes, import.module, &mut out.names);
                    name_offsets(bytes, import.name, &mut out.names);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let Ok(export) = export else { break };
                    name_offsets(bytes, export.name, &mut out.names);
                }
            }
            Payload::CustomSection(custom) => {
                name_offsets(bytes, custom.name(), &mut out.names);
                if let KnownCustom::Name(reader) = custom.as_known() {
                    name_section(bytes, reader, &mut out.names);
                }
            }
            Payload::CodeSectionEntry(body) => function_body(bytes, &body, out),
            _ => {}
        }
    }
}

fn name_section(bytes: &[u8], reader: wasmparser::NameSectionReader<'_>, names: &mut Vec<usize>) {
    let map = |map: wasmparser::NameMap<'_>, names: &mut Vec<usize>| {
        for naming in map {
            let Ok(naming) = naming else { break };
            name_offsets(bytes, naming.name, names);
        }
    };
    for subsection in reader {
        let Ok(subsection) = subsection else { break };
        match subsection {
            Name::Module { name, .. } => name_offsets(bytes, name, names),
            Name::Function(m)
            | Name::Type(m)
            | Name::Table(m)
            | Name::Memory(m)
            | Name::Global(m)
            | Name::Element(m)
            | Name::Data(m)
            | Name::Tag(m) => map(m, names),
            Name::Local(m)
            | Name::Label(m)
            | Name::Field(m)
            | Name::Parameter(m)
            | Name::TagParameter(m) => {
                for indirect in m {
                    let Ok(indirect) = indirect else { break };
                    map(indirect.names, names);
                }
            }
            Name::Unknown { .. } => {}
        }
    }
}

/// The offsets inside a name that wasmparser read out of `bytes`. Its
/// readers borrow strings from their input, so the string's address locates
/// it; a string from anywhere else is ignored.
fn name_offsets(bytes: &[u8], name: &str, names: &mut Vec<usize>) {
    let Some(start) = (name.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize) else {
        return;
    };
    let end = start + name.len();
    if end > bytes.len() {
        return;
    }
    names.extend([start, start + name.len() / 2, end]);
    for (i, c) in name.char_indices() {
        names.extend((1..c.len_utf8()).map(|j| start + i + j));
    }
}

fn function_body(bytes: &[u8], body: &FunctionBody<'_>, out: &mut Structure) {
    let Ok(mut locals) = body.get_locals_reader() else {
        return;
    };
    out.locals.push(locals.original_position() as usize);
    for _ in 0..locals.get_count() {
        if locals.read().is_err() {
            return;
        }
        out.locals.push(locals.original_position() as usize);
    }
    let mut operators = OperatorsReader::new(locals.get_binary_reader());
    while !operators.eof() {
        let start = operators.original_position() as usize;
        if operators.read().is_err() {
            return;
        }
        instruction_offsets(bytes, start, operators.original_position() as usize, out);
    }
}

/// The offsets inside the instruction at `start..end` (see
/// [`FineKind::Immediates`]).
fn instruction_offsets(bytes: &[u8], start: usize, end: usize, out: &mut Structure) {
    let prefixed = matches!(bytes.get(start), Some(0xfb..=0xfe));
    if end <= start + 1 || (!prefixed && end - start < 3) {
        return;
    }
    let inside = |o: usize| o > start && o < end;
    out.immediates.push(start + 1);
    if prefixed {
        let mut sub_opcode = BinaryReader::new(&bytes[start + 1..end], start as u64 + 1);
        if sub_opcode.read_var_u32().is_ok() {
            out.immediates.extend(
                (start + 2..=sub_opcode.original_position() as usize).filter(|&o| inside(o)),
            );
        }
    }
    out.immediates.extend(
        [(start + end) / 2, end - 1]
            .into_iter()
            .filter(|&o| inside(o)),
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const HEADER: &[u8] = b"\0asm\x01\0\0\0";

    #[test]
    fn header_bytes_and_ends_are_always_offsets() {
        assert_eq!(structural_offsets(HEADER), (0..=8).collect::<Vec<_>>());
        assert_eq!(structural_offsets(b"\0as"), vec![0, 1, 2, 3]);
        assert_eq!(structural_offsets(b""), vec![0]);
    }

    #[test]
    fn code_section_offsets_cover_counts_sizes_and_bodies() {
        // type section: one `() -> ()`; function section; code: two bodies.
        let mut m = HEADER.to_vec();
        m.extend([1, 4, 1, 0x60, 0, 0]); // 8..14
        m.extend([3, 3, 2, 0, 0]); // 14..19
        m.extend([10, 7, 2, 2, 0, 0x0b, 2, 0, 0x0b]); // 19..28
        let o = structural_offsets(&m);
        for expected in [8, 9, 10, 14, 19, 20, 21, 22, 23, 25, 26, 27, 28] {
            assert!(o.contains(&expected), "missing {expected} in {o:?}");
        }
    }

    #[test]
    fn overlong_size_lebs_get_a_cut_inside_every_byte() {
        // custom section with a 5-byte size LEB for size 3: name "" + 2 bytes.
        let mut m = HEADER.to_vec();
        m.extend([0, 0x83, 0x80, 0x80, 0x80, 0x00, 0, 7, 7]);
        let o = structural_offsets(&m);
        for expected in 9..=14 {
            assert!(o.contains(&expected), "missing {expected} in {o:?}");
        }
    }

    /// A module with a multi-byte UTF-8 import name, two local groups, a
    /// prefixed opcode with an immediate (memory.fill) and v128.const;
    /// the comments give each part's offsets.
    pub(crate) fn fine_module() -> Vec<u8> {
        let mut m = HEADER.to_vec();
        m.extend([1, 4, 1, 0x60, 0, 0]); // 8..14 type () -> ()
                                         // 14..25 import "mé" (18..21, é at 19..21) "f" (22..23) func 0
        m.extend([2, 9, 1, 3, b'm', 0xc3, 0xa9, 1, b'f', 0, 0]);
        m.extend([3, 2, 1, 0]); // 25..29 function section
        m.extend([5, 3, 1, 0, 1]); // 29..34 memory 1 page
        m.extend([7, 5, 1, 1, b'x', 0, 1]); // 34..41 export "x" (38..39)
                                            // 41..79 code: id 41, size 42, count 43, body size 44, body 45..79
        m.extend([10, 36, 1, 34]);
        m.extend([2, 2, 0x7f, 1, 0x7e]); // 45..50 locals: count, 2 groups
        m.extend([0x41, 0, 0x41, 0, 0x41, 0]); // 50..56 three i32.const 0
        m.extend([0xfc, 11, 0]); // 56..59 memory.fill 0
        m.extend([0xfd, 12]); // 59..77 v128.const
        m.extend([7; 16]);
        m.extend([0x1a, 0x0b]); // 77..79 drop, end
        assert_eq!(m.len(), 79);
        m
    }

    #[test]
    fn fine_offsets_split_multi_byte_utf8_names() {
        let s = Structure::scan(&fine_module());
        // "mé": start, middle, end, and between é's two bytes (20).
        for expected in [18, 19, 20, 21, 22, 23, 38, 39] {
            assert!(s.names.contains(&expected), "{expected}: {:?}", s.names);
        }
    }

    #[test]
    fn fine_offsets_follow_every_local_group() {
        let s = Structure::scan(&fine_module());
        assert_eq!(s.locals, [46, 48, 50]);
    }

    #[test]
    fn fine_offsets_cut_inside_prefixed_opcodes_and_long_immediates() {
        let s = Structure::scan(&fine_module());
        // memory.fill: after the 0xFC prefix, after its sub-opcode.
        // v128.const: after the prefix, after the sub-opcode, middle, last.
        for expected in [57, 58, 60, 61, 68, 76] {
            assert!(
                s.immediates.contains(&expected),
                "{expected}: {:?}",
                s.immediates
            );
        }
        // Two-byte instructions (i32.const 0) are not split further.
        assert!(!s.immediates.iter().any(|&o| (50..56).contains(&o)));
        assert_eq!(s.code_header, Some((41, 44)));
    }

    #[test]
    fn fine_offsets_stop_where_the_module_stops_parsing() {
        let m = fine_module();
        // Cut inside the code section: the import names are still found.
        let s = Structure::scan(&m[..66]);
        assert!(s.names.contains(&20));
        assert!(s.immediates.iter().all(|&o| o <= 66));
        // Garbage after the header: coarse offsets only.
        let mut junk = HEADER.to_vec();
        junk.extend([0x42, 0xff, 0x01, 0x02]);
        let s = Structure::scan(&junk);
        assert!(s.names.is_empty() && s.locals.is_empty() && s.immediates.is_empty());
        assert_eq!(s.coarse, structural_offsets(&junk));
    }

    #[test]
    fn declared_sizes_past_the_end_do_not_panic() {
        let mut m = HEADER.to_vec();
        m.extend([10, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]);
        let o = structural_offsets(&m);
        assert_eq!(*o.last().unwrap(), m.len());
        let mut unterminated = HEADER.to_vec();
        unterminated.extend([1, 0x80, 0x80]);
        assert_eq!(
            *structural_offsets(&unterminated).last().unwrap(),
            unterminated.len()
        );
    }
}
