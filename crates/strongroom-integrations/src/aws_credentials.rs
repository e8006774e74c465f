//! AWS credentials for the `aws-kms` root key and the S3 blob store: the
//! standard chain, as the AWS SDKs resolve it, taken from `object_store`
//! (already in the build for S3) rather than written here or pulled in with
//! `aws-config`, whose default stack brings a second HTTP and TLS stack.
//!
//! `object_store` builds its chain only inside `AmazonS3Builder::build`, so
//! we build an S3 client that is never used and keep its credential
//! provider. The first source that is configured wins:
//!
//! 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 2. web identity (EKS IRSA): `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`
//!    (+ `AWS_ROLE_SESSION_NAME`, `AWS_ENDPOINT_URL_STS`), exchanged with STS
//!    `AssumeRoleWithWebIdentity` over HTTPS only;
//! 3. ECS task roles: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`;
//! 4. EKS Pod Identity: `AWS_CONTAINER_CREDENTIALS_FULL_URI` +
//!    `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`;
//! 5. otherwise the EC2 instance role through IMDSv2 (`AWS_METADATA_ENDPOINT`
//!    moves it, `AWS_IMDSV1_FALLBACK=true` allows IMDSv1).
//!
//! Temporary credentials are cached and refreshed before they expire, so a
//! caller asks the provider for a credential before every request.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredentialProvider};
use object_store::{ClientOptions, RetryConfig};

/// Client options for AWS calls: answers within 10 s, as a start-up that
/// waits on KMS must fail rather than hang.
pub fn client_options() -> ClientOptions {
    ClientOptions::new().with_timeout(Duration::from_secs(10)).with_connect_timeout(Duration::from_secs(5))
}

/// The credential chain described above, configured by the `AWS_*` entries
/// of `env` (the process environment in production; tests pass their own).
/// `region` is where STS is asked for web identity; `options` set TLS roots,
/// proxies and timeouts for the credential endpoints. Nothing is fetched
/// until the first `get_credential`, so a wrong source fails on first use.
pub fn chain(
    env: impl IntoIterator<Item = (String, String)>,
    region: &str,
    options: ClientOptions,
) -> anyhow::Result<AwsCredentialProvider> {
    let mut builder = AmazonS3Builder::new().with_client_options(options);
    for (name, value) in env {
        if !name.starts_with("AWS_") {
            continue;
        }
        // Names object_store does not know (AWS_PROFILE, AWS_PAGER, …) are not credentials.
        if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(key, value);
        }
    }
    let unused_s3_client = builder
        // A start without credentials must say so within seconds, not after
        // object_store's default three minutes of retries.
        .with_retry(RetryConfig { max_retries: 1, retry_timeout: Duration::from_secs(10), ..Default::default() })
        .with_region(region)
        .with_bucket_name("strongroom-credential-chain-only")
        .build()
        .context("the AWS credential variables are inconsistent")?;
    Ok(Arc::clone(unused_s3_client.credentials()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[tokio::test]
    async fn static_keys_from_the_environment_come_first() {
        let chain = chain(
            env(&[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "token"),
                ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ignored"),
                ("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent"),
                ("AWS_PROFILE", "not-an-object-store-key"),
                ("HOME", "/root"),
            ]),
            "eu-west-1",
            client_options(),
        )
        .unwrap();
        let credential = chain.get_credential().await.unwrap();
        assert_eq!(
            (credential.key_id.as_str(), credential.secret_key.as_str(), credential.token.as_deref()),
            ("AKIDEXAMPLE", "secret", Some("token"))
        );
    }

    /// A stand-in for the EC2 metadata service and the EKS Pod Identity
    /// agent, which exist only inside AWS: it answers each request on a
    /// loopback port with `answer(method, path, headers)`.
    async fn metadata_server(
        answer: impl Fn(&str, &str, &[(String, String)]) -> (u16, String) + Send + Sync + 'static,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let answer = Arc::clone(&answer);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = head.lines();
                    let mut request_line = lines.next().unwrap_or_default().split(' ');
                    let (method, path) =
                        (request_line.next().unwrap_or_default(), request_line.next().unwrap_or_default());
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|line| line.split_once(':'))
                        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
                        .collect();
                    let (status, body) = answer(method, path, &headers);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        });
        format!("http://{address}")
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    const ROLE_CREDENTIALS: &str = r#"{"Code":"Success","AccessKeyId":"ASIAROLE","SecretAccessKey":"role-secret","Token":"role-token","Expiration":"2099-01-01T00:00:00Z"}"#;

    #[tokio::test]
    async fn ec2_instance_role_credentials_come_through_imdsv2() {
        let endpoint = metadata_server(|method, path, headers| {
            let token = header(headers, "x-aws-ec2-metadata-token");
            match (method, path, token) {
                ("PUT", "/latest/api/token", _)
                    if header(headers, "x-aws-ec2-metadata-token-ttl-seconds").is_some() =>
                {
                    (200, "session-token".into())
                }
                ("GET", "/latest/meta-data/iam/security-credentials/", Some("session-token")) => {
                    (200, "strongroom-role".into())
                }
                ("GET", "/latest/meta-data/iam/security-credentials/strongroom-role", Some("session-token")) => {
                    (200, ROLE_CREDENTIALS.into())
                }
                // IMDSv2 only: a request without the session token is refused, as AWS can be told to.
                _ => (401, String::new()),
            }
        })
        .await;
        let chain = chain(env(&[("AWS_METADATA_ENDPOINT", &endpoint)]), "eu-west-1", client_options()).unwrap();
        let credential = chain.get_credential().await.unwrap();
        assert_eq!(
            (credential.key_id.as_str(), credential.secret_key.as_str(), credential.token.as_deref()),
            ("ASIAROLE", "role-secret", Some("role-token"))
        );
    }

    #[tokio::test]
    async fn eks_pod_identity_credentials_come_from_the_agent_with_the_token_file() {
        let endpoint =
            metadata_server(|method, path, headers| match (method, path, header(headers, "authorization")) {
                ("GET", "/v1/credentials", Some("pod-token")) => (200, ROLE_CREDENTIALS.into()),
                _ => (403, String::new()),
            })
            .await;
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "pod-token").unwrap();
        let chain = chain(
            env(&[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &format!("{endpoint}/v1/credentials")),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file.display().to_string()),
            ]),
            "eu-west-1",
            client_options(),
        )
        .unwrap();
        assert_eq!(chain.get_credential().await.unwrap().key_id, "ASIAROLE");
    }

    /// Off EC2 the metadata address swallows packets; a listener that
    /// never answers does the same here.
    #[tokio::test]
    async fn fail_within_half_a_minute_when_no_credential_source_answers() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", silent.local_addr().unwrap());
        let chain = chain(env(&[("AWS_METADATA_ENDPOINT", &endpoint)]), "eu-west-1", client_options()).unwrap();
        let started = std::time::Instant::now();
        assert!(chain.get_credential().await.is_err());
        assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
        drop(silent);
    }

    #[test]
    fn fail_access_key_without_secret() {
        let error = chain(env(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")]), "eu-west-1", client_options()).unwrap_err();
        assert!(error.to_string().contains("inconsistent"), "{error:#}");
    }
}
