//! The `aws-kms` root-key provider: an AWS KMS key wraps a random keyring key
//! stored in the database, unwrapped once at start (as `transit.rs`).
//!
//! Requests are signed with `object_store`'s SigV4 signer and sent by its
//! HTTP client, with credentials from the standard chain
//! (`crate::aws_credentials`): the same maintained code that signs our S3 calls,
//! without the AWS SDK's second HTTP and TLS stack. The signatures are
//! pinned against botocore, AWS's own implementation, for every shape of
//! endpoint (`tests/vectors/sigv4_kms.json`, made by `sigv4_kms.py`).
//!
//! Every Encrypt and Decrypt carries an [`EncryptionContext`] that names the
//! installation (core passes its id: the provider binds wraps to the
//! installation): KMS binds it to the ciphertext (as AAD), logs it in
//! CloudTrail, and key policies can require it, so a wrapped key copied into
//! another installation's database does not open there.
//!
//! The keyring key is never parsed into a `serde_json::Value` or another
//! ordinary buffer of ours: the `Decrypt` answer is held in a zeroizing
//! buffer and its `Plaintext` field is base64-decoded straight into another;
//! the `Encrypt` body is zeroizing too. (Buffers inside the HTTP and TLS
//! stack are beyond our reach.)

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use object_store::ClientOptions;
use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{HttpClient, HttpConnector, HttpRequest, ReqwestConnector};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use strongroom_config::AwsKmsRootKey;
use strongroom_core::CoreError;
use strongroom_core::root_key::{Custody, RootKeyProvider};
use zeroize::Zeroizing;

use super::provider_error;
use crate::aws_credentials;

/// The KMS encryption context of the keyring key: stable for the life of an
/// installation, so the same context opens what it wrapped after restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    /// `{"strongroom:installation": <id>, "strongroom:purpose": "root-key"}`.
    pub fn root_key(installation_id: &str) -> Self {
        Self(BTreeMap::from([
            ("strongroom:installation".to_owned(), installation_id.to_owned()),
            ("strongroom:purpose".to_owned(), "root-key".to_owned()),
        ]))
    }
}

/// A client for one KMS key.
pub struct AwsKmsRoot {
    http: HttpClient,
    endpoint: reqwest::Url,
    region: String,
    key_id: String,
    credentials: AwsCredentialProvider,
}

impl std::fmt::Debug for AwsKmsRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsKmsRoot")
            .field("endpoint", &self.endpoint.as_str())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest<'a> {
    key_id: &'a str,
    plaintext: &'a str,
    encryption_context: &'a EncryptionContext,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptResponse {
    ciphertext_blob: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest<'a> {
    key_id: &'a str,
    ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<&'a EncryptionContext>,
}

/// No `Debug`: it holds the keyring key.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptResponse {
    key_id: String,
    #[serde(deserialize_with = "secret_base64")]
    plaintext: Zeroizing<Vec<u8>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKeyRequest<'a> {
    key_id: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeKeyResponse {
    key_metadata: KeyMetadata,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadata {
    arn: String,
}

/// A KMS error body: a type and a message (AccessDenied, NotFound, …), never secrets.
#[derive(Default, Deserialize)]
struct ErrorResponse {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

/// Decodes a base64 string field into a zeroizing buffer, with no ordinary
/// copy of either the text or the bytes on the way.
fn secret_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Zeroizing<Vec<u8>>, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Zeroizing<Vec<u8>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("base64 text")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            // Sized once up front: the buffer is never reallocated, so no
            // unzeroized copy is left behind by growth.
            let mut bytes = Zeroizing::new(vec![0; text.len() / 4 * 3 + 3]);
            let length = STANDARD.decode_slice(text, &mut bytes).map_err(|_| E::custom("Plaintext is not base64"))?;
            bytes.truncate(length);
            Ok(bytes)
        }

        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            let text = Zeroizing::new(text);
            self.visit_str(&text)
        }
    }
    deserializer.deserialize_str(Visitor)
}

impl AwsKmsRoot {
    /// From `[root_key] aws_kms_*` and the AWS credential chain of the process environment.
    pub fn from_config(root: &AwsKmsRootKey) -> anyhow::Result<Self> {
        let region = root.aws_kms_region.as_deref().context("root_key.aws_kms_region is not set")?;
        let key_id = root.aws_kms_key_id.as_deref().context("root_key.aws_kms_key_id is not set")?;
        Self::new(root.aws_kms_endpoint.as_deref(), region, key_id, std::env::vars(), aws_credentials::client_options())
    }

