//! Secure serving options (`options.SecureServingOptionsWithLoopback`): where
//! to listen and which certificate to serve.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{ArgAction, Args};

use crate::flag::{Duration, parse_bool};

pub const TLS_VERSIONS: &[&str] = &[
    "VersionTLS10",
    "VersionTLS11",
    "VersionTLS12",
    "VersionTLS13",
];

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Secure serving flags")]
pub struct SecureServingOptions {
    /// The IP address on which to listen for the --secure-port port. The associated interface(s) must be reachable by the rest of the cluster, and by CLI/web clients. If blank or an unspecified address (0.0.0.0 or ::), all interfaces and IP address families will be used.
    #[arg(long, value_name = "ip", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind_address: IpAddr,

    /// The port on which to serve HTTPS with authentication and authorization. It cannot be switched off with 0.
    #[arg(long, value_name = "int", default_value_t = 6443)]
    pub secure_port: i64,

    /// The directory where the TLS certs are located. If --tls-cert-file and --tls-private-key-file are provided, this flag will be ignored.
    #[arg(long, value_name = "string", default_value = "/var/run/kubernetes")]
    pub cert_dir: PathBuf,

    /// File containing the default x509 Certificate for HTTPS. (CA cert, if any, concatenated after server cert). If HTTPS serving is enabled, and --tls-cert-file and --tls-private-key-file are not provided, a self-signed certificate and key are generated for the public address and saved to the directory specified by --cert-dir.
    #[arg(long, value_name = "string")]
    pub tls_cert_file: Option<PathBuf>,

    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long, value_name = "string")]
    pub tls_private_key_file: Option<PathBuf>,

    /// Comma-separated list of cipher suites for the server. If omitted, the default cipher suites will be used. Only the suites rustls implements are accepted (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256).
    #[arg(long, value_name = "strings", value_delimiter = ',')]
    pub tls_cipher_suites: Vec<String>,

    /// Minimum TLS version supported. Possible values: VersionTLS10, VersionTLS11, VersionTLS12, VersionTLS13. TLS 1.0 and 1.1 are accepted but served as TLS 1.2 (rustls does not implement them).
    #[arg(long, value_name = "string")]
    pub tls_min_version: Option<String>,

    /// A pair of x509 certificate and private key file paths, optionally suffixed with a list of domain patterns which are fully qualified domain names, possibly with prefixed wildcard segments. If no domain patterns are provided, the names of the certificate are extracted. Non-wildcard matches trump over wildcard matches, explicit domain patterns trump over extracted names. Examples: "example.crt,example.key" or "foo.crt,foo.key:*.foo.com,foo.com".
    #[arg(long, value_name = "namedCertKey")]
    pub tls_sni_cert_key: Vec<String>,

    /// The limit that the server gives to clients for the maximum number of streams in an HTTP/2 connection. Zero means to use the default (200).
    #[arg(
        long = "http2-max-streams-per-connection",
        value_name = "int",
        default_value_t = 0
    )]
    pub http2_max_streams_per_connection: i64,

    /// If true, SO_REUSEPORT will be used when binding the port, which allows more than one instance to bind on the same address and port.
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub permit_port_sharing: bool,

    /// If true, SO_REUSEADDR will be used when binding the port. This allows binding to wildcard IPs like 0.0.0.0 and specific IPs in parallel, and it avoids waiting for the kernel to release sockets in TIME_WAIT state. [always on here: the listener sets SO_REUSEADDR]
    #[arg(long, value_name = "true|false", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true", value_parser = parse_bool)]
    pub permit_address_sharing: bool,

    /// The most client connections served at once; further ones wait in the listen queue until one closes. 0 means the open-file limit (raised to its hard limit at start) minus 256 kept for the server's own files. [this server's own flag; upstream has no such bound]
    #[arg(long, value_name = "int", default_value_t = 0)]
    pub max_connections: i64,

    /// A connection with no request in progress for this long is closed (HTTP/2: GOAWAY). Upstream's fixed IdleTimeout is 90s; request headers must arrive within 32s. [this server's own flag]
    #[arg(long, value_name = "duration", default_value = "1m30s")]
    pub idle_connection_timeout: Duration,
}

impl SecureServingOptions {
    /// `required`: the port cannot be switched off (kube-apiserver's case).
    pub fn validate(&self, required: bool) -> Vec<String> {
        let mut errors = Vec::new();
        if required && !(1..=65535).contains(&self.secure_port) {
            errors.push(format!(
                "--secure-port {} must be between 1 and 65535, inclusive. It cannot be turned off with 0",
                self.secure_port
            ));
        } else if !(0..=65535).contains(&self.secure_port) {
            errors.push(format!(
                "--secure-port {} must be between 0 and 65535, inclusive. 0 for turning off secure port",
                self.secure_port
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_private_key_file.is_some() {
            errors.push(
                "--tls-cert-file and --tls-private-key-file must be specified together".to_string(),
            );
        }
        if let Some(version) = &self.tls_min_version
            && !TLS_VERSIONS.contains(&version.as_str())
        {
            errors.push(format!(
                "--tls-min-version {version:?} invalid, allowed values: {}",
                TLS_VERSIONS.join(", ")
            ));
        }
        for suite in &self.tls_cipher_suites {
            if crate::server::tls::cipher_suite(suite).is_none() {
                errors.push(format!(
                    "--tls-cipher-suites: cipher suite {suite} not supported or doesn't exist"
                ));
            }
        }
        for pair in &self.tls_sni_cert_key {
            if let Err(err) = pair.parse::<crate::server::sni::NamedCertKey>() {
                errors.push(err);
            }
        }
        if self.http2_max_streams_per_connection < 0 {
            errors.push("--http2-max-streams-per-connection can not be negative value".to_string());
        }
        if self.max_connections < 0 {
            errors.push(format!(
                "--max-connections {} must not be negative (0: the open-file limit)",
                self.max_connections
            ));
        }
        if self.idle_connection_timeout.as_nanos() <= 0 {
            errors.push(format!(
                "--idle-connection-timeout {} must be positive",
                self.idle_connection_timeout
            ));
        }
        errors
    }
}
