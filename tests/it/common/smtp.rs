//! SMTP servers for the tests. `RealSmtp` is mailin-embedded, an SMTP server we did not write,
//! recording what it receives. `ScriptedSmtp` is our own small server for the faults no real
//! server produces on demand: refusals, temporary failures, dropped connections, slowness.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A message as a server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

pub type Inbox = Arc<Mutex<Vec<Received>>>;

pub fn count_by_recipient(inbox: &Inbox) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in inbox.lock().unwrap().iter() {
        for t in &r.to {
            *m.entry(t.to_lowercase()).or_insert(0) += 1;
        }
    }
    m
}

#[derive(Clone)]
struct MailinHandler {
    inbox: Inbox,
    to: Vec<String>,
    data: Vec<u8>,
    password: Option<String>,
}

impl mailin_embedded::Handler for MailinHandler {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        mailin_embedded::response::OK
    }
    fn auth_plain(
        &mut self,
        _authz: &str,
        user: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        if user == "news" && Some(password) == self.password.as_deref() {
            mailin_embedded::response::AUTH_OK
        } else {
            mailin_embedded::response::INVALID_CREDENTIALS
        }
    }
}

/// mailin-embedded on a free loopback port, in a thread that lives as long as the test process.
pub struct RealSmtp {
    pub port: u16,
    pub inbox: Inbox,
}

impl RealSmtp {
    pub fn start() -> RealSmtp {
        Self::start_with(None, None)
    }

    /// With STARTTLS (certificate and key files) and AUTH PLAIN for user "news".
    pub fn start_with(
        tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
        password: Option<&str>,
    ) -> RealSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox: Inbox = Arc::default();
        let handler = MailinHandler {
            inbox: inbox.clone(),
            to: vec![],
            data: vec![],
            password: password.map(str::to_string),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("mailin.test")
            .with_tcp_listener(listener)
            .with_num_threads(8);
        if let Some((cert, key)) = tls {
            server
                .with_ssl(mailin_embedded::SslConfig::SelfSigned {
                    cert_path: cert.display().to_string(),
                    key_path: key.display().to_string(),
                })
                .unwrap();
        }
        if password.is_some() {
            server.with_auth(mailin_embedded::AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        RealSmtp { port, inbox }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    /// With STARTTLS and AUTH PLAIN for user "news" with `password`, presenting a self-signed
    /// certificate for 127.0.0.1 made in `dir`; returns the server and the certificate's file,
    /// for `ca_file`. `as_ca`: the certificate says it is a CA, as `openssl req -x509` makes
    /// them by default; otherwise it is an end-entity certificate, as rcgen makes them.
    pub fn start_tls(
        dir: &std::path::Path,
        password: &str,
        as_ca: bool,
    ) -> (RealSmtp, std::path::PathBuf) {
        // mailin-embedded's TLS asks rustls for the process's default provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        if as_ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let name = if as_ca { "relay-ca" } else { "relay" };
        let (cert_path, key_path) = (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (
            RealSmtp::start_with(Some((cert_path.clone(), key_path)), Some(password)),
            cert_path,
        )
    }
}

/// What the scripted server does, per recipient address.
#[derive(Default, Clone)]
pub struct Script {
    /// RCPT TO this address gets this reply ("550 5.1.1 no such user").
    pub refuse_rcpt: HashMap<String, String>,
    /// The end of data for this address gets "451 ..." this many times, then 250.
    pub defer_times: HashMap<String, usize>,
    /// After this address's message data, the server closes the connection without a reply
    /// (the first time only).
    pub drop_after_data: Vec<String>,
    /// Every reply waits this long.
    pub delay: Duration,
    /// Greets with this instead of 220 and closes (e.g. "421 too busy").
    pub greeting_refusal: Option<String>,
    /// Announces PIPELINING (the server reads line by line, so pipelined commands just work).
    pub pipelining: bool,
    /// Announces SMTPUTF8 and accepts UTF-8 addresses given with it (a lenient relay). Without
    /// it, any address outside ASCII is refused with 553 (a strict relay, as RFC 6531 asks).
    pub smtputf8: bool,
    /// Never answers RCPT TO: a relay that hangs before the message is handed over.
    pub hang_at_rcpt: bool,
    /// Never answers the end of data: a relay that hangs holding the message.
    pub hang_after_data: bool,
    /// Answers the end of data only after this long: a slow relay holding the message.
    pub answer_data_after: Option<Duration>,
}

#[derive(Default)]
struct State {
    script: Script,
    deferred: HashMap<String, usize>,
    dropped: Vec<String>,
}

pub struct ScriptedSmtp {
    pub port: u16,
    pub inbox: Inbox,
    /// Every command line received, in order.
    pub commands: Arc<Mutex<Vec<String>>>,
    state: Arc<Mutex<State>>,
    /// Every DATA received, whatever the reply: how often each address was attempted.
    pub attempts: Arc<Mutex<HashMap<String, usize>>>,
}

impl ScriptedSmtp {
    pub fn start(script: Script) -> ScriptedSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox: Inbox = Arc::default();
        let state = Arc::new(Mutex::new(State {
            script,
            ..Default::default()
        }));
        let attempts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let commands: Arc<Mutex<Vec<String>>> = Arc::default();
        let (i, s, a, c) = (
            inbox.clone(),
            state.clone(),
            attempts.clone(),
            commands.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let _ = conn.set_nodelay(true);
                let (i, s, a, c) = (i.clone(), s.clone(), a.clone(), c.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &i, &s, &a, &c);
                });
            }
        });
        ScriptedSmtp {
            port,
            inbox,
            commands,
            state,
            attempts,
        }
    }

    pub fn delivered(&self) -> HashMap<String, usize> {
        count_by_recipient(&self.inbox)
    }
}

