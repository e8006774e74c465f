//! `strongroom healthcheck`: asks a running server's `/readyz` over loopback
//! and exits 0 when it is ready, 1 when it is not or does not answer. It is
//! the container image's `HEALTHCHECK`: the image has no shell and no curl,
//! so the binary itself is the probe.
//!
//! It reads the same configuration as the server, so inside the container it
//! finds the port without being told; `--url` overrides that.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use strongroom_config::Config;

/// Options of `strongroom healthcheck`.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The readiness URL to ask. Unset: `/readyz` on the loopback address of
    /// `server.listen` (`http://`, or `https://` when the listener has TLS).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Give up after this many seconds (a server that does not answer in
    /// time is not healthy).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    timeout_seconds: u64,
}

/// Ok when `/readyz` answered 200; an error naming what failed otherwise.
pub async fn run(config: &Config, args: &HealthcheckArgs) -> anyhow::Result<()> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => readyz_url(config)?,
    };
    let mut client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_seconds.max(1)))
        // The answer of this server only: a proxy in the environment would
        // turn a probe of loopback into a probe of something else.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if let Some(chain) = &config.server.tls_cert_file {
        // The listener's own certificates are trusted too, so a self-signed
        // or privately issued certificate passes; the name is still checked.
        let pem = std::fs::read(chain).with_context(|| format!("cannot read {}", chain.display()))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("no PEM certificate in {}", chain.display()))?
        {
            client = client.add_root_certificate(certificate);
        }
    }
    let client = client.build().context("cannot build the HTTP client")?;
    let response = client.get(&url).send().await.with_context(|| format!("{url} does not answer"))?;
    let status = response.status();
    if status.is_success() {
        println!("ready ({url})");
        return Ok(());
    }
    // The problem's detail names each failing check; it is public (`/readyz`
    // needs no authentication), so printing it reveals nothing new.
    let detail = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|body| body.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_default();
    bail!("{url} answered {status}: {detail}")
}

/// `/readyz` on the loopback address of `server.listen`: an unspecified
/// address (`0.0.0.0`, `::`) is reached on loopback of its family.
fn readyz_url(config: &Config) -> anyhow::Result<String> {
    let listen: SocketAddr = config.server.listen.parse().with_context(|| {
        format!("server.listen = {:?} is not an address and port; give --url", config.server.listen)
    })?;
    if listen.port() == 0 {
        bail!("server.listen has port 0 (a port chosen at start): give --url");
    }
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let scheme = if config.tls_enabled() { "https" } else { "http" };
    Ok(format!("{scheme}://{}/readyz", SocketAddr::new(ip, listen.port())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening_on(listen: &str) -> Config {
        let mut config = Config::default();
        config.server.listen = listen.into();
        config
    }

    #[test]
    fn an_unspecified_address_is_asked_on_loopback_of_its_family() {
        assert_eq!(readyz_url(&listening_on("0.0.0.0:8080")).unwrap(), "http://127.0.0.1:8080/readyz");
        assert_eq!(readyz_url(&listening_on("[::]:8443")).unwrap(), "http://[::1]:8443/readyz");
        assert_eq!(readyz_url(&listening_on("10.1.2.3:80")).unwrap(), "http://10.1.2.3:80/readyz");
    }

    #[test]
    fn fail_port_zero_and_a_name_ask_for_an_url() {
        assert!(readyz_url(&listening_on("127.0.0.1:0")).unwrap_err().to_string().contains("--url"));
        assert!(readyz_url(&listening_on("localhost:8080")).unwrap_err().to_string().contains("--url"));
    }
}
