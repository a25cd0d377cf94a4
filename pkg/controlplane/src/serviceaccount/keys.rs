//! Service-account token keys (mirrors the key handling of
//! `k8s.io/kubernetes/pkg/serviceaccount/jwt.go` and
//! `k8s.io/client-go/util/keyutil`): the private key of
//! `--service-account-signing-key-file` ([`SigningKey`]: RSA, or ECDSA P-256 or
//! P-384, as PKCS#8, PKCS#1 or SEC1 PEM), the public keys of
//! `--service-account-key-file` ([`public_keys_from_pem`]: public keys,
//! certificates or private keys), and for each key its signature algorithm,
//! key ID (`kid`) and `/openid/v1/jwks` entry.
//!
//! Cryptography is `ring`'s. Every public key, whatever it was read from, goes
//! through one parse path ([`PublicKey::from_spki_der`]) and is kept as
//! canonical SubjectPublicKeyInfo DER (what Go's `x509.MarshalPKIXPublicKey`
//! writes), so a key's ID is upstream's for the same key.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{
    self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey,
};
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde::Serialize;
use x509_parser::asn1_rs::{Oid, Tag};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedPublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// The key types this module handles, for error messages.
const SUPPORTED: &str = "supported key types are RSA and ECDSA with curve P-256 or P-384";

// Object identifiers (DER contents, without tag and length).
/// rsaEncryption, 1.2.840.113549.1.1.1.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// RSASSA-PSS, 1.2.840.113549.1.1.10.
const OID_RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (P-384), 1.3.132.0.34.
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// secp521r1 (P-521), 1.3.132.0.35.
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
/// id-dsa, 1.2.840.10040.4.1.
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
/// id-X25519, 1.3.101.110.
const OID_X25519: &[u8] = &[0x2b, 0x65, 0x6e];
/// id-X448, 1.3.101.111.
const OID_X448: &[u8] = &[0x2b, 0x65, 0x6f];
/// id-Ed25519, 1.3.101.112.
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
/// id-Ed448, 1.3.101.113.
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];

/// The smallest and largest RSA moduli (bits) ring verifies PKCS#1 v1.5
/// signatures with (`RSA_PKCS1_2048_8192_SHA256`).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

/// The JWS signature algorithm of a key (RFC 7518): the key decides it, a
/// token's header never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (any RSA key).
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
}

impl Algorithm {
    /// The JWS `alg` name: `RS256`, `ES256` or `ES384`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A supported elliptic curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    P256,
    P384,
}

impl Curve {
    /// The curve named by an object identifier (DER contents), or a clear error.
    fn from_oid(oid: &[u8]) -> anyhow::Result<Self> {
        match oid {
            OID_P256 => Ok(Self::P256),
            OID_P384 => Ok(Self::P384),
            OID_P521 => bail!("unsupported elliptic curve P-521: {SUPPORTED}"),
            other => bail!(
                "unsupported elliptic curve {}: {SUPPORTED}",
                oid_string(other)
            ),
        }
    }

    fn oid(self) -> &'static [u8] {
        match self {
            Self::P256 => OID_P256,
            Self::P384 => OID_P384,
        }
    }

    /// The JWK `crv` name.
    fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }

    /// Bytes of one coordinate of a point.
    fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::Es256,
            Self::P384 => Algorithm::Es384,
        }
    }

    /// ring's signing algorithm: fixed-length `r || s` signatures, as JWS uses.
    fn signing(self) -> &'static signature::EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        }
    }

    fn verification(self) -> &'static signature::EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        }
    }
}

/// The parsed public key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// Modulus and public exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `04 || x || y`.
    Ec { curve: Curve, point: Vec<u8> },
}

/// A public key that verifies service-account tokens: RSA (2048 to 8192 bits)
/// or ECDSA P-256 / P-384.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Canonical SubjectPublicKeyInfo DER, re-encoded from `material`.
    spki: Vec<u8>,
    /// [`Self::key_id`], computed once.
    key_id: String,
    material: Material,
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo (a `PUBLIC KEY` PEM block's
    /// contents). Only RSA and ECDSA P-256/P-384 keys are accepted; anything
    /// else (P-521, Ed25519, DSA, ...) is an error naming what is supported.
    pub fn from_spki_der(der: &[u8]) -> anyhow::Result<Self> {
        let (rest, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|err| anyhow!("invalid SubjectPublicKeyInfo: {err}"))?;
        if !rest.is_empty() {
            bail!(
                "invalid SubjectPublicKeyInfo: {} bytes of trailing data",
                rest.len()
            );
        }
        if spki.subject_public_key.unused_bits != 0 {
            bail!("invalid SubjectPublicKeyInfo: the key's BIT STRING has unused bits");
        }
        let material = match spki.algorithm.algorithm.as_bytes() {
            OID_RSA_ENCRYPTION => {
                let parsed = spki
                    .parsed()
                    .map_err(|err| anyhow!("invalid RSA public key: {err}"))?;
                let ParsedPublicKey::RSA(rsa) = parsed else {
                    bail!("invalid RSA public key");
                };
                rsa_material(rsa.modulus, rsa.exponent)?
            }
            OID_EC_PUBLIC_KEY => {
                let curve = match &spki.algorithm.parameters {
                    Some(parameters) if parameters.tag() == Tag::Oid => {
                        Curve::from_oid(parameters.data)?
                    }
                    _ => bail!("EC public key without a named curve: {SUPPORTED}"),
                };
                ec_material(curve, &spki.subject_public_key.data)?
            }
            other => bail!(
                "unsupported public key type {}: {SUPPORTED}",
                key_type_name(other)
            ),
        };
        Ok(Self::from_material(material))
    }

    fn from_material(material: Material) -> Self {
        let spki = match &material {
            Material::Rsa { n, e } => spki_from_pkcs1(&der::sequence(&[
                &der::unsigned_integer(n),
                &der::unsigned_integer(e),
            ])),
            Material::Ec { curve, point } => ec_spki(*curve, point),
        };
        let key_id = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &spki));
        Self {
            spki,
            key_id,
            material,
        }
    }

    /// The signature algorithm of the key: `RS256` for RSA, `ES256` for
    /// P-256, `ES384` for P-384.
    pub fn algorithm(&self) -> Algorithm {
        match &self.material {
            Material::Rsa { .. } => Algorithm::Rs256,
            Material::Ec { curve, .. } => curve.algorithm(),
        }
    }

    /// The key's canonical SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The key ID (`kid`): base64url without padding of the SHA-256 of the
    /// SubjectPublicKeyInfo DER (upstream's `keyIDFromPublicKey`).
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }

    /// [`Self::key_id`] without a copy.
    pub(crate) fn key_id_str(&self) -> &str {
        &self.key_id
    }

    /// Whether `signature` is this key's signature of `message` with
    /// [`Self::algorithm`] (RSA PKCS#1 v1.5 SHA-256, or fixed-length ECDSA).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Rsa { n, e } => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
            .is_ok(),
            Material::Ec { curve, point } => UnparsedPublicKey::new(curve.verification(), point)
                .verify(message, signature)
                .is_ok(),
        }
    }

    /// The key's entry in `/openid/v1/jwks`, as upstream (go-jose's
    /// `JSONWebKey`) writes it.
    pub fn jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            key_use: "sig",
            kty: "RSA",
            kid: self.key_id(),
            crv: None,
            alg: self.algorithm().as_str(),
            x: None,
            y: None,
            n: None,
            e: None,
        };
        match &self.material {
            Material::Rsa { n, e } => {
                jwk.n = Some(URL_SAFE_NO_PAD.encode(n));
                jwk.e = Some(URL_SAFE_NO_PAD.encode(e));
            }
            Material::Ec { curve, point } => {
                // `point` is `04 || x || y`, each coordinate the curve's size
                // (checked when parsed): go-jose pads x and y to that size.
                let coordinates = point.get(1..).unwrap_or_default();
                let (x, y) = coordinates.split_at(curve.coordinate_len().min(coordinates.len()));
                jwk.kty = "EC";
                jwk.crv = Some(curve.name());
                jwk.x = Some(URL_SAFE_NO_PAD.encode(x));
                jwk.y = Some(URL_SAFE_NO_PAD.encode(y));
            }
        }
        jwk
    }
}

