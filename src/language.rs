//! Language values as people type them ("fr-CH", "Français", "en+fr", "bilingual") in, the
//! supported language codes they mean out; plus dates written the way each language writes them.

use chrono::{Datelike, NaiveDate};

/// Names by which a language is commonly written in contact lists, in English, in the language
/// itself, and in the other languages of Geneva's institutions.
const NAMES: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "english", "anglais", "englisch", "inglés", "ingles", "inglese", "eng",
        ],
    ),
    (
        "fr",
        &[
            "french",
            "français",
            "francais",
            "französisch",
            "francés",
            "frances",
            "francese",
            "fra",
            "fre",
        ],
    ),
    (
        "de",
        &[
            "german", "deutsch", "allemand", "alemán", "aleman", "tedesco", "deu", "ger",
        ],
    ),
    (
        "es",
        &[
            "spanish", "español", "espanol", "espagnol", "spanisch", "spagnolo", "spa",
        ],
    ),
    (
        "it",
        &["italian", "italiano", "italien", "italienisch", "ita"],
    ),
    (
        "ar",
        &["arabic", "arabe", "arabisch", "árabe", "العربية", "ara"],
    ),
    (
        "ru",
        &["russian", "russe", "russisch", "ruso", "русский", "rus"],
    ),
    (
        "zh",
        &[
            "chinese",
            "chinois",
            "chinesisch",
            "chino",
            "中文",
            "zho",
            "chi",
        ],
    ),
    (
        "pt",
        &[
            "portuguese",
            "portugais",
            "portugiesisch",
            "portugués",
            "português",
            "por",
        ],
    ),
];

/// Words that ask for every supported language.
const ALL_WORDS: &[&str] = &[
    "bilingual",
    "bilingue",
    "both",
    "les deux",
    "all",
    "tous",
    "toutes",
];

/// What a contact's language cell says, once read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LanguageChoice {
    /// Supported codes in the order the contact gave them, without repeats.
    pub codes: Vec<String>,
    /// Parts of the cell that name no supported language ("es" where only en and fr are).
    pub unsupported: Vec<String>,
}

impl LanguageChoice {
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// The code a single language word names, whether or not the project supports it.
pub fn code_of(word: &str) -> Option<String> {
    let w = word
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'')
        .to_lowercase();
    if w.is_empty() {
        return None;
    }
    // "fr-CH", "fr_CH", "en-GB": the primary subtag is the language.
    let primary = w.split(['-', '_']).next().unwrap_or(&w);
    if primary.len() == 2 && primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some(primary.to_string());
    }
    for (code, names) in NAMES {
        if names.contains(&w.as_str()) || names.contains(&primary) {
            return Some((*code).to_string());
        }
    }
    // "French (Switzerland)", "Français (Suisse)"
    let first_word = w.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
    if first_word != w {
        return code_of(first_word);
    }
    None
}

/// Reads a language cell against the supported codes, in the order the contact wrote them.
pub fn parse_choice(raw: &str, supported: &[String]) -> LanguageChoice {
    let mut choice = LanguageChoice::default();
    let lowered = raw.trim().to_lowercase();
    if lowered.is_empty() {
        return choice;
    }
    if ALL_WORDS.contains(&lowered.as_str()) {
        choice.codes = supported.to_vec();
        return choice;
    }
    for part in lowered
        .split(['+', ';', '/', ',', '&', '|'])
        .flat_map(|p| p.split(" and ").flat_map(|q| q.split(" et ")))
    {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if ALL_WORDS.contains(&part) {
            for s in supported {
                if !choice.codes.contains(s) {
                    choice.codes.push(s.clone());
                }
            }
            continue;
        }
        match code_of(part) {
            Some(c) if supported.contains(&c) => {
                if !choice.codes.contains(&c) {
                    choice.codes.push(c);
                }
            }
            _ => choice.unsupported.push(part.to_string()),
        }
    }
    choice
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_DE: [&str; 12] = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];
const MONTHS_IT: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];
const MONTHS_PT: [&str; 12] = [
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
];

/// Whether [`format_date`] writes this language's dates in words.
pub fn has_date_names(code: &str) -> bool {
    matches!(code, "en" | "fr" | "de" | "es" | "it" | "pt")
}

/// A date as the language writes it in running text: "24 November 2026", "1er novembre 2026",
/// "24. November 2026", "24 de noviembre de 2026". Languages without a table get ISO 8601.
pub fn format_date(date: NaiveDate, code: &str) -> String {
    let d = date.day();
    let m = date.month0() as usize;
    let y = date.year();
    match code {
        "en" => format!("{d} {} {y}", MONTHS_EN[m]),
        "fr" if d == 1 => format!("1er {} {y}", MONTHS_FR[m]),
        "fr" => format!("{d} {} {y}", MONTHS_FR[m]),
        "de" => format!("{d}. {} {y}", MONTHS_DE[m]),
        "es" => format!("{d} de {} de {y}", MONTHS_ES[m]),
        "it" => format!("{d} {} {y}", MONTHS_IT[m]),
        "pt" => format!("{d} de {} de {y}", MONTHS_PT[m]),
        _ => date.format("%Y-%m-%d").to_string(),
    }
}

/// The language's own name for itself, for links such as "Version française".
pub fn native_name(code: &str) -> &'static str {
    match code {
        "en" => "English",
        "fr" => "Français",
        "de" => "Deutsch",
        "es" => "Español",
        "it" => "Italiano",
        "ar" => "العربية",
        "ru" => "Русский",
        "zh" => "中文",
        "pt" => "Português",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sup() -> Vec<String> {
        vec!["en".into(), "fr".into()]
    }

    #[test]
    fn reads_language_values_as_typed() {
        for raw in [
            "fr",
            "FR",
            "fr-CH",
            "fr_ch",
            "French",
            "français",
            "Français",
            " francais ",
        ] {
            assert_eq!(parse_choice(raw, &sup()).codes, vec!["fr"], "{raw}");
        }
        assert_eq!(parse_choice("English (UK)", &sup()).codes, vec!["en"]);
    }

    #[test]
    fn reads_both_languages_in_the_order_given() {
        assert_eq!(parse_choice("fr+en", &sup()).codes, vec!["fr", "en"]);
        assert_eq!(parse_choice("en;fr", &sup()).codes, vec!["en", "fr"]);
        assert_eq!(
            parse_choice("Français et anglais", &sup()).codes,
            vec!["fr", "en"]
        );
        assert_eq!(parse_choice("bilingual", &sup()).codes, vec!["en", "fr"]);
    }

    #[test]
    fn keeps_unsupported_values_apart() {
        let c = parse_choice("es", &sup());
        assert!(c.codes.is_empty());
        assert_eq!(c.unsupported, vec!["es"]);
        let c = parse_choice("Klingon", &sup());
        assert_eq!(c.unsupported, vec!["klingon"]);
    }

    #[test]
    fn writes_dates_per_language() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        assert_eq!(format_date(d, "en"), "24 November 2026");
        assert_eq!(format_date(d, "fr"), "24 novembre 2026");
        let first = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
        assert_eq!(format_date(first, "fr"), "1er août 2026");
        assert_eq!(format_date(d, "xx"), "2026-11-24");
    }
}
