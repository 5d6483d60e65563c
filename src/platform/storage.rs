//! The [`KeyValueStore`] port over the browser's storages, plus change notifications.
//!
//! | kind        | `Area::Session` (access token)  | `Area::Persistent` (refresh token, site, pending) |
//! |-------------|---------------------------------|---------------------------------------------------|
//! | `extension` | `chrome.storage.session`        | `chrome.storage.local`                            |
//! | `session`   | `sessionStorage`                | `sessionStorage` (gone when the tab closes)       |
//! | `local`     | the origin's IndexedDB          | the origin's IndexedDB (survives restarts)        |
//! | `memory`    | this context's memory           | this context's memory                             |
//!
//! The access token lives wherever the refresh token does, so every context that shares the
//! grant shares its current access token too: with `local`, a per-tab `sessionStorage` copy
//! would make each tab refresh (and rotate) on its own, and a sign-out in one tab would leave
//! the others their tokens. With `session` and `local` both areas are one store: a key
//! must not be used in both areas (the engine's keys never are). `local` is IndexedDB, not
//! `localStorage`, because only IndexedDB is consistent across the origin's processes (see
//! [`super::indexed_store`]). Everything is resolved through `globalThis`, never `window`,
//! so the extension store works in the MV3 service worker. [`BrowserStore::subscribe`]
//! reports changed keys: `chrome.storage` reports changes made by every extension context
//! (this one included); `local` reports every context's writes over a `BroadcastChannel`;
//! `sessionStorage` reports other documents' changes through the `storage` event and this
//! context's own writes in-process; the memory store reports its own writes. Notifications
//! are delivered asynchronously (never from inside a `set`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::global::{describe_js_error, global_path};
use super::indexed_store::{self, Op};
use crate::session::ports::{Area, ChangeListener, KeyValueStore, StoreError};

/// Which storage a client keeps its records in (the JS config's `storage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Extension,
    Session,
    Local,
    Memory,
}

impl StorageKind {
    /// `extension` where `chrome.storage` exists (extension pages and service worker),
    /// otherwise `session` where there is a `sessionStorage` (a page: survives the authorize
    /// redirect, forgotten with the tab), otherwise `memory` (a plain worker).
    pub fn detect() -> Self {
        if extension_api(&["storage", "local"]).is_some() {
            StorageKind::Extension
        } else if web_storage("sessionStorage").is_ok() {
            StorageKind::Session
        } else {
            StorageKind::Memory
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// A `chrome.storage.StorageArea` (promise-returning in MV3 Chrome and in Firefox).
    #[derive(Debug, Clone)]
    type StorageArea;
    #[wasm_bindgen(method, catch)]
    fn get(this: &StorageArea, key: &str) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn set(this: &StorageArea, items: &js_sys::Object) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn remove(this: &StorageArea, key: &str) -> Result<js_sys::Promise, JsValue>;

    /// `chrome.storage.onChanged`.
    #[derive(Debug, Clone)]
    type ChangeEvent;
    #[wasm_bindgen(method, js_name = addListener)]
    fn add_listener(this: &ChangeEvent, callback: &js_sys::Function);
    #[wasm_bindgen(method, js_name = removeListener)]
    fn remove_listener(this: &ChangeEvent, callback: &js_sys::Function);
}

/// `chrome.<path>` or, in Firefox, `browser.<path>`.
pub(crate) fn extension_api(path: &[&str]) -> Option<JsValue> {
    let mut chrome = vec!["chrome"];
    chrome.extend_from_slice(path);
    let mut browser = vec!["browser"];
    browser.extend_from_slice(path);
    global_path(&chrome).or_else(|| global_path(&browser))
}

/// A store of one of the [`StorageKind`]s. Cheap to clone (JS handles and `Rc`s).
#[derive(Clone)]
pub struct BrowserStore {
    backend: Backend,
    /// The listeners of [`KeyValueStore::watch`]: registered as long as the store lives.
    watching: Rc<RefCell<Vec<Subscription>>>,
}

#[derive(Clone)]
enum Backend {
    Extension {
        session: StorageArea,
        local: StorageArea,
        on_changed: ChangeEvent,
    },
    /// `sessionStorage`, holding both areas.
    Web(web_sys::Storage),
    /// The origin's IndexedDB (`local`), holding both areas.
    Indexed,
    Memory(MemoryStore),
}

impl std::fmt::Debug for BrowserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Extension { .. } => "extension",
            Backend::Web(_) => "web",
            Backend::Indexed => "indexeddb",
            Backend::Memory(_) => "memory",
        };
        f.debug_struct("BrowserStore").field("kind", &kind).finish()
    }
}

