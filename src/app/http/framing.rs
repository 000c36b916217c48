//! Which body framing a message's headers ask for (RFC 9112 6.3).

use super::body::Framing;
use super::decompress::Coding;
use super::event::Anomaly;
use super::header::{trim, Headers};
use crate::flow::Dir;

/// Content-Length values of a message: the first one parsed, and
/// whether it was usable. Several fields raise the duplicate anomaly
/// (a request smuggling sign, RFC 9112 6.3 item 5).
fn content_length(
    headers: &Headers,
    dir: Dir,
    anomalies: &mut Vec<Anomaly>,
) -> Option<Result<u64, ()>> {
    let mut values = headers.all("content-length");
    let first = values.next()?;
    if values.next().is_some() {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::DuplicateContentLengthFieldInRequest,
            Anomaly::DuplicateContentLengthFieldInResponse,
        ));
    }
    let v = trim(first);
    let parsed = if !v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
    } else {
        None
    };
    if parsed.is_none() {
        anomalies.push(Anomaly::for_dir(
            dir,
            Anomaly::InvalidContentLengthFieldInRequest,
            Anomaly::InvalidContentLengthFieldInResponse,
        ));
    }
    Some(parsed.ok_or(()))
}

/// Whether Transfer-Encoding is present, and whether `chunked` is its
/// final coding.
fn transfer_chunked(headers: &Headers) -> Option<bool> {
    let te = headers.get("transfer-encoding")?;
    let last = te
        .rsplit(|&b| b == b',')
        .next()
        .map(trim)
        .unwrap_or_default();
    Some(last.eq_ignore_ascii_case(b"chunked"))
}

/// Request body framing: chunked, else a valid Content-Length, else no
/// body. A Transfer-Encoding that does not end in chunked cannot be
/// framed (RFC 9112 6.3 item 4) and is treated as no body; what follows
/// is then parsed as the next request or kept as unexpected body.
pub(super) fn request_framing(
    headers: &Headers,
    anomalies: &mut Vec<Anomaly>,
) -> (Option<Framing>, Option<u64>) {
    let dir = Dir::ToServer;
    let cl = content_length(headers, dir, anomalies).and_then(Result::ok);
    match transfer_chunked(headers) {
        Some(true) => return (Some(Framing::chunked()), cl),
        Some(false) => {
            anomalies.push(Anomaly::InvalidTransferEncodingValueInRequest);
            return (None, cl);
        }
        None => {}
    }
    match cl {
        Some(0) | None => (None, cl),
        Some(n) => (Some(Framing::Length { left: n }), cl),
    }
}

/// Response body framing (RFC 9112 6.3): none for HEAD, 204 and 304;
/// chunked when Transfer-Encoding ends in chunked; a valid
/// Content-Length; otherwise until the server closes.
pub(super) fn response_framing(
    headers: &Headers,
    status: Option<u16>,
    method: &[u8],
    old_proto: bool,
    anomalies: &mut Vec<Anomaly>,
) -> (Option<Framing>, Option<u64>, Coding) {
    let dir = Dir::ToClient;
    let cl = content_length(headers, dir, anomalies);
    let cl_value = cl.and_then(Result::ok);
    let coding = headers
        .get("content-encoding")
        .map_or(Coding::Identity, |v| Coding::from_header(v, anomalies));

    if method.eq_ignore_ascii_case(b"HEAD") || matches!(status, Some(204) | Some(304)) {
        return (None, cl_value, coding);
    }
    let framing = match transfer_chunked(headers) {
        Some(true) => {
            if old_proto {
                anomalies.push(Anomaly::ResponseChunkedOldProto);
            }
            Some(Framing::chunked())
        }
        Some(false) => {
            anomalies.push(Anomaly::InvalidTransferEncodingValueInResponse);
            Some(Framing::UntilClose)
        }
        None => match cl {
            Some(Ok(0)) => None,
            Some(Ok(n)) => Some(Framing::Length { left: n }),
            Some(Err(())) | None => Some(Framing::UntilClose),
        },
    };
    (framing, cl_value, coding)
}
