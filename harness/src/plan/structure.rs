//! Structural offsets of a module: the byte positions where a streaming
//! decoder changes state. A two-chunk split at each of them is the sweep
//! production engines run in their own decoder tests.
//!
//! The scan is deliberately tolerant: invalid and truncated modules are
//! cases too, so it follows the framing as far as it holds and stops there.

/// Sorted, de-duplicated offsets in `0..=bytes.len()`:
/// every header byte; per section its id, each byte of its size LEB, the
/// payload start, middle and end; in custom sections the name; in the code
/// section each byte of the function-count LEB and of every body-size LEB,
/// each body's start, middle and end; and `n - 1`, `n`.
pub fn structural_offsets(bytes: &[u8]) -> Vec<usize> {
    let n = bytes.len();
    let mut offsets: Vec<usize> = (0..=8.min(n)).collect();
    let mut pos = 8;
    while pos < n {
        let id = bytes[pos];
        offsets.push(pos);
        let Some((size, size_end)) = leb_with_offsets(bytes, pos + 1, &mut offsets) else {
            break;
        };
        let payload_end = size_end.saturating_add(size as usize);
        offsets.push(size_end);
        offsets.push(size_end + (size as usize) / 2);
        let limit = payload_end.min(n);
        match id {
            0 => {
                if let Some((len, name_start)) = leb_with_offsets(bytes, size_end, &mut offsets) {
                    offsets.push(name_start.saturating_add(len as usize));
                }
            }
            10 => code_section(bytes, size_end, limit, &mut offsets),
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
    offsets
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

#[cfg(test)]
mod tests {
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
