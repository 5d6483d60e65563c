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

/// `cargo xtask build [--release-artifacts] [--broker-url URL]`.
pub fn command(args: &[String]) -> Result {
    let mut config = ExtensionConfig::local_default();
    let mut artifacts = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--release-artifacts" => artifacts = true,
            "--broker-url" => {
                config.broker_url = rest
                    .next()
                    .ok_or("--broker-url needs a URL")?
                    .trim_end_matches('/')
                    .to_string();
            }
            other => {
                return Err(format!(
                "cargo xtask build takes --release-artifacts and --broker-url URL (got `{other}`)"
            )
                .into())
            }
        }
    }
    crate::tools::ensure_all()?;
    build_extension(&config)?;
    if artifacts {
        release_artifacts()?;
    }
    Ok(())
}

/// The license texts the npm package carries (as wasm-pack copies them).
const LICENSES: [&str; 2] = ["LICENSE-MIT", "LICENSE-APACHE"];

/// The package folder: `target/pkg/jira_3lo.js`, `jira_3lo_bg.wasm`, `jira_3lo.d.ts`.
pub fn pkg_dir() -> PathBuf {
    root().join("target/pkg")
}

/// The browsers the extension is built for: one folder each, the same files but the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chrome,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 2] = [Browser::Chrome, Browser::Firefox];

    pub fn parse(name: &str) -> Result<Browser> {
        match name {
            "chrome" | "chromium" => Ok(Browser::Chrome),
            "firefox" => Ok(Browser::Firefox),
            other => Err(format!("unknown browser `{other}` (chrome or firefox)").into()),
        }
    }
}

/// The unpacked Chromium extension folder (also the document root of the demo page).
pub fn extension_dir() -> PathBuf {
    root().join("target/extension")
}

/// The unpacked extension folder of `browser`: `target/extension` (Chromium) or
/// `target/extension-firefox`.
pub fn extension_dir_for(browser: Browser) -> PathBuf {
    match browser {
        Browser::Chrome => extension_dir(),
        Browser::Firefox => root().join("target/extension-firefox"),
    }
}

/// The manifest of one browser, from the repository's `manifest.json`, which holds the keys of
/// both. Neither browser loads the other's keys without a warning: Chromium's MV3 warns about
/// `background.scripts` and an unknown `browser_specific_settings`; Firefox ignores (and
/// web-ext lint flags) `background.service_worker`, `key` and `minimum_chrome_version`. The
/// background runs the same module code in both (a module service worker in Chromium, a
/// module event page in Firefox).
pub fn manifest_for(browser: Browser, source: &serde_json::Value) -> Result<serde_json::Value> {
    let mut manifest = source.clone();
    let object = manifest
        .as_object_mut()
        .ok_or("manifest.json is not an object")?;
    let script = source["background"]["service_worker"]
        .as_str()
        .ok_or("manifest.json has no background.service_worker")?
        .to_string();
    let background = object
        .get_mut("background")
        .and_then(|b| b.as_object_mut())
        .ok_or("manifest.json has no background")?;
    match browser {
        Browser::Chrome => {
            background.remove("scripts");
            object.remove("browser_specific_settings");
        }
        Browser::Firefox => {
            background.remove("service_worker");
            background.insert("scripts".into(), serde_json::json!([script]));
            object.remove("key");
            object.remove("minimum_chrome_version");
            if source["browser_specific_settings"]["gecko"]["id"]
                .as_str()
                .is_none()
            {
                return Err("manifest.json has no browser_specific_settings.gecko.id".into());
            }
        }
    }
    Ok(manifest)
}

fn source_manifest() -> Result<serde_json::Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(
        root().join("manifest.json"),
    )?)?)
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

/// Builds the package and lays out one unpacked extension per browser (`target/extension`,
/// `target/extension-firefox`) = its manifest.json + www/ + www/pkg + www/config.json.
/// Returns the Chromium folder.
pub fn build_extension(config: &ExtensionConfig) -> Result<PathBuf> {
    let pkg = build_pkg()?;
    stage(
        "assemble the unpacked extensions (target/extension, target/extension-firefox)",
        || {
            let source = source_manifest()?;
            for browser in Browser::ALL {
                let dir = extension_dir_for(browser);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                std::fs::create_dir_all(&dir)?;
                std::fs::write(
                    dir.join("manifest.json"),
                    serde_json::to_string_pretty(&manifest_for(browser, &source)?)? + "\n",
                )?;
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
                bundle_pages(&dir.join("www"))?;
            }
            println!(
                "Chromium extension folder: {} (id {}, redirect https://{}.chromiumapp.org/)",
                extension_dir().display(),
                extension_id()?,
                extension_id()?
            );
            println!(
                "Firefox extension folder:  {} (add-on id {}, redirect {})",
                extension_dir_for(Browser::Firefox).display(),
                gecko_id()?,
                firefox_redirect_uri()?
            );
            Ok(extension_dir())
        },
    )
}

/// The scripts the extension's pages and background load: each ships as one bundle (it and every
/// module it imports, the wasm-bindgen glue included), so a page starts without a chain of module
/// requests. The readable ES modules stay in `www/` (the source).
pub const BUNDLED_ENTRIES: [&str; 4] = ["popup.js", "options.js", "service-worker.js", "demo.js"];

