//! Embeds `mappings/` into the binary so it works from any folder, and tells `cargo test`
//! when the conformance recordings are missing (a warning, and the `eventmap_no_recordings`
//! cfg under which `tests/conformance.rs` reports its marker test as ignored), so the skip is
//! seen without `--nocapture`.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The recordings the conformance tests read, where `tests/conformance.rs` looks for them.
fn recordings() -> Vec<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    [
        ("EVENTMAP_DESTINATIONS", "destinations"),
        ("EVENTMAP_CONFORMANCE", "conformance"),
    ]
    .iter()
    .map(|(var, sub)| {
        println!("cargo:rerun-if-env-changed={var}");
        std::env::var_os(var).map_or_else(|| beside.join(sub), PathBuf::from)
    })
    .collect()
}

fn main() {
    println!("cargo:rustc-check-cfg=cfg(eventmap_no_recordings)");
    // Checked when the crate is built (watching a folder that does not exist would rebuild
    // the crate on every run); the tests look again at run time and run whatever is there.
    let missing: Vec<String> = recordings()
        .into_iter()
        .filter(|p| !p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        println!(
            "cargo:warning=conformance recordings not found ({}): `cargo test` skips the conformance tests (reported as ignored); with CI=true they fail",
            missing.join(", ")
        );
        println!("cargo:rustc-cfg=eventmap_no_recordings");
    }

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries = Vec::new();
    if let Ok(dests) = std::fs::read_dir(&root) {
        for d in dests.flatten() {
            let dir = d.path();
            if !dir.is_dir() {
                continue;
            }
            println!("cargo:rerun-if-changed={}", dir.display());
            if let Ok(files) = std::fs::read_dir(&dir) {
                for f in files.flatten() {
                    let p = f.path();
                    if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                        println!("cargo:rerun-if-changed={}", p.display());
                        let rel = format!(
                            "{}/{}",
                            d.file_name().to_string_lossy(),
                            f.file_name().to_string_lossy()
                        );
                        entries.push((rel, p));
                    }
                }
            }
        }
    }
    entries.sort();
    let mut out = String::from("&[\n");
    for (rel, p) in entries {
        let _ = writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            p.display().to_string()
        );
    }
    out.push(']');
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded_mappings.rs");
    std::fs::write(dest, out).unwrap();
}
