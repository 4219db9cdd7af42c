// One delivery queue for consent decisions and events: kept in localStorage (survives reloads,
// capped), sent in order, batched by count and time, retried with backoff, emptied on withdrawal.
import { backoff } from "./core.js";

/**
 * A persistent FIFO of items `{id, k: "c" | "e", ...}` (consent / event). Storage is read on
 * every call so tabs of one site share it; without storage it lives in memory.
 */
export function createQueue(storage, key, cap = 200) {
  let mem = [];
  const read = () => {
    try {
      const v = JSON.parse(storage.getItem(key) || "[]");
      return Array.isArray(v) ? v : [];
    } catch (e) {
      return mem;
    }
  };
  const write = (items) => {
    mem = items;
    try {
      items.length ? storage.setItem(key, JSON.stringify(items)) : storage.removeItem(key);
    } catch (e) {
      /* full or blocked: memory only */
    }
  };
  return {
    items: read,
    /** Append; past the cap the oldest events go first, consent decisions are kept. */
    push(item) {
      const items = read();
      items.push(item);
      let over = items.filter((i) => i.k === "e").length - cap;
      write(items.filter((i) => !(over > 0 && i.k === "e" && over--)));
    },
    remove(ids) {
      write(read().filter((i) => !ids.includes(i.id)));
    },
    /** Drop the items `pred` picks (a withdrawal drops only what it takes back). */
    drop(pred) {
      write(read().filter((i) => !pred(i)));
    },
    /** Count one more failed attempt on these items (kept with them across pages). */
    bump(ids) {
      write(read().map((i) => (ids.includes(i.id) ? { ...i, n: (i.n || 0) + 1 } : i)));
    },
  };
}

/** What a send came to: done (remove), or retry later (network error, 429, 5xx). */
export function outcome(status) {
  return status === 429 || status >= 500 || !status ? "retry" : "done";
}

/**
 * Sends the queue in order: a consent decision alone (its answer carries the consent id), then
 * the events after it in batches of at most `maxBatch`. `send(path, body)` resolves to
 * `{status, data, retryAfter}` or rejects on a network error; `beacon(path, body)` is
 * navigator.sendBeacon. `prepare(event)` re-checks consent at send time; `ready()` false holds
 * events (not decisions) back; `online()` false means a failure is the network's, not the
 * collector's. A batch that fails `maxTries` times while online (a collector whose CORS list
 * misses this site fails every time) is dropped with a warning instead of being re-sent forever.
 */
export function createSender(o) {
  const { queue, send, beacon, prepare, now, timers, random, onRecorded } = o;
  const batchSize = o.batchSize || 10, flushMs = o.flushMs || 2000, maxBatch = o.maxBatch || 25;
  const ready = o.ready || (() => true), online = o.online || (() => true), maxTries = o.maxTries || 8;
  const warn = o.warn || (() => {});
  let busy = false, attempt = 0, timer = null, inflight = [];

  const later = (ms) => {
    if (timer) timers.clear(timer);
    timer = timers.set(() => ((timer = null), flush()), ms);
  };
  const nextBatch = (items) => {
    if (items[0].k === "c") return [items[0]];
    if (!ready()) return [];
    const end = items.findIndex((i) => i.k === "c");
    return items.slice(0, end < 0 ? maxBatch : Math.min(end, maxBatch));
  };
  const eventsBody = (batch) => ({ events: batch.map((i) => prepare(i.ev)), sent_at: new Date(now()).toISOString() });

  async function sendOne(batch) {
    const consent = batch[0].k === "c";
    try {
      const res = await send(consent ? "/v1/consent" : "/v1/events", consent ? batch[0].body : eventsBody(batch));
      return { ...res, result: outcome(res.status) };
    } catch (e) {
      return { result: "retry" };
    }
  }

  /** Count a network failure while online; past maxTries drop the batch (true) and say why. */
  function giveUp(batch) {
    const ids = batch.map((i) => i.id);
    queue.bump(ids);
    if ((batch[0].n || 0) + 1 < maxTries) return false;
    queue.remove(ids);
    warn("consentstream: collector unreachable (site not in its CORS origins?), dropped " + ids.length);
    return true;
  }

  /** Send everything queued, in order; on failure stop and retry with backoff. */
  async function flush() {
    if (busy) return;
    busy = true;
    if (timer) timers.clear(timer), (timer = null);
    try {
      for (let items = queue.items(); items.length; items = queue.items()) {
        const batch = nextBatch(items);
        if (!batch.length) return;
        inflight = batch.map((i) => i.id);
        const res = await sendOne(batch);
        inflight = [];
        if (res.result === "retry" && !res.status && online() && giveUp(batch)) continue;
        if (res.result === "retry") {
          attempt++;
          later(Math.max(backoff(attempt - 1, random()), (res.retryAfter || 0) * 1000));
          return;
        }
        attempt = 0;
        queue.remove(batch.map((i) => i.id));
        if (batch[0].k === "c" && res.status < 300 && onRecorded) onRecorded(batch[0], res.data);
      }
    } finally {
      busy = false;
      inflight = [];
    }
  }

  return {
    flush,
    /** Queue an item; a decision or a full batch goes at once, events otherwise after `flushMs`. */
    add(item) {
      queue.push(item);
      const events = queue.items().filter((i) => i.k === "e").length;
      if (item.k === "c" || (events >= batchSize && ready())) flush();
      else if (!timer && !busy) later(flushMs);
    },
    /**
     * Page going away: hand the events before any pending decision to sendBeacon. Offline, a
     * beacon would be accepted and then lost, so the queue waits for the next page instead.
     */
    beaconAll(online = true) {
      if (!online || !ready()) return;
      const items = queue.items().filter((i) => !inflight.includes(i.id));
      const end = items.findIndex((i) => i.k === "c");
      const events = end < 0 ? items : items.slice(0, end);
      for (let i = 0; i < events.length; i += maxBatch) {
        const batch = events.slice(i, i + maxBatch);
        if (!beacon("/v1/events", eventsBody(batch))) return;
        queue.remove(batch.map((b) => b.id));
      }
    },
    /** Back online: forget the backoff and send now. */
    retryNow() {
      attempt = 0;
      flush();
    },
    get attempt() {
      return attempt;
    },
  };
}
