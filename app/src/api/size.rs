//! Sizes as libvirt reads them, and the names of pools and volumes: small
//! validated types, parsed inside the server functions so that a refused value
//! is still written to the audit log. The browser uses the same parsers to
//! check a form before sending it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{clip, ApiError};

/// The largest size virtdeck accepts: 1 EiB.
pub const MAX_SIZE: u64 = 1 << 60;

/// A number of bytes, at most `MAX_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteSize(u64);

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// Parses a size the way libvirt reads one: a whole number with an optional
    /// unit. `K`, `M`, `G`, `T`, `P`, `E` and `KiB` … `EiB` are powers of 1024,
    /// `KB` … `EB` powers of 1000, a bare number or `B` is bytes. Letters are
    /// case-insensitive. Zero is allowed here (an allocation may be 0); use
    /// [`ByteSize::parse_capacity`] where it is not.
    pub fn parse(text: &str) -> Result<ByteSize, ApiError> {
        let text = text.trim();
        let bad = |why: &str| {
            ApiError::BadRequest(format!(
                "{:?} is not a size: {why} (examples: 20G, 512MiB, 1TB, 1048576)",
                clip(text)
            ))
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.starts_with('-') {
            return Err(bad("sizes cannot be negative"));
        }
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        if digits_end == 0 {
            return Err(bad("it must start with a whole number"));
        }
        let (number, unit) = text.split_at(digits_end);
        let unit = unit.trim();
        if unit.starts_with(['.', ',']) {
            return Err(bad("use a whole number, with a smaller unit if needed"));
        }
        let scale = unit_scale(unit).ok_or_else(|| {
            bad("unknown unit; use K, M, G, T, P, E (powers of 1024, also KiB…EiB) or KB…EB (powers of 1000)")
        })?;
        let too_big = || {
            ApiError::BadRequest(format!(
                "{:?} is larger than the 1 EiB virtdeck accepts",
                clip(text)
            ))
        };
        let number: u64 = number.parse().map_err(|_| too_big())?;
        let bytes = number.checked_mul(scale).ok_or_else(too_big)?;
        ByteSize::from_bytes(bytes).map_err(|_| too_big())
    }

    /// Like [`ByteSize::parse`], but zero is refused: a volume needs a capacity.
    pub fn parse_capacity(text: &str) -> Result<ByteSize, ApiError> {
        let size = ByteSize::parse(text)?;
        if size.0 == 0 {
            return Err(ApiError::BadRequest(
                "a capacity of zero bytes is not a volume; give a size such as 20G".into(),
            ));
        }
        Ok(size)
    }

    pub fn from_bytes(bytes: u64) -> Result<ByteSize, ApiError> {
        if bytes > MAX_SIZE {
            return Err(ApiError::BadRequest(format!(
                "{bytes} bytes is larger than the 1 EiB virtdeck accepts"
            )));
        }
        Ok(ByteSize(bytes))
    }
}

impl fmt::Display for ByteSize {
    /// Binary units as a person reads them: `512 MiB`, `1.5 GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&human_bytes(self.0))
    }
}

/// Bytes as a short binary size: `0 B`, `512 MiB`, `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value.fract() == 0.0 || value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn unit_scale(unit: &str) -> Option<u64> {
    let lower = unit.to_ascii_lowercase();
    let (letter, rest) = match lower.chars().next() {
        None => return Some(1),
        Some(c) => (c, &lower[c.len_utf8()..]),
    };
    let power = match letter {
        'b' if rest.is_empty() || rest == "ytes" => return Some(1),
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: u64 = match rest {
        "" | "ib" => 1024,
        "b" => 1000,
        _ => return None,
    };
    Some(base.pow(power))
}

/// A size as a request carries it: a JSON number of bytes or a string with a
/// unit. Kept as the raw JSON value so that every wrong value (negative,
/// fractional, a boolean) reaches the server function and gets a clear,
/// audited error instead of a generic deserialisation failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct SizeArg(pub serde_json::Value);

