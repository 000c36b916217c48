//! App-layer buffers: which keyword selects which part of a
//! transaction (an HTTP exchange, a DNS message, a TLS ClientHello),
//! and the transforms applied to a buffer before it is matched.
//! The type is still named for HTTP, its first and largest user.
//!
//! A buffer is selected two ways, with the same result: a sticky
//! keyword (`http.uri;`) that every later payload keyword applies to,
//! or a legacy modifier after a content (`content:"x"; http_uri;`)
//! that moves that one content into the buffer. Buffers named alike in
//! both directions (`http.header`, `file_data`, ...) read the request
//! or the response depending on where the transaction is inspected.

use super::payload::Match;

/// One HTTP buffer (Suricata's name in the doc of each variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpBuf {
    /// `http.uri`
    Uri,
    /// `http.uri.raw`
    UriRaw,
    /// `http.method`
    Method,
    /// `http.protocol`
    Protocol,
    /// `http.request_line`
    RequestLine,
    /// `http.header`
    Header,
    /// `http.header.raw`
    HeaderRaw,
    /// `http.header_names`
    HeaderNames,
    /// `http.host`
    Host,
    /// `http.host.raw`
    HostRaw,
    /// `http.user_agent`
    UserAgent,
    /// `http.cookie` (Set-Cookie in responses)
    Cookie,
    /// `http.content_type`
    ContentType,
    /// `http.referer`
    Referer,
    /// `http.accept`
    Accept,
    /// `http.accept_lang`
    AcceptLang,
    /// `http.accept_enc`
    AcceptEnc,
    /// `http.connection`
    Connection,
    /// `http.content_len`
    ContentLen,
    /// `http.request_body`
    RequestBody,
    /// `http.stat_code`
    StatCode,
    /// `http.stat_msg`
    StatMsg,
    /// `http.response_line`
    ResponseLine,
    /// `http.server`
    Server,
    /// `http.location`
    Location,
    /// `http.response_body`
    ResponseBody,
    /// `file_data`: response body to the client, file parts (else the
    /// body) to the server.
    FileData,
    /// `http.start`
    Start,
    /// `http.request_header`: each field as `Name: value`.
    RequestHeader,
    /// `http.response_header`
    ResponseHeader,
    /// `dns.query`: each question's name, dotted, no trailing dot.
    DnsQuery,
    /// `tls.sni`: the ClientHello's server name.
    TlsSni,
    /// `tls.cert_subject`: the server certificate's subject.
    TlsCertSubject,
    /// `tls.cert_issuer`
    TlsCertIssuer,
    /// `tls.cert_serial`: `0A:E1:...`
    TlsCertSerial,
}

/// Which message of a transaction a buffer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
    Both,
}

impl HttpBuf {
    /// The buffer a sticky keyword selects.
    pub fn sticky(name: &str) -> Option<HttpBuf> {
        use HttpBuf::*;
        Some(match name {
            "http.uri" => Uri,
            "http.uri.raw" => UriRaw,
            "http.method" => Method,
            "http.protocol" | "http_protocol" => Protocol,
            "http.request_line" | "http_request_line" => RequestLine,
            "http.header" => Header,
            "http.header.raw" => HeaderRaw,
            "http.header_names" | "http_header_names" => HeaderNames,
            "http.host" => Host,
            "http.host.raw" => HostRaw,
            "http.user_agent" => UserAgent,
            "http.cookie" => Cookie,
            "http.content_type" | "http_content_type" => ContentType,
            "http.referer" | "http_referer" => Referer,
            "http.accept" | "http_accept" => Accept,
            "http.accept_lang" | "http_accept_lang" => AcceptLang,
            "http.accept_enc" | "http_accept_enc" => AcceptEnc,
            "http.connection" | "http_connection" => Connection,
            "http.content_len" | "http_content_len" => ContentLen,
            "http.request_body" => RequestBody,
            "http.stat_code" => StatCode,
            "http.stat_msg" => StatMsg,
            "http.response_line" | "http_response_line" => ResponseLine,
            "http.server" | "http_server" => Server,
            "http.location" | "http_location" => Location,
            "http.response_body" => ResponseBody,
            "file_data" | "file.data" => FileData,
            "http.start" | "http_start" => Start,
            "http.request_header" => RequestHeader,
            "http.response_header" => ResponseHeader,
            "dns.query" | "dns_query" => DnsQuery,
            "tls.sni" | "tls_sni" => TlsSni,
            "tls.cert_subject" | "tls_cert_subject" => TlsCertSubject,
            "tls.cert_issuer" | "tls_cert_issuer" => TlsCertIssuer,
            "tls.cert_serial" | "tls_cert_serial" => TlsCertSerial,
            _ => return None,
        })
    }

    /// The buffer a legacy content modifier moves its content into.
    pub fn modifier(name: &str) -> Option<HttpBuf> {
        use HttpBuf::*;
        Some(match name {
            "http_uri" => Uri,
            "http_raw_uri" => UriRaw,
            "http_method" => Method,
            "http_header" => Header,
            "http_raw_header" => HeaderRaw,
            "http_host" => Host,
            "http_raw_host" => HostRaw,
            "http_user_agent" => UserAgent,
            "http_cookie" => Cookie,
            "http_client_body" => RequestBody,
            "http_stat_code" => StatCode,
            "http_stat_msg" => StatMsg,
            "http_server_body" => ResponseBody,
            _ => return None,
        })
    }

