//! `multipart/form-data` bodies, as serenity sends a message with files: the JSON in a
//! `payload_json` part and each file in a `files[n]` part (Discord's upload format).

use serde_json::Value;

/// A file uploaded with a request.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadedFile {
    /// The form field (`files[0]`): its `n` is the `id` of the file's entry in the
    /// JSON's `attachments`.
    pub field: String,
    /// The file name from the part's `Content-Disposition`.
    pub filename: String,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// The boundary of a `multipart/form-data` content type, `None` for any other type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (essence, parameters) = content_type.split_once(';')?;
    if !essence.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parameters.split(';').find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The `payload_json` (`Null` when absent or not JSON) and the files of a multipart
/// body.
pub fn parse(boundary: &str, body: &[u8]) -> (Value, Vec<UploadedFile>) {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut payload = Value::Null;
    let mut files = Vec::new();
    for part in split(body, &delimiter).into_iter().skip(1) {
        // The closing delimiter is followed by `--`.
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(head_end) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..head_end]);
        let data = &part[head_end + 4..];
        let data = data.strip_suffix(b"\r\n").unwrap_or(data);
        let mut name = String::new();
        let mut filename = None;
        let mut content_type = None;
        for line in head.split("\r\n") {
            let Some((header, value)) = line.split_once(':') else {
                continue;
            };
            if header.trim().eq_ignore_ascii_case("content-disposition") {
                name = parameter(value, "name").unwrap_or_default();
                filename = parameter(value, "filename");
            } else if header.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(value.trim().to_owned());
            }
        }
        match filename {
            Some(filename) => files.push(UploadedFile {
                field: name,
                filename,
                content_type,
                bytes: data.to_vec(),
            }),
            None if name == "payload_json" => {
                payload = serde_json::from_slice(data).unwrap_or(Value::Null);
            }
            None => {}
        }
    }
    (payload, files)
}

/// `name="value"` from a `Content-Disposition` header value.
fn parameter(header: &str, wanted: &str) -> Option<String> {
    header.split(';').find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        (name.trim() == wanted).then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn split<'a>(body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(index) = find(rest, delimiter) {
        parts.push(&rest[..index]);
        rest = &rest[index + delimiter.len()..];
    }
    parts.push(rest);
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
