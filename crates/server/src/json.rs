//! `Json<T>` for request bodies, with the API's errors: a body that is not
//! JSON is 400 `malformed_json`; an unknown field is 422 `unknown_field`;
//! a missing field or a value of the wrong type is 422 `invalid_value`,
//! naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::{truncate, ApiError, ErrorKind};

/// The largest JSON body accepted (axum's default body limit).
pub const JSON_LIMIT: u64 = 2 * 1024 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::PayloadTooLarge,
        "the JSON body is larger than the server accepts (2 MiB); send less",
    )
}

/// A JSON request body. Declare the payload type with
/// `#[serde(deny_unknown_fields)]` so unknown fields are refused.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.split(';').next().unwrap_or("").trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json_type {
            return Err(ApiError::new(
                ErrorKind::MalformedJson,
                "the body must be JSON sent with 'Content-Type: application/json'",
            ));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > JSON_LIMIT) {
            return Err(too_large());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::bad_request(format!("the body cannot be read: {e}"))
            }
        })?;
        parse(&bytes).map(Json)
    }
}

/// Parses a JSON body the way [`Json`] does. Every body the API takes is
/// an object: serde would also fill a struct from an array (`[null, null]`
/// as its first two fields), so anything else is refused first.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let not_object = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Some("an array"),
        Some(b'"') => Some("a string"),
        Some(b't' | b'f') => Some("true or false"),
        Some(b'n') => Some("null"),
        Some(b'-' | b'0'..=b'9') => Some("a number"),
        _ => None,
    };
    if let Some(what) = not_object {
        // A syntax error keeps its own message below.
        if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
            return Err(ApiError::invalid(format!(
                "the body must be a JSON object ({{\"field\": value, …}}), not {what}"
            )));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = inner.to_string();
            // serde_json adds " at line L column C"; keep it for syntax
            // errors only, where it is the useful part.
            let bare = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            match inner.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    Err(ApiError::new(
                        ErrorKind::MalformedJson,
                        format!("the body is not valid JSON ({msg}); fix the JSON"),
                    ))
                }
                _ if bare.starts_with("unknown field") => {
                    let field = bare.split('`').nth(1).map(truncate).unwrap_or_default();
                    let expected = bare
                        .split_once(", expected ")
                        .map(|(_, e)| format!("; expected {}", e.replace('`', "'")))
                        .unwrap_or_default();
                    let at = if path.contains('.') {
                        format!(" (at {path})")
                    } else {
                        String::new()
                    };
                    Err(ApiError::new(
                        ErrorKind::UnknownField,
                        format!("unknown field '{field}'{at}{expected}"),
                    ))
                }
                _ => {
                    let bare = bare.replace('`', "'");
                    if path == "." || path.is_empty() {
                        Err(ApiError::invalid(format!("the body does not fit: {bare}")))
                    } else {
                        Err(ApiError::invalid(format!("field '{path}': {bare}")))
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        name: String,
        n: Option<i64>,
    }

    #[test]
    fn only_an_object_is_a_body() {
        for (body, what) in [
            (&b"[null, null]"[..], "not an array"),
            (b" \"x\"", "not a string"),
            (b"true", "not true or false"),
            (b"null", "not null"),
            (b"-1", "not a number"),
        ] {
            let e = parse::<P>(body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidValue);
            assert!(e.message.ends_with(what), "{}", e.message);
        }
        // Not JSON at all: the syntax error, as before.
        let e = parse::<P>(b"tru").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MalformedJson);
        assert!(parse::<P>(b" {\"name\": \"x\"}").is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<P>(b"{\"name\": 1}").unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidValue);
        assert!(e.message.starts_with("field 'name':"), "{}", e.message);
        let e = parse::<P>(b"{\"name\": \"x\", \"nme\": 1}").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownField);
        assert!(e.message.contains("'nme'"), "{}", e.message);
        let e = parse::<P>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MalformedJson);
        let e = parse::<P>(b"{}").unwrap_err();
        assert!(e.message.contains("missing field 'name'"), "{}", e.message);
    }
}
