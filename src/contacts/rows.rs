//! A list's rows as the reader meets them: the header found, the columns' roles checked, what
//! rows share held once, and each row made a contact or refused with its reason.

use std::path::Path;
use std::sync::Arc;

use super::columns::Role;
use super::{
    delimiter_name, split_interests, Contact, Interests, Language, Shape, MAX_CELL, MAX_NAME,
};
use crate::config::Column;
use crate::language::parse_choice;
use crate::problems::Problems;

/// The reason a row is refused for a cell too long to be a real value, naming its column.
pub(super) fn oversized(record: &[String], columns: &[String], roles: &[Role]) -> Option<String> {
    for (i, cell) in record.iter().enumerate() {
        let role = roles.get(i).copied().unwrap_or(None);
        let max = match role {
            Some(Column::Name)
            | Some(Column::FirstName)
            | Some(Column::LastName)
            | Some(Column::Organisation) => MAX_NAME,
            _ => MAX_CELL,
        };
        let n = cell.trim().chars().count();
        if n > max {
            let col = columns.get(i).map_or("(no header)", String::as_str);
            return Some(format!(
                "the cell in column {} is {n} characters long; at most {max} are accepted there: is it a paste gone wrong?",
                crate::term::quoted(col)
            ));
        }
    }
    None
}

/// The header: the first row with any text in it (after Excel's `sep=` line), with its line.
/// `None` when there is none (the problem is reported).
pub(super) fn header<R: std::io::Read>(
    records: &mut csv::StringRecordsIter<'_, R>,
    line_of: &dyn Fn(Option<&csv::Position>) -> Option<usize>,
    sep_line: bool,
    path: &Path,
    problems: &mut Problems,
) -> Option<(usize, csv::StringRecord)> {
    loop {
        match records.next() {
            None => {
                problems.error(path, None, "the list is empty: it needs a header row with an `email` column, then one row per contact");
                return None;
            }
            Some(Err(e)) => {
                let line = line_of(e.position());
                problems.error(path, line, format!("cannot read the header row: {e}"));
                return None;
            }
            Some(Ok(r)) if r.iter().all(|f| f.trim().is_empty()) => continue,
            Some(Ok(r)) if sep_line && line_of(r.position()) == Some(1) => continue,
            Some(Ok(r)) => return Some((line_of(r.position()).unwrap_or(1), r)),
        }
    }
}

/// Warns of several columns read as one value (two `email` columns, `Topics` and `Interests`),
/// naming them and the one used.
pub(super) fn warn_doubled_roles(
    path: &Path,
    header_line: usize,
    roles: &[Role],
    columns: &[String],
    problems: &mut Problems,
) {
    for (role, what) in [
        (Some(Column::Email), "the address"),
        (Some(Column::Language), "the language"),
        (Some(Column::Interests), "interests"),
        (Some(Column::Name), "the name"),
    ] {
        let named: Vec<String> = roles
            .iter()
            .zip(columns)
            .enumerate()
            .filter(|(_, (r, _))| **r == role)
            .map(|(i, (_, c))| format!("\"{c}\" (column {})", i + 1))
            .collect();
        if named.len() > 1 {
            problems.warning(
                path,
                Some(header_line),
                format!(
                    "several columns mean {what}: {}; {} is used for it, and the others are read as ordinary columns (templates still see them). To use another, rename the headers or map them in [lists.columns]",
                    named.join(", "),
                    named[0]
                ),
            );
        }
    }
}

/// What each column of a list holds, from its header's roles.
pub(super) fn shape_of(
    name: &Arc<str>,
    columns: &[String],
    roles: &[Role],
    email_col: usize,
) -> Shape {
    let col = |role: Role| roles.iter().position(|r| *r == role);
    let (c_name, c_first, c_last, c_lang, c_int, c_org) = (
        col(Some(Column::Name)),
        col(Some(Column::FirstName)),
        col(Some(Column::LastName)),
        col(Some(Column::Language)),
        col(Some(Column::Interests)),
        col(Some(Column::Organisation)),
    );
    Shape {
        list: name.clone(),
        columns: columns.iter().map(|c| Arc::from(c.as_str())).collect(),
        email: Some(email_col),
        name: c_name,
        first_name: c_first,
        last_name: c_last,
        organisation: c_org,
        language: c_lang,
        interests: c_int,
    }
}

