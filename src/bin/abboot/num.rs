//! Parsers for numbers and versions on the command line, and hex output.

use abboot::Version;

/// Parses a number in decimal, `0x` hex, `0o` octal or `0b` binary, with
/// optional `_` separators (`0x0800_0000`).
fn parse_u64(text: &str) -> Result<u64, String> {
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else {
        (lower.as_str(), 10)
    };
    u64::from_str_radix(digits, radix)
        .map_err(|_| format!("not a number (decimal, or 0x hex): {text:?}"))
}

/// A `u32` option value (addresses, ids, counters, lengths).
pub fn u32_value(text: &str) -> Result<u32, String> {
    let v = parse_u64(text)?;
    u32::try_from(v).map_err(|_| format!("{text} does not fit in 32 bits"))
}

/// A `u16` option value (data epoch).
pub fn u16_value(text: &str) -> Result<u16, String> {
    let v = parse_u64(text)?;
    u16::try_from(v).map_err(|_| format!("{text} does not fit in 16 bits (at most 65535)"))
}

/// A size in bytes, with an optional `K`/`KiB` or `M`/`MiB` suffix (powers
/// of 1024, as flash sector sizes are given in datasheets).
pub fn size_value(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let (number, scale) = [
        ("kib", 1024u64),
        ("k", 1024),
        ("mib", 1 << 20),
        ("m", 1 << 20),
    ]
    .iter()
    .find_map(|(suffix, scale)| lower.strip_suffix(suffix).map(|n| (n, *scale)))
    .unwrap_or((lower.as_str(), 1));
    let v = parse_u64(number)?
        .checked_mul(scale)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("{t} does not fit in 32 bits"))?;
    Ok(v)
}

/// An image version: `MAJOR.MINOR.PATCH` or `MAJOR.MINOR.PATCH+BUILD`, with
/// an optional leading `v`.
pub fn version_value(text: &str) -> Result<Version, String> {
    let bad = || {
        format!(
            "{text:?} is not MAJOR.MINOR.PATCH[+BUILD] \
             (major and minor up to 255, patch up to 65535, build up to 4294967295)"
        )
    };
    let t = text.trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    let (core, build) = match t.split_once('+') {
        Some((core, build)) => (core, build.parse::<u32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let mut parts = core.split('.');
    let (Some(major), Some(minor), Some(patch), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(Version::new(
        major.parse().map_err(|_| bad())?,
        minor.parse().map_err(|_| bad())?,
        patch.parse().map_err(|_| bad())?,
        build,
    ))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(u32_value("0x0800_0200"), Ok(0x0800_0200));
        assert_eq!(u32_value("0XfF"), Ok(255));
        assert_eq!(u32_value("42"), Ok(42));
        assert_eq!(u32_value("0b101"), Ok(5));
        assert!(u32_value("0x1_0000_0000").is_err());
        assert!(u32_value("-1").is_err());
        assert!(u32_value("").is_err());
        assert!(u32_value("0x").is_err());
        assert_eq!(u16_value("65535"), Ok(65535));
        assert!(u16_value("65536").is_err());
        assert_eq!(size_value("4K"), Ok(4096));
        assert_eq!(size_value("128KiB"), Ok(131072));
        assert_eq!(size_value("0x1000"), Ok(4096));
        assert_eq!(size_value("1M"), Ok(1 << 20));
        assert!(size_value("4096M").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(version_value("1.2.3"), Ok(Version::new(1, 2, 3, 0)));
        assert_eq!(
            version_value("v1.2.300+77"),
            Ok(Version::new(1, 2, 300, 77))
        );
        for bad in [
            "1.2", "1.2.3.4", "256.0.0", "1.2.3+", "1.2.3+x", "a.b.c", "",
        ] {
            assert!(version_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xAB, 0x7f]), "00ab7f");
    }
}
