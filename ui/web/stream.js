// The twin stream: snapshot, then deltas folded in order; a gap asks for a
// fresh snapshot; a lost connection reconnects with backoff and starts over
// from a fresh snapshot. The folding rules mirror twin.Snapshot.ApplyDelta.
import { signInURL } from "./lib/api.js";

const HOUR_MS = 3600 * 1000;

function appendSpan(tl, sp) {
  const s = { state: sp.state, from: sp.from };
  const n = tl.length;
  if (n > 0 && Date.parse(s.from) <= Date.parse(tl[n - 1].from)) {
    s.from = tl[n - 1].from;
    tl[n - 1] = s;
  } else {
    tl.push(s);
  }
}

function trim(tl, now) {
  const cut = Date.parse(now) - HOUR_MS;
  let i = 0;
  while (i + 1 < tl.length && Date.parse(tl[i + 1].from) <= cut) i++;
  return i ? tl.slice(i) : tl;
}

// applyDelta folds d into snapshot s in place and returns the ids of the
// grinders whose fields changed.
export function applyDelta(s, d) {
  const changed = new Set();
  for (const f of d.grinders || []) {
    const g = s.grinders.find((x) => x.id === f.id);
    if (g) { Object.assign(g, f); changed.add(f.id); }
  }
  for (const f of d.robots || []) {
    const r = s.robots.find((x) => x.id === f.id);
    if (r) Object.assign(r, f);
  }
  for (const k of ["inspection", "magazine", "output", "production"]) {
    if (d[k]) Object.assign(s[k], d[k]);
  }
  for (const sp of d.spans || []) {
    if (s.timeline[sp.id]) { appendSpan(s.timeline[sp.id], sp); changed.add(sp.id); }
  }
  for (const id of Object.keys(s.timeline)) s.timeline[id] = trim(s.timeline[id], d.time);
  s.seq = d.seq; s.time = d.time; s.src = d.src || d.time;
  return changed;
}

// connect opens the stream at url and calls on.snapshot(s), on.delta(s, d,
// changed), on.status(status, since) until the page goes away.
export function connect(url, on) {
  let state = null;
  let waiting = false; // a resync was asked; ignore deltas until the snapshot
  let retry = 0;
  let since = null;
  function open() {
    const ws = new WebSocket(url);
    ws.onopen = () => { retry = 0; };
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === "snapshot") {
        state = m; waiting = false; since = null;
        on.status("live", null);
        on.snapshot(state);
      } else if (m.type === "delta") {
        if (waiting) return;
        if (!state || m.seq !== state.seq + 1) {
          waiting = true;
          ws.send(JSON.stringify({ type: "resync" }));
          return;
        }
        const changed = applyDelta(state, m);
        on.delta(state, m, changed);
      } else if (m.type === "dropped") {
        on.status("dropped", new Date());
      }
    };
    ws.onclose = async () => {
      if (!since) since = new Date();
      on.status("reconnecting", since);
      // A closed stream may mean the session ended: sign in again rather
      // than retry forever. Any other answer (or none) means retry.
      try {
        const res = await fetch("/api/v1/line", { credentials: "same-origin" });
        if (res.status === 401) {
          location.href = signInURL();
          return;
        }
      } catch (_) { /* server down: retry below */ }
      const wait = Math.min(10000, 400 * 2 ** retry++) * (0.75 + Math.random() * 0.5);
      setTimeout(open, wait);
    };
  }
  open();
}
