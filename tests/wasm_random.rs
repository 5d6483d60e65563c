//! The wasm draws its randomness (the OAuth `state`) from the Web Crypto API through a custom
//! `getrandom` backend (src/bindings/mod.rs): it must work in a page and give fresh values.
#![cfg(target_arch = "wasm32")]

use jira_3lo::core::secrets::State;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn states_come_from_web_crypto_and_differ() {
    let states: Vec<String> = (0..8)
        .map(|_| {
            State::random()
                .expect("crypto.getRandomValues")
                .secret()
                .to_string()
        })
        .collect();
    for s in &states {
        assert_eq!(s.len(), 43, "256 bits in base64url: {s}");
    }
    let mut unique = states.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), states.len(), "fresh values every time");
    let mut bytes = [0u8; 70_000];
    getrandom::getrandom(&mut bytes).expect("more than one getRandomValues call");
    assert!(
        bytes[65_536..].iter().any(|b| *b != 0),
        "the part past 64 KiB is filled too"
    );
}
