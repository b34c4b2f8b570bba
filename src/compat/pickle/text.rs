//! The arguments of the text opcodes of protocols 0 and 1: decimal ints,
//! quoted Python 2 strs and `raw-unicode-escape` text.

use super::{Error, err};

/// The little-endian two's complement bytes of a decimal int of any size.
pub(super) fn decimal_long(text: &str) -> Result<Vec<u8>, Error> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 10_000 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err("a text int is malformed");
    }
    // Magnitude, little-endian bytes: times ten plus the digit, per digit.
    let mut mag: Vec<u8> = Vec::new();
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in &mut mag {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            mag.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    // Room for the sign bit, then negate if needed.
    mag.push(0);
    if negative {
        let mut carry = 1u16;
        for byte in &mut mag {
            let v = u16::from(!*byte) + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
    }
    // Shortest form: drop bytes that only repeat the sign.
    while mag.len() > 1 {
        let (last, next) = (mag[mag.len() - 1], mag[mag.len() - 2]);
        if (last == 0 && next & 0x80 == 0) || (last == 0xff && next & 0x80 != 0) {
            mag.pop();
        } else {
            break;
        }
    }
    Ok(mag)
}

/// Decodes a Python 2 `repr` of a str (`'...'` or `"..."` with escapes).
pub(super) fn unquote_repr(line: &[u8]) -> Result<Vec<u8>, Error> {
    let inner = match line {
        [q, inner @ .., q2] if (q == &b'\'' || q == &b'"') && q == q2 => inner,
        _ => return err("a text string is not quoted"),
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *inner
            .get(i)
            .ok_or_else(|| Error("a text string ends in a backslash".into()))?;
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'x' => {
                let hex = inner
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error("a bad \\x escape".into()))?;
                out.push(hex);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut n = u32::from(e - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(n).map_err(|_| Error("a bad octal escape".into()))?);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Decodes Python's `raw-unicode-escape` (the `UNICODE` opcode).
pub(super) fn raw_unicode_escape(line: &[u8]) -> Result<String, Error> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        let width = match (b, line.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => 0,
        };
        if width == 0 {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let c = line
            .get(i + 2..i + 2 + width)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
            .ok_or_else(|| Error("a bad \\u escape (or a lone surrogate)".into()))?;
        out.push(c);
        i += 2 + width;
    }
    Ok(out)
}
