//! Client-certificate identity: the user is the subject's CommonName, the
//! groups its Organizations (upstream's `CommonNameUserConversion`). The
//! chain itself is verified by rustls against `--client-ca-file`.

use x509_parser::prelude::{FromDer, X509Certificate};

use super::UserInfo;

/// The identity in a DER-encoded, already verified, client certificate.
pub fn user_from_certificate(der: &[u8]) -> Result<UserInfo, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("x509: {e}"))?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err("x509: subject has no CommonName".to_string());
    }
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(String::from)
        .collect();
    Ok(UserInfo {
        name,
        groups,
        ..UserInfo::default()
    })
}
