//! Checks of names, paths and choices shared by the API's requests.

use super::{clip, ApiError};

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
