//! What the HTTP parser reports: progress events and typed anomalies.

use crate::flow::Dir;

/// One thing that happened while feeding bytes to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpEvent {
    /// The start line and headers of one side of `tx_id` are parsed:
    /// its line, header and URI buffers are final.
    Headers { tx_id: u64, dir: Dir },
    /// Body bytes were added to `tx_id`'s body buffer for `dir` (after
    /// dechunking and, for responses, decompression). At most one per
    /// transaction and direction per `feed` call.
    Body { tx_id: u64, dir: Dir },
    /// The message of `dir` in `tx_id` is complete (body included, or
    /// cut short by [`super::HttpParser::close`]).
    Complete { tx_id: u64, dir: Dir },
    /// A protocol anomaly; `tx_id` is `None` when no transaction exists
    /// for it yet.
    Anomaly {
        tx_id: Option<u64>,
        dir: Dir,
        anomaly: Anomaly,
    },
    /// `tx_id` switched protocols (101 response, or a 2xx answer to
    /// CONNECT): the parser ignores the rest of the flow, the engine may
    /// detect the tunnelled protocol afresh.
    Upgrade { tx_id: u64 },
    /// The bytes of `dir` are not HTTP: the parser stopped for the rest
    /// of the flow (both directions). An anomaly naming the reason
    /// precedes it.
    Failed { dir: Dir },
}

/// Protocol anomalies. [`Anomaly::name`] gives the keyword a rule
/// matches with `app-layer-event:<name>`; where Suricata has the event
/// the name is Suricata's, the few without a Suricata equivalent (caps
/// of this parser) say so in their doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Anomaly {
    RequestFieldMissingColon,
    ResponseFieldMissingColon,
    InvalidRequestChunkLen,
    InvalidResponseChunkLen,
    InvalidTransferEncodingValueInRequest,
    InvalidTransferEncodingValueInResponse,
    InvalidContentLengthFieldInRequest,
    InvalidContentLengthFieldInResponse,
    DuplicateContentLengthFieldInRequest,
    DuplicateContentLengthFieldInResponse,
    ContinueAlreadySeen,
    UnableToMatchResponseToRequest,
    InvalidAuthorityPort,
    RequestHeaderInvalid,
    ResponseHeaderInvalid,
    MissingHostHeader,
    HostHeaderAmbiguous,
    InvalidRequestFieldFolding,
    InvalidResponseFieldFolding,
    RequestFieldTooLong,
    ResponseFieldTooLong,
    RequestHeaderHostInvalid,
    UriDelimNonCompliant,
    MethodDelimNonCompliant,
    RequestLineLeadingWhitespace,
    AbnormalCeHeader,
    ResponseChunkedOldProto,
    ResponseInvalidProtocol,
    ResponseInvalidStatus,
    RequestLineIncomplete,
    DoubleEncodedUri,
    RequestLineInvalid,
    RequestBodyUnexpected,
    GzipDecompressionFailed,
    CompressionBomb,
    RequestChunkExtension,
    ResponseChunkExtension,
    RequestLineMissingProtocol,
    RequestTooManyHeaders,
    ResponseTooManyHeaders,
    /// Not in Suricata: the request body passed
    /// [`super::HttpConfig::request_body_limit`]; the rest is not kept.
    RequestBodyLimit,
    /// Not in Suricata: the response body passed
    /// [`super::HttpConfig::response_body_limit`].
    ResponseBodyLimit,
    /// Not in Suricata: [`super::HttpConfig::max_tx`] transactions were
    /// open at once; the parser stopped.
    TooManyTransactions,
    /// Not in Suricata: the transactions held passed
    /// [`super::HttpConfig::max_held_bytes`]; the parser stopped.
    MemoryLimit,
}

