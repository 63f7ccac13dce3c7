//! Fuzz target: any bytes as one file of the shipped Bluecore spec set (chosen by the first
//! byte). Loading and compiling may refuse it, never panic or run away.
#![no_main]

use eventmap::compile::compile;
use eventmap::spec::{EMBEDDED, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let mut sources: Vec<Source> = EMBEDDED
        .iter()
        .filter(|(p, _)| p.starts_with("bluecore/"))
        .map(|(p, t)| Source { name: (*p).to_owned(), text: (*t).to_owned() })
        .collect();
    let i = usize::from(which) % sources.len();
    sources[i].text = String::from_utf8_lossy(rest).into_owned();
    if let Err(d) = compile("bluecore", &sources) {
        assert!(!d.0.is_empty());
    }
});