impl SizeArg {
    pub fn text(text: impl Into<String>) -> Self {
        SizeArg(serde_json::Value::String(text.into()))
    }

    pub fn is_missing(&self) -> bool {
        self.0.is_null()
    }

    /// The size, zero allowed. `what` names the field in the message.
    pub fn parse(&self, what: &str) -> Result<ByteSize, ApiError> {
        let named = |e: ApiError| ApiError::BadRequest(format!("{what}: {e}"));
        match &self.0 {
            serde_json::Value::String(s) => ByteSize::parse(s).map_err(named),
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(bytes) => ByteSize::from_bytes(bytes).map_err(named),
                None if n.as_i64().is_some_and(|v| v < 0) => Err(ApiError::BadRequest(format!(
                    "{what}: sizes cannot be negative"
                ))),
                None if n.as_f64().is_some_and(|v| v < 0.0) => Err(ApiError::BadRequest(format!(
                    "{what}: sizes cannot be negative"
                ))),
                None => Err(ApiError::BadRequest(format!(
                    "{what}: {n} is not a whole number of bytes (or larger than 1 EiB)"
                ))),
            },
            serde_json::Value::Null => Err(ApiError::BadRequest(format!("{what} is required"))),
            other => Err(ApiError::BadRequest(format!(
                "{what}: expected a number of bytes or a string such as \"20G\", not {}",
                clip(&other.to_string())
            ))),
        }
    }

    /// The size, which must not be zero.
    pub fn parse_capacity(&self, what: &str) -> Result<ByteSize, ApiError> {
        let size = self.parse(what)?;
        if size.bytes() == 0 {
            return Err(ApiError::BadRequest(format!(
                "{what}: zero bytes is not a usable size; give a size such as 20G"
            )));
        }
        Ok(size)
    }
}

/// The name of a storage pool or volume: letters, digits and `.`, `_`, `+`,
/// `-`, not starting with `.` or `-`, at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StorageName(String);

impl StorageName {
    pub const RULE: &'static str =
        "letters, digits and . _ + - only, not starting with . or -, at most 128 characters";

    /// `what` is "pool name" or "volume name", for the message.
    pub fn parse(what: &str, name: &str) -> Result<StorageName, ApiError> {
        Self::check(what, name, false)
    }

    /// The name of a volume that exists already: as `parse`, and `:` too, as
    /// libvirt names the LUNs of iSCSI and SCSI pools (`unit:0:0:1`). New
    /// volumes never get one (QEMU reads `x:` as a protocol in a file name).
    pub fn existing(what: &str, name: &str) -> Result<StorageName, ApiError> {
        Self::check(what, name, true)
    }

