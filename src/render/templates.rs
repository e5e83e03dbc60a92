//! The templates folder in, compiled tera templates out: every template read (none from outside
//! the folder), bulletin's `date` filter registered, tera's `get_env` taken away, and each
//! syntax error named with its file and line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tera::Tera;

use crate::config::Config;
use crate::language::format_date;
use crate::problems::Problems;
use crate::updates::Updates;

/// A template: its name, its file, its text.
pub type Source = (String, PathBuf, String);

/// HTML escaping for values printed in templates: `&`, `<`, `>`, `"` and `'`. Unlike tera's
/// default it leaves `/` alone, so that a link reaches the message exactly as in its header
/// (`https://...`, not `https:&#x2F;&#x2F;...`), which some mail clients and filters compare.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#x27;"),
            c => o.push(c),
        }
    }
    o
}

/// Whether `path` (followed through any link) is inside `dir`.
fn inside(dir: &Path, path: &Path) -> bool {
    match (dir.canonicalize(), path.canonicalize()) {
        (Ok(d), Ok(f)) => f.starts_with(d),
        _ => false,
    }
}

/// Where in a template source a tera error points: its "--> LINE:COL" marker.
pub(super) fn line_in_tera_error(msg: &str) -> Option<usize> {
    let at = msg.find("--> ")?;
    let rest = &msg[at + 4..];
    rest.split(':').next()?.trim().parse().ok()
}

/// The whole chain of a tera error in one line: tera keeps the useful part in its sources.
pub fn tera_error_text(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    parts.join(": ")
}

/// Finds the first line of `source` that uses `needle`, to point at the likely culprit of an
/// error that tera reports without a line (a variable missing at render time).
pub(super) fn line_using(source: &str, needle: &str) -> Option<usize> {
    source
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
}

/// `{{ date | date(lang="fr") }}`. The updates' dates in every language are written once,
/// up front: templates ask for them in every message.
pub(super) fn date_filter(
    default_lang: String,
    known: HashMap<(String, String), String>,
) -> impl tera::Filter {
    move |value: &Value, args: &HashMap<String, Value>| -> tera::Result<Value> {
        let lang = args
            .get("lang")
            .and_then(Value::as_str)
            .unwrap_or(&default_lang);
        let s = value.as_str().ok_or_else(|| {
            tera::Error::msg("the date filter takes a date such as \"2026-11-24\"")
        })?;
        if let Some(text) = known.get(&(s.to_string(), lang.to_string())) {
            return Ok(Value::String(text.clone()));
        }
        let day = s.get(..10).unwrap_or(s);
        let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            tera::Error::msg(format!(
                "the date filter cannot read \"{s}\" as a date (YYYY-MM-DD)"
            ))
        })?;
        Ok(Value::String(format_date(d, lang)))
    }
}

/// The templates' files: every `.html` and `.txt` of the folder, in name order.
fn read_sources(dir: &Path, p: &mut Problems) -> Option<Vec<Source>> {
    let mut sources: Vec<Source> = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            p.error(dir, None, format!("cannot read the templates folder: {e}"));
            return None;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Folders are skipped; anything else named like a template is looked at, so that a
        // link to a device or outside the folder is refused rather than ignored.
        if path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !(name.ends_with(".html") || name.ends_with(".txt")) {
            continue;
        }
        if !inside(dir, &path) {
            p.error(
                &path,
                None,
                "this template is a link to a file outside the templates folder: templates may read nothing else; copy the file in instead",
            );
            continue;
        }
        match crate::limits::read_text_capped(&path, crate::limits::TEXT_FILE) {
            Ok(src) => sources.push((name, path, src)),
            Err(e) => p.error(&path, None, format!("cannot read: {e}")),
        }
    }
    sources.sort();
    Some(sources)
}

