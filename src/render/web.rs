//! The web copy of a campaign: a language in, the message as nobody in particular reads it
//! out (no name, no unsubscribe link, every update the campaign carries), for the archive;
//! and where each language's copy lives, for the messages that link to it.

use tera::Context;

use super::templates::tera_error_text;
use super::{normalize_text, RenderError, Rendered, Renderer};
use crate::audience::Recipient;

impl Renderer {
    /// The address of the campaign's web copy in `lang`, when the config says where the
    /// archive lives.
    pub fn archive_url(&self, lang: &str) -> String {
        self.archive_base
            .as_ref()
            .map(|b| format!("{b}{lang}/{}.html", self.campaign_id))
            .unwrap_or_default()
    }

    /// The campaign's web copy in `lang`: its message as nobody in particular reads it (no
    /// name, no unsubscribe link), with every update the campaign carries.
    pub fn render_web(&self, lang: &str) -> Result<Rendered, RenderError> {
        let contact = crate::contacts::Contact::made_up("web", "", "", "", "");
        let r = Recipient::new(
            contact,
            crate::audience::Profile {
                langs: vec![lang.to_string()],
                updates: (0..self.update_values.get(lang).map_or(0, Vec::len)).collect(),
                ..Default::default()
            },
        );
        let ctx = self.web_context(&r, &r.contact, lang)?;
        let subject = self.web_title(&r, lang)?;
        let text = self.run(&self.text_template[lang], &ctx)?;
        let raw = self.run(&self.html_template[lang], &ctx)?;
        let html = self
            .inliner
            .inline(&raw)
            .map_err(|e| RenderError::Css(e.to_string()))?;
        Ok(Rendered {
            subject,
            html,
            text: normalize_text(&text),
        })
    }

    /// The context of a web copy: `contact` as its reader, no links of their own.
    fn web_context(
        &self,
        r: &Recipient,
        contact: &crate::contacts::Contact,
        lang: &str,
    ) -> Result<Context, RenderError> {
        let value = self.context(
            r,
            Self::contact_value(contact, lang),
            super::Links::default().value(),
            true,
        )?;
        Context::from_value(value).map_err(|e| RenderError::Template {
            template: String::new(),
            message: tera_error_text(&e),
        })
    }

    /// The subject as a page's title: without the reader. A subject that greets its reader
    /// ("{{ contact.first_name | default(value='Briefing') }}: weapons lost...") would give
    /// every visitor the fallback meant for a nameless contact; so the subject is rendered with
    /// a marker for the reader's name, and the part that holds it is left out.
    fn web_title(&self, r: &Recipient, lang: &str) -> Result<String, RenderError> {
        let contact = crate::contacts::Contact::made_up("web", "", MARK, MARK, MARK);
        let ctx = self.web_context(r, &contact, lang)?;
        let marked = self.run(&format!("subject.{lang}"), &ctx)?;
        Ok(crate::typography::spaces(
            &without_reader(marked.trim()),
            lang,
        ))
    }
}

/// Stands for the reader's name in a subject made into a title.
const MARK: &str = "\u{E000}";

/// A subject with the marked reader's part taken out: "MARK: weapons lost" is "Weapons lost",
/// "Your updates, MARK" is "Your updates", "News for MARK this week" is "News for this week".
fn without_reader(marked: &str) -> String {
    const SEPARATORS: &[char] = &[':', ',', ';', '!', '-', '–', '—', ' ', '\u{a0}', '\u{202f}'];
    let mut s = marked.to_string();
    while let Some(at) = s.find(MARK) {
        let (head, tail) = (&s[..at], &s[at + MARK.len()..]);
        s = if head.trim().is_empty() {
            tail.trim_start_matches(SEPARATORS).to_string()
        } else if tail.trim().is_empty() {
            head.trim_end_matches(SEPARATORS).to_string()
        } else {
            format!("{} {}", head.trim_end(), tail.trim_start())
        };
    }
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::{without_reader, MARK};

    #[test]
    fn a_title_leaves_out_the_reader() {
        let t = |s: &str| without_reader(&s.replace("M", MARK));
        assert_eq!(t("M: weapons lost"), "Weapons lost");
        assert_eq!(t("M\u{a0}: armes perdues"), "Armes perdues");
        assert_eq!(t("Your updates, M"), "Your updates");
        assert_eq!(t("News for M this week"), "News for this week");
        assert_eq!(
            t("Disarmament Insight, November"),
            "Disarmament Insight, November"
        );
    }
}
