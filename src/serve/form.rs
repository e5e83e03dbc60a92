//! A POSTed form's fields, however the client sent them: url-encoded (a browser's form, most
//! mail programs' one-click), or `multipart/form-data`, which RFC 8058 names for one-click and
//! `curl -F` sends; other fields may come beside the ones asked for (`utm=x`).

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Fields of at most this many, of at most this size, are read; a form with more is refused.
const MAX_FIELDS: usize = 32;

/// The fields, in order, or the response to give (413 for a body over the limit, 400 for one
/// that cannot be read).
pub async fn fields(
    req: Request<Body>,
    max_body: usize,
) -> Result<Vec<(String, String)>, Response> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if multipart {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(IntoResponse::into_response)?;
        let mut out = Vec::new();
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err((e.status(), e.body_text()).into_response()),
            };
            let name = field.name().unwrap_or("").to_string();
            let value = field
                .text()
                .await
                .map_err(|e| (e.status(), e.body_text()).into_response())?;
            out.push((name, value));
            if out.len() > MAX_FIELDS {
                return Err(bad("too many fields"));
            }
        }
        return Ok(out);
    }
    let bytes = axum::body::to_bytes(req.into_body(), max_body)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "the body is too large\n").into_response())?;
    let out: Vec<(String, String)> = form_urlencoded::parse(bytes.trim_ascii())
        .take(MAX_FIELDS + 1)
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if out.len() > MAX_FIELDS {
        return Err(bad("too many fields"));
    }
    Ok(out)
}

fn bad(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
}
