//! Base62 with the alphabet `0-9A-Za-z`, big-endian, left-padded with `0` to a fixed width.
//!
//! Written here rather than taken from a crate because the contract fixes a fixed-width,
//! zero-padded form that general base-x crates do not produce, and it is a dozen lines.

/// The base62 alphabet, in digit order.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `bytes` as a big-endian number in base62, left-padded with `0` to `width` digits.
/// The result is longer than `width` only if the number does not fit, which callers rule out.
pub fn encode(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let acc = (remainder << 8) | u32::from(*byte);
            *byte = (acc / 62) as u8;
            remainder = acc % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    digits.resize(digits.len().max(width), b'0');
    digits.reverse();
    digits.into_iter().map(char::from).collect()
}

/// True when every character is a base62 digit.
pub fn is_base62(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_are_padded() {
        assert_eq!(encode(&[0], 3), "000");
        assert_eq!(encode(&[61], 2), "0z");
        assert_eq!(encode(&[62], 2), "10");
        assert_eq!(encode(&[0x01, 0x00], 1), "48"); // 256 = 4*62 + 8
    }

    #[test]
    fn thirty_two_bytes_fit_in_43_digits() {
        assert_eq!(encode(&[0xff; 32], 43).len(), 43);
        assert_eq!(encode(&[0; 32], 43), "0".repeat(43));
    }

    #[test]
    fn a_u32_fits_in_6_digits() {
        assert_eq!(encode(&u32::MAX.to_be_bytes(), 6), "4gfFC3");
    }
}