impl Anomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: [Anomaly; 44] = [
        Anomaly::RequestFieldMissingColon,
        Anomaly::ResponseFieldMissingColon,
        Anomaly::InvalidRequestChunkLen,
        Anomaly::InvalidResponseChunkLen,
        Anomaly::InvalidTransferEncodingValueInRequest,
        Anomaly::InvalidTransferEncodingValueInResponse,
        Anomaly::InvalidContentLengthFieldInRequest,
        Anomaly::InvalidContentLengthFieldInResponse,
        Anomaly::DuplicateContentLengthFieldInRequest,
        Anomaly::DuplicateContentLengthFieldInResponse,
        Anomaly::ContinueAlreadySeen,
        Anomaly::UnableToMatchResponseToRequest,
        Anomaly::InvalidAuthorityPort,
        Anomaly::RequestHeaderInvalid,
        Anomaly::ResponseHeaderInvalid,
        Anomaly::MissingHostHeader,
        Anomaly::HostHeaderAmbiguous,
        Anomaly::InvalidRequestFieldFolding,
        Anomaly::InvalidResponseFieldFolding,
        Anomaly::RequestFieldTooLong,
        Anomaly::ResponseFieldTooLong,
        Anomaly::RequestHeaderHostInvalid,
        Anomaly::UriDelimNonCompliant,
        Anomaly::MethodDelimNonCompliant,
        Anomaly::RequestLineLeadingWhitespace,
        Anomaly::AbnormalCeHeader,
        Anomaly::ResponseChunkedOldProto,
        Anomaly::ResponseInvalidProtocol,
        Anomaly::ResponseInvalidStatus,
        Anomaly::RequestLineIncomplete,
        Anomaly::DoubleEncodedUri,
        Anomaly::RequestLineInvalid,
        Anomaly::RequestBodyUnexpected,
        Anomaly::GzipDecompressionFailed,
        Anomaly::CompressionBomb,
        Anomaly::RequestChunkExtension,
        Anomaly::ResponseChunkExtension,
        Anomaly::RequestLineMissingProtocol,
        Anomaly::RequestTooManyHeaders,
        Anomaly::ResponseTooManyHeaders,
        Anomaly::RequestBodyLimit,
        Anomaly::ResponseBodyLimit,
        Anomaly::TooManyTransactions,
        Anomaly::MemoryLimit,
    ];

    /// The `app-layer-event` keyword value, e.g.
    /// `http.invalid_request_chunk_len`.
    pub fn name(self) -> &'static str {
        use Anomaly::*;
        match self {
            RequestFieldMissingColon => "http.request_field_missing_colon",
            ResponseFieldMissingColon => "http.response_field_missing_colon",
            InvalidRequestChunkLen => "http.invalid_request_chunk_len",
            InvalidResponseChunkLen => "http.invalid_response_chunk_len",
            InvalidTransferEncodingValueInRequest => {
                "http.invalid_transfer_encoding_value_in_request"
            }
            InvalidTransferEncodingValueInResponse => {
                "http.invalid_transfer_encoding_value_in_response"
            }
            InvalidContentLengthFieldInRequest => "http.invalid_content_length_field_in_request",
            InvalidContentLengthFieldInResponse => "http.invalid_content_length_field_in_response",
            DuplicateContentLengthFieldInRequest => {
                "http.duplicate_content_length_field_in_request"
            }
            DuplicateContentLengthFieldInResponse => {
                "http.duplicate_content_length_field_in_response"
            }
            ContinueAlreadySeen => "http.100_continue_already_seen",
            UnableToMatchResponseToRequest => "http.unable_to_match_response_to_request",
            InvalidAuthorityPort => "http.invalid_authority_port",
            RequestHeaderInvalid => "http.request_header_invalid",
            ResponseHeaderInvalid => "http.response_header_invalid",
            MissingHostHeader => "http.missing_host_header",
            HostHeaderAmbiguous => "http.host_header_ambiguous",
            InvalidRequestFieldFolding => "http.invalid_request_field_folding",
            InvalidResponseFieldFolding => "http.invalid_response_field_folding",
            RequestFieldTooLong => "http.request_field_too_long",
            ResponseFieldTooLong => "http.response_field_too_long",
            RequestHeaderHostInvalid => "http.request_header_host_invalid",
            UriDelimNonCompliant => "http.uri_delim_non_compliant",
            MethodDelimNonCompliant => "http.method_delim_non_compliant",
            RequestLineLeadingWhitespace => "http.request_line_leading_whitespace",
            AbnormalCeHeader => "http.abnormal_ce_header",
            ResponseChunkedOldProto => "http.response_chunked_old_proto",
            ResponseInvalidProtocol => "http.response_invalid_protocol",
            ResponseInvalidStatus => "http.response_invalid_status",
            RequestLineIncomplete => "http.request_line_incomplete",
            DoubleEncodedUri => "http.double_encoded_uri",
            RequestLineInvalid => "http.request_line_invalid",
            RequestBodyUnexpected => "http.request_body_unexpected",
            GzipDecompressionFailed => "http.gzip_decompression_failed",
            CompressionBomb => "http.compression_bomb",
            RequestChunkExtension => "http.request_chunk_extension",
            ResponseChunkExtension => "http.response_chunk_extension",
            RequestLineMissingProtocol => "http.request_line_missing_protocol",
            RequestTooManyHeaders => "http.request_too_many_headers",
            ResponseTooManyHeaders => "http.response_too_many_headers",
            RequestBodyLimit => "http.request_body_limit",
            ResponseBodyLimit => "http.response_body_limit",
            TooManyTransactions => "http.too_many_transactions",
            MemoryLimit => "http.memory_limit",
        }
    }

    /// Look an anomaly up by its keyword value (with or without the
    /// `http.` prefix), for the rule compiler.
    pub fn from_name(name: &str) -> Option<Anomaly> {
        let full = name.strip_prefix("http.").unwrap_or(name);
        Anomaly::ALL
            .into_iter()
            .find(|a| a.name().strip_prefix("http.") == Some(full))
    }

    /// Whether Suricata raises this event too (false for this parser's
    /// own cap events).
    pub fn is_suricata(self) -> bool {
        !matches!(
            self,
            Anomaly::RequestBodyLimit
                | Anomaly::ResponseBodyLimit
                | Anomaly::TooManyTransactions
                | Anomaly::MemoryLimit
        )
    }

    fn bit(self) -> u64 {
        1u64 << (self as u8)
    }

    /// The request/response flavour of a direction-specific anomaly.
    pub(crate) fn for_dir(dir: Dir, to_server: Anomaly, to_client: Anomaly) -> Anomaly {
        match dir {
            Dir::ToServer => to_server,
            Dir::ToClient => to_client,
        }
    }
}

