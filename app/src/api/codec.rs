//! How the server functions' answers travel: JSON, as the default codec, but
//! decoded in the browser from text (`serde_json::from_str`), as Leptos
//! decodes the server-rendered resources. With the default codec (which
//! decodes from bytes) every answer type's decoder was compiled into the
//! WebAssembly twice, once per reader.

use leptos::server_fn::{codec::Post, Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::{de::DeserializeOwned, Serialize};

/// JSON decoded from text.
pub struct JsonTextEncoding;

/// The output codec of every server function (`output = JsonText`).
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde::de::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_bad_text_is_an_error() {
        let bytes = JsonTextEncoding::encode(&vec![1u32, 2]).unwrap();
        assert_eq!(&bytes[..], b"[1,2]");
        let back: Vec<u32> = JsonTextEncoding::decode(bytes).unwrap();
        assert_eq!(back, [1, 2]);
        let bad: Result<Vec<u32>, _> = JsonTextEncoding::decode(Bytes::from_static(b"\xff["));
        assert!(bad.is_err());
    }
}
