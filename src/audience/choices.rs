//! The reader's own choice of languages and topics (the preference page) put over what their
//! lists say. A later export that disagrees does not win: the difference is listed, so that the
//! team can carry the choice back into its CRM.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Audience, Disagreement, Recipient};
use crate::config::Config;
use crate::contacts::{Interests, Language};
use crate::journal::Choice;

/// Applies each recipient's choice, if they made one; returns, per address it applied to, the
/// day of the choice.
pub(super) fn apply(
    config: &Config,
    choices: &HashMap<String, Choice>,
    suppressed: &HashMap<String, String>,
    merged: &mut [Recipient],
    aud: &mut Audience,
) -> HashMap<String, String> {
    let mut days = HashMap::new();
    if choices.is_empty() {
        return days;
    }
    // Readers who chose alike share one reading, as rows with the same cells do.
    let mut languages: HashMap<String, Arc<Language>> = HashMap::new();
    let mut topics: HashMap<String, Arc<Interests>> = HashMap::new();
    for r in merged.iter_mut() {
        let Some(choice) = choices.get(r.contact.email()) else {
            continue;
        };
        let day = crate::clock::from_ms(choice.at_ms)
            .format("%Y-%m-%d")
            .to_string();
        let langs = choice.languages.join("+");
        let tags = choice.interests.join(";");
        let whose = format!("the reader's choice of {day}");
        let at = format!("{}:{}", r.contact.list(), r.contact.line());
        let listed_langs = r.contact.languages().codes.join("+");
        // A list's word against the reader's: worth the team's attention only where the list
        // is the team's (not the sign-ups) and the reader is still mailed.
        let tell = r.contact.list().as_ref() != crate::campaign::SUBSCRIBERS
            && !suppressed.contains_key(r.contact.email());
        if tell && !r.contact.language_raw().trim().is_empty() && listed_langs != langs {
            aud.overruled.push(Disagreement {
                email: r.contact.email().to_string(),
                field: "language",
                kept: (langs.clone(), whose.clone()),
                other: (r.contact.language_raw().trim().to_string(), at.clone()),
            });
        }
        let mut listed: Vec<&String> = r.contact.interests().iter().collect();
        let mut wanted: Vec<&String> = choice.interests.iter().collect();
        listed.sort();
        wanted.sort();
        if tell && !listed.is_empty() && listed != wanted {
            let kept = if choice.interests.is_empty() {
                "none".to_string()
            } else {
                choice.interests.join(", ")
            };
            aud.overruled.push(Disagreement {
                email: r.contact.email().to_string(),
                field: "interests",
                kept: (kept, whose.clone()),
                other: (r.contact.interests().join(", "), at),
            });
        }
        let language = languages
            .entry(langs.clone())
            .or_insert_with(|| {
                Arc::new(Language {
                    raw: langs.clone(),
                    choice: crate::language::parse_choice(&langs, &config.languages.supported),
                })
            })
            .clone();
        let interests = topics
            .entry(tags.clone())
            .or_insert_with(|| {
                Arc::new(Interests {
                    raw: tags.clone(),
                    tags: choice.interests.clone(),
                })
            })
            .clone();
        r.contact.set_language(language);
        r.contact.set_interests(interests);
        let topics_said = if choice.interests.is_empty() {
            "no topics".to_string()
        } else {
            choice.interests.join(", ")
        };
        aud.choices_applied.push((
            r.contact.email().to_string(),
            format!("{langs}; {topics_said} ({whose})"),
        ));
        days.insert(r.contact.email().to_string(), day);
    }
    days
}
