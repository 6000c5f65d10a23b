//! Embeds every `devices/*.yaml` profile in the binary: writes `$OUT_DIR/devices.rs`, a sorted
//! list of `(file name, include_str!(path))` pairs that `src/profile/catalogue.rs` includes.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let devices = manifest.join("devices");
    println!("cargo::rerun-if-changed=devices");

    let mut files = Vec::new();
    for entry in fs::read_dir(&devices)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            println!("cargo::rerun-if-changed={}", path.display());
            files.push(path);
        }
    }
    // Sorted, so the generated file and the catalogue order do not depend on the file system.
    files.sort();

    let mut code = String::from("/// Every built-in profile: (file name, YAML text).\n");
    code.push_str("pub static EMBEDDED: &[(&str, &str)] = &[\n");
    for path in &files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("device file names must be UTF-8")?;
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )?;
    }
    code.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("devices.rs"), code)?;
    Ok(())
}