/// `chrome.storage.session.setAccessLevel({accessLevel: "TRUSTED_CONTEXTS"})`: only the
/// extension's own pages and service worker may read the access tokens, never a content
/// script. It is Chrome's default already; saying so keeps it true if another part of the
/// extension ever widened it. Where the call is missing or refused (a content script may not
/// make it) nothing changes, so a failure is ignored.
fn restrict_to_trusted_contexts(session: &StorageArea) {
    let Ok(set) = js_sys::Reflect::get(session, &JsValue::from_str("setAccessLevel")) else {
        return;
    };
    let Some(set) = set.dyn_ref::<js_sys::Function>() else {
        return;
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(
        &options,
        &JsValue::from_str("accessLevel"),
        &JsValue::from_str("TRUSTED_CONTEXTS"),
    );
    if let Ok(promise) = set.call1(session, &options) {
        if let Ok(promise) = promise.dyn_into::<js_sys::Promise>() {
            // Awaited only so that a refusal is not an unhandled rejection.
            wasm_bindgen_futures::spawn_local(async move {
                let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
            });
        }
    }
}

impl BrowserStore {
    /// Opens the store of `kind` in the current context; fails when the API is missing here
    /// (e.g. `extension` outside an extension, `session` in a worker).
    pub fn open(kind: StorageKind) -> Result<Self, StoreError> {
        let backend = match kind {
            StorageKind::Extension => {
                let area = |name: &str| {
                    extension_api(&["storage", name]).map(JsCast::unchecked_into::<StorageArea>).ok_or_else(|| {
                        StoreError(format!(
                            "chrome.storage.{name} is not available here (storage \"extension\" needs an extension context with the \"storage\" permission)"
                        ))
                    })
                };
                let on_changed = extension_api(&["storage", "onChanged"])
                    .map(JsCast::unchecked_into::<ChangeEvent>)
                    .ok_or_else(|| {
                        StoreError("chrome.storage.onChanged is not available here".to_string())
                    })?;
                let session = area("session")?;
                restrict_to_trusted_contexts(&session);
                Backend::Extension {
                    session,
                    local: area("local")?,
                    on_changed,
                }
            }
            StorageKind::Session => Backend::Web(web_storage("sessionStorage")?),
            StorageKind::Local => {
                if global_path(&["indexedDB"]).is_none() {
                    return Err(StoreError(
                        "IndexedDB is not available here (storage \"local\" keeps its records there)"
                            .to_string(),
                    ));
                }
                Backend::Indexed
            }
            StorageKind::Memory => Backend::Memory(MemoryStore::context()),
        };
        Ok(BrowserStore {
            backend,
            watching: Rc::default(),
        })
    }

    /// True for the `memory` store: nothing it holds outlives this JS context.
    pub fn is_context_only(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// A store over the given memory store (tests use an isolated one).
    pub fn memory(store: MemoryStore) -> Self {
        BrowserStore {
            backend: Backend::Memory(store),
            watching: Rc::default(),
        }
    }

    /// Calls `on_change(Some(key))` after a key changes (`None`: everything may have changed,
    /// e.g. `localStorage.clear()` in another tab) until the returned handle is dropped.
    pub fn subscribe(&self, on_change: impl Fn(Option<&str>) + 'static) -> Subscription {
        let on_change: Listener = Rc::new(on_change);
        match &self.backend {
            Backend::Extension { on_changed, .. } => {
                let callback = on_change.clone();
                let closure = Closure::<dyn FnMut(JsValue, JsValue)>::new(
                    move |changes: JsValue, area: JsValue| {
                        let area = area.as_string().unwrap_or_default();
                        if area != "session" && area != "local" {
                            return;
                        }
                        let changes: js_sys::Object = changes.unchecked_into();
                        for key in js_sys::Object::keys(&changes).iter() {
                            if let Some(key) = key.as_string() {
                                callback(Some(&key));
                            }
                        }
                    },
                );
                on_changed.add_listener(closure.as_ref().unchecked_ref());
                Subscription {
                    parts: vec![Part::Chrome {
                        event: on_changed.clone(),
                        closure,
                    }],
                }
            }
            Backend::Indexed => {
                let mut parts = Vec::new();
                parts.extend(channel_listener(on_change.clone()));
                parts.extend(restored_from_cache(on_change));
                Subscription { parts }
            }
            Backend::Web(_) => {
                let mut parts = Vec::new();
                // Only documents receive other documents' `storage` events.
                let callback = on_change.clone();
                parts.extend(global_event("storage", move |event: JsValue| {
                    let event: web_sys::StorageEvent = event.unchecked_into();
                    callback(event.key().as_deref());
                }));
                parts.extend(restored_from_cache(on_change.clone()));
                parts.push(WEB_HUB.with(|hub| hub.subscribe(on_change)));
                Subscription { parts }
            }
            Backend::Memory(memory) => Subscription {
                parts: vec![memory.inner.hub.subscribe(on_change)],
            },
        }
    }
}

/// A page restored from the back/forward cache missed the events fired while it was cached:
/// everything may have changed.
fn restored_from_cache(callback: Listener) -> Option<Part> {
    global_event("pageshow", move |event: JsValue| {
        let restored = js_sys::Reflect::get(&event, &JsValue::from_str("persisted"))
            .is_ok_and(|p| p.is_truthy());
        if restored {
            callback(None);
        }
    })
}

/// Listens to the keys every context of the origin announces on [`indexed_store::CHANNEL`].
fn channel_listener(callback: Listener) -> Option<Part> {
    let channel = web_sys::BroadcastChannel::new(indexed_store::CHANNEL).ok()?;
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let data = js_sys::Reflect::get(&event, &JsValue::from_str("data")).ok();
        callback(data.and_then(|d| d.as_string()).as_deref());
    });
    channel.set_onmessage(Some(closure.as_ref().unchecked_ref()));
    Some(Part::Channel { channel, closure })
}

