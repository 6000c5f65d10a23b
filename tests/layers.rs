//! The import graph of `src/`, read from the sources: no arrow from a lower layer up, and no
//! circle between sibling modules (two files of one folder importing each other, directly or
//! round a loop).
//!
//! The layers, top to bottom, as the module map in the architecture notes draws the data flow
//! (command line → settings → plan → engine → front-ends, everything resting on the protocol,
//! host and profile modules):
//!
//! | layer | modules | what it is |
//! | --- | --- | --- |
//! | 7 | `commands` | one file per sub-command: wires everything below together |
//! | 6 | `cli` | the command line's shape, read by `commands` only |
//! | 5 | `ui` | front-ends: consume Events, send Commands |
//! | 4 | `engine` | the run: plan, machine, driver, report |
//! | 3 | `dhcp`, `nmrp`, `http`, `console` | recovery methods beside TFTP |
//! | 2 | `tftp` | the TFTP codec, sessions and drivers |
//! | 1 | `net`, `image`, `settings` | the host's network; firmware images; every default and the layering rule |
//! | 0 | `profile`, `subnet` | device profiles: data every layer reads; IPv4 subnet arithmetic |
//!
//! A module may import its own layer and any layer below. The crate root (`lib.rs`: `Outcome`,
//! `UsageError`, `run`) is outside the layers. Imports inside `#[cfg(test)]` modules do not
//! count: a test may reach anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`["net", "firewall", "nft"]`); empty for the root.
type ModPath = Vec<String>;

const LAYERS: &[(&str, u8)] = &[
    ("commands", 7),
    ("cli", 6),
    ("ui", 5),
    ("engine", 4),
    ("dhcp", 3),
    ("nmrp", 3),
    ("http", 3),
    ("console", 3),
    ("tftp", 2),
    ("net", 1),
    ("image", 1),
    ("settings", 1),
    ("profile", 0),
    ("subnet", 0),
];

fn layer(module: &[String]) -> Option<u8> {
    let top = module.first()?;
    let found = LAYERS.iter().find(|(name, _)| name == top).map(|(_, l)| *l);
    assert!(
        found.is_some(),
        "src/{top} is in no layer: add it to LAYERS in tests/layers.rs (and to the module map)"
    );
    found
}

