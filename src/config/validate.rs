//! The checks of a parsed config: each mistake a problem naming `bulletin.toml`'s line, all found
//! in one pass, before any command acts on the config.

use super::{key_line, normalize_tag, valid_address, Config};
use crate::problems::Problems;

fn is_lang_code(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_lowercase())
}

/// Where a problem of the config is: its file, and the text in which keys are found.
struct At<'a> {
    file: std::path::PathBuf,
    text: &'a str,
}

impl Config {
    /// Every check of the config, section by section.
    pub(super) fn validate(&mut self, text: &str, p: &mut Problems) {
        let at = At {
            file: self.file.clone(),
            text,
        };
        self.check_languages(&at, p);
        self.check_sender(&at, p);
        self.check_interests(&at, p);
        self.check_unsubscribe(&at, p);
        self.check_smtp(&at, p);
        self.check_dkim(&at, p);
        self.check_rest(&at, p);
    }

    /// The languages: codes, the default among them, and the default put first.
    fn check_languages(&mut self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        let langs = &mut self.languages;
        langs.supported = langs
            .supported
            .iter()
            .map(|s| s.trim().to_lowercase())
            .collect();
        langs.default = langs.default.trim().to_lowercase();
        if langs.supported.is_empty() {
            p.error(&file, line("supported"), "[languages] supported is empty: list at least one language code, such as [\"en\", \"fr\"]");
        }
        for code in &langs.supported {
            if !is_lang_code(code) {
                let hint = crate::language::code_of(code)
                    .map(|c| format!(" (did you mean \"{c}\"?)"))
                    .unwrap_or_default();
                p.error(
                    &file,
                    line("supported"),
                    format!("\"{code}\" is not a two-letter language code{hint}"),
                );
            }
        }
        if !langs.supported.contains(&langs.default) {
            p.error(&file, line("default"), format!(
                "the default language \"{}\" is not among the supported ones ({}): add it to `supported` or pick one of them",
                langs.default, langs.supported.join(", ")));
        }
        // Put the default first: it leads bilingual messages whose contact named no order.
        if let Some(i) = langs.supported.iter().position(|c| *c == langs.default) {
            let d = langs.supported.remove(i);
            langs.supported.insert(0, d);
        }
    }

    /// The sender: addresses, name and postal address.
    fn check_sender(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        let s = &self.sender;
        if !valid_address(&s.address) {
            p.error(
                &file,
                line("address"),
                format!(
                    "sender address \"{}\" is not a valid e-mail address",
                    s.address
                ),
            );
        }
        if let Some(r) = &s.reply_to {
            if !valid_address(r) {
                p.error(
                    &file,
                    line("reply_to"),
                    format!("reply_to \"{r}\" is not a valid e-mail address"),
                );
            }
        }
        if s.name.trim().is_empty() {
            p.error(
                &file,
                line("name"),
                "sender name is empty: write the name recipients should see in From",
            );
        }
        if s.postal_address.trim().is_empty() {
            p.error(&file, line("postal_address"), "postal_address is empty: anti-spam laws (CAN-SPAM) and filters expect the sender's postal address in every mailing");
        }
    }

    /// The interest tags, and the list values mapped to them.
    fn check_interests(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        let mut seen = Vec::new();
        for t in &self.interests {
            let n = normalize_tag(t);
            if n != *t {
                p.error(&file, line("interests"), format!("interest \"{t}\" should be written \"{n}\" (lower case, words joined by hyphens)"));
            }
            if seen.contains(&n) {
                p.error(
                    &file,
                    line("interests"),
                    format!("interest \"{t}\" is listed twice"),
                );
            }
            seen.push(n);
        }

        for (value, tag) in &self.lists.interests {
            if !self.interests.is_empty() && !self.interests.contains(tag) {
                p.error(
                    &file,
                    key_line(text, value).or(line("interests")),
                    format!(
                        "[lists.interests] maps \"{value}\" to \"{tag}\", which is not one of `interests` ({})",
                        self.interests.join(", ")
                    ),
                );
            }
        }
    }

