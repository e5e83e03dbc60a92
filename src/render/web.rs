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
        let value = self.context(
            &r,
            Self::contact_value(&r.contact, lang),
            super::Links::default().value(),
            true,
        )?;
        let ctx = Context::from_value(value).map_err(|e| RenderError::Template {
            template: String::new(),
            message: tera_error_text(&e),
        })?;
        let subject = self.run(&format!("subject.{lang}"), &ctx)?;
        let subject = crate::typography::spaces(subject.trim(), lang);
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
}
