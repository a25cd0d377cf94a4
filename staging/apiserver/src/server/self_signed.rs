//! The self-signed serving certificate generated into `--cert-dir` when no
//! `--tls-cert-file` is given (`MaybeDefaultWithSelfSignedCerts`): a CA and a
//! leaf it signs, for the public address, `localhost`/`127.0.0.1` and the
//! given alternate names. Existing files are reused.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, date_time_ymd,
};

/// Where the generated pair lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertKeyPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertKeyPaths {
    pub fn in_dir(cert_dir: &Path) -> Self {
        CertKeyPaths {
            cert: cert_dir.join("apiserver.crt"),
            key: cert_dir.join("apiserver.key"),
        }
    }
}

/// Generates (or reuses) `apiserver.crt` / `apiserver.key` in `cert_dir`.
/// Returns the paths and whether they were newly written.
pub fn ensure(
    cert_dir: &Path,
    public_address: &str,
    alternate_dns: &[&str],
    alternate_ips: &[IpAddr],
) -> anyhow::Result<(CertKeyPaths, bool)> {
    let paths = CertKeyPaths::in_dir(cert_dir);
    if paths.cert.is_file() && paths.key.is_file() {
        return Ok((paths, false));
    }
    std::fs::create_dir_all(cert_dir).with_context(|| {
        format!(
            "creating --cert-dir {} for the self-signed serving certificate (pass a writable --cert-dir, or --tls-cert-file and --tls-private-key-file)",
            cert_dir.display()
        )
    })?;
    let (cert_pem, key_pem) = generate(public_address, alternate_dns, alternate_ips)?;
    write_atomically(&paths.cert, cert_pem.as_bytes(), 0o644)?;
    write_atomically(&paths.key, key_pem.as_bytes(), 0o600)?;
    Ok((paths, true))
}

/// The PEM chain (leaf then CA) and the leaf's PKCS#8 key.
pub fn generate(
    public_address: &str,
    alternate_dns: &[&str],
    alternate_ips: &[IpAddr],
) -> anyhow::Result<(String, String)> {
    let now = jiff::Timestamp::now();
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let not_before = date_time_ymd(
        i32::from(today.year()),
        today.month() as u8,
        today.day() as u8,
    );
    let not_after = date_time_ymd(
        i32::from(today.year()) + 1,
        today.month() as u8,
        today.day().min(28) as u8,
    );
    let host = if public_address.is_empty() {
        "localhost"
    } else {
        public_address
    };
    let stamp = now.as_second();

    let ca_key = KeyPair::generate().map_err(|e| anyhow!("generating the CA key: {e}"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, format!("{host}-ca@{stamp}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(|e| anyhow!("signing the CA certificate: {e}"))?;

    let key = KeyPair::generate().map_err(|e| anyhow!("generating the serving key: {e}"))?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{host}@{stamp}"));
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let mut names: Vec<SanType> = Vec::new();
    let mut add = |san: SanType| {
        if !names.contains(&san) {
            names.push(san);
        }
    };
    match host.parse::<IpAddr>() {
        Ok(ip) => add(SanType::IpAddress(ip)),
        Err(_) => add(SanType::DnsName(
            host.try_into().map_err(|e| anyhow!("{host}: {e}"))?,
        )),
    }
    for ip in alternate_ips
        .iter()
        .copied()
        .chain(["127.0.0.1".parse::<IpAddr>()?])
    {
        add(SanType::IpAddress(ip));
    }
    for dns in alternate_dns.iter().copied().chain(["localhost"]) {
        add(SanType::DnsName(
            dns.try_into().map_err(|e| anyhow!("{dns}: {e}"))?,
        ));
    }
    leaf.subject_alt_names = names;
    let issuer = Issuer::new(ca, &ca_key);
    let leaf_cert = leaf
        .signed_by(&key, &issuer)
        .map_err(|e| anyhow!("signing the serving certificate: {e}"))?;
    Ok((
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        key.serialize_pem(),
    ))
}

/// Write to a temporary name, fsync, rename: never a truncated file.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}