/// Every module file under `src/` (the binary's `main.rs` aside) by its module path.
fn modules(src: &Path) -> BTreeMap<ModPath, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<ModPath, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                // A module's unit tests in a folder of their own (`#[cfg(test)] mod tests;`
                // with `tests/mod.rs` and a file per concern).
                if path.file_name().is_none_or(|name| name != "tests") {
                    walk(&path, src, out);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("main") if parts.len() == 1 => continue,
                // A module's unit tests in a file of their own (`#[cfg(test)] mod tests;`).
                Some("tests") => continue,
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            out.insert(parts, path);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The source without comments, string and character literals, and `#[cfg(test)]` modules:
/// what is left names only what the code imports and uses.
fn code_of(text: &str) -> String {
    let bytes: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < bytes.len() && bytes[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < bytes.len() && !(bytes[i] == '*' && bytes[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_before(&bytes, i) {
            // A raw string: r"...", r#"..."#.
            let mut hashes = 0;
            let mut j = i + 1;
            while bytes.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if bytes.get(j) == Some(&'"') {
                j += 1;
                while j < bytes.len()
                    && !(bytes[j] == '"' && (1..=hashes).all(|k| bytes.get(j + k) == Some(&'#')))
                {
                    j += 1;
                }
                i = j + 1 + hashes;
                out.push_str("\"\"");
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < bytes.len() && bytes[i] != '"' {
                i += if bytes[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && char_literal_end(&bytes, i).is_some() {
            i = char_literal_end(&bytes, i).unwrap();
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    without_test_modules(&out)
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Where a character literal starting at `i` ends (one past its closing quote); `None` for a
/// lifetime.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    match chars.get(i + 1)? {
        '\\' => {
            let mut j = i + 2;
            while j < chars.len() && chars[j] != '\'' {
                j += 1;
            }
            Some(j + 1)
        }
        _ if chars.get(i + 2) == Some(&'\'') => Some(i + 3),
        _ => None,
    }
}

fn without_test_modules(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let head = after.trim_start();
        let words: Vec<&str> = head.split_whitespace().take(3).collect();
        let is_mod = words.first() == Some(&"mod")
            || (words.first().is_some_and(|w| w.starts_with("pub"))
                && words.get(1) == Some(&"mod"));
        match (is_mod, after.find('{')) {
            (true, Some(open)) if !after[..open].contains(';') => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (k, ch) in after[open..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// The module a path from the crate root lands in: its longest prefix that is a module.
fn resolve(known: &BTreeMap<ModPath, PathBuf>, path: &[String]) -> ModPath {
    (0..=path.len())
        .rev()
        .map(|k| path[..k].to_vec())
        .find(|p| known.contains_key(p))
        .unwrap_or_default()
}

fn ident_at(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The paths after `crate::` or `super::` at the start of `s`, groups (`{a, b::c}`) expanded.
fn paths_after(base: &[String], s: &str, out: &mut Vec<ModPath>) {
    let mut path = base.to_vec();
    let mut s = s;
    loop {
        let s2 = s.trim_start();
        if let Some(inner) = s2.strip_prefix('{') {
            let mut depth = 1usize;
            let mut start = 0;
            for (k, ch) in inner.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        paths_after(&path, &inner[start..k], out);
                        start = k + 1;
                    }
                    _ => {}
                }
                if depth == 0 {
                    paths_after(&path, &inner[start..k], out);
                    return;
                }
            }
            return;
        }
        let (word, rest) = ident_at(s2);
        if word.is_empty() || word == "self" {
            out.push(path);
            return;
        }
        path.push(word.to_owned());
        let Some(more) = rest.strip_prefix("::") else {
            out.push(path);
            return;
        };
        s = more;
    }
}

/// Every (from, to) module pair where `from`'s code names something in `to`.
fn edges(known: &BTreeMap<ModPath, PathBuf>) -> BTreeSet<(ModPath, ModPath)> {
    let mut found = BTreeSet::new();
    for (module, file) in known {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < code.len() {
            let rest = &code[i..];
            // Identifiers here are ASCII: the byte before tells whether a word starts.
            let starts_word =
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            let (base, after) = if starts_word && rest.starts_with("crate::") {
                (Vec::new(), &rest["crate::".len()..])
            } else if starts_word && rest.starts_with("super::") {
                let mut up = 0;
                let mut after = rest;
                while let Some(more) = after.strip_prefix("super::") {
                    up += 1;
                    after = more;
                }
                (module[..module.len().saturating_sub(up)].to_vec(), after)
            } else {
                i += rest.chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let mut paths = Vec::new();
            paths_after(&base, after, &mut paths);
            for path in paths {
                let to = resolve(known, &path);
                if &to != module {
                    found.insert((module.clone(), to));
                }
            }
            i += rest.len() - after.len();
        }
    }
    found
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_runs_from_a_lower_layer_up() {
    let known = modules(&src());
    let mut wrong = String::new();
    for (from, to) in edges(&known) {
        let (Some(a), Some(b)) = (layer(&from), layer(&to)) else {
            continue;
        };
        if b > a {
            let _ = writeln!(
                wrong,
                "  {} (layer {a}) imports {} (layer {b})",
                name(&from),
                name(&to)
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "imports from a lower layer up (move the shared item down, or the importer up):\n{wrong}"
    );
}

/// Every circle among the children of one module, each as its members in order.
fn circles(known: &BTreeMap<ModPath, PathBuf>) -> BTreeSet<String> {
    // Edges between siblings: each end lifted to the child of the deepest shared parent.
    let mut sibling: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (from, to) in edges(known) {
        let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        if shared < from.len() && shared < to.len() {
            sibling
                .entry(from[..=shared].to_vec())
                .or_default()
                .insert(to[..=shared].to_vec());
        }
    }
    let mut found = BTreeSet::new();
    for start in sibling.keys() {
        // Depth-first from `start`, recording the way back to it.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, way)) = stack.pop() {
            for next in sibling.get(&at).into_iter().flatten() {
                if next == start {
                    let mut members: Vec<String> = way.iter().map(|m| name(m)).collect();
                    // One name per circle: start it at its smallest member.
                    let min = (0..members.len())
                        .min_by_key(|&k| members[k].clone())
                        .unwrap();
                    members.rotate_left(min);
                    found.insert(members.join(" <-> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = way.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found
}

#[test]
fn no_two_modules_import_each_other() {
    let found = circles(&modules(&src()));
    assert!(
        found.is_empty(),
        "modules that import each other (move what both need into a module of its own):\n  {}",
        found
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n  ")
    );
}

#[test]
fn the_checker_sees_imports_groups_and_circles() {
    // A scratch crate: `b` is above `a`, `a` imports `b` (an arrow up) and `c` and `d` import
    // each other; comments, strings and test modules do not count.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    for (file, text) in [
        ("lib.rs", "pub mod net; pub mod engine;"),
        (
            "net/mod.rs",
            "pub mod c; pub mod d;\nuse crate::{engine::E, net::c};\n// crate::profile\n",
        ),
        (
            "net/c.rs",
            "use super::d::D; const X: &str = \"crate::ui\";",
        ),
        (
            "net/d.rs",
            "pub struct D;\nfn f() -> super::c::C { todo!() }\n#[cfg(test)]\nmod tests { use crate::ui::X; }\n",
        ),
        ("engine.rs", "pub struct E;"),
    ] {
        let path = src.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let known = modules(src);
    let seen = edges(&known);
    let v = |s: &str| s.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert!(seen.contains(&(v("net"), v("engine"))), "{seen:?}");
    assert!(seen.contains(&(v("net::c"), v("net::d"))), "{seen:?}");
    assert!(seen.contains(&(v("net::d"), v("net::c"))), "{seen:?}");
    // The comment, the string and the test module named nothing.
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(
        circles(&known).into_iter().collect::<Vec<_>>(),
        ["net::c <-> net::d"]
    );
    assert!(layer(&v("net")) < layer(&v("engine")));
}
