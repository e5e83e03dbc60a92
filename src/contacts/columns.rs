//! A list's header row in, what each column holds out: the headers common exports use (Excel
//! and CRMs, Outlook, Google Contacts, Mailchimp) in English, French and German, and Google
//! Contacts' in Spanish and Italian too, after the config's own mapping (`[lists.columns]`).
//! Google's exports, old ("Group Membership", "E-mail 1 - Value") and new ("Labels"), name
//! the same columns in each language of its interface.

use std::collections::BTreeMap;

use crate::config::Column;

/// How to map a header bulletin does not know, for messages.
pub const COLUMN_HELP: &str = "map its header in the config: [lists.columns] \"Your header\" = \"email\" (or name, first_name, last_name, language, interests, organisation)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Email,
    Name,
    FirstName,
    LastName,
    Language,
    Interests,
    Organisation,
    Other,
}

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

impl From<Column> for Role {
    fn from(c: Column) -> Role {
        match c {
            Column::Email => Role::Email,
            Column::Name => Role::Name,
            Column::FirstName => Role::FirstName,
            Column::LastName => Role::LastName,
            Column::Language => Role::Language,
            Column::Interests => Role::Interests,
            Column::Organisation => Role::Organisation,
        }
    }
}

/// What a column holds: the config's mapping first, then the headers that common exports use
/// (Excel and CRMs, Outlook, Google Contacts, Mailchimp) in English, French and German.
pub(super) fn role_of(header: &str, mapped: Option<&BTreeMap<String, Column>>) -> Role {
    let h = header_key(header);
    if let Some((_, c)) = mapped
        .into_iter()
        .flatten()
        .find(|(k, _)| header_key(k) == h)
    {
        return (*c).into();
    }
    match h.as_str() {
        "email"
        | "e mail"
        | "email address"
        | "e mail address"
        | "e mail 1 value"
        | "e mail 1 address"
        | "primary email"
        | "mail"
        | "courriel"
        | "adresse courriel"
        | "adresse e mail"
        | "adresse email"
        | "adresse de messagerie"
        | "adresse mail"
        | "adresse électronique"
        | "adresse electronique"
        | "e mail adresse"
        | "email adresse"
        | "mailadresse"
        // Google Contacts: "E-mail 1 - Value" in each language of its interface.
        | "e mail 1 valeur"
        | "e mail 1 wert"
        | "e mail 1 valor"
        | "e mail 1 valore"
        | "correo electrónico 1 valor"
        | "correo electronico 1 valor"
        | "indirizzo email 1 valore"
        | "correo electrónico"
        | "correo electronico"
        | "dirección de correo electrónico"
        | "indirizzo email"
        | "indirizzo e mail" => Role::Email,
        "name"
        | "full name"
        | "nom complet"
        | "contact name"
        | "display name"
        | "vollständiger name"
        | "anzeigename" => Role::Name,
        "first name" | "firstname" | "given name" | "prénom" | "prenom" | "vorname" | "nombre"
        | "nome" => Role::FirstName,
        "last name" | "lastname" | "surname" | "family name" | "nom de famille" | "nom"
        | "nachname" | "familienname" | "apellido" | "apellidos" | "cognome" => Role::LastName,
        "language" | "languages" | "lang" | "langue" | "langues" | "preferred language"
        | "langue préférée" | "langue preferee" | "sprache" | "bevorzugte sprache" => {
            Role::Language
        }
        "interests"
        | "interest"
        | "topics"
        | "tags"
        | "intérêts"
        | "interets"
        | "thèmes"
        | "themes"
        | "thématiques"
        | "thematiques"
        | "centres d intérêt"
        | "centres d interet"
        | "interessen"
        | "themen"
        // Google Contacts' groups (old exports) and labels (new), per language.
        | "group membership"
        | "labels"
        | "groupes"
        | "appartenance aux groupes"
        | "appartenance au groupe"
        | "libellés"
        | "libelles"
        | "gruppenmitgliedschaft"
        | "pertenencia a grupos"
        | "etiquetas"
        | "appartenenza a gruppi"
        | "etichette" => Role::Interests,
        "organisation"
        | "organization"
        | "org"
        | "company"
        | "institution"
        | "organisme"
        | "organization 1 name"
        | "société"
        | "societe"
        | "entreprise"
        | "firma"
        | "unternehmen"
        | "company name"
        | "organization name"
        | "organisation name"
        | "organisation 1 name"
        // Google Contacts, per language.
        | "organisation 1 nom"
        | "nom de l organisation"
        | "organisationsname"
        | "name der organisation"
        | "organización 1 nombre"
        | "organizacion 1 nombre"
        | "nombre de la organización"
        | "nombre de la organizacion"
        | "organizzazione 1 nome"
        | "nome organizzazione"
        | "organizzazione" => Role::Organisation,
        _ => Role::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_common_exports_are_known() {
        for (header, role) in [
            ("Adresse de messagerie", Role::Email),
            ("E-Mail-Adresse", Role::Email),
            ("E-mail Address", Role::Email),
            ("E-mail 1 - Value", Role::Email),
            ("Courriel", Role::Email),
            ("Prénom", Role::FirstName),
            ("Vorname", Role::FirstName),
            ("Given Name", Role::FirstName),
            ("Nom", Role::LastName),
            ("Nachname", Role::LastName),
            ("Langue", Role::Language),
            ("Sprache", Role::Language),
            ("Intérêts", Role::Interests),
            ("Interessen", Role::Interests),
            ("Société", Role::Organisation),
            ("Firma", Role::Organisation),
            ("Organization 1 - Name", Role::Organisation),
            ("Adresse mail", Role::Email),
            ("Company Name", Role::Organisation),
            ("Organization Name", Role::Organisation),
            ("Thématiques", Role::Interests),
            ("Notes", Role::Other),
            // Google Contacts, old and new exports, in each language it writes them.
            ("E-mail 1 - Value", Role::Email),
            ("E-mail 1 - Valeur", Role::Email),
            ("E-Mail 1 - Wert", Role::Email),
            ("E-mail 1 - Valor", Role::Email),
            ("E-mail 1 - Valore", Role::Email),
            ("E-mail 1 - Label", Role::Other),
            ("E-mail 1 - Libellé", Role::Other),
            ("Nom de famille", Role::LastName),
            ("Organisation 1 - Nom", Role::Organisation),
            ("Organización 1 - Nombre", Role::Organisation),
            ("Organizzazione 1 - Nome", Role::Organisation),
            ("Group Membership", Role::Interests),
            ("Groupes", Role::Interests),
            ("Libellés", Role::Interests),
            ("Gruppenmitgliedschaft", Role::Interests),
            ("Etiquetas", Role::Interests),
            ("Labels", Role::Interests),
            ("Nombre", Role::FirstName),
            ("Cognome", Role::LastName),
        ] {
            assert_eq!(role_of(header, None), role, "{header}");
        }
    }

    #[test]
    fn the_configs_mapping_comes_first() {
        let mut m = BTreeMap::new();
        m.insert("Mail pro".to_string(), Column::Email);
        m.insert("Nom".to_string(), Column::Name);
        assert_eq!(role_of("MAIL  PRO", Some(&m)), Role::Email);
        assert_eq!(
            role_of("nom", Some(&m)),
            Role::Name,
            "overrides the built-in table"
        );
        assert_eq!(role_of("Prénom", Some(&m)), Role::FirstName);
    }
}