    fn check(what: &str, name: &str, colon: bool) -> Result<StorageName, ApiError> {
        let ok = !name.is_empty()
            && name.chars().count() <= 128
            && !name.starts_with(['.', '-', ':'])
            && name.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '.' | '_' | '+' | '-')
                    || (colon && c == ':')
            });
        if ok {
            Ok(StorageName(name.to_string()))
        } else if name.is_empty() {
            Err(ApiError::BadRequest(format!("a {what} is required")))
        } else {
            Err(ApiError::BadRequest(format!(
                "{:?} is not a valid {what}: {}",
                clip(name),
                StorageName::RULE
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A whole number from a JSON body (a number or its text), parsed inside the
/// server function so that a refused value is audited with a clear message
/// ("memory_mib: -1 is not a whole number from 16 to 1048576").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct NumArg(pub serde_json::Value);

impl From<u64> for NumArg {
    fn from(n: u64) -> Self {
        NumArg(serde_json::Value::from(n))
    }
}

impl NumArg {
    pub fn is_missing(&self) -> bool {
        self.0.is_null()
    }

    /// The number, which must lie in `min..=max`.
    pub fn parse(&self, what: &str, min: u64, max: u64) -> Result<u64, ApiError> {
        let n = match &self.0 {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
            serde_json::Value::Null => {
                return Err(ApiError::BadRequest(format!("{what} is required")));
            }
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "{what}: {} is not a whole number from {min} to {max}",
                clip(&match &self.0 {
                    serde_json::Value::String(s) => format!("{s:?}"),
                    v => v.to_string(),
                })
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_read_the_way_libvirt_reads_them() {
        let cases = [
            ("1048576", 1 << 20),
            ("20G", 20 << 30),
            ("20g", 20 << 30),
            ("512MiB", 512 << 20),
            ("512 MiB", 512 << 20),
            ("1K", 1024),
            ("1KB", 1000),
            ("1kb", 1000),
            ("2TB", 2_000_000_000_000),
            ("3T", 3 << 40),
            ("1EiB", 1 << 60),
            ("1E", 1 << 60),
            ("7B", 7),
            ("7bytes", 7),
            ("0", 0),
        ];
        for (text, bytes) in cases {
            assert_eq!(
                ByteSize::parse(text).map(ByteSize::bytes),
                Ok(bytes),
                "{text}"
            );
        }
    }

    #[test]
    fn wrong_sizes_are_refused_with_a_reason() {
        for (text, why) in [
            ("", "empty"),
            ("-1G", "negative"),
            ("G", "whole number"),
            ("1.5G", "whole number"),
            ("12X", "unknown unit"),
            ("12 GiBs", "unknown unit"),
            ("2E", "1 EiB"),
            ("1025P", "1 EiB"),
            ("99999999999999999999999", "1 EiB"),
            ("<b>&", "whole number"),
        ] {
            let err = ByteSize::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert!(ByteSize::parse_capacity("0").is_err());
        assert!(ByteSize::parse_capacity("0G").is_err());
    }

    #[test]
    fn sizes_in_json_may_be_numbers_or_strings() {
        let arg = |v: serde_json::Value| SizeArg(v);
        assert_eq!(
            arg(serde_json::json!(1024))
                .parse("capacity")
                .unwrap()
                .bytes(),
            1024
        );
        assert_eq!(
            arg(serde_json::json!("1K"))
                .parse("capacity")
                .unwrap()
                .bytes(),
            1024
        );
        for (v, why) in [
            (serde_json::json!(-5), "negative"),
            (serde_json::json!(-0.5), "negative"),
            (serde_json::json!(1.5), "whole number"),
            (serde_json::json!(true), "expected a number"),
            (serde_json::json!(null), "required"),
            (serde_json::json!(u64::MAX), "1 EiB"),
        ] {
            let err = arg(v.clone()).parse("capacity").unwrap_err().to_string();
            assert!(err.starts_with("capacity"), "{v}: {err}");
            assert!(err.contains(why), "{v}: {err}");
        }
        assert!(arg(serde_json::json!(0))
            .parse_capacity("capacity")
            .is_err());
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(512 << 20), "512 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(1 << 60), "1 EiB");
    }

    #[test]
    fn storage_names_follow_one_rule() {
        for good in ["default", "vm-disk_1.qcow2", "a+b", "A9", &"x".repeat(128)] {
            assert!(StorageName::parse("pool name", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".hidden",
            "-x",
            "a/b",
            "../etc",
            "a b",
            "<x>",
            "a&b",
            "q\"",
            "é",
            &"x".repeat(129),
        ] {
            let err = StorageName::parse("pool name", bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains("pool name"), "{bad}: {err}");
            assert!(StorageName::existing("volume name", bad).is_err(), "{bad}");
        }
        // An existing LUN's name, never a new volume's.
        assert!(StorageName::existing("volume name", "unit:0:0:1").is_ok());
        assert!(StorageName::parse("volume name", "unit:0:0:1").is_err());
        assert!(StorageName::existing("volume name", ":x").is_err());
    }
}
