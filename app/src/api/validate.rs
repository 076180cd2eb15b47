//! Checks shared by the API's requests: choices among fixed names, UUIDs,
//! paths, host names and other names.

/// A time from a user: RFC 3339 (`2027-01-31T00:00:00Z`, any offset), parsed
/// with the `time` crate (never by slicing the text), as UTC.
pub fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// `2027-01-31T00:00:00Z`: how virtdeck writes a UTC time (sorts as text).
pub fn utc_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A day (`2026-11-26`, midnight UTC) or a time as `parse_time` reads it.
pub fn parse_day_or_time(text: &str) -> Option<time::OffsetDateTime> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.trim(), &day)
        .ok()
        .map(|d| d.midnight().assume_utc())
        .or_else(|| parse_time(text))
}

use std::{fmt::Display, str::FromStr};

use strum::IntoEnumIterator;

use super::{clip, ApiError};

/// How a refused choice is worded. Endpoints word it differently and clients
/// match the texts, so each keeps its own; the list of names is always the
/// accepted ones, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    /// `unknown pool action "x"; expected one of: start, stop, …`
    Unknown(&'a str),
    /// `mode "x": expected one of live, paused, offline`
    Expected(&'a str),
    /// `firmware: "x" is not one of bios, uefi`
    NotOneOf(&'a str),
}

impl Choice<'_> {
    /// The 400 answer for `text`, which is none of `names`.
    pub fn refuse<S: AsRef<str>>(self, text: &str, names: impl IntoIterator<Item = S>) -> ApiError {
        let names: Vec<String> = names.into_iter().map(|n| n.as_ref().to_string()).collect();
        let names = names.join(", ");
        let text = clip(text);
        ApiError::BadRequest(match self {
            Choice::Unknown(what) => format!("unknown {what} {text:?}; expected one of: {names}"),
            Choice::Expected(what) => format!("{what} {text:?}: expected one of {names}"),
            Choice::NotOneOf(what) => format!("{what}: {text:?} is not one of {names}"),
        })
    }
}

/// Parses one of an enum's wire names (strum's, the same as serde's); anything
/// else is refused with the names it takes.
pub fn parse_choice<T>(choice: Choice<'_>, text: &str) -> Result<T, ApiError>
where
    T: FromStr + IntoEnumIterator + Display,
{
    text.parse()
        .map_err(|_| choice.refuse(text, T::iter().map(|v| v.to_string())))
}

/// `text`, when it is one of `allowed`.
pub fn one_of(choice: Choice<'_>, text: &str, allowed: &[&str]) -> Result<String, ApiError> {
    if allowed.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(choice.refuse(text, allowed))
    }
}

/// An enum's variants as an array (from strum's `VariantArray`), for the
/// `ALL` constants the pages iterate over. Evaluated at compile time: a wrong
/// `N` does not compile.
pub const fn variants<T: Copy, const N: usize>(all: &[T]) -> [T; N] {
    assert!(all.len() == N, "N must be the number of variants");
    let mut out = [all[0]; N];
    let mut i = 1;
    while i < N {
        out[i] = all[i];
        i += 1;
    }
    out
}

/// Checks that `uuid` is a canonical UUID (`8-4-4-4-12` hex digits).
pub fn validate_uuid(uuid: &str) -> Result<(), ApiError> {
    let groups: Vec<&str> = uuid.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a guest UUID (expected 8-4-4-4-12 hexadecimal digits)",
            clip(uuid)
        )))
    }
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

/// An absolute path without `.`/`..` components or control characters.
pub fn validate_path(what: &str, path: &str) -> Result<String, ApiError> {
    if path.len() > 4096 {
        return Err(bad(format!("{what} is longer than 4096 bytes")));
    }
    if !path.starts_with('/') {
        return Err(bad(format!(
            "{what} {:?} must be an absolute path (starting with /)",
            clip(path)
        )));
    }
    if path.chars().any(char::is_control) {
        return Err(bad(format!("{what} must not contain control characters")));
    }
    if path.split('/').any(|c| c == ".." || c == ".") {
        return Err(bad(format!(
            "{what} {:?} must not contain . or .. components",
            clip(path)
        )));
    }
    Ok(path.to_string())
}

/// A host name or address: letters, digits and `. - : _`.
pub fn validate_hostname(host: &str) -> Result<String, ApiError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if ok {
        Ok(host.to_string())
    } else {
        Err(bad(format!(
            "{:?} is not a host name or address (letters, digits, . - : _ only)",
            clip(host)
        )))
    }
}

/// An iSCSI qualified name (`iqn.`, `eui.` or `naa.`), optionally with `{host}`.
pub fn validate_iqn(what: &str, iqn: &str) -> Result<String, ApiError> {
    let plain = iqn.replace("{host}", "h");
    let ok = plain.len() <= 223
        && ["iqn.", "eui.", "naa."]
            .iter()
            .any(|p| plain.starts_with(p))
        && plain.len() > 4
        && plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    if ok {
        Ok(iqn.to_string())
    } else {
        Err(bad(format!(
            "{what} {:?} is not an iSCSI name: it starts with iqn., eui. or naa. and has only letters, digits, . - :",
            clip(iqn)
        )))
    }
}

/// A name of a volume group, share, adapter…: letters, digits and `. _ + - :`.
pub fn validate_simple_name(what: &str, name: &str) -> Result<String, ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-' | ':'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(bad(format!(
            "{what} {:?}: letters, digits and . _ + - : only, at most 128 characters",
            clip(name)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_refused_in_their_endpoint_s_words() {
        let names = ["a", "b"];
        let refuse = |c: Choice| c.refuse("x", names).to_string();
        assert_eq!(
            refuse(Choice::Unknown("pool action")),
            "unknown pool action \"x\"; expected one of: a, b"
        );
        assert_eq!(
            refuse(Choice::Expected("mode")),
            "mode \"x\": expected one of a, b"
        );
        assert_eq!(
            refuse(Choice::NotOneOf("bus")),
            "bus: \"x\" is not one of a, b"
        );
        assert_eq!(one_of(Choice::NotOneOf("bus"), "b", &names), Ok("b".into()));
    }

    #[test]
    fn uuids_must_be_canonical() {
        assert!(validate_uuid("6b1f7c3e-0a11-4c5e-9a01-00000000a001").is_ok());
        for bad in [
            "",
            "6b1f7c3e0a114c5e9a0100000000a001",
            "6b1f7c3e-0a11-4c5e-9a01-00000000a00g",
            "../../etc",
            "<a>",
        ] {
            assert!(
                matches!(validate_uuid(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