    /// A client for `key_id` at `endpoint` (unset: `https://kms.<region>.amazonaws.com`),
    /// with credentials from the `AWS_*` entries of `env`.
    pub fn new(
        endpoint: Option<&str>,
        region: &str,
        key_id: &str,
        env: impl IntoIterator<Item = (String, String)>,
        options: ClientOptions,
    ) -> anyhow::Result<Self> {
        let endpoint = endpoint.map_or_else(|| format!("https://kms.{region}.amazonaws.com"), str::to_owned);
        let endpoint = parse_endpoint(&endpoint)?;
        let credentials = aws_credentials::chain(env, region, options.clone())?;
        let options = options.with_allow_http(endpoint.scheme() == "http");
        let http = ReqwestConnector::default().connect(&options).context("aws-kms root key: HTTP client")?;
        Ok(Self { http, endpoint, region: region.to_owned(), key_id: key_id.to_owned(), credentials })
    }

    /// The signed request for `operation` with a JSON `body`.
    async fn request(&self, operation: &str, body: Bytes) -> anyhow::Result<HttpRequest> {
        let credential = self.credentials.get_credential().await.context(
            "aws-kms root key: no AWS credentials (docs/configuration.md, \"AWS credentials\", lists the sources)",
        )?;
        let mut request = HttpRequest::new(body.into());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.endpoint.as_str().parse().context("aws-kms root key: endpoint")?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
        headers.insert(
            HeaderName::from_static("x-amz-target"),
            HeaderValue::from_str(&format!("TrentService.{operation}"))?,
        );
        AwsAuthorizer::new(&credential, "kms", &self.region).authorize(&mut request, None);
        Ok(request)
    }

    async fn call<T: DeserializeOwned>(&self, operation: &str, body: &impl Serialize) -> anyhow::Result<T> {
        // Encrypt bodies carry the keyring key: written into room enough that
        // the buffer never grows (leaving copies behind), and wiped when the
        // HTTP client drops the body it sent.
        let mut json = Zeroizing::new(Vec::with_capacity(4096));
        serde_json::to_writer(&mut *json, body)?;
        let request = self.request(operation, Bytes::from_owner(json)).await?;
        let response = self
            .http
            .execute(request)
            .await
            .with_context(|| format!("aws-kms root key: cannot reach {}", self.endpoint))?;
        let status = response.status();
        // Decrypt answers carry the keyring key: the body is wiped when dropped.
        let answer = Zeroizing::new(Vec::from(
            response.into_body().bytes().await.with_context(|| format!("aws-kms root key: {operation} answer"))?,
        ));
        if !status.is_success() {
            let error: ErrorResponse = serde_json::from_slice(&answer).unwrap_or_default();
            bail!("aws-kms root key: {operation} answered {status}: {} {}", error.kind, error.message);
        }
        serde_json::from_slice(&answer).with_context(|| format!("aws-kms root key: unexpected {operation} answer"))
    }

    /// Wraps `plaintext` (the keyring key) with the KMS key, bound to `context`.
    pub async fn wrap(&self, plaintext: &[u8], context: &EncryptionContext) -> anyhow::Result<Vec<u8>> {
        let encoded = Zeroizing::new(STANDARD.encode(plaintext));
        let body = EncryptRequest { key_id: &self.key_id, plaintext: &encoded, encryption_context: context };
        let answer: EncryptResponse = self.call("Encrypt", &body).await?;
        STANDARD.decode(answer.ciphertext_blob).context("aws-kms root key: CiphertextBlob not base64")
    }

    /// The ARN of the configured key (resolving an alias), to check what KMS used.
    async fn key_arn(&self) -> anyhow::Result<String> {
        let answer: DescribeKeyResponse =
            self.call("DescribeKey", &DescribeKeyRequest { key_id: &self.key_id }).await?;
        Ok(answer.key_metadata.arn)
    }

    /// Unwraps what [`wrap`](Self::wrap) returned under the same `context`
    /// (`None` only for keys wrapped before contexts were sent). KMS must
    /// report that the configured key did it: some KMS-compatible servers
    /// ignore `KeyId` on Decrypt, and a database must never start under
    /// another root key.
    pub async fn unwrap(
        &self,
        wrapped: &[u8],
        context: Option<&EncryptionContext>,
    ) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let body = DecryptRequest {
            key_id: &self.key_id,
            ciphertext_blob: STANDARD.encode(wrapped),
            encryption_context: context,
        };
        let answer: DecryptResponse = self.call("Decrypt", &body).await?;
        let expected = self.key_arn().await?;
        if answer.key_id != expected {
            bail!(
                "aws-kms root key: Decrypt used {}, not the configured {expected}: this database was initialised with another KMS key",
                answer.key_id
            );
        }
        Ok(answer.plaintext)
    }
}

