//! Helpers shared by the integration tests: canonical JSON comparison with readable diffs,
//! and the BLESS switch.
#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;

#[allow(unused_imports)]
pub use eventmap::golden::{canonical, first_difference};

/// `BLESS=1` rewrites expectations; it refuses to run under CI.
pub fn blessing() -> bool {
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    if bless && std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("BLESS=1 rewrites expectations and is refused under CI");
    }
    bless
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a folder tree (a mappings folder to edit in a test).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Replaces the first `from` in a file by `to`; the text must be there.
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{} does not contain {from:?}",
        path.display()
    );
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}
