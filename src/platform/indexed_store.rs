//! The `local` storage kind: the session records in the origin's IndexedDB (store
//! `records`), shared by every tab and worker of the origin, with change notifications over a
//! `BroadcastChannel`.
//!
//! Why not `localStorage`: the refresh lock only makes one context refresh at a time if the
//! next holder reads what the last one wrote. IndexedDB guarantees that for a write whose
//! transaction completed before the lock was released; `localStorage` does not (see
//! [`super::idb`]), and two tabs then refreshed the same token.

use std::cell::{Cell, RefCell};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, IdbDatabase, IdbTransaction, IdbTransactionMode, Storage};

use super::global::global_path;
use super::idb::{self, committed, error_name, settle, Handler, RECORDS};
use crate::session::ports::StoreError;

/// The channel every context of the origin posts changed keys on.
pub(crate) const CHANNEL: &str = "jira3lo:records";

/// This context's open connection, with the `versionchange` handler that closes it.
struct Connection {
    db: IdbDatabase,
    closed: std::rc::Rc<Cell<bool>>,
    _on_versionchange: Handler,
}

thread_local! {
    static CONNECTION: RefCell<Option<Connection>> = const { RefCell::new(None) };
    static POST: RefCell<Option<BroadcastChannel>> = const { RefCell::new(None) };
}

fn failed(what: &str, error: &JsValue) -> StoreError {
    super::storage::store_error(what, error)
}

/// The context's connection, opened on first use and kept (opening costs more than a read).
async fn connection() -> Result<IdbDatabase, StoreError> {
    let open = CONNECTION.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|c| !c.closed.get())
            .map(|c| c.db.clone())
    });
    if let Some(db) = open {
        return Ok(db);
    }
    let db = idb::open().await.map_err(|e| match e {
        Some(e) => failed("IndexedDB open", &e),
        None => StoreError(
            "IndexedDB is not available here (storage \"local\" keeps its records there)".into(),
        ),
    })?;
    // A newer version of the database, or the user deleting it, waits for this connection to
    // close: close it then, and reopen on the next use.
    let closed = std::rc::Rc::new(Cell::new(false));
    let on_versionchange = Handler::new({
        let (db, closed) = (db.clone(), closed.clone());
        move |_| {
            db.close();
            closed.set(true);
        }
    });
    db.set_onversionchange(Some(on_versionchange.as_ref().unchecked_ref()));
    // Two first uses may both have opened one: the first kept serves, the other closes.
    CONNECTION.with(|c| {
        let mut c = c.borrow_mut();
        if let Some(kept) = c.as_ref().filter(|c| !c.closed.get()) {
            db.close();
            return Ok(kept.db.clone());
        }
        *c = Some(Connection {
            db: db.clone(),
            closed,
            _on_versionchange: on_versionchange,
        });
        Ok(db)
    })
}

/// A transaction on `records`; a connection the browser closed meanwhile is reopened once.
async fn transaction(mode: IdbTransactionMode) -> Result<IdbTransaction, StoreError> {
    let mut reopened = false;
    loop {
        match connection()
            .await?
            .transaction_with_str_and_mode(RECORDS, mode)
        {
            Ok(tx) => return Ok(tx),
            Err(e) if !reopened && error_name(&e) == "InvalidStateError" => {
                CONNECTION.with(|c| c.borrow_mut().take());
                reopened = true;
            }
            Err(e) => return Err(failed("IndexedDB transaction", &e)),
        }
    }
}

