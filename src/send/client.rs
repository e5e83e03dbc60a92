//! The SMTP client: relay settings in, a connection out that sends one message at a time and says
//! how each attempt ended. Built on lettre's `AsyncSmtpConnection` over a socket we open ourselves,
//! so that TCP_NODELAY is set (the released lettre leaves Nagle's algorithm on, which stalls every
//! message about 40 ms) and so that the caller knows the exact phase a failure happened in.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::Mechanism;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{Extension, MailParameter};
use lettre::Address;

pub use super::settings::{SettingError, Settings};

use crate::config::Security;

/// How an SMTP exchange ended badly.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmtpError {
    /// The relay refused for good (5xx): retrying will not help.
    #[error("{code} {reply}")]
    Permanent { code: u16, reply: String },
    /// The relay refused for now (4xx): try again later.
    #[error("{code} {reply}")]
    Transient { code: u16, reply: String },
    /// The connection failed, broke or timed out.
    #[error("{0}")]
    Connection(String),
    /// A setting that no retry fixes: no STARTTLS offered, credentials refused, bad certificate.
    #[error("{0}")]
    Setup(String),
}

impl SmtpError {
    pub fn code(&self) -> Option<u16> {
        match self {
            SmtpError::Permanent { code, .. } | SmtpError::Transient { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The relay's own words, or what went wrong on the way to it.
    pub fn reply(&self) -> String {
        match self {
            SmtpError::Permanent { reply, .. } | SmtpError::Transient { reply, .. } => {
                reply.clone()
            }
            SmtpError::Connection(m) | SmtpError::Setup(m) => m.clone(),
        }
    }

    fn from_lettre(e: lettre::transport::smtp::Error) -> SmtpError {
        let text = reply_text(&e);
        match e.status() {
            Some(code) if e.is_permanent() => SmtpError::Permanent {
                code: code.into(),
                reply: text,
            },
            Some(code) => SmtpError::Transient {
                code: code.into(),
                reply: text,
            },
            None if e.is_tls() => SmtpError::Setup(format!("TLS: {}", certificate_hint(&text))),
            None => SmtpError::Connection(text),
        }
    }
}

/// A certificate refusal, with what to do about it: rustls names the cause in its own terms
/// (`UnknownIssuer`, `CaUsedAsEndEntity`, `NotValidForName`).
fn certificate_hint(text: &str) -> String {
    let hint = if text.contains("UnknownIssuer") || text.contains("CaUsedAsEndEntity") {
        Some("the relay's certificate is not signed by a public authority (self-signed, or by your institute's own CA): if you trust it, set ca_file to that certificate (or to the CA's), which bulletin then pins")
    } else if text.contains("NotValidForName") {
        Some("the relay's certificate is not made out to the host name in the config: use the name the certificate names as host")
    } else if text.contains("Expired") {
        Some("the relay's certificate has expired: its administrator must renew it")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{text}: {h}"),
        None => text.to_string(),
    }
}

/// The text of a lettre error without its "permanent error (550):" prefix.
fn reply_text(e: &lettre::transport::smtp::Error) -> String {
    let mut src = std::error::Error::source(e);
    let mut text = e.to_string();
    if let Some(s) = src.take() {
        text = s.to_string();
    }
    text.trim().to_string()
}

/// The extensions an EHLO reply offers, upper-cased keywords (`STARTTLS`, `AUTH`).
fn ehlo_offers(ehlo: &lettre::transport::smtp::response::Response) -> Vec<String> {
    ehlo.message()
        .skip(1)
        .filter_map(|l| l.split([' ', '=']).next())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Why logging in cannot work on this connection, in words that say what to change: the
/// relay offers no AUTH (before STARTTLS, or at all), or none of the mechanisms bulletin
/// speaks (PLAIN, LOGIN). `auth` holds the mechanisms of each AUTH line of the EHLO reply.
fn auth_problem(
    settings: &Settings,
    auth: &[String],
    encrypted: bool,
    offers: &[String],
) -> Option<String> {
    let relay = format!("the relay {}:{}", settings.host, settings.port);
    let mechanisms: Vec<String> = auth
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(str::to_ascii_uppercase)
        .collect();
    if mechanisms.iter().any(|m| m == "PLAIN" || m == "LOGIN") {
        return None;
    }
    if !auth.is_empty() && mechanisms.is_empty() {
        return Some(format!(
            "{relay} offers AUTH but names no mechanism, and the config gives it a username and password: ask its administrator to enable AUTH PLAIN over TLS, or remove username and the password setting if it takes mail from this machine without logging in"
        ));
    }
    let login =
        "the config gives it a username and password (username, password_env or password_command)";
    Some(if !mechanisms.is_empty() {
        format!(
            "{relay} offers AUTH {} only, and bulletin logs in with PLAIN or LOGIN; {login}: ask the relay's administrator to enable AUTH PLAIN over TLS",
            mechanisms.join(" ")
        )
    } else if !encrypted && offers.iter().any(|o| o == "STARTTLS") {
        format!(
            "{relay} offers no AUTH before STARTTLS (it offers: {}), and {login}: set security = \"starttls\" for it, as most relays take a login only over an encrypted connection",
            offers.join(", ")
        )
    } else {
        format!(
            "{relay} offers no AUTH at all{} (it offers: {}), but {login}: if it accepts mail from this machine without logging in, remove username and the password setting for it; otherwise ask its administrator how to log in",
            if encrypted { ", even over TLS" } else { "" },
            if offers.is_empty() { "nothing".to_string() } else { offers.join(", ") }
        )
    })
}

/// One open connection to the relay.
pub struct Client {
    conn: AsyncSmtpConnection,
    settings: Arc<Settings>,
    /// The relay announced PIPELINING (RFC 2920): a transaction's commands go in one write.
    pipelining: bool,
    /// The relay announced SMTPUTF8 (RFC 6531): addresses may have UTF-8 before the @.
    smtputf8: bool,
}

/// Text written to the relay as it is. lettre writes any `Display` as a command; this is how
/// pipelined commands and pre-stuffed message data reach the socket in a single write.
struct Raw<'a>(&'a str);

impl std::fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The message as it goes after DATA (RFC 5321 §4.5.2): every line that starts with a dot gets
/// another, CRLF ends the last line, and a lone dot ends the data.
pub fn wire_data(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut rest = message;
    if rest.first() == Some(&b'.') {
        out.push(b'.');
    }
    while let Some(i) = memchr::memmem::find(rest, b"\n.") {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'.');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn timed<T>(
    d: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SmtpError> {
    match tokio::time::timeout(d, f).await {
        Ok(r) => r.map_err(SmtpError::from_lettre),
        Err(_) => Err(SmtpError::Connection(format!(
            "no answer to {what} within {} s",
            d.as_secs()
        ))),
    }
}

impl Client {
    /// Connects, greets, secures and authenticates.
    pub async fn connect(settings: Arc<Settings>) -> Result<Client, SmtpError> {
        let t = settings.timeout;
        let mut conn = open(&settings).await?;
        if settings.security == Security::Starttls {
            starttls(&mut conn, &settings).await?;
        }
        if let Some(trust) = &settings.trust {
            let verdict = conn
                .certificate_chain()
                .map_err(|e| e.to_string())
                .and_then(|chain| {
                    trust
                        .check(&settings.host, &chain)
                        .map_err(|e| e.to_string())
                });
            if let Err(why) = verdict {
                conn.abort().await;
                return Err(SmtpError::Setup(why));
            }
        }
        // lettre keeps only the extensions it knows; ask again to see PIPELINING. Before AUTH:
        // some servers (mailin) forget the authentication on a new EHLO.
        let ehlo = timed(
            t,
            "EHLO",
            conn.command(lettre::transport::smtp::commands::Ehlo::new(
                settings.helo.clone(),
            )),
        )
        .await?;
        let offers = |ext: &str| ehlo.message().any(|l| l.trim().eq_ignore_ascii_case(ext));
        let (pipelining, smtputf8) = (offers("PIPELINING"), offers("SMTPUTF8"));
        if let Some(creds) = &settings.credentials {
            authenticate(&mut conn, &settings, &ehlo, creds).await?;
        }
        Ok(Client {
            conn,
            settings,
            pipelining,
            smtputf8,
        })
    }

    pub fn smtputf8(&self) -> bool {
        self.smtputf8
    }

    /// Opens a mail transaction for one recipient up to the relay's go-ahead for data. `from`
    /// and `to` are wire addresses (see [`crate::address::wire`]); `utf8` adds SMTPUTF8 to MAIL.
    /// A failure here means the message was not delivered, so it is safe to try again.
    pub async fn begin(&mut self, from: &str, to: &str, utf8: bool) -> Result<(), SmtpError> {
        let bad = |a: &str| SmtpError::Permanent {
            code: 553,
            reply: format!("invalid address {}", crate::term::quoted(a)),
        };
        let from: Address = from.parse().map_err(|_| bad(from))?;
        let to: Address = to.parse().map_err(|_| bad(to))?;
        let params = if utf8 {
            vec![MailParameter::SmtpUtfEight]
        } else {
            vec![]
        };
        let mail = Mail::new(Some(from), params);
        let rcpt = Rcpt::new(to, vec![]);
        if self.pipelining {
            return self.begin_pipelined(mail, rcpt).await;
        }
        let t = self.settings.timeout;
        timed(t, "MAIL FROM", self.conn.command(mail)).await?;
        if let Err(e) = timed(t, "RCPT TO", self.conn.command(rcpt)).await {
            self.reset().await;
            return Err(e);
        }
        if let Err(e) = timed(t, "DATA", self.conn.command(Data)).await {
            self.reset().await;
            return Err(e);
        }
        Ok(())
    }

    /// MAIL, RCPT and DATA in one write, then their three replies in order (RFC 2920).
    async fn begin_pipelined(&mut self, mail: Mail, rcpt: Rcpt) -> Result<(), SmtpError> {
        let t = self.settings.timeout;
        let cmds = format!("{mail}{rcpt}{Data}");
        let mail = timed(t, "MAIL FROM", self.conn.command(Raw(&cmds))).await;
        if let Err(e @ SmtpError::Connection(_)) = mail {
            return Err(e);
        }
        // Every reply must be read, whatever came before, to keep the connection in step.
        let rcpt = timed(t, "RCPT TO", self.conn.read_response()).await;
        if let Err(e @ SmtpError::Connection(_)) = rcpt {
            return Err(e);
        }
        let data = timed(t, "DATA", self.conn.read_response()).await;
        match (mail, rcpt, data) {
            (Ok(_), Ok(_), Ok(_)) => Ok(()),
            (m, r, d) => {
                if d.is_ok() {
                    // The relay opened the data although an earlier command failed: close it empty.
                    let _ = timed(
                        t,
                        "the end of an empty message",
                        self.conn.command(Raw(".\r\n")),
                    )
                    .await;
                }
                self.reset().await;
                Err(m.err().or(r.err()).or(d.err()).expect("one reply failed"))
            }
        }
    }

    /// Sends the message and waits for the relay's verdict. A connection failure here leaves
    /// the message's fate unknown: the relay may have taken it.
    pub async fn finish(&mut self, message: &[u8]) -> Result<String, SmtpError> {
        let wire = wire_data(message);
        // Composed messages are ASCII (quoted-printable bodies, RFC 2047 headers): they go as
        // one write. lettre's own path (`message`) stuffs dots byte by byte and writes twice.
        let r = match std::str::from_utf8(&wire) {
            Ok(text) => {
                timed(
                    self.settings.timeout,
                    "the end of the message",
                    self.conn.command(Raw(text)),
                )
                .await?
            }
            Err(_) => {
                timed(
                    self.settings.timeout,
                    "the end of the message",
                    self.conn.message(message),
                )
                .await?
            }
        };
        Ok(format!(
            "{} {}",
            u16::from(r.code()),
            r.message().collect::<Vec<_>>().join(" ")
        ))
    }

    /// Ends a refused transaction so the connection can carry the next message.
    async fn reset(&mut self) {
        let _ = timed(self.settings.timeout, "RSET", self.conn.command(Rset)).await;
    }

    pub async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.quit()).await;
    }
}

/// The connection, up to the relay's greeting: implicit TLS, or a plain socket (upgraded by
/// STARTTLS after).
async fn open(settings: &Settings) -> Result<AsyncSmtpConnection, SmtpError> {
    let t = settings.timeout;
    let addr = (settings.host.as_str(), settings.port);
    if settings.security == Security::Tls {
        // Implicit TLS goes through lettre's own connector, whose socket we cannot reach to
        // set TCP_NODELAY; relays on port 465 are the rarer case.
        return timed(
            t,
            "the TLS connection",
            AsyncSmtpConnection::connect_tokio1(
                addr,
                Some(t),
                &settings.helo,
                settings.tls.clone(),
                None,
            ),
        )
        .await;
    }
    let where_ = format!("{}:{}", settings.host, settings.port);
    let stream = tokio::time::timeout(t, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| {
            SmtpError::Connection(format!(
                "cannot connect to {where_} within {} s",
                t.as_secs()
            ))
        })?
        .map_err(|e| SmtpError::Connection(format!("cannot connect to {where_}: {e}")))?;
    stream
        .set_nodelay(true)
        .map_err(|e| SmtpError::Connection(e.to_string()))?;
    timed(
        t,
        "the greeting",
        AsyncSmtpConnection::connect_with_transport(Box::new(stream), &settings.helo),
    )
    .await
}

/// Upgrades the connection with STARTTLS, which the config requires: refused when the relay
/// does not offer it, and a certificate failure explained.
async fn starttls(conn: &mut AsyncSmtpConnection, settings: &Settings) -> Result<(), SmtpError> {
    if !conn.server_info().supports_feature(Extension::StartTls) {
        conn.abort().await;
        return Err(SmtpError::Setup(format!(
            "{} does not offer STARTTLS, which the config requires: use security = \"tls\" if it expects TLS from the start, or \"plain\" only for a relay on this machine",
            settings.host
        )));
    }
    let tls = settings.tls.clone().expect("TLS parameters for STARTTLS");
    timed(
        settings.timeout,
        "STARTTLS",
        conn.starttls(tls, &settings.helo),
    )
    .await
    .map_err(|e| match e {
        SmtpError::Connection(m) => {
            SmtpError::Setup(format!("STARTTLS failed: {}", certificate_hint(&m)))
        }
        other => other,
    })
}

/// Logs in with what the relay offers, or says why it cannot be done (no AUTH before
/// STARTTLS, none at all, only other mechanisms).
async fn authenticate(
    conn: &mut AsyncSmtpConnection,
    settings: &Settings,
    ehlo: &lettre::transport::smtp::response::Response,
    creds: &lettre::transport::smtp::authentication::Credentials,
) -> Result<(), SmtpError> {
    // "AUTH PLAIN LOGIN", or the older "AUTH=LOGIN".
    let auth: Vec<String> = ehlo
        .message()
        .skip(1)
        .filter_map(|l| {
            let l = l.trim();
            let (key, rest) = l.split_once([' ', '=']).unwrap_or((l, ""));
            key.eq_ignore_ascii_case("AUTH").then(|| rest.to_string())
        })
        .collect();
    let offers = ehlo_offers(ehlo);
    if let Some(why) = auth_problem(settings, &auth, conn.is_encrypted(), &offers) {
        conn.abort().await;
        return Err(SmtpError::Setup(why));
    }
    let r = timed(
        settings.timeout,
        "AUTH",
        conn.auth(&[Mechanism::Plain, Mechanism::Login], creds),
    )
    .await;
    if let Err(e) = r {
        conn.abort().await;
        return Err(match e {
            SmtpError::Permanent { code, reply } => {
                SmtpError::Setup(format!("the relay refused the credentials: {code} {reply}"))
            }
            other => other,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wire_data;

    #[test]
    fn dots_at_line_starts_are_doubled_and_data_is_terminated() {
        assert_eq!(
            wire_data(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(wire_data(b".x"), b"..x\r\n.\r\n");
        assert_eq!(wire_data(b"no dots\r\n"), b"no dots\r\n.\r\n");
    }
}
