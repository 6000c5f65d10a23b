//! The bytes of the requests: a `multipart/form-data` upload with exactly one part, and a
//! plain GET. Each piece is kept apart so that the uploader can put it in the segment its
//! flavour wants.

use super::page::Page;

/// An upload request in its three pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    /// The request line and headers, through the blank line.
    pub head: Vec<u8>,
    /// The part's boundary line and headers, through their blank line.
    pub part: Vec<u8>,
    /// The closing delimiter, CRLF before and after.
    pub closing: Vec<u8>,
}

impl Form {
    /// A form posting `image_len` bytes to `page` as the file `file_name`, with a boundary
    /// that does not occur in `image`.
    pub fn upload(page: &Page, file_name: &str, image: &[u8]) -> Self {
        let boundary = boundary_for(image);
        let file_name = quoted_safe(file_name);
        // One part: u-boot_mod computes the file's size from Content-Length, assuming one
        // part and a closing delimiter followed by CRLF (httpd.c); more parts corrupt it.
        let part = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            page.field
        )
        .into_bytes();
        let closing = format!("\r\n--{boundary}--\r\n").into_bytes();
        let length = part.len() + image.len() + closing.len();
        // `Content-Length: ` with exactly one space: u-boot_mod skips sizeof("Content-Length:")
        // bytes and reads digits from there. No `Expect: 100-continue`: uIP never answers it.
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rescue-wizard\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n",
            page.path,
            page.addr.ip()
        )
        .into_bytes();
        Self {
            head,
            part,
            closing,
        }
    }

    /// Bytes of the whole request.
    pub fn len(&self, image_len: usize) -> usize {
        self.head.len() + self.part.len() + image_len + self.closing.len()
    }

    /// Whether the request is empty (never: it has a head).
    pub fn is_empty(&self) -> bool {
        self.head.is_empty()
    }
}

/// A GET of `path` from the page's server.
pub fn get(page: &Page, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rescue-wizard\r\nConnection: close\r\n\r\n",
        page.addr.ip()
    )
    .into_bytes()
}

/// A boundary that does not occur in `image` (RFC 2046 §5.1.1: it must not appear inside
/// the encapsulated data).
fn boundary_for(image: &[u8]) -> String {
    // Of 2^32 names, at most `image.len()` can occur in it.
    (0..=u32::MAX)
        .map(|n| format!("rescue-wizard-{n:08x}"))
        .find(|b| !contains(image, b.as_bytes()))
        .unwrap_or_default()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The file name as a quoted-string may carry it: no quotes, backslashes or control bytes.
fn quoted_safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if safe.is_empty() {
        "firmware.bin".to_owned()
    } else {
        safe
    }
}

/// The body of an HTTP answer (after the blank line), or everything when no head ended.
pub fn body(answer: &[u8]) -> &[u8] {
    answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer, |at| &answer[at + 4..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::page::Flavour;

    fn page() -> Page {
        Page::new(Flavour::UbootMod, "192.168.1.1:80".parse().unwrap())
    }

    #[test]
    fn content_length_counts_part_image_and_closing_with_one_space() {
        let image = vec![7u8; 20_000];
        let form = Form::upload(&page(), "openwrt.bin", &image);
        let head = String::from_utf8(form.head.clone()).unwrap();
        let expected = form.part.len() + image.len() + form.closing.len();
        assert!(head.contains(&format!("\r\nContent-Length: {expected}\r\n")));
        assert!(!head.contains("Expect"));
        assert!(head.starts_with("POST / HTTP/1.1\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
    }

    #[test]
    fn closing_matches_u_boot_mod_size_arithmetic() {
        // httpd.c: size = Content-Length - (boundary line .. end of part headers)
        //                 - strlen("--" + boundary) - 6
        let image = vec![1u8; 12_345];
        let form = Form::upload(&page(), "x.bin", &image);
        let head = String::from_utf8(form.head.clone()).unwrap();
        let boundary = head
            .split("boundary=")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        let length = form.part.len() + image.len() + form.closing.len();
        let size = length - form.part.len() - (2 + boundary.len()) - 6;
        assert_eq!(size, image.len());
    }

    #[test]
    fn boundary_avoids_the_image_bytes() {
        let mut image = b"rescue-wizard-00000000".to_vec();
        image.extend_from_slice(&[0u8; 100]);
        let form = Form::upload(&page(), "a.bin", &image);
        let part = String::from_utf8(form.part).unwrap();
        assert!(part.starts_with("--rescue-wizard-00000001\r\n"));
    }

    #[test]
    fn file_name_loses_quotes_and_control_bytes() {
        let form = Form::upload(&page(), "a\"b\r\n.bin", b"x");
        let part = String::from_utf8(form.part).unwrap();
        assert!(part.contains("filename=\"a_b__.bin\""));
    }

    #[test]
    fn body_follows_the_blank_line() {
        assert_eq!(body(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\nhello"), b"hello");
        assert_eq!(body(b"no head"), b"no head");
    }
}
