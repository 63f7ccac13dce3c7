//! Embeds `mappings/` into the binary so it works from any folder.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
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
