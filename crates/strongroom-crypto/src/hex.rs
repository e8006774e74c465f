//! Lowercase hexadecimal, the one encoder of the workspace: ids, digests,
//! key fingerprints, note key ids, the local root-key file.

/// `bytes` as lowercase hex digits, two per byte.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// The bytes of `text`, two hex digits (either case) per byte; `None` for
/// an odd length or anything that is not a hex digit.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn digit(byte: u8) -> Option<u8> {
        char::from(byte).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = to_hex(&all);
        assert!(text.starts_with("000102") && text.ends_with("fdfeff"), "{text}");
        assert_eq!(from_hex(&text).unwrap(), all);
        assert_eq!(from_hex("ABcd").unwrap(), vec![0xab, 0xcd]);
    }

    #[test]
    fn fail_odd_lengths_and_non_digits() {
        for bad in ["a", "abc", "zz", "0g", "+1", " 1", "é1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
        assert_eq!(from_hex("").unwrap(), Vec::<u8>::new());
    }
}
