//! Bytes on the wire: the TCP or TLS stream to the server, the line codec, and the
//! redaction that keeps passwords out of trace logs.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_util::codec::{Decoder, Encoder};

use crate::config::IrcConfig;

/// A connected stream to the server, plain or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The longest line accepted from the server: 8 191 bytes of IRCv3 tags plus a 512-byte
/// message. A longer one means a broken or hostile server: the connection is dropped.
const MAX_INBOUND_LINE: usize = 8191 + 512;

/// Opens the TCP connection, and the TLS session on it when configured.
pub async fn connect(config: &IrcConfig) -> std::io::Result<Box<dyn Io>> {
    let port = config.server.port_or_default(config.tls);
    let tcp = TcpStream::connect((config.server.host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    if !config.tls {
        return Ok(Box::new(tcp));
    }
    let connector = TlsConnector::from(Arc::new(tls_config(config.tls_insecure)));
    let server_name = rustls::pki_types::ServerName::try_from(config.server.host.clone())
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    let tls = connector.connect(server_name, tcp).await?;
    Ok(Box::new(tls))
}

fn tls_config(insecure: bool) -> ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    if insecure {
        return builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
    }
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "could not load a system CA certificate");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::warn!("no system CA certificates found: TLS connections will fail to verify");
    }
    builder.with_root_certificates(roots).with_no_client_auth()
}

/// `IRC_TLS_INSECURE=1`: any certificate is accepted (signatures are still checked, so
/// the session is encrypted, but the server is not authenticated).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// IRC lines: CR LF (or a bare LF) terminated. Bytes that are not UTF-8 are replaced
/// (IRC has no encoding negotiation and Latin-1 users exist): one odd line must not end
/// the connection, which is what a strict UTF-8 codec does.
#[derive(Debug, Default)]
pub struct LineCodec {
    /// Where to resume looking for `\n` in the buffer.
    searched: usize,
}

impl Decoder for LineCodec {
    type Item = String;
    type Error = std::io::Error;

    fn decode(&mut self, buffer: &mut BytesMut) -> Result<Option<String>, std::io::Error> {
        let Some(offset) = buffer[self.searched..]
            .iter()
            .position(|byte| *byte == b'\n')
        else {
            self.searched = buffer.len();
            if buffer.len() > MAX_INBOUND_LINE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the server sent a line longer than {MAX_INBOUND_LINE} bytes"),
                ));
            }
            return Ok(None);
        };
        let end = self.searched + offset;
        self.searched = 0;
        let line = buffer.split_to(end + 1);
        let text = &line[..end];
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        Ok(Some(String::from_utf8_lossy(text).into_owned()))
    }
}

impl Encoder<String> for LineCodec {
    type Error = std::io::Error;

    fn encode(&mut self, line: String, buffer: &mut BytesMut) -> Result<(), std::io::Error> {
        // A line break inside would smuggle in a second command.
        if line.contains(['\r', '\n', '\0']) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an IRC line cannot contain CR, LF or NUL",
            ));
        }
        buffer.reserve(line.len() + 2);
        buffer.put_slice(line.as_bytes());
        buffer.put_slice(b"\r\n");
        Ok(())
    }
}

/// `line` with every secret replaced by `***`, for trace logs: the parameters of PASS,
/// OPER and AUTHENTICATE (but its mechanism names), and the keys of a JOIN.
pub fn redact(line: &str) -> Cow<'_, str> {
    let mut words = line.splitn(3, ' ');
    let command = words.next().unwrap_or_default();
    let first = words.next();
    match command.to_ascii_uppercase().as_str() {
        "PASS" | "OPER" => Cow::Owned(format!("{command} ***")),
        "AUTHENTICATE" => match first {
            Some("PLAIN" | "EXTERNAL" | "+" | "*") => Cow::Borrowed(line),
            _ => Cow::Owned(format!("{command} ***")),
        },
        "JOIN" if words.next().is_some() => {
            Cow::Owned(format!("{command} {} ***", first.unwrap_or_default()))
        }
        _ => Cow::Borrowed(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_on_lf_with_or_without_cr_and_decoded_lossily() {
        let mut codec = LineCodec::default();
        let mut buffer = BytesMut::from(&b"PING :a\r\nPRIVMSG #c :caf\xe9\nPART"[..]);
        assert_eq!(codec.decode(&mut buffer).unwrap().unwrap(), "PING :a");
        assert_eq!(
            codec.decode(&mut buffer).unwrap().unwrap(),
            "PRIVMSG #c :caf\u{fffd}"
        );
        assert_eq!(codec.decode(&mut buffer).unwrap(), None);
        buffer.extend_from_slice(b" #c\r\n");
        assert_eq!(codec.decode(&mut buffer).unwrap().unwrap(), "PART #c");
    }

    #[test]
    fn an_endless_line_is_an_error_and_line_breaks_cannot_be_smuggled_out() {
        let mut codec = LineCodec::default();
        let mut buffer = BytesMut::from(&vec![b'a'; MAX_INBOUND_LINE + 1][..]);
        assert!(codec.decode(&mut buffer).is_err());
        let mut out = BytesMut::new();
        assert!(
            codec
                .encode("PRIVMSG #c :a\r\nQUIT".to_owned(), &mut out)
                .is_err()
        );
        codec.encode("PRIVMSG #c :a".to_owned(), &mut out).unwrap();
        assert_eq!(&out[..], b"PRIVMSG #c :a\r\n");
    }

    #[test]
    fn secrets_are_redacted_from_logged_lines() {
        assert_eq!(redact("PASS hunter2"), "PASS ***");
        assert_eq!(redact("OPER me hunter2"), "OPER ***");
        assert_eq!(redact("AUTHENTICATE PLAIN"), "AUTHENTICATE PLAIN");
        assert_eq!(
            redact("AUTHENTICATE Ym90AGJvdABodW50ZXIy"),
            "AUTHENTICATE ***"
        );
        assert_eq!(redact("JOIN #a,#b key1,key2"), "JOIN #a,#b ***");
        assert_eq!(redact("JOIN #a"), "JOIN #a");
        assert_eq!(redact("PRIVMSG #c :hello"), "PRIVMSG #c :hello");
    }
}