/// A set of anomalies (one bit each), kept per transaction so a rule's
/// `app-layer-event` can be checked against the transaction it
/// inspects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnomalySet(u64);

impl AnomalySet {
    pub fn insert(&mut self, a: Anomaly) {
        self.0 |= a.bit();
    }

    pub fn contains(&self, a: Anomaly) -> bool {
        self.0 & a.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = Anomaly> + '_ {
        Anomaly::ALL.into_iter().filter(|a| self.contains(*a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for (i, a) in Anomaly::ALL.iter().enumerate() {
            assert_eq!(*a as usize, i, "ALL is in declaration order");
            assert_eq!(Anomaly::from_name(a.name()), Some(*a));
            assert!(a.name().starts_with("http."));
        }
        assert_eq!(
            Anomaly::from_name("invalid_request_chunk_len"),
            Some(Anomaly::InvalidRequestChunkLen)
        );
        assert_eq!(Anomaly::from_name("http.nonsense"), None);
    }

    #[test]
    fn set_holds_each_bit() {
        let mut s = AnomalySet::default();
        assert!(s.is_empty());
        s.insert(Anomaly::TooManyTransactions);
        s.insert(Anomaly::RequestFieldMissingColon);
        assert!(s.contains(Anomaly::TooManyTransactions));
        assert!(!s.contains(Anomaly::CompressionBomb));
        assert_eq!(s.iter().count(), 2);
    }
}