/// One JSON Web Key of the `/openid/v1/jwks` document. Serializes with
/// go-jose's field order (`use`, `kty`, `kid`, `crv`, `alg`, `x`, `y`, `n`,
/// `e`), leaving out the fields the key type has not; binary fields are
/// base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    /// `use`: always `sig`.
    #[serde(rename = "use")]
    pub key_use: &'static str,
    /// `kty`: `RSA` or `EC`.
    pub kty: &'static str,
    /// `kid`: [`PublicKey::key_id`].
    pub kid: String,
    /// `crv` (EC): `P-256` or `P-384`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    /// `alg`: `RS256`, `ES256` or `ES384`.
    pub alg: &'static str,
    /// `x` (EC): the x coordinate, padded to the curve size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// `y` (EC): the y coordinate, padded to the curve size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// `n` (RSA): the modulus, without leading zeros.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// `e` (RSA): the public exponent, without leading zeros.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// The private key pair ring signs with.
enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// The key service-account tokens are signed with
/// (`--service-account-signing-key-file`): RSA (ring takes 2048 to 4096-bit
/// keys) or ECDSA P-256 / P-384.
pub struct SigningKey {
    signer: Signer,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads the first private key of a PEM document: `PRIVATE KEY` (PKCS#8,
    /// RSA or EC), `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1).
    /// Other blocks (`EC PARAMETERS`, certificates) are skipped.
    pub fn from_pem(pem: &[u8]) -> anyhow::Result<Self> {
        for block in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
            let (kind, der) = block.map_err(|err| anyhow!("invalid PEM: {err}"))?;
            if matches!(
                kind,
                SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
            ) {
                return Self::from_private_der(kind, &der);
            }
        }
        bail!(
            "no private key found: expected a PEM block of type PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
        )
    }

    /// Reads the signing key file at `path` (see [`Self::from_pem`]).
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let pem = std::fs::read(path).with_context(|| {
            format!("reading the service-account signing key {}", path.display())
        })?;
        Self::from_pem(&pem)
            .with_context(|| format!("parsing the service-account signing key {}", path.display()))
    }

    /// The public half: what verifies this key's signatures.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` with the key's [`Algorithm`]: RSA PKCS#1 v1.5 SHA-256,
    /// or ECDSA with a fixed-length `r || s` signature (JWS's form).
    pub fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(key_pair) => {
                let mut signature = vec![0; key_pair.public().modulus_len()];
                key_pair
                    .sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .map_err(|_| anyhow!("RSA signing failed"))?;
                Ok(signature)
            }
            Signer::Ecdsa(key_pair) => key_pair
                .sign(&rng, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| anyhow!("ECDSA signing failed")),
        }
    }

    /// A private key of one of the three private-key PEM kinds.
    fn from_private_der(kind: SectionKind, der: &[u8]) -> anyhow::Result<Self> {
        match kind {
            SectionKind::PrivateKey => Self::from_pkcs8(der),
            SectionKind::RsaPrivateKey => Self::from_rsa(
                RsaKeyPair::from_der(der)
                    .map_err(|err| anyhow!("invalid RSA PRIVATE KEY (PKCS#1): {err}"))?,
            ),
            SectionKind::EcPrivateKey => Self::from_sec1(der),
            _ => bail!("not a private key"),
        }
    }

    /// A PKCS#8 `PrivateKeyInfo`: its algorithm identifier says RSA or which
    /// curve.
    fn from_pkcs8(der: &[u8]) -> anyhow::Result<Self> {
        let (algorithm, curve) = pkcs8_algorithm(der)
            .ok_or_else(|| anyhow!("invalid PRIVATE KEY (PKCS#8): malformed PrivateKeyInfo"))?;
        match algorithm {
            OID_RSA_ENCRYPTION => Self::from_rsa(
                RsaKeyPair::from_pkcs8(der)
                    .map_err(|err| anyhow!("invalid RSA PRIVATE KEY (PKCS#8): {err}"))?,
            ),
            OID_EC_PUBLIC_KEY => {
                let curve = Curve::from_oid(curve.ok_or_else(|| {
                    anyhow!("EC private key without a named curve: {SUPPORTED}")
                })?)?;
                let key_pair = EcdsaKeyPair::from_pkcs8(curve.signing(), der, &SystemRandom::new())
                    .map_err(|err| anyhow!("invalid EC PRIVATE KEY (PKCS#8): {err}"))?;
                Self::from_ecdsa(curve, key_pair)
            }
            other => bail!(
                "unsupported private key type {}: {SUPPORTED}",
                key_type_name(other)
            ),
        }
    }

    /// A SEC1 `ECPrivateKey`, wrapped into PKCS#8 for ring: with the curve its
    /// parameters name, or P-256 then P-384 when it names none.
    fn from_sec1(der: &[u8]) -> anyhow::Result<Self> {
        let curves = match sec1_named_curve(der) {
            Some(oid) => vec![Curve::from_oid(oid)?],
            None => vec![Curve::P256, Curve::P384],
        };
        let rng = SystemRandom::new();
        let mut rejected = Vec::new();
        for curve in curves {
            match EcdsaKeyPair::from_pkcs8(curve.signing(), &sec1_to_pkcs8(curve, der), &rng) {
                Ok(key_pair) => return Self::from_ecdsa(curve, key_pair),
                Err(err) => rejected.push(format!("{}: {err}", curve.name())),
            }
        }
        bail!("invalid EC PRIVATE KEY (SEC1): {}", rejected.join(", "))
    }

    fn from_rsa(key_pair: RsaKeyPair) -> anyhow::Result<Self> {
        let public = PublicKey::from_spki_der(&spki_from_pkcs1(key_pair.public().as_ref()))?;
        Ok(Self {
            signer: Signer::Rsa(key_pair),
            public,
        })
    }

    fn from_ecdsa(curve: Curve, key_pair: EcdsaKeyPair) -> anyhow::Result<Self> {
        let public = PublicKey::from_spki_der(&ec_spki(curve, key_pair.public_key().as_ref()))?;
        Ok(Self {
            signer: Signer::Ecdsa(key_pair),
            public,
        })
    }
}

/// The public keys of a `--service-account-key-file` PEM document, in order:
/// every `PUBLIC KEY` (SubjectPublicKeyInfo), `RSA PUBLIC KEY` (PKCS#1),
/// `CERTIFICATE` (its subject public key) and private key (`PRIVATE KEY`,
/// `RSA PRIVATE KEY`, `EC PRIVATE KEY`: its public half). Other blocks are
/// skipped; like upstream's `keyutil.ParsePublicKeysPEM`, so are key blocks
/// that hold no usable key (logged), and having no key at all is an error.
pub fn public_keys_from_pem(pem: &[u8]) -> anyhow::Result<Vec<PublicKey>> {
    let mut keys = Vec::new();
    let mut rejected = Vec::new();
    for (index, block) in pem_blocks(pem)?.iter().enumerate() {
        let (label, parsed) = match block {
            PemBlock::RsaPublicKey(der) => (
                "RSA PUBLIC KEY",
                PublicKey::from_spki_der(&spki_from_pkcs1(der)),
            ),
            PemBlock::Known(SectionKind::PublicKey, der) => {
                ("PUBLIC KEY", PublicKey::from_spki_der(der))
            }
            PemBlock::Known(SectionKind::Certificate, der) => {
                ("CERTIFICATE", public_key_of_certificate(der))
            }
            PemBlock::Known(SectionKind::PrivateKey, der) => (
                "PRIVATE KEY",
                SigningKey::from_private_der(SectionKind::PrivateKey, der).map(|key| key.public),
            ),
            PemBlock::Known(SectionKind::RsaPrivateKey, der) => (
                "RSA PRIVATE KEY",
                SigningKey::from_private_der(SectionKind::RsaPrivateKey, der).map(|key| key.public),
            ),
            PemBlock::Known(SectionKind::EcPrivateKey, der) => (
                "EC PRIVATE KEY",
                SigningKey::from_private_der(SectionKind::EcPrivateKey, der).map(|key| key.public),
            ),
            PemBlock::Known(..) => continue,
        };
        match parsed {
            Ok(key) => keys.push(key),
            Err(err) => rejected.push(format!("PEM block {} ({label}): {err:#}", index + 1)),
        }
    }
    if keys.is_empty() {
        let mut message = String::from("data does not contain any valid RSA or ECDSA public keys");
        if !rejected.is_empty() {
            message.push_str(" (");
            message.push_str(&rejected.join("; "));
            message.push(')');
        }
        bail!(message);
    }
    for reason in &rejected {
        tracing::warn!("ignoring a service-account key PEM block: {reason}");
    }
    Ok(keys)
}

