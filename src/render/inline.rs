//! CSS inlining at speed: a rendered message in, its HTML with the CSS inlined out, reusing the
//! work done for earlier messages of the same shape (see [`Renderer::inline`]). Holds the shape
//! cache, its markers, and the reading of tera's syntax tree that proves when a template treats
//! personal values as opaque text. That reading is why tera is pinned to 1.20 (Cargo.toml).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tera::{Context, Tera};

use super::templates::tera_error_text;
use super::{RenderError, Renderer};
use crate::audience::Recipient;

/// The shapes seen so far, and how many messages could not use one.
#[derive(Default)]
pub(super) struct Shapes {
    cache: Mutex<HashMap<String, Option<Arc<Shape>>>>,
    /// Messages whose CSS was inlined on their own, the slow way: the template used a personal
    /// value in a way the shape cache cannot reuse.
    whole_inlines: std::sync::atomic::AtomicUsize,
}

impl Shapes {
    pub(super) fn whole_inlines(&self) -> usize {
        self.whole_inlines
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Renderer {
    /// Inlines the CSS of a rendered message, reusing the work done for an earlier message of the
    /// same shape. css-inline parses the whole document on every call, which costs more than all
    /// the rest of a message; yet a campaign's messages differ only in a few personal values. So
    /// each shape (languages, updates, which personal values are empty) is rendered once with
    /// markers in place of the personal values and inlined once; a message then takes the cached
    /// result with its own values put in the markers' place. That is sound when the template
    /// treats the values as opaque text: either the templates were proven to (see
    /// [`opaque_templates`]), or this message's own render equals the cached render with its
    /// values put in; otherwise the message is inlined on its own.
    pub(super) fn inline(
        &self,
        r: &Recipient,
        contact: Value,
        unsub: Value,
        render: impl FnOnce() -> Result<String, RenderError>,
    ) -> Result<String, RenderError> {
        let mut values = Vec::new();
        let mut key = format!("{}|{:?}|", r.langs.join("+"), r.updates);
        let masked_contact = mask_contact(&contact, &mut values, &mut key);
        let masked_unsub = mask(&unsub, &mut values, &mut key);
        let cached = self.shapes.cache.lock().unwrap().get(&key).cloned();
        let shape = match cached {
            Some(s) => s,
            None => {
                let ctx =
                    Context::from_value(self.context(r, masked_contact, masked_unsub, false)?)
                        .map_err(|e| RenderError::Template {
                            template: String::new(),
                            message: tera_error_text(&e),
                        })?;
                let raw = self.run(&self.html_template[&r.langs[0]], &ctx)?;
                let inlined = self
                    .inliner
                    .inline(&raw)
                    .map_err(|e| RenderError::Css(e.to_string()))?;
                // The inliner must have kept every marker, in order, for substitution to be sound.
                let shape = (markers_in(&raw) == markers_in(&inlined))
                    .then(|| Arc::new(Shape { raw, inlined }));
                let mut cache = self.shapes.cache.lock().unwrap();
                if cache.len() < MAX_SHAPES {
                    cache.insert(key, shape.clone());
                }
                shape
            }
        };
        let escaped: Vec<String> = values.iter().map(|v| super::templates::escape(v)).collect();
        if let Some(shape) = &shape {
            if self.opaque {
                return Ok(fill(&shape.inlined, &escaped));
            }
        }
        let raw_html = render()?;
        if let Some(shape) = shape {
            if fills_to(&shape.raw, &escaped, &raw_html) {
                return Ok(fill(&shape.inlined, &escaped));
            }
        }
        self.shapes
            .whole_inlines
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inliner
            .inline(&raw_html)
            .map_err(|e| RenderError::Css(e.to_string()))
    }
}

/// Values a message has of its own, which the shape cache replaces by markers: the contact's
/// fields and their own links, but not the interests and language, which shapes key on.
fn personal(path: &str) -> bool {
    let contact = path.starts_with("contact")
        && !path.starts_with("contact.interests")
        && path != "contact.language";
    contact || path.starts_with("unsubscribe_url") || path.starts_with("preferences_url")
}

fn expr_mentions(e: &tera::ast::Expr) -> bool {
    val_mentions(&e.val) || e.filters.iter().any(|f| f.args.values().any(expr_mentions))
}

fn val_mentions(v: &tera::ast::ExprVal) -> bool {
    use tera::ast::ExprVal as V;
    match v {
        V::Ident(p) => personal(p),
        V::Math(m) => expr_mentions(&m.lhs) || expr_mentions(&m.rhs),
        V::Logic(l) => expr_mentions(&l.lhs) || expr_mentions(&l.rhs),
        V::Test(t) => personal(&t.ident) || t.args.iter().any(expr_mentions),
        V::MacroCall(m) => m.args.values().any(expr_mentions),
        V::FunctionCall(f) => f.args.values().any(expr_mentions),
        V::Array(a) => a.iter().any(expr_mentions),
        V::StringConcat(c) => c.values.iter().any(val_mentions),
        V::In(i) => expr_mentions(&i.lhs) || expr_mentions(&i.rhs),
        V::String(_) | V::Int(_) | V::Float(_) | V::Bool(_) => false,
    }
}

/// A bare personal value: `contact.name`, without filters.
fn bare_personal(e: &tera::ast::Expr) -> bool {
    matches!(&e.val, tera::ast::ExprVal::Ident(p) if personal(p)) && e.filters.is_empty()
}

fn nodes_opaque(tera: &Tera, nodes: &[tera::ast::Node], seen: &mut Vec<String>) -> bool {
    use tera::ast::Node as N;
    nodes.iter().all(|n| match n {
        // Printed as it is (escaped, as the markers' values are)...
        N::VariableBlock(_, e) => (bare_personal(e) && !e.negated) || !expr_mentions(e),
        // ...or tested for being empty, which the shape's key already tells.
        N::If(i, _) => {
            i.conditions.iter().all(|(_, e, body)| {
                (bare_personal(e) || !expr_mentions(e)) && nodes_opaque(tera, body, seen)
            }) && i
                .otherwise
                .as_ref()
                .is_none_or(|(_, body)| nodes_opaque(tera, body, seen))
        }
        N::Forloop(_, f, _) => {
            f.value != "contact"
                && f.key.as_deref() != Some("contact")
                && !expr_mentions(&f.container)
                && nodes_opaque(tera, &f.body, seen)
                && f.empty_body
                    .as_ref()
                    .is_none_or(|b| nodes_opaque(tera, b, seen))
        }
        N::Set(_, set) => {
            set.key != "contact"
                && set.key != "unsubscribe_url"
                && set.key != "preferences_url"
                && !expr_mentions(&set.value)
        }
        // A filter over a section would transform the values in it.
        N::FilterSection(_, f, _) => {
            !f.filter.args.values().any(expr_mentions) && !nodes_mention(&f.body)
        }
        N::Block(_, b, _) => nodes_opaque(tera, &b.body, seen),
        N::MacroDefinition(_, m, _) => nodes_opaque(tera, &m.body, seen),
        N::Include(_, names, _) => names.iter().all(|name| opaque_templates(tera, name, seen)),
        N::ImportMacro(_, file, _) => opaque_templates(tera, file, seen),
        N::Extends(_, parent) => opaque_templates(tera, parent, seen),
        N::Super | N::Text(_) | N::Raw(..) | N::Break(_) | N::Continue(_) | N::Comment(..) => true,
    })
}

/// Whether any personal value appears anywhere below these nodes.
fn nodes_mention(nodes: &[tera::ast::Node]) -> bool {
    use tera::ast::Node as N;
    nodes.iter().any(|n| match n {
        N::VariableBlock(_, e) => expr_mentions(e),
        N::If(i, _) => {
            i.conditions
                .iter()
                .any(|(_, e, b)| expr_mentions(e) || nodes_mention(b))
                || i.otherwise.as_ref().is_some_and(|(_, b)| nodes_mention(b))
        }
        N::Forloop(_, f, _) => {
            expr_mentions(&f.container)
                || nodes_mention(&f.body)
                || f.empty_body.as_ref().is_some_and(|b| nodes_mention(b))
        }
        N::Set(_, s) => expr_mentions(&s.value),
        N::FilterSection(_, f, _) => nodes_mention(&f.body),
        N::Block(_, b, _) => nodes_mention(&b.body),
        // Included templates and macros are not followed: treat them as mentioning.
        N::Include(..) | N::MacroDefinition(..) | N::ImportMacro(..) => true,
        _ => false,
    })
}

/// Whether a template (with every template it extends, includes or imports) uses personal
/// values only as plain output (`{{ contact.name }}`, escaped like any value) or in a bare test
/// of emptiness (`{% if contact.organisation %}`). Such a template renders every message of a
/// shape as the shape's render with the message's values in the markers' place, so the message
/// need not be rendered a second time to check it. Anything else (a filter, a comparison, a
/// loop over fields, a `set`) makes the answer no, and messages are then checked one by one.
pub(super) fn opaque_templates(tera: &Tera, name: &str, seen: &mut Vec<String>) -> bool {
    if seen.iter().any(|s| s == name) {
        return true;
    }
    seen.push(name.to_string());
    let Ok(t) = tera.get_template(name) else {
        return false;
    };
    nodes_opaque(tera, &t.ast, seen) && t.parents.iter().all(|p| opaque_templates(tera, p, seen))
}

/// Shapes kept at most: enough for the combinations of languages, updates and filled fields of a
/// large campaign, few enough to bound memory (each holds two copies of one message).
const MAX_SHAPES: usize = 4096;

/// A message shape: its render with markers for personal values, before and after inlining.
pub(crate) struct Shape {
    raw: String,
    inlined: String,
}

// Private-use characters: tera does not escape them and html5ever keeps them as they are.
const MARK_OPEN: char = '\u{E000}';
const MARK_CLOSE: char = '\u{E001}';

/// Replaces each non-empty string in `v` by a numbered marker, collecting the strings in
/// `values` and the structure (which strings are empty, list lengths) in `key`.
fn mask(v: &Value, values: &mut Vec<String>, key: &mut String) -> Value {
    match v {
        Value::String(s) if s.is_empty() => {
            key.push('e');
            Value::String(String::new())
        }
        Value::String(s) => {
            key.push('s');
            values.push(s.clone());
            Value::String(format!("{MARK_OPEN}{}{MARK_CLOSE}", values.len() - 1))
        }
        Value::Array(a) => {
            key.push('[');
            let out = a.iter().map(|x| mask(x, values, key)).collect();
            key.push(']');
            Value::Array(out)
        }
        Value::Object(m) => {
            key.push('{');
            let mut out = Map::new();
            for (k, x) in m {
                key.push_str(k);
                key.push(':');
                out.insert(k.clone(), mask(x, values, key));
            }
            key.push('}');
            Value::Object(out)
        }
        other => {
            key.push_str(&other.to_string());
            other.clone()
        }
    }
}

/// Masks a contact's personal values, but not its interests: templates look those up and
/// branch on them (labels, "if ... in contact.interests"), and their few combinations make few
/// shapes, so they go into the key as they are.
fn mask_contact(contact: &Value, values: &mut Vec<String>, key: &mut String) -> Value {
    let Value::Object(m) = contact else {
        return mask(contact, values, key);
    };
    let mut out = Map::new();
    key.push('{');
    for (k, v) in m {
        key.push_str(k);
        key.push(':');
        if k == "interests" || k == "language" {
            key.push_str(&v.to_string());
            out.insert(k.clone(), v.clone());
        } else {
            out.insert(k.clone(), mask(v, values, key));
        }
    }
    key.push('}');
    Value::Object(out)
}

/// The marker numbers found in `s`, in order.
fn markers_in(s: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(MARK_OPEN) {
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            break;
        };
        out.push(rest[..j].parse().unwrap_or(usize::MAX));
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    out
}

/// Whether putting `values` in the markers of `s` gives exactly `target`, without building it.
fn fills_to(s: &str, values: &[String], target: &str) -> bool {
    let mut rest = s;
    let mut t = target;
    while let Some(i) = rest.find(MARK_OPEN) {
        let Some(after) = t.strip_prefix(&rest[..i]) else {
            return false;
        };
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            return false;
        };
        let Some(v) = rest[..j].parse::<usize>().ok().and_then(|n| values.get(n)) else {
            return false;
        };
        let Some(after) = after.strip_prefix(v.as_str()) else {
            return false;
        };
        t = after;
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    t == rest
}

/// Puts `values[n]` in place of each marker n of `s`.
fn fill(s: &str, values: &[String]) -> String {
    let mut out = String::with_capacity(s.len() + 256);
    let mut rest = s;
    while let Some(i) = rest.find(MARK_OPEN) {
        out.push_str(&rest[..i]);
        rest = &rest[i + MARK_OPEN.len_utf8()..];
        let Some(j) = rest.find(MARK_CLOSE) else {
            break;
        };
        if let Some(v) = rest[..j].parse::<usize>().ok().and_then(|n| values.get(n)) {
            out.push_str(v);
        }
        rest = &rest[j + MARK_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_fill_back() {
        let mut values = Vec::new();
        let mut key = String::new();
        let v = mask(
            &json!({"a": "x", "b": "", "c": ["y", "z"]}),
            &mut values,
            &mut key,
        );
        assert_eq!(values, vec!["x", "y", "z"]);
        assert_eq!(key, "{a:sb:ec:[ss]}");
        let s = format!(
            "<p>{}</p><i>{}</i>",
            v["a"].as_str().unwrap(),
            v["c"][1].as_str().unwrap()
        );
        assert_eq!(markers_in(&s), vec![0, 2]);
        assert_eq!(fill(&s, &values), "<p>x</p><i>z</i>");
        assert!(fills_to(&s, &values, "<p>x</p><i>z</i>"));
        assert!(!fills_to(&s, &values, "<p>x</p><i>Z</i>"));
        assert!(!fills_to(&s, &values, "<p>x</p><i>z</i>!"));
    }

    #[test]
    fn templates_that_print_values_plainly_are_opaque() {
        let check = |src: &str| {
            let mut t = Tera::default();
            t.add_raw_template("t.html", src).unwrap();
            opaque_templates(&t, "t.html", &mut Vec::new())
        };
        assert!(check("<p>{{ contact.name }}</p>{% if contact.organisation %}{{ contact.organisation }}{% endif %}"));
        assert!(check("<a href=\"{{ unsubscribe_url }}\">x</a>{% for i in contact.interests %}{{ i | upper }}{% endfor %}"));
        assert!(check(
            "{% for s in sections %}{{ s.t.greeting }} {{ contact.first_name }}{% endfor %}"
        ));
        assert!(!check("{{ contact.name | upper }}"));
        assert!(!check("{{ contact.name | default(value='x') }}"));
        assert!(!check("{% if contact.name == 'Ann' %}hi{% endif %}"));
        assert!(!check(
            "{% for k, v in contact.fields %}{{ v }}{% endfor %}"
        ));
        assert!(!check("{% set n = contact.name %}{{ n }}"));
        assert!(!check(
            "{% filter upper %}{{ contact.name }}{% endfilter %}"
        ));
        assert!(!check("{{ contact.name ~ '!' }}"));
    }
}