/// Listens to the global object's event `name` where this context has it (documents have
/// `storage` and `pageshow`, workers neither).
fn global_event(name: &'static str, handler: impl FnMut(JsValue) + 'static) -> Option<Part> {
    let global: JsValue = js_sys::global().into();
    let has = js_sys::Reflect::has(&global, &JsValue::from_str(&format!("on{name}")));
    if !has.unwrap_or(false) {
        return None;
    }
    let target: web_sys::EventTarget = global.unchecked_into();
    let closure = Closure::<dyn FnMut(JsValue)>::new(handler);
    target
        .add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())
        .ok()?;
    Some(Part::Window {
        target,
        name,
        closure,
    })
}

fn web_storage(name: &str) -> Result<web_sys::Storage, StoreError> {
    global_path(&[name])
        .and_then(|v| v.dyn_into::<web_sys::Storage>().ok())
        .ok_or_else(|| StoreError(format!("{name} is not available in this context")))
}

pub(super) fn store_error(what: &str, error: &JsValue) -> StoreError {
    StoreError(format!("{what} failed ({})", describe_js_error(error)))
}

/// Awaits a `chrome.storage` call: a synchronous throw and a rejected promise both become a
/// [`StoreError`] naming the operation.
async fn settle(what: &str, call: Result<js_sys::Promise, JsValue>) -> Result<JsValue, StoreError> {
    let promise = call.map_err(|e| store_error(what, &e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| store_error(what, &e))
}

impl KeyValueStore for BrowserStore {
    fn watch(&self, listener: ChangeListener) {
        let subscription = self.subscribe(move |key| listener(key));
        self.watching.borrow_mut().push(subscription);
    }

    async fn get(&self, area: Area, key: &str) -> Result<Option<String>, StoreError> {
        match &self.backend {
            Backend::Extension { session, local, .. } => {
                let storage = pick(area, session, local);
                let items = settle("chrome.storage get", storage.get(key)).await?;
                let value = js_sys::Reflect::get(&items, &JsValue::from_str(key))
                    .unwrap_or(JsValue::UNDEFINED);
                if value.is_undefined() || value.is_null() {
                    Ok(None)
                } else if let Some(text) = value.as_string() {
                    Ok(Some(text))
                } else {
                    // Written by someone else in another shape: hand it over as JSON so the
                    // engine's record parser reports and discards it.
                    Ok(js_sys::JSON::stringify(&value)
                        .ok()
                        .and_then(|s| s.as_string()))
                }
            }
            Backend::Web(storage) => storage
                .get_item(key)
                .map_err(|e| store_error("Web Storage getItem", &e)),
            Backend::Indexed => indexed_store::run(Op::Get(key)).await,
            Backend::Memory(memory) => Ok(memory.get(area, key)),
        }
    }

    async fn set(&self, area: Area, key: &str, value: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Extension { session, local, .. } => {
                let storage = pick(area, session, local);
                let items = js_sys::Object::new();
                js_sys::Reflect::set(&items, &JsValue::from_str(key), &JsValue::from_str(value))
                    .map_err(|e| store_error("chrome.storage set", &e))?;
                settle("chrome.storage set", storage.set(&items)).await?;
                Ok(())
            }
            Backend::Web(storage) => {
                storage
                    .set_item(key, value)
                    .map_err(|e| store_error("Web Storage setItem", &e))?;
                WEB_HUB.with(|hub| hub.notify(key));
                Ok(())
            }
            Backend::Indexed => indexed_store::run(Op::Put(key, value)).await.map(drop),
            Backend::Memory(memory) => {
                memory.set(area, key, value);
                Ok(())
            }
        }
    }

    async fn remove(&self, area: Area, key: &str) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Extension { session, local, .. } => {
                let storage = pick(area, session, local);
                settle("chrome.storage remove", storage.remove(key)).await?;
                Ok(())
            }
            Backend::Web(storage) => {
                storage
                    .remove_item(key)
                    .map_err(|e| store_error("Web Storage removeItem", &e))?;
                WEB_HUB.with(|hub| hub.notify(key));
                Ok(())
            }
            Backend::Indexed => indexed_store::run(Op::Delete(key)).await.map(drop),
            Backend::Memory(memory) => {
                memory.remove(area, key);
                Ok(())
            }
        }
    }
}