/// Reads a `--service-account-key-file` (see [`public_keys_from_pem`]).
pub fn load_public_keys(path: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let pem = std::fs::read(path)
        .with_context(|| format!("reading the service-account key file {}", path.display()))?;
    public_keys_from_pem(&pem)
        .with_context(|| format!("parsing the service-account key file {}", path.display()))
}

/// The subject public key of a DER certificate.
fn public_key_of_certificate(der: &[u8]) -> anyhow::Result<PublicKey> {
    let (_, certificate) =
        X509Certificate::from_der(der).map_err(|err| anyhow!("invalid certificate: {err}"))?;
    PublicKey::from_spki_der(certificate.public_key().raw)
}

/// One PEM block of a public key file.
enum PemBlock {
    /// A block rustls-pki-types knows.
    Known(SectionKind, Vec<u8>),
    /// `RSA PUBLIC KEY`, which rustls-pki-types skips: PKCS#1 `RSAPublicKey`.
    RsaPublicKey(Vec<u8>),
}

const RSA_PUBLIC_KEY_BEGIN: &[u8] = b"-----BEGIN RSA PUBLIC KEY-----";
const RSA_PUBLIC_KEY_END: &[u8] = b"-----END RSA PUBLIC KEY-----";

/// The PEM blocks of `pem`, in order: rustls-pki-types reads the kinds it
/// knows and this the `RSA PUBLIC KEY` blocks between them.
fn pem_blocks(pem: &[u8]) -> anyhow::Result<Vec<PemBlock>> {
    let mut blocks = Vec::new();
    let mut rest = pem;
    loop {
        let (known, rsa_public_key) = match find(rest, RSA_PUBLIC_KEY_BEGIN) {
            Some(start) => (
                &rest[..start],
                Some(&rest[start + RSA_PUBLIC_KEY_BEGIN.len()..]),
            ),
            None => (rest, None),
        };
        for block in <(SectionKind, Vec<u8>)>::pem_slice_iter(known) {
            let (kind, der) = block.map_err(|err| anyhow!("invalid PEM: {err}"))?;
            blocks.push(PemBlock::Known(kind, der));
        }
        let Some(after_begin) = rsa_public_key else {
            return Ok(blocks);
        };
        let end = find(after_begin, RSA_PUBLIC_KEY_END)
            .ok_or_else(|| anyhow!("invalid PEM: an RSA PUBLIC KEY block has no END line"))?;
        let body: Vec<u8> = after_begin[..end]
            .iter()
            .copied()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|err| anyhow!("invalid PEM: RSA PUBLIC KEY block: {err}"))?;
        blocks.push(PemBlock::RsaPublicKey(der));
        rest = &after_begin[end + RSA_PUBLIC_KEY_END.len()..];
    }
}

/// The first position of `needle` in `haystack` (linear: the needle is a
/// short constant).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `bytes` without leading zero bytes.
fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|byte| **byte == 0).count();
    &bytes[zeros..]
}

/// An RSA key's material from its DER INTEGER contents, checked.
fn rsa_material(modulus: &[u8], exponent: &[u8]) -> anyhow::Result<Material> {
    if modulus.first().is_some_and(|byte| byte & 0x80 != 0)
        || exponent.first().is_some_and(|byte| byte & 0x80 != 0)
    {
        bail!("invalid RSA public key: negative modulus or exponent");
    }
    let n = strip_leading_zeros(modulus);
    let e = strip_leading_zeros(exponent);
    let bits = match n.first() {
        Some(first) => n.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    };
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        bail!(
            "unsupported RSA key size {bits} bits: RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits"
        );
    }
    if e.is_empty() || e.len() > 8 {
        bail!("invalid RSA public key: bad public exponent");
    }
    Ok(Material::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

/// An EC key's material from its point, which must be uncompressed.
fn ec_material(curve: Curve, point: &[u8]) -> anyhow::Result<Material> {
    if point.first() != Some(&0x04) {
        bail!("unsupported EC public key encoding: only uncompressed points are supported");
    }
    if point.len() != 1 + 2 * curve.coordinate_len() {
        bail!(
            "invalid {} public key: a {}-byte point",
            curve.name(),
            point.len()
        );
    }
    Ok(Material::Ec {
        curve,
        point: point.to_vec(),
    })
}

/// SubjectPublicKeyInfo of a PKCS#1 `RSAPublicKey`: algorithm rsaEncryption
/// with NULL parameters.
fn spki_from_pkcs1(rsa_public_key: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::sequence(&[&der::oid(OID_RSA_ENCRYPTION), &der::null()]),
        &der::bit_string(rsa_public_key),
    ])
}

/// SubjectPublicKeyInfo of an EC point: id-ecPublicKey with the named curve.
fn ec_spki(curve: Curve, point: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::sequence(&[&der::oid(OID_EC_PUBLIC_KEY), &der::oid(curve.oid())]),
        &der::bit_string(point),
    ])
}

/// PKCS#8 `PrivateKeyInfo` around a SEC1 `ECPrivateKey`:
/// `SEQUENCE { INTEGER 0, SEQUENCE { id-ecPublicKey, curve }, OCTET STRING { sec1 } }`.
fn sec1_to_pkcs8(curve: Curve, sec1: &[u8]) -> Vec<u8> {
    der::sequence(&[
        &der::unsigned_integer(&[]),
        &der::sequence(&[&der::oid(OID_EC_PUBLIC_KEY), &der::oid(curve.oid())]),
        &der::octet_string(sec1),
    ])
}

/// The algorithm OID of a PKCS#8 `PrivateKeyInfo` and, when its parameters
/// are an OID (EC keys), that too.
fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let (info, _) = der::expect(der, der::SEQUENCE)?;
    let (_version, rest) = der::expect(info, der::INTEGER)?;
    let (algorithm, _) = der::expect(rest, der::SEQUENCE)?;
    let (oid, parameters) = der::expect(algorithm, der::OID)?;
    let curve = der::expect(parameters, der::OID).map(|(curve, _)| curve);
    Some((oid, curve))
}

/// The curve OID in a SEC1 `ECPrivateKey`'s `[0] parameters`, if present.
fn sec1_named_curve(der: &[u8]) -> Option<&[u8]> {
    let (key, _) = der::expect(der, der::SEQUENCE)?;
    let (_version, rest) = der::expect(key, der::INTEGER)?;
    let (_private_key, rest) = der::expect(rest, der::OCTET_STRING)?;
    let (parameters, _) = der::expect(rest, der::CONTEXT_0)?;
    let (oid, _) = der::expect(parameters, der::OID)?;
    Some(oid)
}

/// A key type's name for error messages.
fn key_type_name(oid: &[u8]) -> String {
    match oid {
        OID_ED25519 => "Ed25519".to_owned(),
        OID_ED448 => "Ed448".to_owned(),
        OID_X25519 => "X25519".to_owned(),
        OID_X448 => "X448".to_owned(),
        OID_DSA => "DSA".to_owned(),
        OID_RSASSA_PSS => "RSASSA-PSS".to_owned(),
        other => oid_string(other),
    }
}

/// An OID in dotted form.
fn oid_string(oid: &[u8]) -> String {
    format!("OID {}", Oid::new(Cow::Borrowed(oid)).to_id_string())
}

