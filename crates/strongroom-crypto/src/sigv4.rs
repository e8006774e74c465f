//! AWS Signature Version 4, for the KMS root-key provider and the S3 blob
//! store: written over ring's HMAC and SHA-256 rather than with the AWS SDK,
//! whose default stack pulls a second HTTP and TLS stack. Pinned by a vector
//! that botocore produced (`crates/strongroom/tests/vectors/sigv4_kms.txt`)
//! and exercised against moto's KMS and S3.

use zeroize::Zeroizing;

use crate::compare::{hmac_sha256, sha256};

/// What a request is signed over. Header names are lower case and must
/// include `host` and `x-amz-date`; `path` is the URI path as sent
/// (already percent-encoded); query parameters are given unencoded.
#[derive(Debug, Clone)]
pub struct SigV4Request<'a> {
    /// `GET`, `PUT`, …
    pub method: &'a str,
    /// `/bucket/key`, percent-encoded as sent.
    pub path: &'a str,
    /// Query parameters, unencoded (`("uploadId", "…")`).
    pub query: &'a [(String, String)],
    /// Lower-case header names with their values, all of them signed.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the body (or `UNSIGNED-PAYLOAD`).
    pub payload_sha256: &'a str,
    /// `us-east-1`, …
    pub region: &'a str,
    /// `kms`, `s3`, …
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, the same as the `x-amz-date` header.
    pub amz_date: &'a str,
}

/// An access key.
pub struct SigV4Credentials<'a> {
    /// `AKID…`
    pub access_key_id: &'a str,
    /// The secret.
    pub secret_access_key: &'a str,
}

impl std::fmt::Debug for SigV4Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigV4Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256, as SigV4 wants payload hashes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// Percent-encodes as SigV4 wants: everything but `A-Z a-z 0-9 - _ . ~`
/// (and `/` when `keep_slash`), upper-case hex.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC).
pub fn amz_date(unix_seconds: u64) -> String {
    let days = i64::try_from(unix_seconds / 86_400).unwrap_or(0);
    let seconds_of_day = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        seconds_of_day / 3600,
        (seconds_of_day % 3600) / 60,
        seconds_of_day % 60
    )
}

/// The `Authorization` header value for `request`.
pub fn authorization(request: &SigV4Request<'_>, credentials: &SigV4Credentials<'_>) -> String {
    let date = &request.amz_date[..8.min(request.amz_date.len())];
    let mut headers: Vec<(String, String)> =
        request.headers.iter().map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned())).collect();
    headers.sort();
    let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let mut query: Vec<(String, String)> =
        request.query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    query.sort();
    let canonical_query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_request = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method, request.path, request.payload_sha256
    );
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let string_to_sign =
        format!("AWS4-HMAC-SHA256\n{}\n{scope}\n{}", request.amz_date, sha256_hex(canonical_request.as_bytes()));
    let mut key = Zeroizing::new(format!("AWS4{}", credentials.secret_access_key).into_bytes());
    for part in [date, request.region, request.service, "aws4_request"] {
        key = Zeroizing::new(hmac_sha256(&key, part.as_bytes()).to_vec());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("a b/c~d", false), "a%20b%2Fc~d");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("ü", false), "%C3%BC");
    }

    #[test]
    fn amz_dates_are_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_795_452_383), "20261123T164623Z");
    }

    /// AWS's published example (GET object, "Examples of the complete
    /// Version 4 signing process", S3 documentation).
    #[test]
    fn s3_get_object_matches_the_aws_documentation_example() {
        let empty = sha256_hex(b"");
        let headers = vec![
            ("host".to_owned(), "examplebucket.s3.amazonaws.com".to_owned()),
            ("range".to_owned(), "bytes=0-9".to_owned()),
            ("x-amz-content-sha256".to_owned(), empty.clone()),
            ("x-amz-date".to_owned(), "20130524T000000Z".to_owned()),
        ];
        let request = SigV4Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_sha256: &empty,
            region: "us-east-1",
            service: "s3",
            amz_date: "20130524T000000Z",
        };
        let credentials = SigV4Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        };
        assert_eq!(
            authorization(&request, &credentials),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }
}
