//! Embeds every file of the top-level `policies/` folder, in name order, so
//! the binary re-applies them without needing the source tree; and rebuilds
//! the crate when a migration is added.

use std::fs;
use std::path::PathBuf;

fn main() {
    // `sqlx::migrate!` embeds the migrations when the crate compiles; a new
    // migration file must recompile it.
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    println!("cargo:rerun-if-changed={}", migrations.display());
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("policies/ folder")
        .map(|e| e.expect("policies entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// Policy files, in the order they are applied.\npub static POLICIES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_str().unwrap();
        let path = f.canonicalize().unwrap();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("policies.rs");
    fs::write(target, out).unwrap();
}