/// Reads and compiles every template of the templates folder, with bulletin's filters and
/// without `get_env`. Each problem is added to `p`, naming its file and line; `None` when the
/// templates cannot be used.
pub fn load(config: &Config, updates: &Updates, p: &mut Problems) -> Option<(Tera, Vec<Source>)> {
    let dir = config.templates_dir();
    let sources = read_sources(&dir, p)?;
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html", ".htm"]);
    tera.set_escape_fn(escape);
    let mut known_dates = HashMap::new();
    for versions in updates.by_slug.values() {
        for u in versions.values() {
            for lang in &config.languages.supported {
                known_dates.insert(
                    (u.date.to_string(), lang.clone()),
                    format_date(u.date, lang),
                );
            }
        }
    }
    tera.register_filter(
        "date",
        date_filter(config.languages.default.clone(), known_dates),
    );
    tera.register_function(
        "get_env",
        |_: &HashMap<String, Value>| -> tera::Result<Value> {
            Err(tera::Error::msg(
                "get_env is not available: templates cannot read the environment",
            ))
        },
    );
    // Compiled one by one first, so each syntax error names its own file and line.
    let mut ok = true;
    for (name, path, src) in &sources {
        let mut probe = Tera::default();
        let compiled = probe.add_raw_template(name, src);
        if compiled.is_ok() {
            let before = p.errors().count();
            forbid_calls(&probe, name, path, src, p);
            ok &= p.errors().count() == before;
        }
        if let Err(e) = compiled {
            let text = tera_error_text(&e);
            // An `extends` of a template not yet added is fine here; the full load checks it.
            if !text.contains("doesn't exist") {
                p.error(
                    path,
                    line_in_tera_error(&text),
                    format!("template does not compile: {text}"),
                );
                ok = false;
            }
        }
    }
    if !ok {
        return None;
    }
    if let Err(e) = tera.add_raw_templates(sources.iter().map(|(n, _, s)| (n.clone(), s.clone()))) {
        p.error(
            &dir,
            None,
            format!("templates do not fit together: {}", tera_error_text(&e)),
        );
        return None;
    }
    for (name, _, _) in &sources {
        escape_defaults_once(&mut tera, name);
    }
    Some((tera, sources))
}

/// Functions a template may not call: tera's `get_env` reads the process environment, which
/// holds the SMTP password. It is replaced by one that fails, and `check` names every call.
const FORBIDDEN_FUNCTIONS: &[&str] = &["get_env"];

/// Collects function calls by name, filters as `|name`, and `include`, `extends`, `import`.
fn expr_calls(e: &tera::ast::Expr, out: &mut Vec<String>) {
    val_calls(&e.val, out);
    for f in &e.filters {
        out.push(format!("|{}", f.name));
        f.args.values().for_each(|a| expr_calls(a, out));
    }
}

fn val_calls(v: &tera::ast::ExprVal, out: &mut Vec<String>) {
    use tera::ast::ExprVal as V;
    match v {
        V::FunctionCall(f) => {
            out.push(f.name.clone());
            f.args.values().for_each(|a| expr_calls(a, out));
        }
        V::Math(m) => {
            expr_calls(&m.lhs, out);
            expr_calls(&m.rhs, out);
        }
        V::Logic(l) => {
            expr_calls(&l.lhs, out);
            expr_calls(&l.rhs, out);
        }
        V::In(i) => {
            expr_calls(&i.lhs, out);
            expr_calls(&i.rhs, out);
        }
        V::Test(t) => t.args.iter().for_each(|a| expr_calls(a, out)),
        V::MacroCall(m) => m.args.values().for_each(|a| expr_calls(a, out)),
        V::Array(a) => a.iter().for_each(|x| expr_calls(x, out)),
        V::StringConcat(c) => c.values.iter().for_each(|x| val_calls(x, out)),
        // tera 1.20 panics when it looks up a key with letters outside ASCII.
        V::Ident(p) if !p.is_ascii() => out.push(format!("ident:{p}")),
        V::Ident(_) | V::String(_) | V::Int(_) | V::Float(_) | V::Bool(_) => {}
    }
}

