//! The origin's IndexedDB database `jira-3lo`: one definition of its object stores, its
//! upgrade, and requests and transactions as futures.
//!
//! IndexedDB is the one storage of a web origin that is consistent across its processes: a
//! read-write transaction that has completed is seen by every transaction started after it,
//! in any tab or worker. `localStorage` is not: Chromium gives each renderer a cached copy and
//! sends other renderers' writes to it later, so a tab that takes the refresh lock right after
//! another tab released it can still read the refresh token that tab just rotated.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction};

use super::global::global_path;

const DB_NAME: &str = "jira-3lo";
/// 1: `keys`; 2: `records` added.
const DB_VERSION: u32 = 2;
/// The proof-of-possession key pair (`proof_key.rs`).
pub(crate) const KEYS: &str = "keys";
/// The session records of `storage: "local"` clients (`storage.rs`), keyed by record key.
pub(crate) const RECORDS: &str = "records";

/// The one closure type of this module (the one `storage.rs` listens to events with too): each
/// closure type costs its own glue in the wasm.
pub(crate) type Handler = Closure<dyn FnMut(JsValue)>;

/// Opens the database, creating the stores an older version (or none) lacks. `Err` carries
/// the JS error, or `None` where IndexedDB is missing.
pub(crate) async fn open() -> Result<IdbDatabase, Option<JsValue>> {
    let factory = global_path(&["indexedDB"])
        .and_then(|f| f.dyn_into::<web_sys::IdbFactory>().ok())
        .ok_or(None)?;
    let request = factory.open_with_u32(DB_NAME, DB_VERSION).map_err(Some)?;
    let upgrade_target = request.clone();
    let on_upgrade = Handler::new(move |_| {
        if let Ok(db) = upgrade_target.result() {
            let db: IdbDatabase = db.unchecked_into();
            for store in [KEYS, RECORDS] {
                if !db.object_store_names().contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
    let db = settle(&request).await;
    request.set_onupgradeneeded(None);
    drop(on_upgrade);
    Ok(db.map_err(Some)?.unchecked_into())
}

/// Waits for the first of two events: `arm` installs the handlers (success first, failure
/// second); they live until then and are freed with this future.
async fn first_of(arm: impl FnOnce(&js_sys::Function, &js_sys::Function)) -> Result<(), ()> {
    let mut arm = Some(arm);
    let mut handlers: Option<(Handler, Handler)> = None;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let ok = Handler::new(move |_| drop(resolve.call0(&JsValue::NULL)));
        let fail = Handler::new(move |_| drop(reject.call0(&JsValue::NULL)));
        if let Some(arm) = arm.take() {
            arm(ok.as_ref().unchecked_ref(), fail.as_ref().unchecked_ref());
        }
        handlers = Some((ok, fail));
    });
    let outcome = JsFuture::from(promise).await.map(drop).map_err(drop);
    drop(handlers);
    outcome
}

/// An IndexedDB request as a future: its result, or its error. A failed request aborts its
/// transaction; every transaction here has one purpose, so nothing else is lost.
pub(crate) async fn settle(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let outcome = first_of(|ok, fail| {
        request.set_onsuccess(Some(ok));
        request.set_onerror(Some(fail));
    })
    .await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(()) => Ok(request.result().unwrap_or_default()),
        Err(()) => Err(request
            .error()
            .ok()
            .flatten()
            .map(JsValue::from)
            .unwrap_or_default()),
    }
}

/// Waits until `tx` has committed (`complete`), or reports why it did not (`abort`, with the
/// failed request's error). A write is visible to other contexts only once this returns `Ok`.
pub(crate) async fn committed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let outcome = first_of(|ok, fail| {
        tx.set_oncomplete(Some(ok));
        tx.set_onabort(Some(fail));
    })
    .await;
    tx.set_oncomplete(None);
    tx.set_onabort(None);
    outcome.map_err(|()| tx.error().map(JsValue::from).unwrap_or_default())
}

/// The `name` of a DOMException-like error (`ConstraintError`, `InvalidStateError`, …).
pub(crate) fn error_name(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default()
}