/// A minimal DER writer and reader for the structures above (single-byte
/// tags, definite lengths).
mod der {
    pub(super) const INTEGER: u8 = 0x02;
    pub(super) const BIT_STRING: u8 = 0x03;
    pub(super) const OCTET_STRING: u8 = 0x04;
    pub(super) const NULL: u8 = 0x05;
    pub(super) const OID: u8 = 0x06;
    pub(super) const SEQUENCE: u8 = 0x30;
    /// `[0]` constructed, context-specific.
    pub(super) const CONTEXT_0: u8 = 0xa0;

    /// Tag, length, contents.
    pub(super) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(contents.len() + 10);
        out.push(tag);
        if contents.len() < 0x80 {
            out.push(contents.len() as u8);
        } else {
            let length = contents.len().to_be_bytes();
            let zeros = length.iter().take_while(|byte| **byte == 0).count();
            out.push(0x80 | (length.len() - zeros) as u8);
            out.extend_from_slice(&length[zeros..]);
        }
        out.extend_from_slice(contents);
        out
    }

    pub(super) fn sequence(elements: &[&[u8]]) -> Vec<u8> {
        tlv(SEQUENCE, &elements.concat())
    }

    /// A BIT STRING of whole bytes (no unused bits).
    pub(super) fn bit_string(bytes: &[u8]) -> Vec<u8> {
        let mut contents = Vec::with_capacity(bytes.len() + 1);
        contents.push(0);
        contents.extend_from_slice(bytes);
        tlv(BIT_STRING, &contents)
    }

    pub(super) fn octet_string(bytes: &[u8]) -> Vec<u8> {
        tlv(OCTET_STRING, bytes)
    }

    /// An OBJECT IDENTIFIER from its encoded contents.
    pub(super) fn oid(contents: &[u8]) -> Vec<u8> {
        tlv(OID, contents)
    }

    pub(super) fn null() -> Vec<u8> {
        tlv(NULL, &[])
    }

    /// A non-negative INTEGER from big-endian magnitude bytes: minimal, with a
    /// leading zero when the high bit is set.
    pub(super) fn unsigned_integer(big_endian: &[u8]) -> Vec<u8> {
        let magnitude = super::strip_leading_zeros(big_endian);
        let mut contents = Vec::with_capacity(magnitude.len() + 1);
        if matches!(magnitude.first(), None | Some(0x80..)) {
            contents.push(0);
        }
        contents.extend_from_slice(magnitude);
        tlv(INTEGER, &contents)
    }

    /// The first element of `input`: tag, contents and what follows it.
    pub(super) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > size_of::<usize>() || rest.len() < count {
                return None;
            }
            let (length, rest) = rest.split_at(count);
            let length = length
                .iter()
                .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
            (length, rest)
        };
        if rest.len() < length {
            return None;
        }
        let (contents, rest) = rest.split_at(length);
        Some((tag, contents, rest))
    }

    /// The first element of `input` if it has tag `tag`: its contents and
    /// what follows it.
    pub(super) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (actual, contents, rest) = read(input)?;
        (actual == tag).then_some((contents, rest))
    }
}

/// Test keys, shared with the JWT tests.
#[cfg(test)]
pub(crate) mod test_keys {
    /// A 2048-bit RSA key, PKCS#1 (`openssl genrsa -traditional 2048`).
    pub(crate) const RSA_PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAz6VECjl8lbd164hiqPIt1lvUv2B4tFBZYJfI1fOKhsw6uUmE
pAVzOWtbv2MKLzeahCfarw1gr9QbTtuK2CQu/28wVQ/5XUx0vVW+/4vuG3hAMZSK
BG3gitWj9Q2RuEjONLCLwrSSEnvjzUzOaRYOnAFTlj2eocir7bveJ3WVQEfaRQbr
xCCgYFramK2Cnsut0p3FniVplBbQ8ctNYhwtYczr1vaqtyJ++bhNwcvc0WbyR4Ld
CIcTI30JksDB3fEerW3zUklEMR6/K64UqnflS5Lz3KVhk2EhhpC41ZlQQHxjlpdj
2BwxZy5zIAXpB44aojNfBI3J94fcZXoPUmFV0QIDAQABAoIBADEA7TJGh9bjcZJQ
4QvC/7tPd8FkeIgBUF6B47VOYPpX92Hj7kgxOxSpeAEOVAh5pF8c8riOPSuxsHIn
ULiarXa93FeuyehRU1mdg1JWyS41blzlE79g2PWa3rNF7QZjNDruEUW1jKWNFGFO
h4X4XSFHFN1nlGjU7XJQ/GgukTcWcSKbuHvix4AYkZIDiYUYVOr5MnsSFLfuKZh3
A927CyCcRLHI2QYpXIINl32YV3lcv2aygW3rvYINU0dmbycp+sR0OYXFiGokXi4W
QhEusMdf0yW6s4jy4g1J+VECi9MGW1tPypDRrxGE+YEMNoffGTr5c+bTXJSsYobQ
RZnBJhkCgYEA6Aks98QqzeJLjcbFmEZROdb7zvN0ZIqLvwKDPP+Y/Yy0mxa6EjoU
rnWVBhqBfY8lY2hx+ZpxAxx3V5RBBbpOZrGiW+YpZ0QcDOTgnXQ/qAGgu5z5iMsr
8m1NIlXCyQG/dgO6HmWfz3qtXwX/N0B0krxa9wIc10eVcjso668GHcUCgYEA5Rc7
kQJp8almWAH2bC9Q8u5U0N22MhVFsTyCxsIEt1Lf5sjmovL62fw6fkNtaU1syYx7
VwFBLnYni/ZgcVKupT1ZZnp7eYU98mY+dGYiF/aWzZ7WxRD2htiDNi8iGUgFR0Hj
1g0TlgSA9ldKF62ZcThz7hVnw2PANaBTuyMiBJ0CgYBsIoqQVR1VoZZwVigT1QFZ
oTTst0yQ5nhF5hffP4a+8ungNPE2OVcWDroKhCPArgtQjoY/OphcSNHdQLwkvTR4
a2Qsy9CTzYv8/lUnS9u2ojuT843fEEBE1GdUDv+dyXC+wPHl5JpbiOJvHE5aI3Gw
SJNj9doXAcdF2wgw/fotuQKBgQCzknl7mkPHTPzPIYKynIg8VDshmZjWOzxsyDzO
ZYji1lBxi6rVsdaWBhMno9zgfPM4LSkFMxOPwsgO+unwClqhZaxtGrcssxeyqRht
jx1MYVsmBErfIAPOAWsgjuOQo5aXm3tm7ssafZ9E+Xk3hDlRuWmOBzNVwhwJLQpV
Fx30NQKBgCy5BDveWUs+JhuYmaxwti2Wq59l6mzY8S0HbSvGJxO7rlnRmoSlIq1L
316N6jm1yATOwoyEqPDLVY7e2VZE1Sr707aEZ6Cto5UW3D+r2zyOL1CG0224a3lg
0ohOyJemtVYkjjvRYbCY4bGeBBcrj6Enqp4hCfIrU2A+f6dUT7PN
-----END RSA PRIVATE KEY-----
";