/// The names of the functions a template's nodes call, anywhere.
fn node_calls(nodes: &[tera::ast::Node], out: &mut Vec<String>) {
    use tera::ast::Node as N;
    for n in nodes {
        match n {
            N::VariableBlock(_, e) => expr_calls(e, out),
            N::If(i, _) => {
                for (_, e, body) in &i.conditions {
                    expr_calls(e, out);
                    node_calls(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    node_calls(body, out);
                }
            }
            N::Forloop(_, f, _) => {
                expr_calls(&f.container, out);
                node_calls(&f.body, out);
                if let Some(b) = &f.empty_body {
                    node_calls(b, out);
                }
            }
            N::Set(_, set) => expr_calls(&set.value, out),
            N::FilterSection(_, f, _) => {
                out.push(format!("|{}", f.filter.name));
                f.filter.args.values().for_each(|a| expr_calls(a, out));
                node_calls(&f.body, out);
            }
            N::Include(..) => out.push("include".into()),
            N::Extends(..) => out.push("extends".into()),
            N::ImportMacro(..) => out.push("import".into()),
            N::Block(_, b, _) => node_calls(&b.body, out),
            N::MacroDefinition(_, m, _) => {
                m.args.values().flatten().for_each(|a| expr_calls(a, out));
                node_calls(&m.body, out);
            }
            _ => {}
        }
    }
}

/// The templates `roots` use: themselves, and every template they include, extend or import
/// macros from, followed through those.
pub(super) fn used_templates(tera: &Tera, roots: &[String]) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = roots.to_vec();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let Ok(t) = tera.get_template(&name) else {
            continue;
        };
        todo.extend(t.parents.iter().cloned());
        todo.extend(t.imported_macro_files.iter().map(|(file, _)| file.clone()));
        node_includes(&t.ast, &mut todo);
    }
    seen
}

