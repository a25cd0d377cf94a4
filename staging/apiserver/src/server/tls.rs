//! TLS for the secure port (rustls, ring provider): loading the serving
//! certificate and key, client-certificate verification against
//! `--client-ca-file` (optional for clients), SNI certificates, minimum
//! version and cipher suites, ALPN for HTTP/2 and HTTP/1.1.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls::crypto::ring;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite};

use super::pem::{load_certificates, load_private_key};
use super::sni::{NamedCertKey, SniResolver};

/// The ring provider's cipher suite with this Go name (`TLS_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`, ...).
pub fn cipher_suite(go_name: &str) -> Option<SupportedCipherSuite> {
    ring::ALL_CIPHER_SUITES.iter().copied().find(|suite| {
        let name = format!("{:?}", suite.suite());
        name.replacen("TLS13_", "TLS_", 1) == go_name
    })
}

/// What the secure port serves.
pub struct TlsSettings<'a> {
    pub cert_file: &'a Path,
    pub key_file: &'a Path,
    pub client_ca_file: Option<&'a Path>,
    /// `VersionTLS13` restricts to TLS 1.3; anything else allows 1.2 and 1.3.
    pub min_version: Option<&'a str>,
    pub cipher_suites: &'a [String],
    /// `--tls-sni-cert-key` values.
    pub sni_cert_keys: &'a [String],
}

pub fn server_config(settings: &TlsSettings<'_>) -> anyhow::Result<Arc<ServerConfig>> {
    let mut provider = ring::default_provider();
    if !settings.cipher_suites.is_empty() {
        let mut suites = Vec::new();
        for name in settings.cipher_suites {
            suites.push(
                cipher_suite(name)
                    .ok_or_else(|| anyhow!("--tls-cipher-suites: {name} is not supported"))?,
            );
        }
        // TLS 1.3 needs one of its own suites; keep the defaults when none was named.
        if !suites
            .iter()
            .any(|s| s.version() == &rustls::version::TLS13)
        {
            suites.extend(
                ring::DEFAULT_CIPHER_SUITES
                    .iter()
                    .copied()
                    .filter(|s| s.version() == &rustls::version::TLS13),
            );
        }
        provider.cipher_suites = suites;
    }
    let versions: &[&rustls::SupportedProtocolVersion] =
        if settings.min_version == Some("VersionTLS13") {
            &[&rustls::version::TLS13]
        } else {
            rustls::DEFAULT_VERSIONS
        };
    let provider_for_keys = provider.clone();
    let builder = ServerConfig::builder_with_provider(Arc::new(provider.clone()))
        .with_protocol_versions(versions)
        .context("configuring TLS versions")?;
    let builder = match settings.client_ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certificates(path).context("--client-ca-file")? {
                roots
                    .add(cert)
                    .with_context(|| format!("adding a CA from {}", path.display()))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider))
                    .allow_unauthenticated()
                    .build()
                    .context("building the client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let chain = load_certificates(settings.cert_file).context("--tls-cert-file")?;
    let key = load_private_key(settings.key_file).context("--tls-private-key-file")?;
    let default = CertifiedKey::from_der(chain, key, &provider_for_keys)
        .context("the serving certificate and key do not match or are unusable")?;
    let named = settings
        .sni_cert_keys
        .iter()
        .map(|value| value.parse::<NamedCertKey>().map_err(|e| anyhow!(e)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let resolver = SniResolver::new(Arc::new(default), &named, &provider_for_keys)?;
    let mut config = builder.with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
