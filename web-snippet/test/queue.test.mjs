// The delivery queue and sender (src/queue.js): persistence, cap, ordering, batching by count
// and time, retry with backoff on network errors and 503, sendBeacon on the way out.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createQueue, createSender, outcome } from "../src/queue.js";
import { Clock, Storage, settle } from "./fake-browser.mjs";

const ev = (n, extra = {}) => ({ id: `e${n}`, k: "e", ev: { event_id: `e${n}`, type: "pageview", ...extra } });
const decisionItem = (n) => ({ id: `c${n}`, k: "c", decided_at: n, body: { visitor_id: "visitor0123456789" } });

/** A sender over a fake network: `answers` is a list of statuses (or "down") used in turn. */
function harness({ answers = [], storage = new Storage(), beaconOk = true, cap, ...options } = {}) {
  const clock = new Clock();
  const queue = createQueue(storage, "cs_queue", cap);
  const sent = [], beacons = [], recorded = [];
  const send = async (path, body) => {
    const answer = answers.length ? answers.shift() : path === "/v1/consent" ? 201 : 202;
    sent.push({ path, body, answer });
    if (answer === "down") throw new TypeError("Failed to fetch");
    return { status: answer, data: { consent_id: "c" }, retryAfter: answer === 503 ? 7 : 0 };
  };
  const sender = createSender({
    queue,
    send,
    beacon: (path, body) => (beacons.push({ path, body }), beaconOk),
    prepare: (e) => ({ ...e, checked: true }),
    now: () => clock.now,
    timers: clock,
    random: () => 1,
    onRecorded: (item, data) => recorded.push([item.id, data.consent_id]),
    ...options,
  });
  const ids = () => sent.filter((s) => s.path === "/v1/events" && s.answer === 202).flatMap((s) => s.body.events.map((e) => e.event_id));
  return { clock, queue, sender, sent, beacons, recorded, storage, ids };
}

test("queue: survives a reload, keeps order, drops the oldest events past the cap but no decision", () => {
  const storage = new Storage();
  const q = createQueue(storage, "cs_queue", 3);
  q.push(decisionItem(1));
  for (let i = 1; i <= 5; i++) q.push(ev(i));
  const reloaded = createQueue(storage, "cs_queue", 3);
  assert.deepEqual(reloaded.items().map((i) => i.id), ["c1", "e3", "e4", "e5"]);
  reloaded.remove(["e4"]);
  assert.deepEqual(q.items().map((i) => i.id), ["c1", "e3", "e5"]);
  q.drop((i) => i.k === "e");
  assert.deepEqual(q.items().map((i) => i.id), ["c1"], "a decision is never dropped with the events");
  q.remove(["c1"]);
  assert.equal(storage.getItem("cs_queue"), null);
});

test("queue: corrupt or blocked storage never breaks the page", () => {
  const corrupt = new Storage({ cs_queue: "{nope" });
  assert.deepEqual(createQueue(corrupt, "cs_queue").items(), []);
  const blocked = { getItem() { throw new Error("SecurityError"); }, setItem() { throw new Error("QuotaExceeded"); }, removeItem() {} };
  const q = createQueue(blocked, "cs_queue");
  q.push(ev(1));
  assert.deepEqual(q.items().map((i) => i.id), ["e1"], "kept in memory");
});

test("outcome: retry on network errors, 429 and 5xx; otherwise done", () => {
  assert.deepEqual([undefined, 0, 429, 500, 503].map(outcome), ["retry", "retry", "retry", "retry", "retry"]);
  assert.deepEqual([200, 201, 202, 400, 413, 422].map(outcome), ["done", "done", "done", "done", "done", "done"]);
});

test("batching: by count at once, by time otherwise, consent re-checked as each event leaves", async () => {
  const h = harness({ batchSize: 3, flushMs: 2000 });
  h.sender.add(ev(1));
  h.sender.add(ev(2));
  await settle();
  assert.equal(h.sent.length, 0, "below the count: wait");
  h.sender.add(ev(3));
  await settle();
  assert.deepEqual(h.ids(), ["e1", "e2", "e3"], "count reached: one batch");
  assert.ok(h.sent[0].body.events.every((e) => e.checked) && h.sent[0].body.sent_at);
  h.sender.add(ev(4));
  await h.clock.advance(1999);
  assert.equal(h.sent.length, 1);
  await h.clock.advance(1);
  assert.deepEqual(h.ids(), ["e1", "e2", "e3", "e4"], "time reached: the rest");
  assert.deepEqual(h.queue.items(), []);
});

test("batches hold at most maxBatch events", async () => {
  const h = harness({ batchSize: 100, maxBatch: 2 });
  for (let i = 1; i <= 5; i++) h.sender.add(ev(i));
  await h.sender.flush();
  assert.deepEqual(h.sent.map((s) => s.body.events.length), [2, 2, 1]);
});

test("a decision goes alone and first; events behind it wait for it", async () => {
  const h = harness({ batchSize: 10 });
  h.sender.add(ev(1));
  h.sender.add(decisionItem(9));
  h.sender.add(ev(2));
  await h.sender.flush();
  await settle();
  assert.deepEqual(h.sent.map((s) => s.path), ["/v1/events", "/v1/consent", "/v1/events"]);
  assert.deepEqual(h.ids(), ["e1", "e2"]);
  assert.deepEqual(h.recorded, [["c9", "c"]], "the consent id is handed back");
});