/// The templates included anywhere below these nodes.
fn node_includes(nodes: &[tera::ast::Node], out: &mut Vec<String>) {
    use tera::ast::Node as N;
    for n in nodes {
        match n {
            N::Include(_, names, _) => out.extend(names.iter().cloned()),
            N::Extends(_, parent) => out.push(parent.clone()),
            N::ImportMacro(_, file, _) => out.push(file.clone()),
            N::If(i, _) => {
                for (_, _, body) in &i.conditions {
                    node_includes(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    node_includes(body, out);
                }
            }
            N::Forloop(_, f, _) => {
                node_includes(&f.body, out);
                if let Some(b) = &f.empty_body {
                    node_includes(b, out);
                }
            }
            N::FilterSection(_, f, _) => node_includes(&f.body, out),
            N::Block(_, b, _) => node_includes(&b.body, out),
            N::MacroDefinition(_, m, _) => node_includes(&m.body, out),
            _ => {}
        }
    }
}

/// What a compiled template calls, filters and includes (see `expr_calls`).
fn calls_of(tera: &Tera, name: &str) -> Option<Vec<String>> {
    let t = tera.get_template(name).ok()?;
    let mut calls = Vec::new();
    node_calls(&t.ast, &mut calls);
    Some(calls)
}

/// Reports each call of a forbidden function in a compiled template, with its line.
pub(super) fn forbid_calls(
    tera: &Tera,
    name: &str,
    path: &std::path::Path,
    src: &str,
    p: &mut Problems,
) {
    let Some(calls) = calls_of(tera, name) else {
        return;
    };
    for ident in calls.iter().filter_map(|c| c.strip_prefix("ident:")) {
        let key = ident
            .rsplit(['.', '['])
            .next()
            .unwrap_or(ident)
            .trim_matches(|c| c == '"' || c == '\'' || c == ']');
        p.error(
            path,
            line_using(src, key),
            format!("`{ident}` names a key with letters outside ASCII, which templates cannot look up: write it without accents, as contact.{} (columns are reachable that way)", crate::text::ascii_key(key)),
        );
    }
    for f in FORBIDDEN_FUNCTIONS {
        if calls.iter().any(|c| c == f) {
            p.error(
                path,
                line_using(src, f),
                format!("templates cannot call {f}(): it would put the environment (where the SMTP password is) into messages. Write the value in the template or the config instead"),
            );
        }
    }
}

/// tera 1.20 escapes the value of `default(value=...)` twice in an autoescaped template: once
/// when it evaluates the value, and again as the expression's result ("a & b" reaches the
/// reader as "a &amp; b"). Marking each such value `safe` in the compiled syntax tree leaves
/// only the second, proper escape. Run after the checks that read the tree, which must not
/// see these marks as the author's.
pub(super) fn escape_defaults_once(tera: &mut Tera, name: &str) {
    if let Some(t) = tera.templates.get_mut(name) {
        nodes_mut(&mut t.ast);
    }
}

fn nodes_mut(nodes: &mut [tera::ast::Node]) {
    use tera::ast::Node as N;
    for n in nodes {
        match n {
            N::VariableBlock(_, e) => expr_mut(e),
            N::If(i, _) => {
                for (_, e, body) in &mut i.conditions {
                    expr_mut(e);
                    nodes_mut(body);
                }
                if let Some((_, body)) = &mut i.otherwise {
                    nodes_mut(body);
                }
            }
            N::Forloop(_, f, _) => {
                expr_mut(&mut f.container);
                nodes_mut(&mut f.body);
                if let Some(b) = &mut f.empty_body {
                    nodes_mut(b);
                }
            }
            N::Set(_, set) => expr_mut(&mut set.value),
            N::FilterSection(_, f, _) => nodes_mut(&mut f.body),
            N::Block(_, b, _) => nodes_mut(&mut b.body),
            N::MacroDefinition(_, m, _) => nodes_mut(&mut m.body),
            _ => {}
        }
    }
}

fn expr_mut(e: &mut tera::ast::Expr) {
    use tera::ast::ExprVal as V;
    if let Some(first) = e.filters.first_mut() {
        if first.name == "default" {
            if let Some(v) = first.args.get_mut("value") {
                if !v.is_marked_safe() {
                    v.filters.push(tera::ast::FunctionCall {
                        name: "safe".into(),
                        args: HashMap::new(),
                    });
                }
            }
        }
    }
    for f in &mut e.filters {
        f.args.values_mut().for_each(expr_mut);
    }
    match &mut e.val {
        V::Math(m) => {
            expr_mut(&mut m.lhs);
            expr_mut(&mut m.rhs);
        }
        V::Logic(l) => {
            expr_mut(&mut l.lhs);
            expr_mut(&mut l.rhs);
        }
        V::In(i) => {
            expr_mut(&mut i.lhs);
            expr_mut(&mut i.rhs);
        }
        V::Test(t) => t.args.iter_mut().for_each(expr_mut),
        V::MacroCall(m) => m.args.values_mut().for_each(expr_mut),
        V::FunctionCall(f) => f.args.values_mut().for_each(expr_mut),
        V::Array(a) => a.iter_mut().for_each(expr_mut),
        _ => {}
    }
}

/// What merge fields in updates and intros may not use: a value they print is text, escaped,
/// so that no cell (nor a default) can put HTML into a message past the sanitizer.
const FORBIDDEN_IN_CONTENT: &[(&str, &str)] = &[
    ("|safe", "the safe filter"),
    ("include", "include"),
    ("extends", "extends"),
    ("import", "import"),
];

/// Reports what a merge field in an update or intro may not do, with its line.
pub(super) fn forbid_in_content(
    tera: &Tera,
    name: &str,
    path: &std::path::Path,
    src: &str,
    p: &mut Problems,
) {
    let Some(calls) = calls_of(tera, name) else {
        return;
    };
    for (what, said) in FORBIDDEN_IN_CONTENT {
        if calls.iter().any(|c| c == what) {
            let needle = what.trim_start_matches('|');
            p.error(
                path,
                line_using(src, needle),
                format!("merge fields in updates and intros print text: {said} would let a cell's or template's HTML into messages past the sanitizer. Put such HTML in the templates instead"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_line_in_tera_errors() {
        assert_eq!(
            line_in_tera_error("Failed to parse 'x.html'\n  --> 12:5\n   |"),
            Some(12)
        );
        assert_eq!(line_in_tera_error("no marker"), None);
    }
}
