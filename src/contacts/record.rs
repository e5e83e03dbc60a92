//! A contact's cells in, a compact [`Contact`] out: one allocation for its text, and what rows
//! share (a list's headers, a language cell, a set of interests) held once and pointed to.
//!
//! A campaign may reach a million contacts, so the record is what bounds memory: a plain struct
//! of `String`s cost about 1.5 KB a contact, this about 200 bytes.

use std::sync::Arc;

use crate::language::LanguageChoice;

/// Between the parts of a contact's text. Every value is one line with control characters made
/// spaces (`text::one_line`), and addresses refuse them, so none holds it.
const SEP: char = '\u{1f}';
/// Parts before the columns: the address, then name, first name, last name and organisation
/// when they do not come from a column (a name in the address, a value merged in).
const CORE: usize = 5;

/// What the rows of one list share: its name and headers, and which column means what.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub list: Arc<str>,
    pub columns: Vec<Arc<str>>,
    pub email: Option<usize>,
    pub name: Option<usize>,
    pub first_name: Option<usize>,
    pub last_name: Option<usize>,
    pub organisation: Option<usize>,
    pub language: Option<usize>,
    pub interests: Option<usize>,
}

impl Shape {
    /// A shape with no columns: for contacts made up (a sample, the web copy's reader).
    pub fn bare(list: &str) -> Arc<Shape> {
        Arc::new(Shape {
            list: list.into(),
            ..Default::default()
        })
    }
}

/// An interests cell as written, and its tags; rows with the same cell share one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Interests {
    pub raw: String,
    pub tags: Vec<String>,
}

/// A language cell as written, and what it says; rows with the same cell share one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Language {
    pub raw: String,
    pub choice: LanguageChoice,
}

#[derive(Debug, Clone)]
pub struct Contact {
    text: Box<str>,
    shape: Arc<Shape>,
    language: Arc<Language>,
    interests: Arc<Interests>,
    line: u32,
}

/// The core values, by the part of the text that holds them when no column does.
#[derive(Clone, Copy)]
enum Core {
    Name = 1,
    FirstName = 2,
    LastName = 3,
    Organisation = 4,
}

impl Contact {
    /// `email` is the address as parsed; `name` a name that no column gives (the one in
    /// "Jane Doe <jane@example.org>"), or empty; `cells` one value per column of `shape`.
    pub fn new(
        shape: Arc<Shape>,
        email: &str,
        name: &str,
        cells: &[&str],
        language: Arc<Language>,
        interests: Arc<Interests>,
        line: usize,
    ) -> Contact {
        let mut text = String::with_capacity(email.len() + name.len() + 8 + cells.len() * 12);
        text.push_str(email);
        text.push(SEP);
        text.push_str(name);
        text.extend([SEP; CORE - 2]);
        for (i, cell) in cells.iter().enumerate() {
            text.push(SEP);
            // Said once: the address, the language and interests cells are kept beside the
            // text already.
            let derived = (Some(i) == shape.email && *cell == email)
                || (Some(i) == shape.language && *cell == language.raw)
                || (Some(i) == shape.interests && *cell == interests.raw);
            if !derived {
                text.push_str(cell);
            }
        }
        Contact {
            text: text.into_boxed_str(),
            shape,
            language,
            interests,
            line: u32::try_from(line).unwrap_or(u32::MAX),
        }
    }

    /// A contact with no list behind it: the sample a template is tried on, the reader of the
    /// web copy.
    pub fn made_up(list: &str, email: &str, name: &str, first: &str, last: &str) -> Contact {
        let mut c = Contact::new(
            Shape::bare(list),
            email,
            name,
            &[],
            Arc::default(),
            Arc::default(),
            0,
        );
        c.set_core(Core::FirstName, first);
        c.set_core(Core::LastName, last);
        c
    }

    fn part(&self, i: usize) -> &str {
        self.text.split(SEP).nth(i).unwrap_or("")
    }

    fn column(&self, i: Option<usize>) -> &str {
        let Some(i) = i else { return "" };
        let v = self.part(CORE + i);
        if v.is_empty() && Some(i) == self.shape.email {
            return self.email();
        }
        if v.is_empty() && Some(i) == self.shape.language {
            return &self.language.raw;
        }
        if v.is_empty() && Some(i) == self.shape.interests {
            return &self.interests.raw;
        }
        v
    }

    fn core(&self, which: Core, column: Option<usize>) -> &str {
        match self.part(which as usize) {
            "" => self.column(column),
            v => v,
        }
    }

    /// Lower-cased: addresses are compared and stored without case.
    pub fn email(&self) -> &str {
        self.part(0)
    }

    pub fn name(&self) -> &str {
        self.core(Core::Name, self.shape.name)
    }