test("network down: retried with growing backoff, then sent exactly once", async () => {
  const h = harness({ answers: ["down", "down", "down"], batchSize: 1 });
  h.sender.add(ev(1));
  await settle();
  assert.equal(h.sender.attempt, 1);
  await h.clock.advance(999);
  assert.equal(h.sent.length, 1, "first retry after ~1 s");
  await h.clock.advance(1);
  assert.equal(h.sent.length, 2);
  await h.clock.advance(1999);
  assert.equal(h.sent.length, 2, "second retry after ~2 s");
  await h.clock.advance(1);
  await h.clock.advance(4000);
  assert.equal(h.sent.length, 4);
  assert.deepEqual(h.ids(), ["e1"], "delivered once");
  assert.equal(h.sender.attempt, 0, "backoff reset");
  assert.deepEqual(h.queue.items(), []);
});

test("503 honours Retry-After; back online retries at once", async () => {
  const h = harness({ answers: [503, "down"], batchSize: 1 });
  h.sender.add(ev(1));
  await settle();
  await h.clock.advance(6999);
  assert.equal(h.sent.length, 1, "Retry-After: 7 s, longer than the backoff");
  await h.clock.advance(1);
  assert.equal(h.sent.length, 2);
  h.sender.retryNow();
  await settle();
  assert.deepEqual(h.ids(), ["e1"]);
});

test("a 4xx is final: the batch is dropped, not retried forever", async () => {
  const h = harness({ answers: [422], batchSize: 1 });
  h.sender.add(ev(1));
  await settle();
  await h.clock.advance(120_000);
  assert.equal(h.sent.length, 1);
  assert.deepEqual(h.queue.items(), []);
});

test("a queue left by an earlier page (reload while offline) is sent once on the next", async () => {
  const storage = new Storage();
  const first = harness({ storage, answers: ["down"], batchSize: 1 });
  first.sender.add(ev(1));
  await settle();
  const second = harness({ storage });
  await second.sender.flush();
  assert.deepEqual(second.ids(), ["e1"]);
  assert.deepEqual(second.queue.items(), []);
});

test("page hidden: events before any pending decision go by sendBeacon and leave the queue", async () => {
  const h = harness({ batchSize: 100 });
  h.queue.push(ev(1));
  h.queue.push(ev(2));
  h.queue.push(decisionItem(1));
  h.queue.push(ev(3));
  h.sender.beaconAll();
  assert.deepEqual(h.beacons.map((b) => b.body.events.map((e) => e.event_id)), [["e1", "e2"]]);
  assert.ok(h.beacons[0].body.events.every((e) => e.checked), "consent re-checked for beacons too");
  assert.deepEqual(h.queue.items().map((i) => i.id), ["c1", "e3"], "the decision and what follows wait");
});

test("a refused beacon, or being offline, keeps the events for the next page", async () => {
  const h = harness({ beaconOk: false });
  h.queue.push(ev(1));
  h.sender.beaconAll();
  assert.deepEqual(h.queue.items().map((i) => i.id), ["e1"]);
  const offline = harness();
  offline.queue.push(ev(1));
  offline.sender.beaconAll(false);
  assert.deepEqual(offline.beacons, []);
  assert.deepEqual(offline.queue.items().map((i) => i.id), ["e1"]);
});

test("a collector that always fails while online (CORS) is given up on with a warning, across pages", async () => {
  const storage = new Storage();
  const warnings = [];
  const first = harness({ answers: Array(20).fill("down"), batchSize: 1, storage, maxTries: 4, warn: (m) => warnings.push(m) });
  first.sender.add(ev(1));
  await settle();
  await first.clock.advance(5_000); // tries 1..3 on this page, then the tab closes
  assert.equal(first.sent.length, 3);
  assert.deepEqual(warnings, []);
  const next = harness({ answers: Array(20).fill("down"), batchSize: 1, storage, maxTries: 4, warn: (m) => warnings.push(m) });
  await next.sender.flush();
  assert.equal(next.sent.length, 1, "the fourth try is the last");
  assert.deepEqual(next.queue.items(), [], "dropped, not re-sent forever");
  assert.match(warnings[0], /CORS/);
});

test("offline failures do not count towards giving up", async () => {
  const h = harness({ answers: Array(20).fill("down"), batchSize: 1, maxTries: 2, online: () => false });
  h.sender.add(ev(1));
  await settle();
  await h.clock.advance(60_000);
  assert.deepEqual(h.queue.items().map((i) => i.id), ["e1"], "kept until the browser is back online");
});

test("waitForChoice: events are held until a decision exists; a decision goes at once", async () => {
  let decided = false;
  const h = harness({ ready: () => decided });
  h.sender.add(ev(1));
  await h.clock.advance(10_000);
  h.sender.beaconAll(true);
  assert.equal(h.sent.length + h.beacons.length, 0, "nothing left before the choice");
  decided = true;
  h.sender.add(decisionItem(1));
  await settle();
  assert.deepEqual(h.sent.map((s) => s.path), ["/v1/events", "/v1/consent"]);
  assert.deepEqual(h.ids(), ["e1"]);
});