    /// [`RSA_PKCS1`] as PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`).
    pub(crate) const RSA_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPpUQKOXyVt3Xr
iGKo8i3WW9S/YHi0UFlgl8jV84qGzDq5SYSkBXM5a1u/YwovN5qEJ9qvDWCv1BtO
24rYJC7/bzBVD/ldTHS9Vb7/i+4beEAxlIoEbeCK1aP1DZG4SM40sIvCtJISe+PN
TM5pFg6cAVOWPZ6hyKvtu94ndZVAR9pFBuvEIKBgWtqYrYKey63SncWeJWmUFtDx
y01iHC1hzOvW9qq3In75uE3By9zRZvJHgt0IhxMjfQmSwMHd8R6tbfNSSUQxHr8r
rhSqd+VLkvPcpWGTYSGGkLjVmVBAfGOWl2PYHDFnLnMgBekHjhqiM18Ejcn3h9xl
eg9SYVXRAgMBAAECggEAMQDtMkaH1uNxklDhC8L/u093wWR4iAFQXoHjtU5g+lf3
YePuSDE7FKl4AQ5UCHmkXxzyuI49K7GwcidQuJqtdr3cV67J6FFTWZ2DUlbJLjVu
XOUTv2DY9Zres0XtBmM0Ou4RRbWMpY0UYU6HhfhdIUcU3WeUaNTtclD8aC6RNxZx
Ipu4e+LHgBiRkgOJhRhU6vkyexIUt+4pmHcD3bsLIJxEscjZBilcgg2XfZhXeVy/
ZrKBbeu9gg1TR2ZvJyn6xHQ5hcWIaiReLhZCES6wx1/TJbqziPLiDUn5UQKL0wZb
W0/KkNGvEYT5gQw2h98ZOvlz5tNclKxihtBFmcEmGQKBgQDoCSz3xCrN4kuNxsWY
RlE51vvO83Rkiou/AoM8/5j9jLSbFroSOhSudZUGGoF9jyVjaHH5mnEDHHdXlEEF
uk5msaJb5ilnRBwM5OCddD+oAaC7nPmIyyvybU0iVcLJAb92A7oeZZ/Peq1fBf83
QHSSvFr3AhzXR5VyOyjrrwYdxQKBgQDlFzuRAmnxqWZYAfZsL1Dy7lTQ3bYyFUWx
PILGwgS3Ut/myOai8vrZ/Dp+Q21pTWzJjHtXAUEudieL9mBxUq6lPVlment5hT3y
Zj50ZiIX9pbNntbFEPaG2IM2LyIZSAVHQePWDROWBID2V0oXrZlxOHPuFWfDY8A1
oFO7IyIEnQKBgGwiipBVHVWhlnBWKBPVAVmhNOy3TJDmeEXmF98/hr7y6eA08TY5
VxYOugqEI8CuC1COhj86mFxI0d1AvCS9NHhrZCzL0JPNi/z+VSdL27aiO5Pzjd8Q
QETUZ1QO/53JcL7A8eXkmluI4m8cTlojcbBIk2P12hcBx0XbCDD9+i25AoGBALOS
eXuaQ8dM/M8hgrKciDxUOyGZmNY7PGzIPM5liOLWUHGLqtWx1pYGEyej3OB88zgt
KQUzE4/CyA766fAKWqFlrG0atyyzF7KpGG2PHUxhWyYESt8gA84BayCO45Cjlpeb
e2buyxp9n0T5eTeEOVG5aY4HM1XCHAktClUXHfQ1AoGALLkEO95ZSz4mG5iZrHC2
LZarn2XqbNjxLQdtK8YnE7uuWdGahKUirUvfXo3qObXIBM7CjISo8MtVjt7ZVkTV
KvvTtoRnoK2jlRbcP6vbPI4vUIbTbbhreWDSiE7Il6a1ViSOO9FhsJjhsZ4EFyuP
oSeqniEJ8itTYD5/p1RPs80=
-----END PRIVATE KEY-----
";

    /// The public half of [`RSA_PKCS1`] as PKCS#1
    /// (`openssl rsa -RSAPublicKey_out`).
    pub(crate) const RSA_PKCS1_PUBLIC: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAz6VECjl8lbd164hiqPIt1lvUv2B4tFBZYJfI1fOKhsw6uUmEpAVz
OWtbv2MKLzeahCfarw1gr9QbTtuK2CQu/28wVQ/5XUx0vVW+/4vuG3hAMZSKBG3g
itWj9Q2RuEjONLCLwrSSEnvjzUzOaRYOnAFTlj2eocir7bveJ3WVQEfaRQbrxCCg
YFramK2Cnsut0p3FniVplBbQ8ctNYhwtYczr1vaqtyJ++bhNwcvc0WbyR4LdCIcT
I30JksDB3fEerW3zUklEMR6/K64UqnflS5Lz3KVhk2EhhpC41ZlQQHxjlpdj2Bwx
Zy5zIAXpB44aojNfBI3J94fcZXoPUmFV0QIDAQAB
-----END RSA PUBLIC KEY-----
";

    /// The key ID of [`RSA_PKCS1`]: `openssl rsa -pubout -outform DER |
    /// openssl dgst -sha256 -binary`, base64url without padding.
    pub(crate) const RSA_PKCS1_KEY_ID: &str = "F3obAp_WyhAJTMTLP75Ky0yMsTvh0C6sTXmMC0NZb0k";

    /// A second 2048-bit RSA key, PKCS#8.
    pub(crate) const RSA2_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDCKWGqkB5BGMJP
s5RgVSi/XtssD/oYTsMsJ+1XGMS9sBuxhVxfD7qcWdWKWvV2lZ4oqzbddgFSFEh5
2WrsK2mDSR5uYBUMcwW8uw1P1f6FN5Lg5qcmtDhft/LR3O+ga+kReGJ2FGQWxQwI
VIyclKN0UMVsmAgP6rQMVV8WwaZYFgWUlW/0v/5RbCo+UsEF0mFpj/OL3gKbnjKZ
9e2NAT4vysk7qrRl/sDa7yrI+gIGPD+WrFcN1iWPAR6fZmFodADhayjEasEZppK/
dNDm+zj8WiS320yx/gsqKAYpVCvJX4tCqV1ijpAYSfWBWRyne8kKJDRmBqh1wWyi
6y8WdSc5AgMBAAECggEAJIOtx2rlFa73VA/ctqUtTZgkNcwnZ4zgbZxwqTGSRm4p
NyByd7o4iRDn9OYYRZ3rqZBReCKqKup/mtLFpfagGD2XCIDvVHEJQi4XWc1P2XPT
HpKiGshH1dB9TPR06EGDCnMOaVB6ZkHWenaUHxphBw3toveQhJXKGIuxn1D53JSr
Pb0RDiHypU4UDj6ZaiuKeqohFg/1GEkjFORhoUseZWlt+rv8Ji64wZBdtwwfc/TM
zE/lJLTprD8DuHWHT4uV+PmM/8exUe1sZ16hXzIWJ1f3FGuYEjAAyjVJ2xu0Xp/I
MI42vm+I09YlZtH8o6VSIsqaTKg/x1RBZHzbySUPxQKBgQD5/t8Z4tHXaGsguNfA
AuOCmOmqinkZpjGWWC8/4t7uUiIpMv7HO6A58URRQCvLni9iMl2r2R+r1nTKRs3P
plIb8GGB21h5PW97XKGk/uwuKQJsaDVGfSmqELyDoC/OffgVKDwkcO5uh+kcFiZJ
8xYKkPZxs+XOsHgGf5q5bTHM5wKBgQDG0zVKpFfxNmGH4lqWe5y//KZ03o+HRMOM
na1eY6SntxyZ4d9becdWctXMRifJW6+2ga7+hpxhJU9+FeVSfSzvAPVBcDEaPBPm
FJn0DrQkXVyyN5+d28NOYWOdnNI0vj4hnxTQ08BXVPQhSVA0RdCH/T6v1J4Bo3id
5F+jK3/G3wKBgQCzXW9a1kdygsOiBZ0ecbQkZmv4ZUO/6GLZmMnFz5Pdb+Z8os7z
yU8LY5R9q0oA3KzoinR0sOKtWsAOxUAzRQTScOS009ilnDOZUfvUMubns5q+hwH6
YiD7mOh4k/zY7b6KB4UnLDOV8EOLWET+d7+PszRungE7C5gCKZmsgrDhbwKBgQCf
V+fO0VU1mNqjV3I4RgsDBo20/iVTSHXb/QZTrlHoo+UFIrOqETgDfXcBBnyecJ+r
CdXgYKt1Y7yIlS27ZVyck0z7S9neZ6We8IXNxfbzaet/XPrMPbMR3xVB3MvOv2T1
9xNspTfyBcC96I6hxg3w3rHdou2a7JMfH0bSc2stSwKBgQCDPtTuut3+Lhtf3EID
GhuSOQAVYRaqbsUTz3domgWgI17/gSPKVBf9JnfxFSEQX7URMaLH49TqK4oQO7x7
9qJj3dGSigffkdbgoWm3yxdmbwVKMDTd3ujK86dYBsiLYyf7VJYfIBp5iqdLT5KB
umCg8DppbXWdeVD6v2QEeGPqqg==
-----END PRIVATE KEY-----
";

