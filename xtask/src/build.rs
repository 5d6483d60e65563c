//! Builds the wasm package (the equivalent of `wasm-pack build --target web`: cargo →
//! wasm-bindgen → wasm-opt -Oz, with a few more size passes → terser for the glue) and assembles the unpacked
//! extension folder.

use crate::tools::{node_bin, root, run, stage};
use crate::Result;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the module's defaults point: written to `www/config.json` in the extension folder.
#[derive(Debug, Clone)]
pub struct ExtensionConfig {
    pub broker_url: String,
    pub api_base_url: String,
    /// Exposes `globalThis.__jira3lo` in the pages for the e2e tests and benchmarks; never in the demo.
    pub test_hooks: bool,
}

impl ExtensionConfig {
    /// The ports `cargo xtask demo` uses on loopback.
    pub fn local_default() -> Self {
        let fake = format!("http://127.0.0.1:{}", crate::services::DEMO_FAKE_PORT);
        ExtensionConfig {
            broker_url: format!("http://127.0.0.1:{}", crate::services::DEMO_BROKER_PORT),
            api_base_url: fake,
            test_hooks: false,
        }
    }

    /// The broker in front of the fake, whose API the module calls.
    pub fn for_fake(broker_url: &str, fake_url: &str) -> Self {
        ExtensionConfig {
            broker_url: broker_url.to_string(),
            api_base_url: fake_url.to_string(),
            test_hooks: false,
        }
    }

    /// The same, with the test hooks the Playwright tests drive.
    pub fn with_test_hooks(mut self) -> Self {
        self.test_hooks = true;
        self
    }
}

/// The license texts the npm package carries (as wasm-pack copies them).
const LICENSES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

/// The package folder: `target/pkg/jira_3lo.js`, `jira_3lo_bg.wasm`, `jira_3lo.d.ts`.
pub fn pkg_dir() -> PathBuf {
    root().join("target/pkg")
}

/// The unpacked extension folder (also the document root of the demo page).
pub fn extension_dir() -> PathBuf {
    root().join("target/extension")
}

/// The wasm-opt passes of the shipped module (also in `[package.metadata.wasm-pack]`).
pub const WASM_OPT_PASSES: &[&str] = &[
    "--merge-similar-functions",
    "-Oz",
    "--converge",
    "--strip-producers",
    "--strip-target-features",
];

/// The release wasm of the crate, before wasm-bindgen.
pub fn release_wasm() -> PathBuf {
    root().join("target/wasm32-unknown-unknown/release/jira_3lo.wasm")
}

/// Release wasm build + wasm-bindgen (web target) + wasm-opt -Oz into `target/pkg`.
pub fn build_pkg() -> Result<PathBuf> {
    stage(
        "build wasm package (release, wasm-bindgen --target web, wasm-opt -Oz, terser)",
        || {
            run(Command::new("cargo").args([
                "build",
                "--release",
                "--locked",
                "--target",
                "wasm32-unknown-unknown",
                "-p",
                "jira-3lo",
                "--lib",
            ]))?;
            let out = pkg_dir();
            let wasm = release_wasm();
            run(Command::new("wasm-bindgen")
                .arg("--target")
                .arg("web")
                .arg("--out-dir")
                .arg(&out)
                .arg(&wasm))?;
            let bg = out.join("jira_3lo_bg.wasm");
            for license in LICENSES {
                std::fs::copy(root().join(license), out.join(license))?;
            }
            write_package_json(&out)?;
            // `-Oz` as wasm-pack does, after merging functions that differ only in constants,
            // repeated until nothing shrinks; the producers and target-features sections are
            // tooling metadata a browser never reads.
            run(Command::new(node_bin().join("wasm-opt"))
                .args(WASM_OPT_PASSES)
                .arg(&bg)
                .arg("-o")
                .arg(&bg))?;
            // The glue ships minified, as a bundler would ship it; exported names and the
            // `__wbg_*` import keys the wasm links against are kept (terser never renames
            // exports or properties). The readable types are in `jira_3lo.d.ts`.
            let glue = out.join("jira_3lo.js");
            run(Command::new(node_bin().join("terser"))
                .arg(&glue)
                .args([
                    "--module",
                    "--ecma",
                    "2020",
                    "--compress",
                    // Arrows and concise methods are safe here: the glue never `new`s nor reads
                    // the prototype of its function expressions (wasm calls its imports).
                    "passes=3,unsafe_arrows=true,unsafe_methods=true",
                    "--mangle",
                    "--output",
                ])
                .arg(&glue))?;
            Ok(out)
        },
    )
}

/// Builds the package and lays out `target/extension` = manifest.json + www/ + www/pkg + www/config.json.
pub fn build_extension(config: &ExtensionConfig) -> Result<PathBuf> {
    let pkg = build_pkg()?;
    stage("assemble the unpacked extension (target/extension)", || {
        let dir = extension_dir();
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        std::fs::copy(root().join("manifest.json"), dir.join("manifest.json"))?;
        copy_dir(&root().join("www"), &dir.join("www"))?;
        copy_dir(&pkg, &dir.join("www/pkg"))?;
        let config_json = serde_json::json!({
            "brokerUrl": config.broker_url,
            "apiBaseUrl": config.api_base_url,
            "testHooks": config.test_hooks,
        });
        std::fs::write(
            dir.join("www/config.json"),
            serde_json::to_string_pretty(&config_json)?,
        )?;
        println!(
            "extension folder: {} (id {})",
            dir.display(),
            extension_id()?
        );
        Ok(dir)
    })
}

/// Makes `target/pkg` an npm package, as `wasm-pack build --target web` would.
fn write_package_json(out: &Path) -> Result {
    let cargo_toml = std::fs::read_to_string(root().join("Cargo.toml"))?;
    let package = cargo_toml
        .split("[package]")
        .nth(1)
        .ok_or("no [package] in Cargo.toml")?;
    let field = |name: &str| -> Option<String> {
        package.lines().find_map(|l| {
            let value = l.strip_prefix(name)?.trim_start().strip_prefix('=')?.trim();
            Some(value.trim_matches('"').to_string())
        })
    };
    let mut files = vec!["jira_3lo_bg.wasm", "jira_3lo.js", "jira_3lo.d.ts"];
    files.extend(LICENSES);
    if out.join("snippets").exists() {
        files.push("snippets/");
    }
    let json = serde_json::json!({
        "name": field("name").ok_or("no package name")?,
        "version": field("version").ok_or("no package version")?,
        "description": field("description").unwrap_or_default(),
        "license": "MIT OR Apache-2.0",
        "type": "module",
        "main": "jira_3lo.js",
        "types": "jira_3lo.d.ts",
        "files": files,
        "sideEffects": ["./snippets/*"],
    });
    std::fs::write(
        out.join("package.json"),
        serde_json::to_string_pretty(&json)? + "\n",
    )?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The extension id Chrome derives from the manifest's `key`: the first 32 hex digits of
/// sha256(DER public key), each digit mapped 0-f → a-p. It fixes the redirect URI
/// `https://<id>.chromiumapp.org/` that the fake and the broker must allow.
pub fn extension_id() -> Result<String> {
    use base64::Engine as _;
    use sha2::Digest as _;
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("manifest.json"))?)?;
    let key = manifest["key"]
        .as_str()
        .ok_or("manifest.json has no \"key\"")?;
    let der = base64::engine::general_purpose::STANDARD.decode(key.trim())?;
    let hash = sha2::Sha256::digest(&der);
    Ok(hash
        .iter()
        .take(16)
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| (b'a' + n) as char)
        .collect())
}