/// One operation on a record.
pub(crate) enum Op<'a> {
    Get(&'a str),
    Put(&'a str, &'a str),
    Delete(&'a str),
}

/// Runs `op` in a transaction of its own: a read answers the value; a write returns once it is
/// committed (so that whoever takes a lock this context releases next reads it), then is
/// announced to every context of the origin. One function for the three, so that the wasm holds
/// one copy of the transaction's state machine.
pub(crate) async fn run(op: Op<'_>) -> Result<Option<String>, StoreError> {
    let (key, mode) = match op {
        Op::Get(key) => (key, IdbTransactionMode::Readonly),
        Op::Put(key, _) | Op::Delete(key) => (key, IdbTransactionMode::Readwrite),
    };
    // A miss is looked up where an earlier version kept the record; when another context
    // moves it first (`add` refused), the record is read again, once.
    for _ in 0..2 {
        let tx = transaction(mode).await?;
        let store = tx
            .object_store(RECORDS)
            .map_err(|e| failed("IndexedDB transaction", &e))?;
        let request = match op {
            Op::Get(key) => store.get(&JsValue::from_str(key)),
            Op::Put(key, value) => {
                store.put_with_key(&JsValue::from_str(value), &JsValue::from_str(key))
            }
            Op::Delete(key) => store.delete(&JsValue::from_str(key)),
        }
        .map_err(|e| failed("IndexedDB request", &e))?;
        if mode == IdbTransactionMode::Readwrite {
            committed(&tx)
                .await
                .map_err(|e| failed("IndexedDB write", &e))?;
            // A copy an earlier version left must not come back on a later miss (a signed-out
            // record moved over again).
            if let Some(legacy) = legacy_storage() {
                let _ = legacy.remove_item(key);
            }
            announce(key);
            return Ok(None);
        }
        let value = settle(&request)
            .await
            .map_err(|e| failed("IndexedDB get", &e))?;
        if !(value.is_undefined() || value.is_null()) {
            // Not a string: written by someone else; handed over as JSON for the record
            // parser to report and discard.
            return Ok(value.as_string().or_else(|| {
                js_sys::JSON::stringify(&value)
                    .ok()
                    .and_then(|s| s.as_string())
            }));
        }
        match migrate(key).await? {
            Some(Moved::Here(value)) => return Ok(Some(value)),
            Some(Moved::Elsewhere) => continue,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// What [`migrate`] found.
enum Moved {
    /// Moved by this call.
    Here(String),
    /// Another context stored the record first: read it.
    Elsewhere,
}

/// The record an earlier version kept in `localStorage` under `key`, moved into IndexedDB:
/// `add`ed (so a record another context stored meanwhile wins), then removed from
/// `localStorage`, so no signed-in user is signed out by the upgrade. `None`: there is none.
async fn migrate(key: &str) -> Result<Option<Moved>, StoreError> {
    let Some((legacy, value)) =
        legacy_storage().and_then(|s| s.get_item(key).ok().flatten().map(|v| (s, v)))
    else {
        return Ok(None);
    };
    let tx = transaction(IdbTransactionMode::Readwrite).await?;
    tx.object_store(RECORDS)
        .and_then(|s| s.add_with_key(&JsValue::from_str(&value), &JsValue::from_str(key)))
        .map_err(|e| failed("IndexedDB migration", &e))?;
    let moved = match committed(&tx).await {
        Ok(()) => Moved::Here(value.clone()),
        Err(e) if error_name(&e) == "ConstraintError" => Moved::Elsewhere,
        // Not moved (quota, a closed connection): the old copy stays, to be moved next time.
        Err(e) => return Err(failed("IndexedDB migration", &e)),
    };
    // IndexedDB holds the record now. The old copy goes, unless an old version still running in
    // another tab rewrote it meanwhile.
    if legacy.get_item(key).ok().flatten().as_deref() == Some(value.as_str()) {
        let _ = legacy.remove_item(key);
    }
    if matches!(moved, Moved::Here(_)) {
        announce(key);
    }
    Ok(Some(moved))
}

/// `localStorage`, where earlier versions kept the `local` records (documents only).
fn legacy_storage() -> Option<Storage> {
    global_path(&["localStorage"]).and_then(|s| s.dyn_into::<Storage>().ok())
}

/// Tells every context of the origin (this one included: a channel object is not delivered
/// its own messages, but the context's other ones are) that `key` changed.
fn announce(key: &str) {
    POST.with(|post| {
        let mut post = post.borrow_mut();
        if post.is_none() {
            *post = BroadcastChannel::new(CHANNEL).ok();
        }
        if let Some(channel) = post.as_ref() {
            let _ = channel.post_message(&JsValue::from_str(key));
        }
    });
}