    pub fn first_name(&self) -> &str {
        self.core(Core::FirstName, self.shape.first_name)
    }

    pub fn last_name(&self) -> &str {
        self.core(Core::LastName, self.shape.last_name)
    }

    pub fn organisation(&self) -> &str {
        self.core(Core::Organisation, self.shape.organisation)
    }

    pub fn language_raw(&self) -> &str {
        &self.language.raw
    }

    pub fn languages(&self) -> &LanguageChoice {
        &self.language.choice
    }

    pub fn interests(&self) -> &[String] {
        &self.interests.tags
    }

    pub fn interests_shared(&self) -> &Arc<Interests> {
        &self.interests
    }

    /// Replaces the contact's languages (a reader's own choice beats the list's cell).
    pub fn set_language(&mut self, language: Arc<Language>) {
        self.language = language;
    }

    pub fn set_interests(&mut self, interests: Arc<Interests>) {
        self.interests = interests;
    }

    /// The file name of the list the contact came from (the first, when merged).
    pub fn list(&self) -> &Arc<str> {
        &self.shape.list
    }

    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// Every column of the row, under its header as written, in file order.
    pub fn fields(&self) -> impl Iterator<Item = (&Arc<str>, &str)> {
        self.shape
            .columns
            .iter()
            .enumerate()
            .map(|(i, h)| (h, self.column(Some(i))))
    }

    /// The values every contact may have, whatever its list's columns, by the names templates
    /// use for them.
    pub fn core_values(&self) -> [(&'static str, String); 4] {
        [
            ("name", self.display_name()),
            ("first_name", self.first_name().to_string()),
            ("last_name", self.last_name().to_string()),
            ("organisation", self.organisation().to_string()),
        ]
    }

    /// The name to greet and to show in `To`: the full name, else first and last name joined.
    pub fn display_name(&self) -> String {
        if !self.name().is_empty() {
            return self.name().to_string();
        }
        let joined = format!("{} {}", self.first_name(), self.last_name());
        joined.trim().to_string()
    }

    fn parts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.text.split(SEP).map(str::to_string).collect();
        v.resize(CORE + self.shape.columns.len(), String::new());
        v
    }

    fn rebuild(&mut self, parts: &[String]) {
        self.text = parts.join(&SEP.to_string()).into_boxed_str();
    }

    fn set_core(&mut self, which: Core, value: &str) {
        let mut parts = self.parts();
        parts[which as usize] = crate::text::one_line(value);
        self.rebuild(&parts);
    }

    /// The same contact at another address (a test send's).
    pub fn with_email(&self, email: &str) -> Contact {
        let mut c = self.clone();
        let mut parts = c.parts();
        // The address column, derived from the address until now, keeps its value.
        if let Some(i) = c.shape.email {
            if parts[CORE + i].is_empty() {
                parts[CORE + i] = self.email().to_string();
            }
        }
        parts[0] = email.to_string();
        c.rebuild(&parts);
        c
    }

    /// Gives the contact `value` for `key`, as a column of that name would (a sample value for
    /// a merge field the contact lacks).
    pub fn fill(&mut self, key: &str, value: &str) {
        match key {
            "name" => self.set_core(Core::Name, value),
            "first_name" => self.set_core(Core::FirstName, value),
            "last_name" => self.set_core(Core::LastName, value),
            "organisation" => self.set_core(Core::Organisation, value),
            _ => {
                let mut parts = self.parts();
                let mut shape = (*self.shape).clone();
                shape.columns.push(key.into());
                parts.push(crate::text::one_line(value));
                self.shape = Arc::new(shape);
                self.rebuild(&parts);
            }
        }
    }