/// A store living in this JS context's memory: nothing survives a reload, nothing is shared
/// with other contexts. [`MemoryStore::context`] is the one every `memory` client of this
/// context shares (like they would share `localStorage`).
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Rc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    // `(key, value)` lists: a handful of keys, and a few bytes of wasm where a hash map is
    // kilobytes.
    session: RefCell<Vec<(String, String)>>,
    persistent: RefCell<Vec<(String, String)>>,
    hub: Rc<Hub>,
}

thread_local! {
    static CONTEXT_MEMORY: MemoryStore = MemoryStore::default();
    static WEB_HUB: Rc<Hub> = Rc::default();
}

impl MemoryStore {
    /// A fresh, isolated store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// The store shared by this context's `memory` clients.
    pub fn context() -> Self {
        CONTEXT_MEMORY.with(Clone::clone)
    }

    fn map(&self, area: Area) -> &RefCell<Vec<(String, String)>> {
        match area {
            Area::Session => &self.inner.session,
            Area::Persistent => &self.inner.persistent,
        }
    }

    fn get(&self, area: Area, key: &str) -> Option<String> {
        let map = self.map(area).borrow();
        map.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    fn set(&self, area: Area, key: &str, value: &str) {
        {
            let mut map = self.map(area).borrow_mut();
            match map.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value.to_string(),
                None => map.push((key.to_string(), value.to_string())),
            }
        }
        self.inner.hub.notify(key);
    }