    /// Unsubscribing: the link, the mailto address and the secret's sources.
    fn check_unsubscribe(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        let un = &self.unsubscribe;
        if let Some(u) = &un.url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                p.error(
                    &file,
                    line("url"),
                    "unsubscribe url must start with https:// (or http://)",
                );
            }
            if u.contains("{email}") {
                p.error(&file, line("url"), "unsubscribe url must not carry {email}: the address in a link lets anyone unsubscribe anyone, and spam filters score it. Use {token}, a signed token that names the recipient to `bulletin serve` only");
            } else if !u.contains("{token}") {
                p.error(&file, line("url"), "unsubscribe url has no {token}: without it the link cannot tell who is leaving. Write it like https://news.example.org/u/{token}");
            }
        }
        self.check_readers_links(at, p);
        if un.offered() && un.secret_env.is_none() && un.secret_command.is_none() {
            p.error(&file, line("url").or(line("mailto")), "[unsubscribe] needs a secret to sign tokens with: name an environment variable with secret_env (or a command with secret_command); never write the secret in this file");
        }
        for (a, b) in [
            ("secret_env", "secret_command"),
            ("previous_secret_env", "previous_secret_command"),
        ] {
            if key_line(text, a).is_some() && key_line(text, b).is_some() {
                p.error(
                    &file,
                    line(b),
                    format!("[unsubscribe] give either {a} or {b}, not both"),
                );
            }
        }
        if let Some(m) = &self.unsubscribe.mailto {
            if !valid_address(m) {
                p.error(
                    &file,
                    line("mailto"),
                    format!("unsubscribe mailto \"{m}\" is not a valid e-mail address"),
                );
            }
        }
    }

    /// The links of the reader's say and of clearance: the preference page, the sign-up's
    /// confirmation, the approval page.
    fn check_readers_links(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        let un = &self.unsubscribe;
        if let Some(u) = &un.preferences_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) || !u.contains("{token}") {
                p.error(&file, line("preferences_url"), "preferences_url must be a link with {token} in it, such as https://news.example.org/p/{token} (the path `bulletin serve` answers)");
            } else if u.contains("{email}") {
                p.error(
                    &file,
                    line("preferences_url"),
                    "preferences_url must not carry {email}: use {token}",
                );
            }
            if un.url.is_none() {
                p.error(&file, line("preferences_url"), "preferences_url needs the unsubscribe url beside it: the preference page offers a way to leave, and its token is the unsubscribe link's");
            }
        }
        if let Some(a) = &self.approval {
            for who in &a.approvers {
                if !valid_address(who) {
                    p.error(
                        &file,
                        line("approvers"),
                        format!("[approval] approvers: \"{who}\" is not an e-mail address"),
                    );
                }
            }
            if let Some(u) = &a.approve_url {
                if !(u.starts_with("https://") || u.starts_with("http://"))
                    || !u.contains("{token}")
                {
                    p.error(&file, line("approve_url"), "[approval] approve_url must be a link with {token} in it, such as https://news.example.org/approve/{token} (the path `bulletin serve` answers)");
                }
            }
            if a.expires_days == 0 || a.expires_days > 30 {
                p.error(
                    &file,
                    line("expires_days"),
                    "[approval] expires_days must be 1 to 30",
                );
            }
        }
        if let Some(s) = &self.signup {
            let u = &s.confirm_url;
            if !(u.starts_with("https://") || u.starts_with("http://")) || !u.contains("{token}") {
                p.error(&file, line("confirm_url"), "[signup] confirm_url must be a link with {token} in it, such as https://news.example.org/confirm/{token} (the path `bulletin serve` answers)");
            }
            if s.expires_days == 0 || s.expires_days > 30 {
                p.error(&file, line("expires_days"), "[signup] expires_days must be 1 to 30: a confirmation link that never expires lets an old mail sign someone up years later");
            }
            if s.per_address_per_day == 0 || s.per_client_per_day == 0 || s.max_per_day == 0 {
                p.error(
                    &file,
                    line("max_per_day").or(line("per_address_per_day")),
                    "[signup] limits must be at least 1 (remove [signup] to offer no form)",
                );
            }
            if self.smtp.is_none() {
                p.error(
                    &file,
                    line("confirm_url"),
                    "[signup] needs [smtp]: confirmation mails go through the project's relay",
                );
            }
            if un.secret_env.is_none() && un.secret_command.is_none() {
                p.error(&file, line("confirm_url"), "[signup] needs [unsubscribe] secret_env (or secret_command): confirmation links are signed with it");
            }
        }
    }

    /// The relays: `[smtp]` and each `[[smtp.relays]]`.
    fn check_smtp(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                p.error(&file, line("host"), "[smtp] host is empty");
            }
            if smtp.connections == 0 || smtp.connections > 64 {
                p.error(
                    &file,
                    line("connections"),
                    "[smtp] connections must be between 1 and 64",
                );
            }
            if smtp.timeout_secs == 0 {
                p.error(
                    &file,
                    line("timeout_secs"),
                    "[smtp] timeout_secs must be at least 1",
                );
            }
            if smtp.password_env.is_some() && smtp.password_command.is_some() {
                p.error(
                    &file,
                    line("password_command"),
                    "[smtp] give either password_env or password_command, not both",
                );
            }
            if let Some(e) = &smtp.envelope_from {
                if !valid_address(e) {
                    p.error(
                        &file,
                        line("envelope_from"),
                        format!("[smtp] envelope_from \"{e}\" is not a valid e-mail address"),
                    );
                }
            }
            if smtp.verp && smtp.envelope_from.is_none() {
                p.error(&file, line("verp"), "[smtp] verp needs envelope_from: the address whose LOCAL+KEY forms the bounces go to");
            }
            if smtp.max_attempts == 0 {
                p.error(
                    &file,
                    line("max_attempts"),
                    "[smtp] max_attempts must be at least 1",
                );
            }
            if !(smtp.retry_delay_secs >= 0.0 && smtp.retry_delay_secs.is_finite()) {
                p.error(
                    &file,
                    line("retry_delay_secs"),
                    "[smtp] retry_delay_secs must be a number of seconds, 0 or more",
                );
            }
            if smtp.max_consecutive_failures == 0 {
                p.error(
                    &file,
                    line("max_consecutive_failures"),
                    "[smtp] max_consecutive_failures must be at least 1",
                );
            }
            if (smtp.password_env.is_some() || smtp.password_command.is_some())
                && smtp.username.is_none()
            {
                p.error(
                    &file,
                    line("username"),
                    "[smtp] a password source is set but no username: add `username`",
                );
            }
            self.check_relays(smtp, at, p);
            if smtp.relays.len() + 1 > smtp.connections {
                p.warning(&file, line("connections"), format!(
                    "[smtp] connections = {} is fewer than the {} relays: some relays get no connection until another is set aside",
                    smtp.connections,
                    smtp.relays.len() + 1
                ));
            }
        }
    }

    /// Each relay, `[smtp]` itself first: its name, weight, own caps and login.
    fn check_relays(&self, smtp: &super::Smtp, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let mut names = std::collections::HashSet::new();
        for (i, r) in smtp.each_relay().iter().enumerate() {
            let at = |key: &str| relay_line(text, i, key);
            let which = if i == 0 {
                "[smtp]".to_string()
            } else {
                format!("[[smtp.relays]] number {i} ({})", r.name())
            };
            if i > 0 && r.host.trim().is_empty() {
                p.error(&file, at("host"), format!("{which}: host is empty"));
            }
            if !names.insert(r.name()) {
                p.error(
                    &file,
                    at("host"),
                    format!("{which}: {} is named twice; give each relay once", r.name()),
                );
            }
            if r.weight == 0 || r.weight > 1000 {
                p.error(&file, at("weight"), format!("{which}: weight must be between 1 and 1000 (a relay's share of the connections)"));
            }
            if r.per_second.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                p.error(
                    &file,
                    at("per_second"),
                    format!("{which}: per_second must be a number above 0"),
                );
            }
            if r.per_hour == Some(0) || r.per_day == Some(0) {
                p.error(
                    &file,
                    at("per_hour"),
                    format!("{which}: per_hour and per_day must be at least 1"),
                );
            }
            if i > 0
                && (r.password_env.is_some() || r.password_command.is_some())
                && r.username.is_none()
            {
                let key = if r.password_env.is_some() {
                    "password_env"
                } else {
                    "password_command"
                };
                p.error(
                    &file,
                    at(key),
                    format!("{which}: a password source is set but no username: add `username`"),
                );
            }
        }
    }

    /// The DKIM key and the names it signs with.
    fn check_dkim(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        if let Some(d) = &self.dkim {
            if !super::is_dns_name(&d.selector) {
                p.error(&file, line("selector"), format!("[dkim] selector \"{}\" must be letters, digits and hyphens (dots between parts), such as \"bulletin2026\": it becomes a DNS name", d.selector));
            }
            let domain = self.dkim_domain().unwrap_or_default();
            if !super::is_dns_name(&domain) || !domain.contains('.') {
                p.error(
                    &file,
                    line("domain"),
                    format!(
                        "[dkim] domain \"{domain}\" is not a domain name such as \"example.org\""
                    ),
                );
            }
            if d.key_file.as_os_str().is_empty() {
                p.error(&file, line("key_file"), "[dkim] key_file is empty: name the private key's file (make one with `bulletin dkim keygen`)");
            }
        }
    }

    /// The limits, the web addresses, `serve`, the time zone and the rate.
    fn check_rest(&self, at: &At, p: &mut Problems) {
        let (file, text) = (at.file.clone(), at.text);
        let line = |key: &str| key_line(text, key);
        if !(self.limits.max_message_mb > 0.0 && self.limits.max_message_mb.is_finite()) {
            p.error(
                &file,
                line("max_message_mb"),
                "[limits] max_message_mb must be a number of megabytes above 0, such as 15",
            );
        }
        if self.site.base_url.is_some() && self.base_url().is_none() {
            p.error(&file, line("base_url"), "[site] base_url must be a full address starting with https://, such as \"https://example.org/news/\"");
        }
        if self.site.archive_url.is_some() && self.archive_url().is_none() {
            p.error(&file, line("archive_url"), "[site] archive_url must be a full address starting with https://, such as \"https://example.org/archive/\"");
        }
        if self.serve.listen.parse::<std::net::SocketAddr>().is_err() {
            p.error(
                &file,
                line("listen"),
                format!(
                    "[serve] listen \"{}\" is not an address and port, such as \"127.0.0.1:8025\"",
                    self.serve.listen
                ),
            );
        }
        let sv = &self.serve;
        if !(1..=100_000).contains(&sv.max_connections) {
            p.error(
                &file,
                line("max_connections"),
                "[serve] max_connections must be between 1 and 100000 (512 serves a large institute behind its proxy)",
            );
        }
        if !(sv.header_timeout_secs > 0.0 && sv.header_timeout_secs <= 300.0) {
            p.error(
                &file,
                line("header_timeout_secs"),
                "[serve] header_timeout_secs must be above 0 and at most 300 seconds (10 is usual)",
            );
        }
        if let Err(e) = crate::window::parse_tz(&self.schedule.timezone) {
            p.error(&file, line("timezone"), format!("[schedule] timezone: {e}"));
        }
        let r = &self.rate;
        if !(r.per_second > 0.0 && r.per_second.is_finite()) {
            p.error(
                &file,
                line("per_second"),
                "[rate] per_second must be a number above 0",
            );
        }
        if r.burst == 0 {
            p.error(&file, line("burst"), "[rate] burst must be at least 1");
        }
        if r.per_hour == Some(0) || r.per_day == Some(0) {
            p.error(
                &file,
                None,
                "[rate] per_hour and per_day, when given, must be at least 1",
            );
        }
    }
}

/// The line of `key` in relay `i` of the config: `[smtp]` itself for 0, else the i-th
/// `[[smtp.relays]]` table; the table's header when the key is not written in it.
pub fn relay_line(text: &str, i: usize, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = if i == 0 {
        lines.iter().position(|l| l.trim() == "[smtp]")?
    } else {
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == "[[smtp.relays]]")
            .nth(i - 1)?
            .0
    };
    let end = (start + 1..lines.len())
        .find(|&n| lines[n].trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let found = (start + 1..end).find(|&n| {
        let t = lines[n].trim_start();
        t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    });
    Some(found.unwrap_or(start) + 1)
}