    /// Merges `other` (a later row for the same address) in: interests add up, empty values
    /// fill, columns the other list has and this one lacks are added.
    pub fn merge(&mut self, other: &Contact) {
        let missing: Vec<&String> = other
            .interests()
            .iter()
            .filter(|i| !self.interests().contains(i))
            .collect();
        if !missing.is_empty() {
            let mut tags = self.interests().to_vec();
            tags.extend(missing.into_iter().cloned());
            self.interests = Arc::new(Interests {
                raw: self.interests.raw.clone(),
                tags,
            });
        }
        // The first row that says anything of the language stands, even a language the
        // project does not write in (the audience then applies the fallback, and says so).
        if self.language_raw().trim().is_empty() && !other.language_raw().trim().is_empty() {
            self.language = other.language.clone();
        }
        let mut parts = self.parts();
        let mut changed = false;
        for (which, mine, theirs) in [
            (Core::Name, self.name(), other.name()),
            (Core::FirstName, self.first_name(), other.first_name()),
            (Core::LastName, self.last_name(), other.last_name()),
            (
                Core::Organisation,
                self.organisation(),
                other.organisation(),
            ),
        ] {
            if mine.is_empty() && !theirs.is_empty() {
                parts[which as usize] = theirs.to_string();
                changed = true;
            }
        }
        let mut shape: Option<Shape> = None;
        for (k, v) in other.fields() {
            match self.shape.columns.iter().position(|h| h == k) {
                Some(i) if self.column(Some(i)).is_empty() && !v.is_empty() => {
                    parts[CORE + i] = v.to_string();
                    changed = true;
                }
                Some(_) => {}
                None => {
                    shape
                        .get_or_insert_with(|| (*self.shape).clone())
                        .columns
                        .push(k.clone());
                    parts.push(v.to_string());
                    changed = true;
                }
            }
        }
        if let Some(s) = shape {
            self.shape = Arc::new(s);
        }
        if changed {
            self.rebuild(&parts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(columns: &[&str]) -> Arc<Shape> {
        let pos = |n: &str| columns.iter().position(|c| *c == n);
        Arc::new(Shape {
            list: "a.csv".into(),
            columns: columns.iter().map(|c| Arc::from(*c)).collect(),
            email: pos("email"),
            name: pos("name"),
            first_name: pos("first_name"),
            last_name: pos("last_name"),
            organisation: pos("organisation"),
            language: pos("language"),
            interests: pos("interests"),
        })
    }

    fn tags(t: &[&str]) -> Arc<Interests> {
        Arc::new(Interests {
            raw: t.join(";"),
            tags: t.iter().map(|x| x.to_string()).collect(),
        })
    }

    fn lang(raw: &str) -> Arc<Language> {
        Arc::new(Language {
            raw: raw.into(),
            choice: crate::language::parse_choice(raw, &["en".into(), "fr".into()]),
        })
    }

    #[test]
    fn values_read_back_as_written_and_the_address_and_language_are_not_kept_twice() {
        let s = shape(&["email", "first_name", "language", "role"]);
        let c = Contact::new(
            s,
            "ann@example.org",
            "",
            &["ann@example.org", "Ann", "fr", "Diplomat"],
            lang("fr"),
            tags(&["landmines"]),
            7,
        );
        assert_eq!(c.email(), "ann@example.org");
        assert_eq!(c.first_name(), "Ann");
        assert_eq!(c.display_name(), "Ann");
        assert_eq!(c.language_raw(), "fr");
        assert_eq!(c.languages().codes, vec!["fr".to_string()]);
        let f: Vec<(String, String)> = c
            .fields()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            f,
            [
                ("email", "ann@example.org"),
                ("first_name", "Ann"),
                ("language", "fr"),
                ("role", "Diplomat")
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(c.line(), 7);
        assert!(!c.text.contains("fr"), "{:?}", c.text);
        assert_eq!(c.text.matches("ann@example.org").count(), 1);
    }

    #[test]
    fn merging_fills_empty_values_adds_interests_and_columns() {
        let a = shape(&["email", "first_name", "organisation"]);
        let b = shape(&["email", "organisation", "city"]);
        let mut one = Contact::new(
            a,
            "x@example.org",
            "",
            &["x@example.org", "Xi", ""],
            lang(""),
            tags(&["a"]),
            2,
        );
        let two = Contact::new(
            b,
            "x@example.org",
            "Xi Li",
            &["Xi Li <x@example.org>", "UNIDIR", "Geneva"],
            lang("en"),
            tags(&["b", "a"]),
            9,
        );
        one.merge(&two);
        assert_eq!(one.organisation(), "UNIDIR");
        assert_eq!(one.name(), "Xi Li");
        assert_eq!(one.first_name(), "Xi");
        assert_eq!(one.interests(), ["a", "b"]);
        assert_eq!(one.language_raw(), "en");
        let city = one.fields().find(|(k, _)| &***k == "city").map(|(_, v)| v);
        assert_eq!(city, Some("Geneva"));
        assert_eq!(one.line(), 2);
        assert_eq!(one.list().as_ref(), "a.csv");
    }

    #[test]
    fn another_address_keeps_the_rest() {
        let s = shape(&["email", "first_name"]);
        let c = Contact::new(
            s,
            "ann@example.org",
            "",
            &["ann@example.org", "Ann"],
            lang(""),
            Arc::default(),
            3,
        );
        let t = c.with_email("me@example.org");
        assert_eq!(t.email(), "me@example.org");
        assert_eq!(t.first_name(), "Ann");
        let mut m = Contact::made_up("sample", "s@example.org", "Sample Contact", "Sample", "");
        m.fill("city", "Sample");
        m.fill("organisation", "Org");
        assert_eq!(m.organisation(), "Org");
        assert_eq!(m.fields().count(), 1);
        assert_eq!(m.display_name(), "Sample Contact");
    }
}