/// Holds a connection open without a word until the client goes away.
fn hang(reader: &mut BufReader<TcpStream>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while reader.read_until(b'\n', &mut buf)? > 0 {
        buf.clear();
    }
    Ok(())
}

fn serve(
    conn: TcpStream,
    inbox: &Inbox,
    state: &Arc<Mutex<State>>,
    attempts: &Arc<Mutex<HashMap<String, usize>>>,
    commands: &Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let script = state.lock().unwrap().script.clone();
    let delay = script.delay;
    let mut out = conn.try_clone()?;
    let mut reader = BufReader::new(conn);
    let reply = |out: &mut TcpStream, s: &str| -> std::io::Result<()> {
        std::thread::sleep(delay);
        // One write per reply: a reply in two small writes waits out the client's delayed
        // acknowledgement of the first (Nagle's algorithm), 40 ms on Linux, at every command.
        out.write_all(format!("{s}\r\n").as_bytes())
    };
    if let Some(r) = state.lock().unwrap().script.greeting_refusal.clone() {
        return reply(&mut out, &r);
    }
    reply(&mut out, "220 scripted.test ESMTP")?;
    let mut to: Vec<String> = Vec::new();
    let mut line = String::new();
    // The transaction's MAIL FROM asked for SMTPUTF8.
    let mut mail_utf8 = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        commands.lock().unwrap().push(cmd.clone());
        let upper = cmd.to_uppercase();
        if upper.starts_with("MAIL FROM") {
            mail_utf8 = upper.ends_with(" SMTPUTF8");
        }
        let utf8_refused = (upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO"))
            && !cmd.is_ascii()
            && !(script.smtputf8 && mail_utf8);
        if utf8_refused {
            reply(&mut out, "553 5.6.7 non-ASCII address without SMTPUTF8")?;
            continue;
        }
        if upper.starts_with("EHLO") {
            let mut ext = String::from("250-scripted.test\r\n");
            if script.pipelining {
                ext.push_str("250-PIPELINING\r\n");
            }
            if script.smtputf8 {
                ext.push_str("250-SMTPUTF8\r\n");
            }
            ext.push_str("250 8BITMIME");
            reply(&mut out, &ext)?;
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            reply(&mut out, "250 OK")?;
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            reply(&mut out, "250 OK")?;
        } else if upper.starts_with("RCPT TO") && script.hang_at_rcpt {
            return hang(&mut reader);
        } else if upper.starts_with("RCPT TO") {
            let addr = cmd[cmd.find('<').map_or(8, |i| i + 1)..]
                .trim_end_matches('>')
                .to_lowercase();
            let refusal = state.lock().unwrap().script.refuse_rcpt.get(&addr).cloned();
            match refusal {
                Some(r) => reply(&mut out, &r)?,
                None => {
                    to.push(addr);
                    reply(&mut out, "250 OK")?;
                }
            }
        } else if upper.starts_with("RSET") {
            to.clear();
            reply(&mut out, "250 OK")?;
        } else if upper.starts_with("DATA") {
            reply(&mut out, "354 go ahead")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if reader.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                data.extend_from_slice(&l);
            }
            let first = to.first().cloned().unwrap_or_default();
            *attempts.lock().unwrap().entry(first.clone()).or_insert(0) += 1;
            if script.hang_after_data {
                return hang(&mut reader);
            }
            if let Some(d) = script.answer_data_after {
                std::thread::sleep(d);
            }
            let mut st = state.lock().unwrap();
            if st.script.drop_after_data.contains(&first) && !st.dropped.contains(&first) {
                st.dropped.push(first);
                // Gone without a word: the client cannot know whether the message was taken.
                return Ok(());
            }
            let want = st.script.defer_times.get(&first).copied().unwrap_or(0);
            let done = st.deferred.entry(first.clone()).or_insert(0);
            if *done < want {
                *done += 1;
                drop(st);
                reply(&mut out, "451 4.3.0 try again later")?;
                continue;
            }
            drop(st);
            inbox.lock().unwrap().push(Received {
                to: std::mem::take(&mut to),
                data,
            });
            reply(&mut out, "250 2.0.0 queued")?;
        } else if upper.starts_with("QUIT") {
            reply(&mut out, "221 bye")?;
            return Ok(());
        } else {
            reply(&mut out, "502 command not implemented")?;
        }
    }
}
