//! The `aws-kms` root-key provider: an AWS KMS key wraps a random keyring key
//! stored in the database, unwrapped once at start (as `transit_root.rs`).
//! Requests are signed with AWS Signature Version 4, implemented here over
//! ring's HMAC and SHA-256 rather than with the AWS SDK, whose default stack
//! pulls a second, older HTTP and TLS stack (see FIELD-NOTES). The signer is
//! pinned by a vector that botocore, AWS's own implementation, produced
//! (`tests/vectors/sigv4_kms.txt`).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{SHA256, digest};
use strongroom_config::Config;
use strongroom_crypto::hmac_sha256;
use zeroize::Zeroizing;

/// AWS credentials from the standard environment variables.
struct Credentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
}

/// A client for one KMS key.
pub struct AwsKmsRoot {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    region: String,
    key_id: String,
    credentials: Credentials,
}

impl std::fmt::Debug for AwsKmsRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKmsRoot")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(digest(&SHA256, data).as_ref())
}

/// The headers to send, with `Authorization`, for a KMS JSON call signed at `amz_date`.
fn sign(
    credentials: &Credentials,
    region: &str,
    host: &str,
    target: &str,
    body: &[u8],
    amz_date: &str,
) -> Vec<(&'static str, String)> {
    let date = &amz_date[..8];
    let mut headers: Vec<(&'static str, String)> = vec![
        ("content-type", "application/x-amz-json-1.1".into()),
        ("host", host.into()),
        ("x-amz-date", amz_date.into()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.as_str().into()));
    }
    headers.push(("x-amz-target", target.into()));
    let signed_headers = headers.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{}\n", value.trim())).collect();
    let canonical_request = format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}", sha256_hex(body));
    let scope = format!("{date}/{region}/kms/aws4_request");
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let mut key = Zeroizing::new(format!("AWS4{}", credentials.secret_access_key.as_str()).into_bytes());
    for part in [date, region, "kms", "aws4_request"] {
        key = Zeroizing::new(hmac_sha256(&key, part.as_bytes()).to_vec());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    headers.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    headers
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time (UTC).
fn amz_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
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

impl AwsKmsRoot {
    /// From `[root_key] aws_kms_*` and the AWS credential variables.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let root = &config.root_key;
        let region = root.aws_kms_region.clone().context("root_key.aws_kms_region is not set")?;
        let key_id = root.aws_kms_key_id.clone().context("root_key.aws_kms_key_id is not set")?;
        let endpoint = root
            .aws_kms_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"))
            .trim_end_matches('/')
            .to_owned();
        let host = endpoint.split_once("://").map(|(_, rest)| rest).unwrap_or(&endpoint).to_owned();
        let access_key_id = std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID is not set")?;
        let secret_access_key =
            Zeroizing::new(std::env::var("AWS_SECRET_ACCESS_KEY").context("AWS_SECRET_ACCESS_KEY is not set")?);
        let session_token = std::env::var("AWS_SESSION_TOKEN").ok().map(Zeroizing::new);
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
        Ok(Self {
            http,
            endpoint,
            host,
            region,
            key_id,
            credentials: Credentials { access_key_id, secret_access_key, session_token },
        })
    }

    async fn call(&self, operation: &str, body: serde_json::Value) -> anyhow::Result<serde_json::Value> {
        let body = serde_json::to_vec(&body)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).context("clock before 1970")?.as_secs();
        let target = format!("TrentService.{operation}");
        let headers = sign(&self.credentials, &self.region, &self.host, &target, &body, &amz_date(now));
        let mut request = self.http.post(&self.endpoint).body(body);
        for (name, value) in headers.into_iter().filter(|(name, _)| *name != "host") {
            request = request.header(name, value);
        }
        let response =
            request.send().await.with_context(|| format!("aws-kms root key: cannot reach {}", self.endpoint))?;
        let status = response.status();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            // KMS errors carry a type and message (AccessDenied, NotFound, …), never secrets.
            bail!("aws-kms root key: {operation} answered {status}: {} {}", answer["__type"], answer["message"]);
        }
        Ok(answer)
    }

    /// Wraps `plaintext` (the keyring key) with the KMS key.
    pub async fn wrap(&self, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let answer = self
            .call("Encrypt", serde_json::json!({"KeyId": self.key_id, "Plaintext": STANDARD.encode(plaintext)}))
            .await?;
        let blob = answer["CiphertextBlob"].as_str().context("aws-kms root key: no CiphertextBlob")?;
        STANDARD.decode(blob).context("aws-kms root key: CiphertextBlob not base64")
    }

    /// The ARN of the configured key (resolving an alias), to check what KMS used.
    async fn key_arn(&self) -> anyhow::Result<String> {
        let answer = self.call("DescribeKey", serde_json::json!({"KeyId": self.key_id})).await?;
        answer["KeyMetadata"]["Arn"].as_str().map(str::to_owned).context("aws-kms root key: no Arn in DescribeKey")
    }

    /// Unwraps what [`wrap`](Self::wrap) returned. KMS must report that the
    /// configured key did it: some KMS-compatible servers ignore `KeyId` on
    /// Decrypt, and a database must never start under another root key.
    pub async fn unwrap(&self, wrapped: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let answer = self
            .call("Decrypt", serde_json::json!({"KeyId": self.key_id, "CiphertextBlob": STANDARD.encode(wrapped)}))
            .await?;
        let used = answer["KeyId"].as_str().context("aws-kms root key: Decrypt did not say which key it used")?;
        let expected = self.key_arn().await?;
        if used != expected {
            bail!(
                "aws-kms root key: Decrypt used {used}, not the configured {expected}: this database was initialised with another KMS key"
            );
        }
        let encoded =
            Zeroizing::new(answer["Plaintext"].as_str().context("aws-kms root key: no Plaintext")?.to_owned());
        Ok(Zeroizing::new(STANDARD.decode(encoded.as_bytes()).context("aws-kms root key: Plaintext not base64")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_botocore_vector() {
        let vector = include_str!("../tests/vectors/sigv4_kms.txt");
        let field = |name: &str| vector.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap();
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        };
        let headers = sign(
            &credentials,
            "us-east-1",
            "127.0.0.1:5000",
            "TrentService.Encrypt",
            field("body").as_bytes(),
            field("time"),
        );
        let authorization = headers.iter().find(|(name, _)| *name == "authorization").unwrap();
        assert_eq!(authorization.1, field("authorization"));
    }

    #[test]
    fn amz_dates_are_utc_civil_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_795_435_200), "20261123T120000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    }
}
