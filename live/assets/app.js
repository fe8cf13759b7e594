// The live page. Every string that comes from the stream (log lines, container names,
// labels, errors) is untrusted: it reaches the page only through textContent and text
// nodes, never as markup.
"use strict";

(function () {
  const maxLines = 5000; // lines kept for refiltering
  const maxRows = 1000;  // lines shown
  const levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

  const state = {
    containers: [],
    rates: {},
    last: new Map(),     // container ID -> newest line text seen live
    lines: [],
    seen: new Set(),     // IDs of kept lines, so a reconnect's history is not shown twice
    chosen: new Set(),   // container IDs picked for the tail; empty: all
  };

  const $ = (id) => document.getElementById(id);
  const tail = $("tail");
  const filters = { text: $("filter-text"), level: $("filter-level"), events: $("filter-events"), pause: $("pause") };

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clockTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "";
    const p = (n, w) => String(n).padStart(w || 2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds()) + "." + p(d.getMilliseconds(), 3);
  }

  function duration(ms) {
    let s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + s + "s";
    return s + "s";
  }

  function isSet(t) { return t && !t.startsWith("0001-"); }

  // ---- the tail ----

  function matches(l) {
    if (l.kind === "event" && !filters.events.checked) return false;
    if (l.level > Number(filters.level.value)) return false;
    if (state.chosen.size && !state.chosen.has(l.cid)) return false;
    const q = filters.text.value.trim().toLowerCase();
    if (!q) return true;
    if ((l.text || "").toLowerCase().includes(q) || (l.full || "").toLowerCase().includes(q) ||
        (l.name || "").toLowerCase().includes(q)) return true;
    if (l.fields) {
      for (const [k, v] of Object.entries(l.fields)) {
        if ((k + "=" + (typeof v === "string" ? v : JSON.stringify(v))).toLowerCase().includes(q)) return true;
      }
    }
    return false;
  }

  function containerName(id) {
    const c = id && state.containers.find((c) => c.id === id);
    return c ? c.name : "";
  }

  function row(l) {
    const r = el("div", "line l" + l.level + (l.kind === "event" ? " event" : ""));
    r.dataset.cid = l.cid || "";
    r.appendChild(el("span", "time", clockTime(l.time)));
    r.appendChild(el("span", "name", l.name || containerName(l.cid) || l.source || ""));
    r.appendChild(el("span", "level", l.kind === "event" ? "event" : (levels[l.level] || l.level)));
    const text = l.text || "";
    const full = l.full || (text.includes("\n") ? text : "");
    r.appendChild(el("span", "text", full && !l.full ? text.split("\n")[0] : text));
    if (full) r.appendChild(el("pre", "full", full));
    // The stream is told by the level already (stderr lines are err unless the line says
    // otherwise); shown on every line it would only crowd the fields that matter.
    const keys = Object.keys(l.fields || {}).filter((k) => k !== "stream").sort();
    if (keys.length) {
      const f = el("div", "fields");
      for (const k of keys) {
        const v = l.fields[k];
        const s = el("span", "field");
        s.appendChild(el("span", "key", k + "="));
        s.appendChild(el("span", "value", typeof v === "string" ? v : JSON.stringify(v)));
        f.appendChild(s);
      }
      r.appendChild(f);
    }
    return r;
  }

  function atBottom() { return tail.scrollHeight - tail.scrollTop - tail.clientHeight < 40; }

  function appendRows(ls) {
    const stick = atBottom();
    const frag = document.createDocumentFragment();
    for (const l of ls) frag.appendChild(row(l));
    tail.appendChild(frag);
    while (tail.childElementCount > maxRows) tail.removeChild(tail.firstElementChild);
    if (stick) tail.scrollTop = tail.scrollHeight;
  }

  function renderTail() {
    tail.textContent = "";
    const shown = [];
    for (let i = state.lines.length - 1; i >= 0 && shown.length < maxRows; i--) {
      if (matches(state.lines[i])) shown.push(state.lines[i]);
    }
    appendRows(shown.reverse());
    tail.scrollTop = tail.scrollHeight;
    const n = state.chosen.size;
    const chosen = n === 0 ? "all containers" : n === 1 ? "1 chosen container" : n + " chosen containers";
    $("tail-info").textContent = chosen;
  }

  function addLines(ls) {
    const fresh = [];
    for (const l of ls) {
      if (l.id && state.seen.has(l.id)) continue;
      if (l.id) state.seen.add(l.id);
      state.lines.push(l);
      fresh.push(l);
      if (l.kind === "log" && l.cid) state.last.set(l.cid, l.text || "");
    }
    if (state.lines.length > maxLines) {
      for (const old of state.lines.splice(0, state.lines.length - maxLines)) state.seen.delete(old.id);
    }
    if (!filters.pause.checked) appendRows(fresh.filter(matches));
  }

  // ---- the containers ----

  function chart(counts) {
    const ns = "http://www.w3.org/2000/svg";
    const w = 120, h = 22, n = counts.length || 30;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + w + " " + h);
    const max = Math.max(1, ...counts);
    const bw = w / n;
    counts.forEach((c, i) => {
      if (!c) return;
      const bh = Math.max(1, Math.round((c / max) * (h - 2)));
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", (i * bw).toFixed(1));
      r.setAttribute("y", h - bh);
      r.setAttribute("width", Math.max(1, bw - 1).toFixed(1));
      r.setAttribute("height", bh);
      svg.appendChild(r);
    });
    const t = document.createElementNS(ns, "title");
    t.textContent = "now: " + (counts[counts.length - 1] || 0) + " lines/min, peak " + Math.max(0, ...counts);
    svg.appendChild(t);
    return svg;
  }

  function stateText(c) {
    const now = Date.now();
    if (c.state === "running" && isSet(c.started)) return "up " + duration(now - Date.parse(c.started));
    if (c.state === "exited" || c.state === "dead") {
      const ago = isSet(c.finished) ? ", " + duration(now - Date.parse(c.finished)) + " ago" : "";
      return c.state + " (" + c.exit_code + ")" + ago;
    }
    return c.state || "";
  }

  function renderContainers() {
    const body = $("containers").tBodies[0];
    body.textContent = "";
    const shown = $("show-removed").checked ? state.containers : state.containers.filter((c) => c.state !== "destroyed");
    for (const c of shown) {
      const tr = el("tr", c.state);
      tr.dataset.cid = c.id;
      const pick = el("input");
      pick.type = "checkbox";
      pick.checked = state.chosen.has(c.id);
      pick.setAttribute("aria-label", "tail " + c.name);
      pick.addEventListener("change", () => {
        if (pick.checked) state.chosen.add(c.id); else state.chosen.delete(c.id);
        renderTail();
      });
      const td = el("td");
      td.appendChild(pick);
      tr.appendChild(td);
      tr.appendChild(el("td", "name", c.name));
      tr.appendChild(el("td", "image opt", c.image));
      tr.appendChild(el("td", "service opt", c.service && c.service.name));
      const health = c.health ? " " + c.health : "";
      tr.appendChild(el("td", "state", stateText(c) + health + (c.restart_count ? ", " + c.restart_count + " restarts" : "")));
      const ct = el("td", "rate");
      ct.appendChild(chart(state.rates[c.id] || []));
      tr.appendChild(ct);
      const last = state.last.get(c.id) || (c.logs && c.logs.last_text) || "";
      const lastCell = el("td", "last", last);
      lastCell.title = last;
      tr.appendChild(lastCell);
      body.appendChild(tr);
    }
    const running = state.containers.filter((c) => c.state === "running").length;
    const removed = state.containers.length - state.containers.filter((c) => c.state !== "destroyed").length;
    $("container-count").textContent = running + " running, " + (state.containers.length - removed) + " in all" +
      (removed ? ", " + removed + " removed" : "");
  }

  // ---- the sinks ----

  function renderStatus(st) {
    const body = $("sinks").tBodies[0];
    body.textContent = "";
    for (const s of st.sinks || []) {
      const bad = (s.problems && s.problems.length) || s.failed > 0;
      const tr = el("tr", bad ? "bad" : "");
      tr.appendChild(el("td", "", s.name));
      for (const v of [s.queued, s.spooled, s.written, s.failed, s.dropped]) tr.appendChild(el("td", "num", v));
      tr.appendChild(el("td", "last", (s.problems && s.problems.join("; ")) || s.last_error || ""));
      body.appendChild(tr);
    }
    const live = st.live || {};
    $("live-stats").textContent = "this page missed " + (st.page_dropped || 0) + " lines (too many to show); " +
      "open pages: " + (live.Pages || 0) + ", lines dropped for slow pages: " + (live.Dropped || 0);
  }

  // ---- the stream ----

  function connect() {
    const conn = $("conn");
    const es = new EventSource("stream");
    es.addEventListener("open", () => { conn.textContent = "live"; conn.className = "conn live"; });
    es.addEventListener("error", () => {
      // The browser retries a dropped stream by itself, but not one refused (401, 503).
      conn.textContent = es.readyState === EventSource.CLOSED ? "disconnected: reload to retry" : "reconnecting…";
      conn.className = "conn down";
    });
    es.addEventListener("lines", (e) => addLines(JSON.parse(e.data)));
    es.addEventListener("inventory", (e) => { state.containers = JSON.parse(e.data).containers || []; renderContainers(); });
    es.addEventListener("rates", (e) => { state.rates = JSON.parse(e.data) || {}; renderContainers(); });
    es.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
  }

  $("filters").addEventListener("submit", (e) => e.preventDefault());
  for (const f of [filters.text, filters.level, filters.events]) f.addEventListener("input", renderTail);
  filters.pause.addEventListener("change", () => { if (!filters.pause.checked) renderTail(); });
  $("show-removed").addEventListener("change", renderContainers);
  $("all-containers").addEventListener("click", () => { state.chosen.clear(); renderContainers(); renderTail(); });
  // The last line and uptimes change without an inventory event.
  setInterval(renderContainers, 5000);
  renderTail();
  connect();
})();