    /// The buffer a pcre flag selects. `K` (Snort's raw cookie) reads
    /// the cookie: we keep no raw form of it apart.
    pub fn pcre_flag(f: char) -> Option<HttpBuf> {
        use HttpBuf::*;
        Some(match f {
            'U' => Uri,
            'I' => UriRaw,
            'H' => Header,
            'D' => HeaderRaw,
            'M' => Method,
            'C' | 'K' => Cookie,
            'S' => StatCode,
            'Y' => StatMsg,
            'P' => RequestBody,
            'Q' => FileData,
            'V' => UserAgent,
            'W' => Host,
            'Z' => HostRaw,
            _ => return None,
        })
    }

    pub fn side(self) -> Side {
        use HttpBuf::*;
        match self {
            Uri | UriRaw | Method | RequestLine | Host | HostRaw | UserAgent | Referer | Accept
            | AcceptLang | AcceptEnc | RequestBody | RequestHeader | DnsQuery | TlsSni => {
                Side::Request
            }
            StatCode | StatMsg | ResponseLine | Server | Location | ResponseBody
            | ResponseHeader | TlsCertSubject | TlsCertIssuer | TlsCertSerial => Side::Response,
            Protocol | Header | HeaderRaw | HeaderNames | Cookie | ContentType | Connection
            | ContentLen | FileData | Start => Side::Both,
        }
    }

    /// The protocol whose transactions hold this buffer.
    pub fn app(self) -> crate::app::AppProto {
        match self {
            HttpBuf::DnsQuery => crate::app::AppProto::Dns,
            HttpBuf::TlsSni
            | HttpBuf::TlsCertSubject
            | HttpBuf::TlsCertIssuer
            | HttpBuf::TlsCertSerial => crate::app::AppProto::Tls,
            _ => crate::app::AppProto::Http,
        }
    }

    /// Body buffers grow as the body arrives; the others are final
    /// once their message's headers are parsed.
    pub fn is_body(self) -> bool {
        matches!(
            self,
            HttpBuf::RequestBody | HttpBuf::ResponseBody | HttpBuf::FileData
        )
    }
}

/// A transform applied to a sticky buffer before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    ToLowercase,
    ToUppercase,
    UrlDecode,
    DotPrefix,
    StripWhitespace,
    CompressWhitespace,
}

impl Transform {
    pub fn from_name(name: &str) -> Option<Transform> {
        Some(match name {
            "to_lowercase" => Transform::ToLowercase,
            "to_uppercase" => Transform::ToUppercase,
            "url_decode" => Transform::UrlDecode,
            "dotprefix" => Transform::DotPrefix,
            "strip_whitespace" => Transform::StripWhitespace,
            "compress_whitespace" => Transform::CompressWhitespace,
            _ => return None,
        })
    }

    /// Writes the transformed `input` to `out` (cleared first).
    pub fn apply(self, input: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self {
            Transform::ToLowercase => out.extend(input.iter().map(u8::to_ascii_lowercase)),
            Transform::ToUppercase => out.extend(input.iter().map(u8::to_ascii_uppercase)),
            Transform::UrlDecode => url_decode(input, out),
            Transform::DotPrefix => {
                out.push(b'.');
                out.extend_from_slice(input);
            }
            Transform::StripWhitespace => {
                out.extend(input.iter().copied().filter(|b| !b.is_ascii_whitespace()))
            }
            Transform::CompressWhitespace => {
                let mut in_space = false;
                for &b in input {
                    let space = b.is_ascii_whitespace();
                    if !(space && in_space) {
                        out.push(if space { b' ' } else { b });
                    }
                    in_space = space;
                }
            }
        }
    }
}

/// `%XX` becomes the byte, `+` a space; a `%` not followed by two hex
/// digits stays as it is.
fn url_decode(input: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        let pair = input
            .get(i + 1)
            .copied()
            .and_then(hex)
            .zip(input.get(i + 2).copied().and_then(hex));
        match (b, pair) {
            (b'%', Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
}

/// The payload keywords that apply to one selection of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufMatch {
    pub buf: HttpBuf,
    pub transforms: Vec<Transform>,
    pub matches: Vec<Match>,
}

impl BufMatch {
    pub fn new(buf: HttpBuf) -> BufMatch {
        BufMatch {
            buf,
            transforms: Vec::new(),
            matches: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(tr: Transform, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        tr.apply(input, &mut out);
        out
    }

    #[test]
    fn transforms() {
        assert_eq!(t(Transform::ToLowercase, b"AbC"), b"abc");
        assert_eq!(t(Transform::ToUppercase, b"AbC"), b"ABC");
        assert_eq!(t(Transform::UrlDecode, b"a%40b+c%4"), b"a@b c%4");
        assert_eq!(t(Transform::DotPrefix, b"ex.org"), b".ex.org");
        assert_eq!(t(Transform::StripWhitespace, b" a b\t"), b"ab");
        assert_eq!(t(Transform::CompressWhitespace, b"a  \t b "), b"a b ");
    }

    #[test]
    fn names_and_sides() {
        assert_eq!(HttpBuf::sticky("http.uri"), HttpBuf::modifier("http_uri"));
        assert_eq!(HttpBuf::pcre_flag('U'), Some(HttpBuf::Uri));
        assert_eq!(HttpBuf::pcre_flag('B'), None);
        assert_eq!(HttpBuf::StatCode.side(), Side::Response);
        assert_eq!(HttpBuf::Header.side(), Side::Both);
        assert!(HttpBuf::FileData.is_body());
    }
}
