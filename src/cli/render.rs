//! Front end: diagnostics drawn with source excerpts and carets, for people at a terminal.

use std::fmt::Write as _;

use eventmap::{Diagnostics, Mappings};

fn source_text(mappings: &Mappings, file: &str) -> Option<String> {
    match mappings {
        Mappings::Dir(dir) => std::fs::read_to_string(dir.join(file)).ok(),
        Mappings::Embedded => eventmap::spec::EMBEDDED
            .iter()
            .find(|(p, _)| *p == file)
            .map(|(_, t)| (*t).to_owned()),
    }
}

/// Every diagnostic, each with the line it points at and a caret under the column.
pub fn diagnostics(mappings: &Mappings, diags: &Diagnostics) -> String {
    let mut out = String::new();
    for d in &diags.0 {
        let _ = writeln!(out, "error[{}]: {}", d.code.as_str(), d.message);
        let _ = writeln!(out, "  --> {}:{}:{}", d.file, d.pos.line, d.pos.col);
        if let Some(text) = source_text(mappings, &d.file)
            && d.pos.line > 0
            && let Some(line) = text.lines().nth(d.pos.line as usize - 1)
        {
            let n = d.pos.line.to_string();
            let pad = " ".repeat(n.len());
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{n} | {line}");
            let caret = " ".repeat(d.pos.col.saturating_sub(1) as usize);
            let _ = writeln!(out, "{pad} | {caret}^");
        }
        if !d.spec_path.is_empty() {
            let _ = writeln!(out, "  = at: {}", d.spec_path);
        }
        if let Some(h) = &d.hint {
            let _ = writeln!(out, "  = help: {h}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} problem(s); the specs were not loaded",
        diags.0.len()
    );
    out
}

pub fn unknown_destination(mappings: &Mappings, name: &str) -> String {
    let have = mappings.destinations();
    format!(
        "unknown destination `{name}`: no specs for it in {}; destinations here: {}",
        match mappings {
            Mappings::Dir(d) => d.display().to_string(),
            Mappings::Embedded => "the embedded mappings".into(),
        },
        if have.is_empty() {
            "none".into()
        } else {
            have.join(", ")
        }
    )
}