    fn remove(&self, area: Area, key: &str) {
        let removed = {
            let mut map = self.map(area).borrow_mut();
            let before = map.len();
            map.retain(|(k, _)| k != key);
            map.len() != before
        };
        if removed {
            self.inner.hub.notify(key);
        }
    }
}

type Listener = Rc<dyn Fn(Option<&str>)>;

/// In-process change listeners of one shared store.
#[derive(Default)]
struct Hub {
    listeners: RefCell<Vec<(u64, Listener)>>,
    next_id: Cell<u64>,
}

impl Hub {
    fn subscribe(self: &Rc<Self>, listener: Listener) -> Part {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.listeners.borrow_mut().push((id, listener));
        Part::Local {
            hub: self.clone(),
            id,
        }
    }

    /// Calls every listener in a later microtask, so a listener never runs inside the
    /// storage operation that triggered it; a listener unregistered meanwhile (its client
    /// freed) is not called.
    fn notify(self: &Rc<Self>, key: &str) {
        if self.listeners.borrow().is_empty() {
            return;
        }
        let (hub, key) = (Rc::clone(self), key.to_string());
        wasm_bindgen_futures::spawn_local(async move {
            let ids: Vec<u64> = hub.listeners.borrow().iter().map(|(id, _)| *id).collect();
            for id in ids {
                let listener = hub
                    .listeners
                    .borrow()
                    .iter()
                    .find(|(other, _)| *other == id)
                    .map(|(_, l)| l.clone());
                if let Some(listener) = listener {
                    listener(Some(&key));
                }
            }
        });
    }
}

/// Keeps a [`BrowserStore::subscribe`] listener registered; dropping it unregisters.
pub struct Subscription {
    parts: Vec<Part>,
}

enum Part {
    Chrome {
        event: ChangeEvent,
        closure: Closure<dyn FnMut(JsValue, JsValue)>,
    },
    Window {
        target: web_sys::EventTarget,
        name: &'static str,
        closure: Closure<dyn FnMut(JsValue)>,
    },
    Local {
        hub: Rc<Hub>,
        id: u64,
    },
    Channel {
        channel: web_sys::BroadcastChannel,
        closure: Closure<dyn FnMut(JsValue)>,
    },
}

impl Drop for Part {
    fn drop(&mut self) {
        match self {
            Part::Chrome { event, closure } => {
                event.remove_listener(closure.as_ref().unchecked_ref())
            }
            Part::Window {
                target,
                name,
                closure,
            } => {
                let _ = target
                    .remove_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            }
            Part::Channel { channel, closure } => {
                channel.set_onmessage(None);
                channel.close();
                let _ = closure;
            }
            Part::Local { hub, id } => {
                let gone = {
                    let mut listeners = hub.listeners.borrow_mut();
                    let at = listeners.iter().position(|(other, _)| other == id);
                    at.map(|i| listeners.remove(i))
                };
                // Dropped outside the borrow: a listener may own a client whose store's own
                // subscriptions to this hub unregister as it goes.
                drop(gone);
            }
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("parts", &self.parts.len())
            .finish()
    }
}

/// The backing store of an area: the short-lived one for [`Area::Session`], else the persistent one.
fn pick<'a, T>(area: Area, session: &'a T, persistent: &'a T) -> &'a T {
    if area == Area::Session {
        session
    } else {
        persistent
    }
}
