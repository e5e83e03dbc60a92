//! A POSTed form's fields, however the client sent them: url-encoded (a browser's form, most
//! mail programs' one-click), or `multipart/form-data`, which RFC 8058 names for one-click and
//! `curl -F` sends; other fields may come beside the ones asked for (`utm=x`).

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A POST as a handler reads it: its address, its headers and its fields.
pub struct Posted {
    pub uri: axum::http::Uri,
    pub headers: axum::http::HeaderMap,
    pub fields: Vec<(String, String)>,
}

/// Reads a POST whole before anything is decided on it: an answer that left the body unread
/// (a token refused first) would leave the kept-alive connection unusable for the client's
/// next request.
pub async fn posted(req: Request<Body>, max_body: usize) -> Result<Posted, Response> {
    let (uri, headers) = (req.uri().clone(), req.headers().clone());
    let fields = fields(req, max_body).await?;
    Ok(Posted {
        uri,
        headers,
        fields,
    })
}

/// Fields of at most this many, of at most this size, are read; a form with more is refused.
const MAX_FIELDS: usize = 32;

/// The fields, in order, or the response to give (413 for a body over the limit, 400 for one
/// that cannot be read).
async fn fields(req: Request<Body>, max_body: usize) -> Result<Vec<(String, String)>, Response> {
    read(req, max_body).await.map_err(|mut refused| {
        // The body may be left unread: the connection cannot carry another request, and the
        // client must know not to send one on it.
        refused.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        refused
    })
}

/// A body over the limit is still read up to this much, so that the client, still writing it,
/// gets its 413 rather than a reset connection; past this it is cut off.
const DRAIN: usize = 64 * 1024;

async fn read(req: Request<Body>, max_body: usize) -> Result<Vec<(String, String)>, Response> {
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, "the body is too large\n").into_response();
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, DRAIN)
        .await
        .map_err(|_| too_large())?;
    if bytes.len() > max_body {
        return Err(too_large());
    }
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if multipart {
        let req = Request::from_parts(parts, Body::from(bytes));
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