    /// A P-256 key, SEC1 (`openssl ecparam -name prime256v1 -genkey -noout`).
    pub(crate) const EC_P256_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIIvlWDVL4QR5UfSWYsUh1u7mI308lnCaJcM89VUxoEP1oAoGCCqGSM49
AwEHoUQDQgAEBsg/qsyvWjn8Y5oBUSAjLUaf8dL43G0tRMWWD0x195LvoB9S/BEv
upVLHeXqOUweEw5n0iz1CxZx8/+fdEw4Sg==
-----END EC PRIVATE KEY-----
";

    /// The key ID of [`EC_P256_SEC1`] (from openssl, as for RSA).
    pub(crate) const EC_P256_SEC1_KEY_ID: &str = "05ZvQR4iY7BqnYymUztJCltRrV4XtbFXkp0rI9h-h4o";

    /// A P-384 key, SEC1 (`openssl ecparam -name secp384r1 -genkey -noout`).
    pub(crate) const EC_P384_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDBn8IKj0NOgIXTW/HDiuGfiz6KsSBrBlxWlodAqZWA5PE9qcPY0FXha
3fn8CQo+9zygBwYFK4EEACKhZANiAAQM/WdAaDulGDGCdAp0HsNWL0J7nuQa3sgG
Eq6RynBPLJjmw2MEtxsv01UqQ8tw7ttqbG5tOzpsX5x0pB+cymwPb6EPSJPAzIZ+
LcXx/btMcWydV9EO1NL/GSFMRQEh2bU=
-----END EC PRIVATE KEY-----
";

    /// The key ID of [`EC_P384_SEC1`] (from openssl).
    pub(crate) const EC_P384_SEC1_KEY_ID: &str = "pdBLBEbSFx_LGnL21sRng0Dvb21fLyMVI8khabm0zjo";

    /// An Ed25519 key, PKCS#8 (`openssl genpkey -algorithm ed25519`).
    pub(crate) const ED25519_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIHvaLWkW7Rq5+ySRSaYIEBr3hFdaao2hHzYQyYSIL73S
-----END PRIVATE KEY-----
";

    /// A P-521 public key (`openssl ec -pubout`).
    pub(crate) const EC_P521_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBA3nmRCsoBd/2dMqDnRaTvFVgTKvK
6SBOrvac5VZeQxqG0oTwD4YLw4SF5eCi3NUD5aivWA7V8ikyR2qyYyV097wB/qoI
YTDKS6Jwi8QojdfGxNOlYxAwKpfq6AJRMv19VzoKl02S/ebvVYMnB/X4tdX/Jx/i
GOBQ+G5UXvYd8iNpkUY=
-----END PUBLIC KEY-----
";

    /// A 1024-bit RSA public key (`openssl rsa -pubout`).
    pub(crate) const RSA_1024_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC0unviw6zEfSWr7viMx2KnWIva
WRivpVXY5P0q4qn78RhKOF7Yv0l5K/Xm6dbkhaYHLTlYRDE0ckHHFinUVPiDwmgN
5SP6UVhIr7+51eA7h2jwYgsl5RxmqfDPtqV8OQVQDGbqGdHgmjdoLWXyhuiINm/L
GFTqd9G0eG2/rO7BNQIDAQAB
-----END PUBLIC KEY-----
";

    /// A PEM block of `label` around `der`.
    pub(crate) fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for line in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    /// A fresh ECDSA key from rcgen (PKCS#8 PEM).
    pub(crate) fn generated(alg: &'static rcgen::SignatureAlgorithm) -> String {
        rcgen::KeyPair::generate_for(alg).unwrap().serialize_pem()
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;

    fn signing(pem: &str) -> SigningKey {
        SigningKey::from_pem(pem.as_bytes()).unwrap()
    }

    fn only_key(pem: &str) -> PublicKey {
        let mut keys = public_keys_from_pem(pem.as_bytes()).unwrap();
        assert_eq!(keys.len(), 1, "{pem}");
        keys.remove(0)
    }

    fn b64(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(s).unwrap()
    }

    /// A self-signed certificate of a PKCS#8 key.
    fn certificate(pkcs8_pem: &str, alg: &'static rcgen::SignatureAlgorithm) -> String {
        let key_pair = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(pkcs8_pem, alg).unwrap();
        rcgen::CertificateParams::new(vec!["service-accounts".to_owned()])
            .unwrap()
            .self_signed(&key_pair)
            .unwrap()
            .pem()
    }

    fn assert_round_trip(key: &SigningKey, algorithm: Algorithm) {
        let public = key.public_key();
        assert_eq!(public.algorithm(), algorithm);
        let message = b"header.payload";
        let signature = key.sign(message).unwrap();
        assert!(public.verify(message, &signature));
        assert!(!public.verify(b"header.payloaD", &signature));
        let mut flipped = signature.clone();
        flipped[0] ^= 1;
        assert!(!public.verify(message, &flipped));
        assert!(!public.verify(message, &signature[1..]));
        assert!(!public.verify(message, &[]));
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(Algorithm::Rs256.as_str(), "RS256");
        assert_eq!(Algorithm::Es256.as_str(), "ES256");
        assert_eq!(Algorithm::Es384.to_string(), "ES384");
    }

    #[test]
    fn rsa_pkcs1_signs_and_verifies() {
        let key = signing(RSA_PKCS1);
        assert_round_trip(&key, Algorithm::Rs256);
        assert_eq!(key.sign(b"m").unwrap().len(), 256);
    }

    #[test]
    fn rsa_pkcs8_signs_and_verifies() {
        assert_round_trip(&signing(RSA_PKCS8), Algorithm::Rs256);
    }

    #[test]
    fn ec_sec1_p256_signs_and_verifies() {
        let key = signing(EC_P256_SEC1);
        assert_round_trip(&key, Algorithm::Es256);
        assert_eq!(key.sign(b"m").unwrap().len(), 64);
    }

    #[test]
    fn ec_sec1_p384_signs_and_verifies() {
        let key = signing(EC_P384_SEC1);
        assert_round_trip(&key, Algorithm::Es384);
        assert_eq!(key.sign(b"m").unwrap().len(), 96);
    }

    #[test]
    fn ec_pkcs8_signs_and_verifies() {
        assert_round_trip(
            &signing(&generated(&rcgen::PKCS_ECDSA_P256_SHA256)),
            Algorithm::Es256,
        );
        assert_round_trip(
            &signing(&generated(&rcgen::PKCS_ECDSA_P384_SHA384)),
            Algorithm::Es384,
        );
    }

    #[test]
    fn sec1_without_curve_parameters_tries_p256_then_p384() {
        for (pem, algorithm) in [
            (EC_P256_SEC1, Algorithm::Es256),
            (EC_P384_SEC1, Algorithm::Es384),
        ] {
            let (_, der) = <(SectionKind, Vec<u8>)>::from_pem_slice(pem.as_bytes()).unwrap();
            // ECPrivateKey { version, privateKey, [0] parameters, [1] publicKey }
            // without [0].
            let (key, _) = der::expect(&der, der::SEQUENCE).unwrap();
            let (_, version, rest) = der::read(key).unwrap();
            let (_, private_key, rest) = der::read(rest).unwrap();
            let (_, _parameters, rest) = der::read(rest).unwrap();
            let stripped = der::sequence(&[
                &der::tlv(der::INTEGER, version),
                &der::octet_string(private_key),
                rest,
            ]);
            assert_eq!(sec1_named_curve(&stripped), None);
            let key = signing(&pem_of("EC PRIVATE KEY", &stripped));
            assert_round_trip(&key, algorithm);
            assert_eq!(key.public_key(), signing(pem).public_key());
        }
    }

    fn pem_of(label: &str, der: &[u8]) -> String {
        test_keys::pem(label, der)
    }

    #[test]
    fn signature_from_one_key_fails_with_another() {
        let keys = [
            signing(RSA_PKCS1),
            signing(RSA2_PKCS8),
            signing(EC_P256_SEC1),
            signing(&generated(&rcgen::PKCS_ECDSA_P256_SHA256)),
            signing(EC_P384_SEC1),
        ];
        let message = b"claims";
        for (i, signer) in keys.iter().enumerate() {
            let signature = signer.sign(message).unwrap();
            for (j, verifier) in keys.iter().enumerate() {
                assert_eq!(
                    verifier.public_key().verify(message, &signature),
                    i == j,
                    "{i} {j}"
                );
            }
        }
    }

    #[test]
    fn key_ids_match_openssl_spki() {
        assert_eq!(signing(RSA_PKCS1).public_key().key_id(), RSA_PKCS1_KEY_ID);
        assert_eq!(
            signing(EC_P256_SEC1).public_key().key_id(),
            EC_P256_SEC1_KEY_ID
        );
        assert_eq!(
            signing(EC_P384_SEC1).public_key().key_id(),
            EC_P384_SEC1_KEY_ID
        );
    }

    #[test]
    fn rsa_encodings_give_one_key_id() {
        let expected = signing(RSA_PKCS1).public_key().clone();
        let spki = pem_of("PUBLIC KEY", expected.spki_der());
        let cert = certificate(RSA_PKCS8, &rcgen::PKCS_RSA_SHA256);
        for pem in [
            RSA_PKCS1,
            RSA_PKCS8,
            RSA_PKCS1_PUBLIC,
            spki.as_str(),
            cert.as_str(),
        ] {
            let key = only_key(pem);
            assert_eq!(key, expected, "{pem}");
            assert_eq!(key.key_id(), RSA_PKCS1_KEY_ID);
        }
        assert_eq!(signing(RSA_PKCS8).public_key(), &expected);
    }

    #[test]
    fn ec_encodings_give_one_key_id() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
        ] {
            let pkcs8 = generated(alg);
            let expected = signing(&pkcs8).public_key().clone();
            let public = rcgen::KeyPair::from_pem(&pkcs8).unwrap().public_key_pem();
            let cert = certificate(&pkcs8, alg);
            for pem in [pkcs8.as_str(), public.as_str(), cert.as_str()] {
                assert_eq!(only_key(pem).key_id(), expected.key_id(), "{pem}");
            }
        }
        let sec1 = signing(EC_P256_SEC1);
        assert_eq!(only_key(EC_P256_SEC1), *sec1.public_key());
        // The SEC1 key wrapped as PKCS#8, as a certificate.
        let (_, der) = <(SectionKind, Vec<u8>)>::from_pem_slice(EC_P256_SEC1.as_bytes()).unwrap();
        let pkcs8 = pem_of("PRIVATE KEY", &sec1_to_pkcs8(Curve::P256, &der));
        assert_eq!(only_key(&pkcs8).key_id(), EC_P256_SEC1_KEY_ID);
        let cert = certificate(&pkcs8, &rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(only_key(&cert).key_id(), EC_P256_SEC1_KEY_ID);
    }