/// What rows of a list share: each distinct language cell and interests cell, read once.
#[derive(Default)]
pub(super) struct Shared {
    languages: std::collections::HashMap<String, Arc<Language>>,
    interests: std::collections::HashMap<String, Arc<Interests>>,
}

impl Shared {
    pub(super) fn language(&mut self, raw: String, supported: &[String]) -> Arc<Language> {
        if let Some(l) = self.languages.get(&raw) {
            return Arc::clone(l);
        }
        let l = Arc::new(Language {
            choice: parse_choice(&raw, supported),
            raw: raw.clone(),
        });
        self.languages.insert(raw, Arc::clone(&l));
        l
    }

    fn interests(&mut self, cell: String) -> Arc<Interests> {
        if let Some(i) = self.interests.get(&cell) {
            return Arc::clone(i);
        }
        let i = Arc::new(Interests {
            tags: split_interests(&cell),
            raw: cell.clone(),
        });
        self.interests.insert(cell, Arc::clone(&i));
        i
    }
}

/// One row of a list, as read, for the checks that may refuse it.
pub(super) struct Row<'a> {
    pub(super) record: &'a [String],
    pub(super) columns: &'a [String],
    pub(super) roles: &'a [Role],
    pub(super) unbalanced: bool,
    pub(super) delimiter: u8,
    pub(super) email_col: usize,
    pub(super) smtputf8: bool,
}

impl Row<'_> {
    /// The row's contact, or why the row is refused.
    pub(super) fn contact(
        &self,
        shape: &Arc<Shape>,
        shared: &mut Shared,
        supported: &[String],
        line: usize,
    ) -> std::result::Result<Contact, String> {
        let (email, name_in_address) = self.address()?;
        // Cells are one line wherever they are printed: a line break in a name would split a
        // greeting, or a header.
        let get = |c: Option<usize>| {
            c.and_then(|i| self.record.get(i))
                .map(|s| crate::text::one_line(s))
                .unwrap_or_default()
        };
        let language = shared.language(get(shape.language), supported);
        let interests = shared.interests(get(shape.interests));
        let cells: Vec<String> = (0..self.columns.len()).map(|i| get(Some(i))).collect();
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        let name_in_address = if get(shape.name).is_empty() {
            crate::text::one_line(&name_in_address.unwrap_or_default())
        } else {
            String::new()
        };
        Ok(Contact::new(
            Arc::clone(shape),
            &email,
            &name_in_address,
            &cells,
            language,
            interests,
            line,
        ))
    }

    /// The row's address (and a name written with it), or why the row is refused.
    pub(super) fn address(&self) -> std::result::Result<(String, Option<String>), String> {
        let (record, columns) = (self.record, self.columns);
        // A quote opened and never closed swallows the rows after it into one cell that runs
        // over lines: other contacts' addresses would end up in this one's name. (A cell
        // quoted over lines on purpose, a postal address, closes its quote.)
        if let Some(i) = record
            .iter()
            .position(|f| self.unbalanced && f.contains('\n'))
        {
            let col = columns.get(i).map_or("(no header)", String::as_str);
            return Err(format!(
                "the cell in column {col} opens a quote (\") that is never closed, so it swallows the lines after it: close the quote, or remove it"
            ));
        }
        let extra_filled = record
            .iter()
            .skip(columns.len())
            .any(|f| !f.trim().is_empty());
        if extra_filled {
            return Err(format!(
                "this row has {} fields but the header has {}: a value probably holds an unquoted {}",
                record.len(),
                columns.len(),
                delimiter_name(self.delimiter)
            ));
        }
        if let Some(why) = oversized(record, columns, self.roles) {
            return Err(why);
        }
        let a = crate::address::parse_cell(
            // As it is: the address parser refuses control characters rather than mend them.
            record.get(self.email_col).map_or("", |s| s.trim()),
        )
        .map_err(|e| e.to_string())?;
        if !self.smtputf8 && crate::address::needs_smtputf8(&a.email) {
            return Err(format!(
                "{} has letters outside ASCII before the @, which only a relay that speaks SMTPUTF8 can deliver: if yours does, set `smtputf8 = true` under [smtp]; otherwise ask the contact for another address",
                crate::term::quoted(&a.email)
            ));
        }
        Ok((a.email, a.name))
    }
}
