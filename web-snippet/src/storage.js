// Storage that never throws. With site data blocked, reading window.localStorage itself throws;
// with storage full, setItem throws and a later read would return a stale copy. Either way the
// snippet keeps working from memory for this page: a key whose last write failed is read from
// memory, not from the stale stored copy.

/** `getStore()` returns window.localStorage (it may throw); the result has the Storage calls. */
export function safeStorage(getStore) {
  let store = null;
  try {
    store = getStore();
    store.getItem("cs_consent");
  } catch (e) {
    store = null;
  }
  const mem = new Map();
  const attempt = (k, write) => {
    try {
      if (!store) throw 0;
      write();
      mem.delete(k);
    } catch (e) {
      return false;
    }
    return true;
  };
  return {
    persistent: !!store,
    getItem(k) {
      if (mem.has(k)) return mem.get(k);
      try {
        return store ? store.getItem(k) : null;
      } catch (e) {
        return null;
      }
    },
    setItem(k, v) {
      if (!attempt(k, () => store.setItem(k, String(v)))) mem.set(k, String(v));
    },
    removeItem(k) {
      if (!attempt(k, () => store.removeItem(k))) mem.set(k, null);
    },
  };
}
