//! Spec stage: finding a destination's YAML files (a folder, or the copy embedded at build
//! time) and reading each into a spanned node tree. No meaning is given to the nodes here;
//! that is `compile`'s work.

pub mod node;

use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic};
use node::{Node, Pos};

/// One spec file's name (relative to the mappings folder) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Where specs are read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Mappings {
    Dir(PathBuf),
    Embedded,
}

/// Largest spec file the loader reads.
pub const MAX_SPEC_BYTES: usize = 4 * 1024 * 1024;

/// The mappings embedded in the binary at build time: (relative path, text).
pub static EMBEDDED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/embedded_mappings.rs"));

/// Whether `name` can name a destination: `[A-Za-z0-9_-]+`, so no name reaches outside the
/// mappings folder.
pub fn valid_destination_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Mappings {
    /// The destinations this mappings source has (folders holding a `destination.yaml`).
    pub fn destinations(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Mappings::Dir(dir) => std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| e.path().join("destination.yaml").is_file())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| valid_destination_name(n))
                        .collect()
                })
                .unwrap_or_default(),
            Mappings::Embedded => EMBEDDED
                .iter()
                .filter_map(|(p, _)| p.strip_suffix("/destination.yaml"))
                .map(str::to_owned)
                .collect(),
        };
        names.sort();
        names.dedup();
        names
    }

    /// The YAML sources of one destination, matched case-insensitively; `None` when it has
    /// no specs here.
    pub fn sources(&self, destination: &str) -> Result<Option<(String, Vec<Source>)>, Diagnostic> {
        if !valid_destination_name(destination) {
            return Ok(None);
        }
        let Some(name) = self
            .destinations()
            .into_iter()
            .find(|d| d.eq_ignore_ascii_case(destination))
        else {
            return Ok(None);
        };
        let mut out = Vec::new();
        match self {
            Mappings::Dir(dir) => {
                let folder = dir.join(&name);
                let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
                    .map_err(|e| read_error(&name, &e))?
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| is_yaml(p) && p.is_file())
                    .collect();
                files.sort();
                for p in files {
                    let rel = format!(
                        "{name}/{}",
                        p.file_name().unwrap_or_default().to_string_lossy()
                    );
                    let meta = std::fs::metadata(&p).map_err(|e| read_error(&rel, &e))?;
                    if meta.len() > MAX_SPEC_BYTES as u64 {
                        return Err(too_big(&rel));
                    }
                    let text = std::fs::read_to_string(&p).map_err(|e| read_error(&rel, &e))?;
                    out.push(Source { name: rel, text });
                }
            }
            Mappings::Embedded => {
                let prefix = format!("{name}/");
                for (p, text) in EMBEDDED {
                    if p.starts_with(&prefix) && !p[prefix.len()..].contains('/') {
                        out.push(Source {
                            name: (*p).to_owned(),
                            text: (*text).to_owned(),
                        });
                    }
                }
            }
        }
        Ok(Some((name, out)))
    }
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

fn read_error(file: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        code: Code::MissingFile,
        file: file.to_owned(),
        pos: Pos::default(),
        spec_path: String::new(),
        message: format!("cannot read: {e}"),
        hint: None,
    }
}

fn too_big(file: &str) -> Diagnostic {
    Diagnostic {
        code: Code::Syntax,
        file: file.to_owned(),
        pos: Pos::default(),
        spec_path: String::new(),
        message: format!("spec file is larger than {MAX_SPEC_BYTES} bytes"),
        hint: None,
    }
}

/// Reads one YAML source into a node tree, within a budget (depth, nodes, aliases) so that
/// no file, however built, costs unbounded time or memory.
pub fn load(source: &Source) -> Result<Node, Diagnostic> {
    if source.text.len() > MAX_SPEC_BYTES {
        return Err(too_big(&source.name));
    }
    // YAML 1.2 core scalars: `yes`, `no`, `on`, `off`, `y`, `n` are text.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        null_as_string: true,
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_nodes: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_documents: 1,
            max_total_scalar_bytes: MAX_SPEC_BYTES,
        },
    };
    serde_saphyr::from_str_with_options::<Node>(&source.text, options).map_err(|e| {
        let pos = e
            .location()
            .map(|l| Pos {
                line: u32::try_from(l.line()).unwrap_or(0),
                col: u32::try_from(l.column()).unwrap_or(0),
            })
            .unwrap_or_default();
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("invalid YAML");
        // The position is reported separately; drop the library's own "line N column M:".
        let first = first.trim_start_matches("error: ");
        let first = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
            Some((_, rest)) => rest,
            None => first,
        };
        let first = if first.starts_with("budget breached") {
            format!("{first} (the file is too large or expands too far through YAML aliases)")
        } else {
            first.to_owned()
        };
        Diagnostic {
            code: Code::Syntax,
            file: source.name.clone(),
            pos,
            spec_path: String::new(),
            message: first,
            hint: None,
        }
    })
}
