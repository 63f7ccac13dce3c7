//! Spec-error cases: `tests/spec_errors/<case>/mappings/<destination>/*.yaml` is a broken spec
//! set, `expected.txt` the exact diagnostics it must produce (one per line, in order).
//! `BLESS=1` rewrites `expected.txt` (refused under CI).

mod common;

use std::path::PathBuf;

use eventmap::{Engine, Mappings};

#[test]
fn broken_specs_give_exact_diagnostics() {
    let bless = common::blessing();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/spec_errors");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let mappings = Mappings::Dir(case.join("mappings"));
        let dests = mappings.destinations();
        assert_eq!(dests.len(), 1, "{name}: expected one destination folder");
        let got = match Engine::load(&mappings, &dests[0]) {
            Ok(_) => "(loaded without errors)\n".to_owned(),
            Err(d) => format!("{d}\n"),
        };
        let exp_path = case.join("expected.txt");
        if bless {
            std::fs::write(&exp_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if expected != got {
            failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(!cases.is_empty(), "no spec-error cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
