//! SNI serving certificates (`--tls-sni-cert-key`): `cert,key[:name,...]`
//! pairs chosen by the client's server name. Explicit names win over names
//! read from the certificate (CN and DNS SANs), exact over wildcard
//! (`*.example.com`); other names get the default certificate.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::pem::{load_certificates, load_private_key};

/// One `--tls-sni-cert-key` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCertKey {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub names: Vec<String>,
}

impl FromStr for NamedCertKey {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (files, names) = input.split_once(':').unwrap_or((input, ""));
        let Some((cert, key)) = files
            .split_once(',')
            .filter(|(c, k)| !c.is_empty() && !k.is_empty() && !k.contains(','))
        else {
            return Err(format!(
                "--tls-sni-cert-key {input:?}: expected certfile,keyfile[:name1,name2,...]"
            ));
        };
        Ok(NamedCertKey {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
            names: names
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
        })
    }
}

/// Picks the certificate for a handshake by SNI.
#[derive(Debug)]
pub struct SniResolver {
    default: Arc<CertifiedKey>,
    explicit: HashMap<String, Arc<CertifiedKey>>,
    extracted: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    pub fn new(
        default: Arc<CertifiedKey>,
        named: &[NamedCertKey],
        provider: &CryptoProvider,
    ) -> anyhow::Result<Self> {
        let mut resolver = SniResolver {
            default,
            explicit: HashMap::new(),
            extracted: HashMap::new(),
        };
        for pair in named {
            let chain = load_certificates(&pair.cert_file).context("--tls-sni-cert-key")?;
            let key = load_private_key(&pair.key_file).context("--tls-sni-cert-key")?;
            let names = if pair.names.is_empty() {
                certificate_names(&chain[0])?
            } else {
                pair.names.clone()
            };
            let certified = Arc::new(CertifiedKey::from_der(chain, key, provider).with_context(
                || {
                    format!(
                        "--tls-sni-cert-key: {} does not match {}",
                        pair.key_file.display(),
                        pair.cert_file.display()
                    )
                },
            )?);
            let map = if pair.names.is_empty() {
                &mut resolver.extracted
            } else {
                &mut resolver.explicit
            };
            for name in names {
                map.insert(name, certified.clone());
            }
        }
        Ok(resolver)
    }

    fn lookup(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.to_ascii_lowercase();
        let wildcard = name.split_once('.').map(|(_, rest)| format!("*.{rest}"));
        [Some(&name), wildcard.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|candidate| {
                self.explicit
                    .get(candidate)
                    .or_else(|| self.extracted.get(candidate))
            })
            .cloned()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        client_hello
            .server_name()
            .and_then(|name| self.lookup(name))
            .or_else(|| Some(self.default.clone()))
    }
}

/// The CommonName and DNS SANs of a certificate, lower-cased.
fn certificate_names(der: &[u8]) -> anyhow::Result<Vec<String>> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| anyhow!("--tls-sni-cert-key: {e}"))?;
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .map(str::to_ascii_lowercase)
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_with_and_without_names() {
        let pair: NamedCertKey = "a.crt,a.key:Foo.example,*.bar.example".parse().unwrap();
        assert_eq!(pair.cert_file, PathBuf::from("a.crt"));
        assert_eq!(pair.names, ["foo.example", "*.bar.example"]);
        assert!(
            "a.crt,a.key"
                .parse::<NamedCertKey>()
                .unwrap()
                .names
                .is_empty()
        );
        for bad in ["a.crt", "a.crt,", ",a.key", "a,b,c"] {
            assert!(bad.parse::<NamedCertKey>().is_err(), "{bad}");
        }
    }
}
