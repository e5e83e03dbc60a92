//! A list's header row in, what each column holds out: the headers common exports use (Excel
//! and CRMs, Outlook, Google Contacts, Mailchimp) in English, French and German, and Google
//! Contacts' in Spanish and Italian too, after the config's own mapping (`[lists.columns]`).
//! Google's exports, old ("Group Membership", "E-mail 1 - Value") and new ("Labels"), name
//! the same columns in each language of its interface.

use std::collections::BTreeMap;

use crate::config::Column;

/// How to map a header bulletin does not know, for messages.
pub const COLUMN_HELP: &str = "map its header in the config: [lists.columns] \"Your header\" = \"email\" (or name, first_name, last_name, language, interests, organisation)";

/// What a column holds: one of the values bulletin reads (`config::Column`, which the config's
/// `[lists.columns]` maps headers to), or none, an ordinary column templates see by name.
pub(super) type Role = Option<Column>;

/// Whether `header` is the one a `[lists.columns]` key names (case and punctuation aside).
pub fn same_header(key: &str, header: &str) -> bool {
    header_key(key) == header_key(header)
}

/// A header as the table below lists it: lower case, each run of other characters one space.
fn header_key(header: &str) -> String {
    let h: String = header
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    h.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The headers each column is known by, as [`header_key`] writes them: English, French,
/// German, Spanish and Italian, and the exports of Outlook, Google Contacts, Mailchimp and
/// HubSpot in those languages.
const KNOWN: &[(Column, &[&str])] = &[
    (
        Column::Email,
        &[
            "email",
            "e mail",
            "email address",
            "e mail address",
            "e mail 1 value",
            "e mail 1 address",
            "primary email",
            "mail",
            "courriel",
            "adresse courriel",
            "adresse e mail",
            "adresse email",
            "adresse de messagerie",
            "adresse mail",
            "adresse électronique",
            "adresse electronique",
            "e mail adresse",
            "email adresse",
            "mailadresse",
            // Google Contacts: "E-mail 1 - Value" in each language of its interface.
            "e mail 1 valeur",
            "e mail 1 wert",
            "e mail 1 valor",
            "e mail 1 valore",
            "correo electrónico 1 valor",
            "correo electronico 1 valor",
            "indirizzo email 1 valore",
            "correo electrónico",
            "correo electronico",
            "dirección de correo electrónico",
            "indirizzo email",
            "indirizzo e mail",
        ],
    ),
    (
        Column::Name,
        &[
            "name",
            "full name",
            "nom complet",
            "contact name",
            "display name",
            "vollständiger name",
            "anzeigename",
        ],
    ),
    (
        Column::FirstName,
        &[
            "first name",
            "firstname",
            "given name",
            "prénom",
            "prenom",
            "vorname",
            "nombre",
            "nome",
        ],
    ),
    (
        Column::LastName,
        &[
            "last name",
            "lastname",
            "surname",
            "family name",
            "nom de famille",
            "nom",
            "nachname",
            "familienname",
            "apellido",
            "apellidos",
            "cognome",
        ],
    ),
    (
        Column::Language,
        &[
            "language",
            "languages",
            "lang",
            "langue",
            "langues",
            "preferred language",
            "langue préférée",
            "langue preferee",
            "sprache",
            "bevorzugte sprache",
        ],
    ),
    (
        Column::Interests,
        &[
            "interests",
            "interest",
            "topics",
            "tags",
            "intérêts",
            "interets",
            "thèmes",
            "themes",
            "thématiques",
            "thematiques",
            "centres d intérêt",
            "centres d interet",
            "interessen",
            "themen",
            // Google Contacts' groups (old exports) and labels (new), per language.
            "group membership",
            "labels",
            "groupes",
            "appartenance aux groupes",
            "appartenance au groupe",
            "libellés",
            "libelles",
            "gruppenmitgliedschaft",
            "pertenencia a grupos",
            "etiquetas",
            "appartenenza a gruppi",
            "etichette",
        ],
    ),
    (
        Column::Organisation,
        &[
            "organisation",
            "organization",
            "org",
            "company",
            "institution",
            "organisme",
            "organization 1 name",
            "société",
            "societe",
            "entreprise",
            "firma",
            "unternehmen",
            "company name",
            "organization name",
            "organisation name",
            "organisation 1 name",
            // Google Contacts, per language.
            "organisation 1 nom",
            "nom de l organisation",
            "organisationsname",
            "name der organisation",
            "organización 1 nombre",
            "organizacion 1 nombre",
            "nombre de la organización",
            "nombre de la organizacion",
            "organizzazione 1 nome",
            "nome organizzazione",
            "organizzazione",
        ],
    ),
];

/// What a column holds: the config's mapping first, then the headers that common exports use
/// (Excel and CRMs, Outlook, Google Contacts, Mailchimp) in English, French and German.
pub(super) fn role_of(header: &str, mapped: Option<&BTreeMap<String, Column>>) -> Role {
    let h = header_key(header);
    if let Some((_, c)) = mapped
        .into_iter()
        .flatten()
        .find(|(k, _)| header_key(k) == h)
    {
        return Some(*c);
    }
    KNOWN
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_common_exports_are_known() {
        for (header, role) in [
            ("Adresse de messagerie", Some(Column::Email)),
            ("E-Mail-Adresse", Some(Column::Email)),
            ("E-mail Address", Some(Column::Email)),
            ("E-mail 1 - Value", Some(Column::Email)),
            ("Courriel", Some(Column::Email)),
            ("Prénom", Some(Column::FirstName)),
            ("Vorname", Some(Column::FirstName)),
            ("Given Name", Some(Column::FirstName)),
            ("Nom", Some(Column::LastName)),
            ("Nachname", Some(Column::LastName)),
            ("Langue", Some(Column::Language)),
            ("Sprache", Some(Column::Language)),
            ("Intérêts", Some(Column::Interests)),
            ("Interessen", Some(Column::Interests)),
            ("Société", Some(Column::Organisation)),
            ("Firma", Some(Column::Organisation)),
            ("Organization 1 - Name", Some(Column::Organisation)),
            ("Adresse mail", Some(Column::Email)),
            ("Company Name", Some(Column::Organisation)),
            ("Organization Name", Some(Column::Organisation)),
            ("Thématiques", Some(Column::Interests)),
            ("Notes", None),
            // Google Contacts, old and new exports, in each language it writes them.
            ("E-mail 1 - Value", Some(Column::Email)),
            ("E-mail 1 - Valeur", Some(Column::Email)),
            ("E-Mail 1 - Wert", Some(Column::Email)),
            ("E-mail 1 - Valor", Some(Column::Email)),
            ("E-mail 1 - Valore", Some(Column::Email)),
            ("E-mail 1 - Label", None),
            ("E-mail 1 - Libellé", None),
            ("Nom de famille", Some(Column::LastName)),
            ("Organisation 1 - Nom", Some(Column::Organisation)),
            ("Organización 1 - Nombre", Some(Column::Organisation)),
            ("Organizzazione 1 - Nome", Some(Column::Organisation)),
            ("Group Membership", Some(Column::Interests)),
            ("Groupes", Some(Column::Interests)),
            ("Libellés", Some(Column::Interests)),
            ("Gruppenmitgliedschaft", Some(Column::Interests)),
            ("Etiquetas", Some(Column::Interests)),
            ("Labels", Some(Column::Interests)),
            ("Nombre", Some(Column::FirstName)),
            ("Cognome", Some(Column::LastName)),
        ] {
            assert_eq!(role_of(header, None), role, "{header}");
        }
    }

    #[test]
    fn the_configs_mapping_comes_first() {
        let mut m = BTreeMap::new();
        m.insert("Mail pro".to_string(), Column::Email);
        m.insert("Nom".to_string(), Column::Name);
        assert_eq!(role_of("MAIL  PRO", Some(&m)), Some(Column::Email));
        assert_eq!(
            role_of("nom", Some(&m)),
            Some(Column::Name),
            "overrides the built-in table"
        );
        assert_eq!(role_of("Prénom", Some(&m)), Some(Column::FirstName));
    }
}
