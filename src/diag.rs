//! Spec diagnostics: every problem the loader or compiler finds, as data (file, line:col, a
//! path into the spec, a stable code, a message, a hint). Rendering with source excerpts is
//! the CLI's business; `Display` gives the one-line form.

use std::fmt;

use crate::spec::node::Pos;

/// Stable diagnostic codes. A code is never reused for another meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The file is not valid YAML, or breaks the loader's size budget.
    Syntax,
    /// A key the spec format does not know.
    UnknownKey,
    /// A value of the wrong shape.
    WrongType,
    /// A required key is missing.
    MissingKey,
    /// A path that cannot be parsed or has no known root.
    BadPath,
    /// A field alias that is not defined.
    UnknownAlias,
    /// A table or list that is not defined.
    UnknownTable,
    /// A variable used before any step defines it.
    UnknownVariable,
    /// A message template that does not compile.
    BadTemplate,
    /// A regular expression that does not compile.
    BadRegex,
    /// A JSONPath selector that does not compile.
    BadJsonPath,
    /// A procedure that is not defined, or that calls itself.
    UnknownProcedure,
    /// Message types and flows that do not match up.
    FlowMismatch,
    /// Something defined twice.
    Duplicate,
    /// A destination folder without its `destination.yaml`, or a file that cannot be read.
    MissingFile,
    /// An operation, expression or condition the engine does not know.
    UnknownConstruct,
    /// An expression of the compact syntax that does not parse or cannot be compiled.
    BadExpression,
    /// A section in a file where it does not belong.
    Misplaced,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E001",
            Code::UnknownKey => "E002",
            Code::WrongType => "E003",
            Code::MissingKey => "E004",
            Code::BadPath => "E005",
            Code::UnknownAlias => "E006",
            Code::UnknownTable => "E007",
            Code::UnknownVariable => "E008",
            Code::BadTemplate => "E009",
            Code::BadRegex => "E010",
            Code::BadJsonPath => "E011",
            Code::UnknownProcedure => "E012",
            Code::FlowMismatch => "E013",
            Code::Duplicate => "E014",
            Code::MissingFile => "E015",
            Code::UnknownConstruct => "E016",
            Code::BadExpression => "E017",
            Code::Misplaced => "E018",
        }
    }
}

/// One problem in a spec file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    /// The file, relative to the mappings folder (`acme/track.yaml`).
    pub file: String,
    pub pos: Pos,
    /// Where in the spec, as `steps[0].do[2].set`.
    pub spec_path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error[{}]: {}",
            self.file,
            self.pos.line,
            self.pos.col,
            self.code.as_str(),
            self.message
        )?;
        if !self.spec_path.is_empty() {
            write!(f, " (at `{}`)", self.spec_path)?;
        }
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

/// Every problem of a spec set; an invalid spec set never runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A library's (possibly multi-line, excerpt-drawing) error text as one line: its last
/// meaningful line, without the `error:` / `= ` decorations.
pub fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l.starts_with("-->")
                && !l.chars().all(|c| "^-| ".contains(c))
        })
        .unwrap_or(text);
    let line = line.trim_start_matches("= ").trim_start_matches("error: ");
    line.to_owned()
}

/// The closest candidate to a misspelt name, for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        if d <= 2.max(word.len() / 3) && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
