//! Hardening the spec loader: arbitrary, truncated and mutated YAML, huge files, deep
//! nesting and alias bombs all give diagnostics (with a file and, for syntax, a position),
//! never a panic; a bomb is stopped by the loader's budget rather than expanded.

use std::path::Path;

use eventmap::compile::compile;
use eventmap::spec::Source;
use proptest::prelude::*;

fn shipped() -> Vec<Source> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/bluecore");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| Source {
            name: format!("bluecore/{}", p.file_name().unwrap().to_string_lossy()),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect()
}

/// The shipped spec set with one file's text replaced.
fn with_file(index: usize, text: String) -> Vec<Source> {
    let mut s = shipped();
    let i = index % s.len();
    s[i].text = text;
    s
}

fn assert_reported(sources: &[Source]) {
    if let Err(d) = compile("bluecore", sources) {
        assert!(!d.0.is_empty());
        for diag in &d.0 {
            assert!(diag.file.starts_with("bluecore/"), "{diag}");
            assert!(!diag.message.is_empty(), "{diag}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_as_a_spec_file(index in 0usize..8, text in "\\PC{0,400}") {
        assert_reported(&with_file(index, text));
    }

    #[test]
    fn yaml_shaped_noise_as_a_spec_file(index in 0usize..8, text in "([a-z_]{1,8}: ?|- |\\[|\\]|\\{|\\}|&a |\\*a |<<: |\"|'|\\n  |\\n|#|\\||>|!!str |[0-9.]{1,4}){0,80}") {
        assert_reported(&with_file(index, text));
    }

    #[test]
    fn mutated_spec_files(index in 0usize..8, at in 0usize..4000, byte in any::<u8>()) {
        let mut s = shipped();
        let i = index % s.len();
        let mut bytes = s[i].text.clone().into_bytes();
        let at = at % bytes.len();
        bytes[at] = byte;
        s[i].text = String::from_utf8_lossy(&bytes).into_owned();
        assert_reported(&s);
    }
}

#[test]
fn every_truncation_of_every_spec_file() {
    for (i, file) in shipped().iter().enumerate() {
        let text = &file.text;
        let cuts: Vec<usize> = (0..text.len())
            .step_by(17)
            .filter(|c| text.is_char_boundary(*c))
            .collect();
        for cut in cuts {
            assert_reported(&with_file(i, text[..cut].to_owned()));
        }
    }
}

#[test]
fn huge_and_deep_files_are_refused_quickly() {
    let huge = format!("tables:\n  big:\n{}", "    k: v\n".repeat(600_000));
    let r = compile("bluecore", &with_file(0, huge));
    let d = r.expect_err("a file over the size limit is refused");
    assert!(d.0.iter().any(|x| x.message.contains("larger than")), "{d}");

    let deep = format!("tables: {}{}", "[".repeat(10_000), "]".repeat(10_000));
    let d = compile("bluecore", &with_file(0, deep)).expect_err("deep nesting is refused");
    assert!(d.0.iter().any(|x| x.code.as_str() == "E001"), "{d}");

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    let d = compile("bluecore", &with_file(0, bomb)).expect_err("an alias bomb is refused");
    assert!(d.0.iter().any(|x| x.message.contains("budget")), "{d}");
}
