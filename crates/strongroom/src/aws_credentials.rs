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
//!
//! This module must not reach into the rest of the binary: it moves, with
//! `aws_kms_root.rs`, into a crate of AWS adapters.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use object_store::ClientOptions;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredentialProvider};

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

    #[test]
    fn fail_access_key_without_secret() {
        let error = chain(env(&[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")]), "eu-west-1", client_options()).unwrap_err();
        assert!(error.to_string().contains("inconsistent"), "{error:#}");
    }
}