    #[test]
    fn rsa_jwk_fields() {
        let key = signing(RSA_PKCS1).public_key().clone();
        let jwk = key.jwk();
        assert_eq!(
            (jwk.key_use, jwk.kty, jwk.alg, jwk.crv),
            ("sig", "RSA", "RS256", None)
        );
        assert_eq!(jwk.kid, RSA_PKCS1_KEY_ID);
        assert_eq!((&jwk.x, &jwk.y), (&None, &None));
        let (n, e) = (
            b64(jwk.n.as_deref().unwrap()),
            b64(jwk.e.as_deref().unwrap()),
        );
        assert_eq!(n.len(), 256);
        assert_ne!(n[0], 0);
        assert_eq!(e, [1, 0, 1]);
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        // n and e re-encode to the SubjectPublicKeyInfo.
        let pkcs1 = der::sequence(&[&der::unsigned_integer(&n), &der::unsigned_integer(&e)]);
        assert_eq!(spki_from_pkcs1(&pkcs1), key.spki_der());
        let json = serde_json::to_string(&jwk).unwrap();
        let prefix =
            format!(r#"{{"use":"sig","kty":"RSA","kid":"{RSA_PKCS1_KEY_ID}","alg":"RS256","n":""#);
        assert!(json.starts_with(&prefix), "{json}");
        assert!(json.ends_with(r#"","e":"AQAB"}"#), "{json}");
    }

    #[test]
    fn ec_jwk_fields() {
        for (pem, crv, alg, size) in [
            (EC_P256_SEC1, "P-256", "ES256", 32),
            (EC_P384_SEC1, "P-384", "ES384", 48),
        ] {
            let key = signing(pem).public_key().clone();
            let jwk = key.jwk();
            assert_eq!(
                (jwk.key_use, jwk.kty, jwk.alg, jwk.crv),
                ("sig", "EC", alg, Some(crv))
            );
            assert_eq!(jwk.kid, key.key_id());
            assert_eq!((&jwk.n, &jwk.e), (&None, &None));
            let (x, y) = (
                b64(jwk.x.as_deref().unwrap()),
                b64(jwk.y.as_deref().unwrap()),
            );
            assert_eq!((x.len(), y.len()), (size, size));
            let point = [&[4u8][..], &x, &y].concat();
            let curve = if size == 32 { Curve::P256 } else { Curve::P384 };
            assert_eq!(ec_spki(curve, &point), key.spki_der());
            let json = serde_json::to_string(&jwk).unwrap();
            let prefix = format!(
                r#"{{"use":"sig","kty":"EC","kid":"{}","crv":"{crv}","alg":"{alg}","x":""#,
                key.key_id()
            );
            assert!(json.starts_with(&prefix), "{json}");
            assert!(json.contains(r#"","y":""#), "{json}");
        }
    }

    #[test]
    fn ec_jwk_coordinates_keep_leading_zeros() {
        // Keys until one has a coordinate starting with a zero byte.
        for _ in 0..2000 {
            let key = signing(&generated(&rcgen::PKCS_ECDSA_P256_SHA256))
                .public_key()
                .clone();
            let Material::Ec { point, .. } = &key.material else {
                unreachable!()
            };
            if point[1] == 0 || point[33] == 0 {
                let jwk = key.jwk();
                assert_eq!(b64(jwk.x.as_deref().unwrap()).len(), 32);
                assert_eq!(b64(jwk.y.as_deref().unwrap()).len(), 32);
                return;
            }
        }
        panic!("no key with a leading zero coordinate byte");
    }

    #[test]
    fn unsupported_keys_name_what_is_supported() {
        let err = SigningKey::from_pem(ED25519_PKCS8.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Ed25519") && err.contains(SUPPORTED), "{err}");

        let (_, der) = <(SectionKind, Vec<u8>)>::from_pem_slice(EC_P521_PUBLIC.as_bytes()).unwrap();
        let err = PublicKey::from_spki_der(&der).unwrap_err().to_string();
        assert!(err.contains("P-521") && err.contains(SUPPORTED), "{err}");

        let (_, der) =
            <(SectionKind, Vec<u8>)>::from_pem_slice(RSA_1024_PUBLIC.as_bytes()).unwrap();
        let err = PublicKey::from_spki_der(&der).unwrap_err().to_string();
        assert!(err.contains("1024 bits"), "{err}");

        // An Ed25519 SubjectPublicKeyInfo.
        let ed = der::sequence(&[
            &der::sequence(&[&der::oid(OID_ED25519)]),
            &der::bit_string(&[7; 32]),
        ]);
        let err = PublicKey::from_spki_der(&ed).unwrap_err().to_string();
        assert!(err.contains("Ed25519") && err.contains(SUPPORTED), "{err}");

        // An unknown algorithm is named by its OID.
        let unknown = der::sequence(&[
            &der::sequence(&[&der::oid(&[0x2a, 0x03])]),
            &der::bit_string(&[1]),
        ]);
        let err = PublicKey::from_spki_der(&unknown).unwrap_err().to_string();
        assert!(err.contains("OID 1.2.3"), "{err}");

        // A compressed P-256 point.
        let key = signing(EC_P256_SEC1);
        let Material::Ec { point, .. } = &key.public_key().material else {
            unreachable!()
        };
        let mut compressed = vec![2 | (point[64] & 1)];
        compressed.extend_from_slice(&point[1..33]);
        let err = PublicKey::from_spki_der(&ec_spki(Curve::P256, &compressed))
            .unwrap_err()
            .to_string();
        assert!(err.contains("uncompressed"), "{err}");

        // A P-256 point under the P-384 OID.
        let err = PublicKey::from_spki_der(&ec_spki(Curve::P384, point))
            .unwrap_err()
            .to_string();
        assert!(err.contains("P-384"), "{err}");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let err = public_keys_from_pem(b"not pem at all")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "data does not contain any valid RSA or ECDSA public keys"
        );

        let err = SigningKey::from_pem(b"").unwrap_err().to_string();
        assert!(err.contains("no private key found"), "{err}");

        let err = SigningKey::from_pem(RSA_PKCS1_PUBLIC.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no private key found"), "{err}");

        let garbage = pem_of("PUBLIC KEY", b"\x30\x03\x02\x01\x00");
        let err = public_keys_from_pem(garbage.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("data does not contain any valid RSA or ECDSA public keys (PEM block 1 (PUBLIC KEY): invalid SubjectPublicKeyInfo"), "{err}");

        for label in ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] {
            let garbage = pem_of(label, b"\x30\x03\x02\x01\x00");
            let err = SigningKey::from_pem(garbage.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(label), "{err}");
        }

        let err = PublicKey::from_spki_der(b"").unwrap_err().to_string();
        assert!(err.contains("invalid SubjectPublicKeyInfo"), "{err}");
        let mut trailing = signing(EC_P256_SEC1).public_key().spki_der().to_vec();
        trailing.push(0);
        let err = PublicKey::from_spki_der(&trailing).unwrap_err().to_string();
        assert!(err.contains("trailing"), "{err}");

        let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let err = public_keys_from_pem(bad_base64.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid PEM"), "{err}");

        let unterminated = "-----BEGIN RSA PUBLIC KEY-----\nMIIB\n";
        let err = public_keys_from_pem(unterminated.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no END line"), "{err}");
    }

    #[test]
    fn public_key_file_reads_every_key_in_order_and_skips_other_blocks() {
        let ec_parameters =
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
        let pem = [
            "leading text\n",
            ec_parameters,
            EC_P256_SEC1,
            RSA_PKCS1_PUBLIC,
            RSA_1024_PUBLIC,
            EC_P384_SEC1,
            RSA_PKCS1_PUBLIC,
            EC_P521_PUBLIC,
            "trailing text\n",
        ]
        .concat();
        let keys = public_keys_from_pem(pem.as_bytes()).unwrap();
        let ids: Vec<String> = keys.iter().map(PublicKey::key_id).collect();
        assert_eq!(
            ids,
            [
                EC_P256_SEC1_KEY_ID,
                RSA_PKCS1_KEY_ID,
                EC_P384_SEC1_KEY_ID,
                RSA_PKCS1_KEY_ID
            ]
        );
    }

    #[test]
    fn load_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.key");
        let err = format!("{:#}", SigningKey::load(&missing).unwrap_err());
        assert!(err.contains("missing.key"), "{err}");
        let err = format!("{:#}", load_public_keys(&missing).unwrap_err());
        assert!(err.contains("missing.key"), "{err}");

        let path = dir.path().join("sa.key");
        std::fs::write(&path, EC_P256_SEC1).unwrap();
        assert_eq!(
            SigningKey::load(&path).unwrap().public_key().key_id(),
            EC_P256_SEC1_KEY_ID
        );
        assert_eq!(
            load_public_keys(&path).unwrap()[0].key_id(),
            EC_P256_SEC1_KEY_ID
        );

        let empty = dir.path().join("empty.pub");
        std::fs::write(&empty, "").unwrap();
        let err = format!("{:#}", load_public_keys(&empty).unwrap_err());
        assert!(
            err.contains("empty.pub") && err.contains("does not contain any valid"),
            "{err}"
        );
    }

    #[test]
    fn signing_key_debug_hides_the_private_key() {
        let debug = format!("{:?}", signing(RSA_PKCS1));
        assert!(
            debug.starts_with("SigningKey { public_key: PublicKey"),
            "{debug}"
        );
    }

    #[test]
    fn der_writer_encodes_lengths_and_integers() {
        assert_eq!(der::tlv(der::OCTET_STRING, &[]), [0x04, 0x00]);
        assert_eq!(der::tlv(der::OCTET_STRING, &[0; 127])[..2], [0x04, 0x7f]);
        assert_eq!(
            der::tlv(der::OCTET_STRING, &[0; 128])[..3],
            [0x04, 0x81, 0x80]
        );
        assert_eq!(
            der::tlv(der::OCTET_STRING, &[0; 255])[..3],
            [0x04, 0x81, 0xff]
        );
        assert_eq!(
            der::tlv(der::OCTET_STRING, &[0; 256])[..4],
            [0x04, 0x82, 0x01, 0x00]
        );
        assert_eq!(
            der::tlv(der::OCTET_STRING, &[0; 65536])[..5],
            [0x04, 0x83, 0x01, 0x00, 0x00]
        );
        assert_eq!(der::unsigned_integer(&[]), [0x02, 0x01, 0x00]);
        assert_eq!(der::unsigned_integer(&[0, 0]), [0x02, 0x01, 0x00]);
        assert_eq!(der::unsigned_integer(&[0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(der::unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(
            der::unsigned_integer(&[0, 1, 0, 1]),
            [0x02, 0x03, 0x01, 0x00, 0x01]
        );
        assert_eq!(der::bit_string(&[0xff]), [0x03, 0x02, 0x00, 0xff]);
        assert_eq!(der::null(), [0x05, 0x00]);
        assert_eq!(
            der::oid(OID_P384),
            [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]
        );
        assert_eq!(
            der::sequence(&[&der::null(), &der::unsigned_integer(&[1])]),
            [0x30, 0x05, 0x05, 0x00, 0x02, 0x01, 0x01]
        );
    }

    #[test]
    fn der_reader_reads_what_the_writer_writes() {
        for len in [0usize, 1, 127, 128, 255, 256, 70000] {
            let contents = vec![0xab; len];
            let mut encoded = der::octet_string(&contents);
            encoded.extend_from_slice(&[0x05, 0x00]);
            let (tag, read, rest) = der::read(&encoded).unwrap();
            assert_eq!(
                (tag, read, rest),
                (der::OCTET_STRING, contents.as_slice(), &[0x05, 0x00][..])
            );
            // A truncated element is rejected, not a panic.
            let element = encoded.len() - 2;
            for cut in [0, 1, 2, 3, element.saturating_sub(1)] {
                if cut < element {
                    assert!(der::read(&encoded[..cut]).is_none(), "{len} {cut}");
                }
            }
        }
        assert!(der::read(&[0x04, 0x80]).is_none(), "indefinite length");
        assert!(der::read(&[0x1f, 0x01, 0x00]).is_none(), "multi-byte tag");
        assert!(der::read(&[0x04, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_none());
        assert!(der::read(&[0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_none());
        assert_eq!(der::expect(&der::null(), der::SEQUENCE), None);
        let (_, private_key_info) =
            <(SectionKind, Vec<u8>)>::from_pem_slice(RSA_PKCS8.as_bytes()).unwrap();
        assert_eq!(
            pkcs8_algorithm(&private_key_info),
            Some((OID_RSA_ENCRYPTION, None))
        );
        let (_, sec1) = <(SectionKind, Vec<u8>)>::from_pem_slice(EC_P384_SEC1.as_bytes()).unwrap();
        assert_eq!(sec1_named_curve(&sec1), Some(OID_P384));
        assert_eq!(
            pkcs8_algorithm(&sec1_to_pkcs8(Curve::P384, &sec1)),
            Some((OID_EC_PUBLIC_KEY, Some(OID_P384)))
        );
    }
}
