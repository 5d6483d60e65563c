//! The installation's proof-of-possession key: an ECDSA P-256 pair made by WebCrypto with a
//! **non-extractable** private half, kept in IndexedDB of the extension or page origin.
//!
//! IndexedDB holds the `CryptoKey` object itself (structured clone), never key bytes: script
//! can ask the browser to sign with it, but no script (this module included) can read it out,
//! and content scripts, which run in the web page's origin, cannot open the extension's
//! IndexedDB at all. The first context to need the key creates it; `add` (not `put`) makes the
//! creation one step across contexts, so a popup and the service worker starting at once end
//! up with the same key, never with two (a blob bound to the loser's key would be refused).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, CryptoKeyPair, IdbDatabase, IdbTransactionMode};

use super::global::{describe_js_error, global_path};
use super::idb::{self, committed, error_name, settle};
use crate::core::dpop::ProofJwk;
use crate::session::ports::{KeyError, ProofKey};

const STORE: &str = idb::KEYS;
/// One key per extension or origin, whatever the namespace: the broker needs no more.
const KEY_ID: &str = "proof-key";

/// Where the pair lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHome {
    /// IndexedDB, shared by every context of the origin.
    IndexedDb,
    /// This JS context only, shared by its memory clients (the `memory` storage: tokens die
    /// with the context, so may the key).
    Memory,
}

#[derive(Clone)]
struct Loaded {
    private: CryptoKey,
    jwk: ProofJwk,
}

/// The browser's [`ProofKey`]: loaded (or created) once per context, then kept in memory.
#[derive(Clone)]
pub struct BrowserProofKey {
    home: KeyHome,
    loaded: Rc<RefCell<Option<Loaded>>>,
}

impl std::fmt::Debug for BrowserProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserProofKey")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The `memory` home's pair: one per JS context, shared by every memory client of it, as
    /// they share the context's memory store (and so the blob bound to this key).
    static CONTEXT_KEY: Rc<RefCell<Option<Loaded>>> = Rc::default();
}

impl BrowserProofKey {
    pub fn new(home: KeyHome) -> Self {
        let loaded = match home {
            KeyHome::Memory => CONTEXT_KEY.with(Rc::clone),
            KeyHome::IndexedDb => Rc::new(RefCell::new(None)),
        };
        BrowserProofKey { home, loaded }
    }

    async fn key(&self) -> Result<Loaded, KeyError> {
        if let Some(loaded) = self.loaded.borrow().clone() {
            return Ok(loaded);
        }
        let pair = match self.home {
            KeyHome::Memory => generate().await?,
            KeyHome::IndexedDb => load_or_create().await?,
        };
        let jwk = public_jwk(&pair).await?;
        let loaded = Loaded {
            private: pair.get_private_key(),
            jwk,
        };
        // Two first calls in one context may both have made a key (memory) or read it: the
        // first one kept wins, so this context signs with one key only.
        let mut slot = self.loaded.borrow_mut();
        Ok(slot.get_or_insert(loaded).clone())
    }
}

impl ProofKey for BrowserProofKey {
    async fn public_jwk(&self) -> Result<ProofJwk, KeyError> {
        Ok(self.key().await?.jwk)
    }

    async fn sign(&self, input: &[u8]) -> Result<Vec<u8>, KeyError> {
        let key = self.key().await?;
        let params = web_sys::EcdsaParams::new_with_str("ECDSA", "SHA-256");
        let promise = subtle()?
            .sign_with_object_and_u8_array(&params, &key.private, input)
            .map_err(|e| failed("sign", &e))?;
        let signature = JsFuture::from(promise)
            .await
            .map_err(|e| failed("sign", &e))?;
        Ok(js_sys::Uint8Array::new(&signature).to_vec())
    }
}

fn failed(what: &str, error: &JsValue) -> KeyError {
    KeyError(format!("{what} failed: {}", describe_js_error(error)))
}

fn subtle() -> Result<web_sys::SubtleCrypto, KeyError> {
    global_path(&["crypto"])
        .and_then(|c| c.dyn_into::<web_sys::Crypto>().ok())
        .map(|c| c.subtle())
        .ok_or_else(|| KeyError("WebCrypto (crypto.subtle) is not available here".into()))
}

/// A new pair; the private half can sign but never be exported.
async fn generate() -> Result<CryptoKeyPair, KeyError> {
    let params = web_sys::EcKeyGenParams::new("ECDSA", "P-256");
    let usages = js_sys::Array::of1(&JsValue::from_str("sign"));
    let promise = subtle()?
        .generate_key_with_object(&params, false, &usages)
        .map_err(|e| failed("generateKey", &e))?;
    let pair = JsFuture::from(promise)
        .await
        .map_err(|e| failed("generateKey", &e))?;
    Ok(pair.unchecked_into())
}

/// The public half as JWK coordinates (a public key is always exportable).
async fn public_jwk(pair: &CryptoKeyPair) -> Result<ProofJwk, KeyError> {
    let promise = subtle()?
        .export_key("jwk", &pair.get_public_key())
        .map_err(|e| failed("exportKey", &e))?;
    let jwk = JsFuture::from(promise)
        .await
        .map_err(|e| failed("exportKey", &e))?;
    serde_wasm_bindgen::from_value(jwk)
        .map_err(|_| KeyError("the exported public key is not an EC JWK".into()))
}

/// The stored pair, or a new one stored with `add`: when another context stored its pair
/// first, `add` fails with `ConstraintError` and that pair is read instead.
async fn load_or_create() -> Result<CryptoKeyPair, KeyError> {
    let db = open().await?;
    let pair = load_or_create_in(&db).await;
    // Closed at once: an open connection would block a later upgrade or deletion of the
    // database (by a newer version, or the user clearing site data).
    db.close();
    pair
}

async fn load_or_create_in(db: &IdbDatabase) -> Result<CryptoKeyPair, KeyError> {
    if let Some(pair) = read(db).await? {
        return Ok(pair);
    }
    let pair = generate().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(|e| failed("IndexedDB add", &e))?;
    tx.object_store(STORE)
        .and_then(|s| s.add_with_key(&pair, &JsValue::from_str(KEY_ID)))
        .map_err(|e| failed("IndexedDB add", &e))?;
    // Kept only once committed: a key used before its write is durable could be lost, and the
    // blob bound to it with it.
    match committed(&tx).await {
        Ok(()) => Ok(pair),
        Err(e) if error_name(&e) == "ConstraintError" => read(db)
            .await?
            .ok_or_else(|| KeyError("IndexedDB lost the key another context stored".into())),
        Err(e) => Err(failed("IndexedDB add", &e)),
    }
}

async fn open() -> Result<IdbDatabase, KeyError> {
    idb::open().await.map_err(|e| match e {
        Some(e) => failed("IndexedDB open", &e),
        None => KeyError("IndexedDB is not available here".into()),
    })
}

async fn read(db: &IdbDatabase) -> Result<Option<CryptoKeyPair>, KeyError> {
    let request = (|| {
        db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)?
            .object_store(STORE)?
            .get(&JsValue::from_str(KEY_ID))
    })()
    .map_err(|e| failed("IndexedDB get", &e))?;
    let value = settle(&request)
        .await
        .map_err(|e| failed("IndexedDB get", &e))?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let private = js_sys::Reflect::get(&value, &JsValue::from_str("privateKey")).ok();
    if !private.is_some_and(|k| k.is_instance_of::<CryptoKey>()) {
        return Err(KeyError(
            "IndexedDB holds something that is not a key pair under the proof key's name".into(),
        ));
    }
    Ok(Some(value.unchecked_into()))
}
