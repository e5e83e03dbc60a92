//! The house is one-way: every `crate::` import in src/ goes to a module listed below the
//! importing one in ARCHITECTURE.md, and every module is listed there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers of ARCHITECTURE.md's module list, top first: the backticked names of each bullet.
fn layers() -> Vec<Vec<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let list = doc
        .split("## Modules, top to bottom")
        .nth(1)
        .expect("the module list")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    let mut out = Vec::new();
    for line in list.lines().filter(|l| l.starts_with("- ")) {
        let head = line.split(" — ").next().unwrap();
        let names: Vec<String> = head
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        assert!(!names.is_empty(), "a bullet without module names: {line}");
        out.push(names);
    }
    out
}

/// src/ and every `.rs` file below it.
fn source_files() -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    (src, files)
}

/// Each top-level module of src/ with the top-level modules its files name as `crate::X`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let (src, files) = source_files();
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = map.entry(module.clone()).or_default();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            // The crate's own re-exports: `crate::Error` and `crate::Result` are `error`'s.
            if rest.starts_with("Error") || rest.starts_with("Result") {
                deps.insert("error".to_string());
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == '{')
                .collect();
            if let Some(group) = name.strip_prefix('{') {
                // `use crate::{a, b::c}`
                let end = rest.find('}').unwrap();
                for part in rest[1..end].split(',') {
                    let n = part.trim().split("::").next().unwrap().trim();
                    if n.starts_with(|c: char| c.is_ascii_lowercase()) {
                        deps.insert(n.to_string());
                    }
                }
                let _ = group;
            } else if !name.is_empty() && name != module {
                deps.insert(name);
            }
        }
        deps.remove(&module);
    }
    map
}

#[test]
fn imports_only_go_down() {
    let layers = layers();
    let level: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.clone(), i)))
        .collect();
    let mut wrong = Vec::new();
    for (module, deps) in imports() {
        let Some(&mine) = level.get(&module) else {
            wrong.push(format!("src/{module} is not listed in ARCHITECTURE.md"));
            continue;
        };
        for d in deps {
            match level.get(&d) {
                None => wrong.push(format!("{module} imports {d}, which is not listed")),
                Some(&theirs) if theirs <= mine => {
                    wrong.push(format!("{module} imports {d}, which is not below it"))
                }
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_check_would_see_an_upward_import() {
    // The parser finds grouped and plain imports alike.
    let deps = imports();
    assert!(deps["cli"].contains("project"));
    assert!(deps["send"].contains("journal"));
    assert!(deps["contacts"].contains("address"));
    // `crate::Error` counts as an import of `error`.
    assert!(deps["journal"].contains("error"));
}

/// One store: where the journal is, and how it is opened, are known to the command layer (which
/// makes each command's `journal::Store`) and to `journal` itself, nowhere else.
#[test]
fn only_the_commands_and_the_journal_know_where_the_journal_is() {
    let (src, files) = source_files();
    let mut wrong = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&f).unwrap();
        let asks_path = text.contains("journal_path()");
        let opens = ["Journal::open", "Journal::empty", "Store::new("]
            .iter()
            .any(|o| text.contains(o));
        let allowed = rel.starts_with("journal/") || rel == "cli/mod.rs";
        if (asks_path && rel != "config/mod.rs" && rel != "cli/mod.rs") || (opens && !allowed) {
            wrong.push(rel);
        }
    }
    assert!(
        wrong.is_empty(),
        "these files find or open the journal themselves instead of being given the command's store: {wrong:?}"
    );
}