#[async_trait]
impl RootKeyProvider for AwsKmsRoot {
    fn id(&self) -> &'static str {
        "aws-kms"
    }

    fn description(&self) -> String {
        format!("KMS key {:?} in {} at {}", self.key_id, self.region, self.endpoint)
    }

    fn custody(&self) -> Custody {
        Custody::External { binds_installation: true }
    }

    async fn wrap(&self, plaintext: &[u8], installation: Option<&str>) -> Result<Vec<u8>, CoreError> {
        // Core binds every new wrap of a provider that binds; one without an
        // installation would be a key any installation could open.
        let installation = installation.ok_or_else(|| {
            CoreError::RootKeyProvider("aws-kms root key: a new wrap must name the installation".into())
        })?;
        AwsKmsRoot::wrap(self, plaintext, &EncryptionContext::root_key(installation)).await.map_err(provider_error)
    }

    async fn unwrap(&self, wrapped: &[u8], installation: Option<&str>) -> Result<Zeroizing<Vec<u8>>, CoreError> {
        let context = installation.map(EncryptionContext::root_key);
        AwsKmsRoot::unwrap(self, wrapped, context.as_ref()).await.map_err(provider_error)
    }
}

/// An `http(s)://host[:port][/path]` endpoint. The signature covers the host
/// as the HTTP client sends it (a default port dropped) and the path, so
/// both come from the parsed URL, never from the text.
fn parse_endpoint(text: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(text.trim_end_matches('/'))
        .with_context(|| format!("root_key.aws_kms_endpoint {text:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("root_key.aws_kms_endpoint {text:?} needs http:// or https:// and a host");
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        bail!("root_key.aws_kms_endpoint {text:?} may not carry a query, fragment or user");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use strongroom_crypto::{hmac_sha256, sha256};
    use strongroom_testkit::Moto;

    use super::*;

    use strongroom_crypto::to_hex as hex;

    /// The SigV4 signature of a canonical request (the HMAC chain of the
    /// specification; the vectors pin it to botocore's).
    fn signature(canonical_request: &str, amz_date: &str, region: &str, secret: &str) -> String {
        let scope = format!("{}/{region}/kms/aws4_request", &amz_date[..8]);
        let hashed = hex(&sha256(canonical_request.as_bytes()));
        let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashed}");
        let mut key = format!("AWS4{secret}").into_bytes();
        for part in [&amz_date[..8], region, "kms", "aws4_request"] {
            key = hmac_sha256(&key, part.as_bytes()).to_vec();
        }
        hex(&hmac_sha256(&key, string_to_sign.as_bytes()))
    }

    fn static_keys(vectors: &serde_json::Value, token: Option<&str>) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), vectors["access_key_id"].as_str().unwrap().to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), vectors["secret_access_key"].as_str().unwrap().to_owned()),
        ];
        if let Some(token) = token {
            env.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
        }
        env
    }

    /// botocore signed each case at a fixed time; object_store signs at the
    /// current one. Both sign the same canonical request but for its
    /// `x-amz-date` line, so botocore's, redated, must give object_store's
    /// signature: the host with an explicit `:443` dropped as the HTTP
    /// client drops it, a gateway's path prefix and port kept.
    #[tokio::test]
    async fn kms_signatures_match_botocore_for_every_endpoint_shape() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/sigv4_kms.json")).unwrap();
        let secret = vectors["secret_access_key"].as_str().unwrap();
        for case in vectors["vectors"].as_array().unwrap() {
            let field = |name: &str| case[name].as_str().unwrap();
            let (name, canonical, region, time) =
                (field("name"), field("canonical_request"), field("region"), field("time"));
            let botocore_signature = field("authorization").rsplit_once("Signature=").unwrap().1;
            assert_eq!(signature(canonical, time, region, secret), botocore_signature, "{name}: the HMAC chain");

            let env = static_keys(&vectors, case["session_token"].as_str());
            let kms =
                AwsKmsRoot::new(Some(field("endpoint")), region, "alias/strongroom", env, client_options()).unwrap();
            let request = kms.request("Encrypt", Bytes::from(field("body").to_owned())).await.unwrap();
            let amz_date = request.headers()["x-amz-date"].to_str().unwrap();
            let redated = canonical.replace(&format!("x-amz-date:{time}\n"), &format!("x-amz-date:{amz_date}\n"));
            assert!(canonical.contains(&format!("x-amz-date:{time}\n")), "{name}: the date line");
            let signed_headers = canonical.lines().rev().nth(1).unwrap();
            let expected = format!(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/{region}/kms/aws4_request, SignedHeaders={signed_headers}, Signature={}",
                &amz_date[..8],
                signature(&redated, amz_date, region, secret)
            );
            assert_eq!(request.headers()["authorization"].to_str().unwrap(), expected, "{name}");
            let host = canonical.lines().find_map(|line| line.strip_prefix("host:")).unwrap();
            assert_eq!(request.uri().authority().unwrap().as_str(), host, "{name}: the host sent is the host signed");
        }
    }

    fn client_options() -> ClientOptions {
        aws_credentials::client_options()
    }

    #[test]
    fn fail_endpoints_that_are_not_plain_http_urls() {
        for endpoint in
            ["kms.eu-west-1.amazonaws.com", "ftp://kms.example", "https://kms.example/?a=b", "https://u:p@kms.example"]
        {
            assert!(parse_endpoint(endpoint).is_err(), "{endpoint}");
        }
        assert_eq!(parse_endpoint("https://kms.example:443/").unwrap().as_str(), "https://kms.example/");
        assert_eq!(parse_endpoint("https://gw.example/kms/").unwrap().path(), "/kms");
    }

    #[test]
    fn decrypt_answers_decode_straight_into_a_zeroizing_buffer() {
        let answer: DecryptResponse = serde_json::from_str(
            r#"{"KeyId":"arn:k","Plaintext":"AAECAw==","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#,
        )
        .unwrap();
        assert_eq!((answer.key_id.as_str(), answer.plaintext.as_slice()), ("arn:k", &[0, 1, 2, 3][..]));
        let escaped: DecryptResponse = serde_json::from_str(r#"{"KeyId":"k","Plaintext":"A\/8="}"#).unwrap();
        assert_eq!(escaped.plaintext.as_slice(), &[3, 255]);
        assert!(serde_json::from_str::<DecryptResponse>(r#"{"KeyId":"k","Plaintext":"not base64!"}"#).is_err());
    }

    fn https_moto_certificate() -> (String, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        (certified.cert.pem(), certified.key_pair.serialize_pem())
    }

    /// IRSA: the token file is exchanged with moto's STS for temporary
    /// credentials, and every KMS call after that exchange is checked by
    /// moto as AWS checks it (botocore recomputes the signature, the role's
    /// policy must allow the action). The wrapped key opens only under the
    /// encryption context it was wrapped with.
    #[tokio::test]
    async fn web_identity_credentials_sign_kms_calls_that_moto_verifies() {
        let (certificate, key) = https_moto_certificate();
        let Some(moto) = Moto::start_https(&certificate, &key).await else { return };
        let key_id = moto.create_key().await;
        let role = moto.create_role_allowing_kms("strongroom").await;
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "a-web-identity-token").unwrap();
        let env = vec![
            ("AWS_WEB_IDENTITY_TOKEN_FILE".to_owned(), token_file.display().to_string()),
            ("AWS_ROLE_ARN".to_owned(), role),
            ("AWS_ENDPOINT_URL_STS".to_owned(), moto.endpoint().to_owned()),
        ];
        let mut headers = object_store::HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&Moto::routing_authorization("sts")).unwrap());
        let options = client_options()
            .with_root_certificate(object_store::Certificate::from_pem(certificate.as_bytes()).unwrap())
            // Only the unsigned STS call keeps this header: signing replaces it.
            .with_default_headers(headers);
        let kms = AwsKmsRoot::new(Some(moto.endpoint()), "us-east-1", &key_id, env, options).unwrap();
        moto.require_signatures_after(1).await;

        let context = EncryptionContext::root_key("0123456789abcdef");
        let wrapped = kms.wrap(b"the keyring key", &context).await.unwrap();
        assert_eq!(kms.unwrap(&wrapped, Some(&context)).await.unwrap().as_slice(), b"the keyring key");
        let elsewhere = EncryptionContext::root_key("fedcba9876543210");
        let refused = kms.unwrap(&wrapped, Some(&elsewhere)).await.unwrap_err();
        assert!(refused.to_string().contains("Decrypt answered 400"), "{refused:#}");
        assert!(kms.unwrap(&wrapped, None).await.is_err(), "a context-bound key needs its context");
    }

    /// Once checking, moto refuses what AWS refuses, so the test above cannot
    /// pass by moto accepting anything.
    #[tokio::test]
    async fn fail_kms_calls_with_unknown_credentials_once_moto_checks() {
        let Some(moto) = Moto::start().await else { return };
        let key_id = moto.create_key().await;
        moto.require_signatures_after(0).await;
        let env = vec![
            ("AWS_ACCESS_KEY_ID".to_owned(), "AKIAIOSFODNN7EXAMPLE".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "wrong".to_owned()),
        ];
        let kms = AwsKmsRoot::new(Some(moto.endpoint()), "us-east-1", &key_id, env, client_options()).unwrap();
        let refused = kms.wrap(b"k", &EncryptionContext::root_key("0123456789abcdef")).await.unwrap_err();
        assert!(refused.to_string().contains("Encrypt answered 4"), "{refused:#}");
    }
}
