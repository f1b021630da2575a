//! TLS with rustls (ring provider, the one already in Sluice's dependency tree).
//!
//! PostgreSQL negotiates TLS in-band: the client sends an SSLRequest, the server answers one
//! byte, `S` (go ahead) or `N` (no TLS here), and on `S` the TLS handshake starts on the same
//! socket. `prefer` and `require` follow libpq and do not check the certificate (they only
//! stop passive sniffing); `verify-full` checks the chain and that the certificate names the
//! host, the only mode that stops an active man in the middle without channel binding.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::config::TlsMode;
use super::error::ReplicationError;

/// Runs the TLS handshake on a socket whose SSLRequest the server accepted.
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    mode: &TlsMode,
) -> Result<TlsStream<TcpStream>, ReplicationError> {
    let connector = TlsConnector::from(Arc::new(client_config(mode)?));
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        ReplicationError::Config(format!("host {host:?} is not a valid TLS server name"))
    })?;
    connector
        .connect(name, tcp)
        .await
        .map_err(ReplicationError::from_tls_io)
}

/// The rustls client configuration of `mode`, shared by the replication connection and
/// [`connect_sql_client`](crate::connect_sql_client) so both trust exactly the same.
pub(crate) fn client_config(mode: &TlsMode) -> Result<ClientConfig, ReplicationError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ReplicationError::TlsConfig(e.to_string()))?;
    let mut config = match mode {
        TlsMode::VerifyFull { ca_file } => builder
            .with_root_certificates(trusted_roots(ca_file.as_deref())?)
            .with_no_client_auth(),
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
    };
    // What libpq 17 sends; servers before 17 ignore it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

fn trusted_roots(ca_file: Option<&Path>) -> Result<RootCertStore, ReplicationError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let unreadable = |e: rustls::pki_types::pem::Error| {
                ReplicationError::TlsConfig(format!(
                    "cannot read the CA file {} (sslrootcert): {e}",
                    path.display()
                ))
            };
            for certificate in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
                roots.add(certificate.map_err(unreadable)?).map_err(|e| {
                    ReplicationError::TlsConfig(format!(
                        "the CA file {} holds an unusable certificate: {e}",
                        path.display()
                    ))
                })?;
            }
            if roots.is_empty() {
                return Err(ReplicationError::TlsConfig(format!(
                    "the CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            for error in &native.errors {
                tracing::warn!(%error, "could not load some of the system's root certificates");
            }
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(ReplicationError::TlsConfig(
                    "sslmode=verify-full without sslrootcert, and the system has no trusted \
                     root certificates: set sslrootcert to the CA that signed the server's \
                     certificate"
                        .into(),
                ));
            }
        }
    }
    Ok(roots)
}

/// The verifier of `prefer` and `require`: any certificate is accepted, but the handshake
/// signatures are still checked (so the peer holds the key of the certificate it showed,
/// which keeps channel binding meaningful).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `tls-server-end-point` channel binding data (RFC 5929 section 4.1): the certificate
/// hashed with the hash of its own signature algorithm, SHA-256 when that is MD5 or SHA-1.
/// `None` for algorithms that name no single hash (Ed25519, RSA-PSS): PostgreSQL's libpq
/// cannot bind those either, and SCRAM then goes on without channel binding.
pub(crate) fn server_end_point(certificate_der: &[u8]) -> Option<Vec<u8>> {
    let algorithm = match signature_algorithm_oid(certificate_der)? {
        // md5WithRSAEncryption, sha1WithRSAEncryption, sha256WithRSAEncryption
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x04 | 0x05 | 0x0B]
        // ecdsa-with-SHA1, ecdsa-with-SHA256
        | [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x01]
        | [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02] => &ring::digest::SHA256,
        // sha384WithRSAEncryption, ecdsa-with-SHA384
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C]
        | [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03] => &ring::digest::SHA384,
        // sha512WithRSAEncryption, ecdsa-with-SHA512
        [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D]
        | [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04] => &ring::digest::SHA512,
        _ => return None,
    };
    Some(
        ring::digest::digest(algorithm, certificate_der)
            .as_ref()
            .to_vec(),
    )
}

/// The OID (content octets) of `Certificate.signatureAlgorithm.algorithm`:
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, ... }`.
fn signature_algorithm_oid(der: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    let (certificate, _) = der_element(der, SEQUENCE)?;
    let (_tbs, rest) = der_element(certificate, SEQUENCE)?;
    let (algorithm_identifier, _) = der_element(rest, SEQUENCE)?;
    let (oid, _) = der_element(algorithm_identifier, OID)?;
    Some(oid)
}

/// Splits one DER element with the expected tag off `input`: (contents, rest).
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, input) = input.split_first()?;
    if actual != tag {
        return None;
    }
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || input.len() < count {
            return None;
        }
        let (bytes, rest) = input.split_at(count);
        input = rest;
        bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b))
    };
    (input.len() >= len).then(|| input.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate skeleton: SEQUENCE { SEQUENCE {tbs}, SEQUENCE { OID, NULL }, BITSTRING }.
    fn skeleton(oid: &[u8], tbs_len: usize) -> Vec<u8> {
        fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            if content.len() < 0x80 {
                out.push(content.len() as u8);
            } else {
                out.push(0x82);
                out.extend_from_slice(&(content.len() as u16).to_be_bytes());
            }
            out.extend_from_slice(content);
            out
        }
        let tbs = tlv(0x30, &vec![0xAB; tbs_len]);
        let mut algorithm = tlv(0x06, oid);
        algorithm.extend_from_slice(&[0x05, 0x00]);
        let algorithm = tlv(0x30, &algorithm);
        let signature = tlv(0x03, &[0x00, 0x01, 0x02]);
        tlv(0x30, &[tbs, algorithm, signature].concat())
    }

    #[test]
    fn hashes_with_the_signature_algorithms_hash() {
        let sha256_rsa = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
        let sha384_ecdsa = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
        let sha1_rsa = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05];
        for (oid, len) in [
            (&sha256_rsa[..], 32),
            (&sha384_ecdsa[..], 48),
            (&sha1_rsa[..], 32),
        ] {
            for tbs_len in [10, 300] {
                let der = skeleton(oid, tbs_len);
                let hash = server_end_point(&der).expect("known algorithm");
                assert_eq!(hash.len(), len);
            }
        }
        let ed25519 = [0x2B, 0x65, 0x70];
        assert_eq!(server_end_point(&skeleton(&ed25519, 10)), None);
    }

    #[test]
    fn survives_garbage() {
        for der in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x05, 0x30, 0x10],
        ] {
            assert_eq!(server_end_point(der), None);
        }
    }
}