/// Replaces the entry scripts of an assembled `www/` folder by their esbuild bundles (ES modules:
/// the background is a module service worker in Chromium and a module event page in Firefox), then
/// removes the modules now inside them. `pkg/` stays (the wasm, and the package the tests import).
pub fn bundle_pages(www: &Path) -> Result {
    run(Command::new(node_bin().join("esbuild"))
        .args(BUNDLED_ENTRIES.map(|entry| www.join(entry)))
        .arg(format!("--outdir={}", www.display()))
        .args([
            "--bundle",
            "--format=esm",
            "--platform=browser",
            // manifest.json's minimum_chrome_version and strict_min_version.
            "--target=chrome116,firefox142",
            // Shipped minified, as the glue is (less to parse before the first paint); the
            // readable sources are www/.
            "--minify",
            "--charset=utf8",
            "--allow-overwrite",
            "--log-level=warning",
        ]))?;
    for entry in std::fs::read_dir(www)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_file()
            && name.ends_with(".js")
            && !BUNDLED_ENTRIES.contains(&name.as_str())
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// `target/artifacts/jira-3lo-chrome.zip` (Chrome Web Store) and `jira-3lo-firefox.xpi` (AMO),
/// zipped by the pinned web-ext from the folders [`build_extension`] wrote. The test pages of
/// `www/bench/` stay out.
pub fn release_artifacts() -> Result<Vec<PathBuf>> {
    stage("release artifacts (target/artifacts)", || {
        let out = root().join("target/artifacts");
        std::fs::create_dir_all(&out)?;
        let mut written = Vec::new();
        for (browser, file) in [
            (Browser::Chrome, "jira-3lo-chrome.zip"),
            (Browser::Firefox, "jira-3lo-firefox.xpi"),
        ] {
            run(Command::new(node_bin().join("web-ext"))
                .arg("build")
                .arg("--source-dir")
                .arg(extension_dir_for(browser))
                .arg("--artifacts-dir")
                .arg(&out)
                .args([
                    "--filename",
                    file,
                    "--overwrite-dest",
                    "--no-config-discovery",
                ])
                .args(["--ignore-files", "www/bench/**"]))?;
            let path = out.join(file);
            println!(
                "{}: {} bytes",
                path.display(),
                std::fs::metadata(&path)?.len()
            );
            written.push(path);
        }
        Ok(written)
    })
}

/// `web-ext lint` of the Firefox folder: AMO's own checks; warnings fail too.
pub fn lint_firefox() -> Result {
    run(Command::new(node_bin().join("web-ext"))
        .arg("lint")
        .arg("--source-dir")
        .arg(extension_dir_for(Browser::Firefox))
        .args([
            "--warnings-as-errors",
            "--no-config-discovery",
            "--ignore-files",
            "www/bench/**",
        ]))
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
    let manifest = source_manifest()?;
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

/// The Firefox add-on id (`browser_specific_settings.gecko.id`).
pub fn gecko_id() -> Result<String> {
    Ok(
        source_manifest()?["browser_specific_settings"]["gecko"]["id"]
            .as_str()
            .ok_or("manifest.json has no browser_specific_settings.gecko.id")?
            .to_string(),
    )
}

/// What Firefox's `browser.identity.getRedirectURL()` returns: `https://<sha1(add-on id) in
/// hex>.extensions.allizom.org/`, the same on every installation (the add-on id is fixed).
/// The broker must allow it (`--allowed-redirect-uri`).
pub fn firefox_redirect_uri() -> Result<String> {
    Ok(firefox_redirect_for(&gecko_id()?))
}

fn firefox_redirect_for(gecko_id: &str) -> String {
    use sha1::Digest as _;
    let hash = sha1::Sha1::digest(gecko_id.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://{hex}.extensions.allizom.org/")
}

/// The `moz-extension://` UUID the tests and the demo give the add-on (pref
/// `extensions.webextensions.uuids`), so its origin is known before Firefox starts. A real
/// installation gets a random one.
pub const FIREFOX_UUID: &str = "3b1e2a4c-5d6f-4a7b-8c9d-0e1f2a3b4c5d";

/// `extensions.webextensions.uuids`: `{"<gecko id>": "<uuid>"}`.
pub fn firefox_uuid_pref() -> Result<String> {
    Ok(serde_json::json!({ gecko_id()?: FIREFOX_UUID }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_browser_gets_only_its_own_keys() {
        let source = source_manifest().unwrap();
        let chrome = manifest_for(Browser::Chrome, &source).unwrap();
        assert!(chrome["background"]["service_worker"].is_string());
        assert!(chrome["background"].get("scripts").is_none());
        assert!(chrome.get("browser_specific_settings").is_none());
        assert!(chrome["key"].is_string());
        let firefox = manifest_for(Browser::Firefox, &source).unwrap();
        assert_eq!(
            firefox["background"]["scripts"],
            serde_json::json!([chrome["background"]["service_worker"]])
        );
        assert_eq!(firefox["background"]["type"], "module");
        assert!(firefox["background"].get("service_worker").is_none());
        assert!(firefox.get("key").is_none());
        assert!(firefox.get("minimum_chrome_version").is_none());
        assert!(firefox["browser_specific_settings"]["gecko"]["id"].is_string());
    }

    #[test]
    fn firefox_redirect_is_sha1_of_the_addon_id() {
        // sha1("abc") = a9993e36...
        assert_eq!(
            firefox_redirect_for("abc"),
            "https://a9993e364706816aba3e25717850c26c9cd0d89d.extensions.allizom.org/"
        );
    }
}
