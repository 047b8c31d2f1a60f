// The synack playground: pick a scenario, step through the real stack's trace,
// click a segment, change what happens, and see the stack's answer.
//
// The contract tests use (keep it stable): index.html#scenario=NAME&seed=N&lang=en|zh
// (plus the what-if settings, as synack.playground.Settings reads them, and run=K to
// show the scenario's K-th run, step=K or step=end to open it at that step) opens
// that run; once drawn, window.synack.ready is
// true and window.synack.trace is the run's records, the objects
// `synack scenario run NAME --seed N --json` writes.
//
// Everything the page shows comes from the records (and, for the queues' limits,
// from the core's listeners, and for the running timers, from each host's timers as
// the playground watched them after each record: both carried by the run document):
// no TCP is re-derived here.
import { WORDS, HOSTS_ZH, REASONS_ZH, TIMERS_ZH } from "./i18n.js";

const synack = (window.synack = {
  ready: false, trace: null, doc: null, loadMs: null, runMs: null,
  // For tests and the curious: go to step k of the run shown.
  step: (k) => { stop(); go(k); return models[runIdx].step; },
});

const SETTINGS = ["link_delay", "loss", "backlog", "syncookies", "synack_retries", "time_wait", "close", "close_at",
  "close_then"];
const CLOSE_SETTINGS = new Set(["close", "close_at", "close_then"]);
const PICKS = ["drop", "delay", "dup"];
const SYNCHRONIZED = new Set(["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK",
  "TIME-WAIT"]);
const CHECKPOINT = 256;
const MAX_SOCKET_ROWS = 12;

const $ = (id) => document.getElementById(id);
let lang = "en";
const t = (key, ...args) => {
  const w = WORDS[lang][key] ?? WORDS.en[key];
  return typeof w === "function" ? w(...args) : w;
};

// -- the worker ----------------------------------------------------------------------
const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const pending = new Map();
let nextId = 1;
let booted;
const boot = new Promise((resolve, reject) => { booted = { resolve, reject }; });

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "loaded") { booted.resolve(msg); return; }
  if (msg.type === "fatal") { booted.reject(new Error(msg.error)); return; }
  const req = pending.get(msg.id);
  if (!req) return;
  if (msg.type === "progress") { req.progress?.(msg.run); return; }
  pending.delete(msg.id);
  if (msg.type === "done") req.resolve(msg.result);
  else req.reject(new Error(msg.error));
};

function ask(op, args = {}, progress = null) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    worker.postMessage({ id, op, ...args });
  });
}

// -- what the page is showing -----------------------------------------------------------
let catalogue = null;
let diagram = null;
let cards = [];          // the seed's questions (synack.playground.cards)
let quizOn = false;      // quiz mode
let asking = null;       // the question on show: {m, k, q, chosen}
let doc = null;          // the run document (synack.playground.run)
let models = [];         // one per run of the document
let runIdx = 0;          // the run shown
let selected = null;     // the selected segment: its index in doc.records
let playing = null;      // the play timer
let want = null;         // what the URL asks for: {scenario, seed, params}
let runCount = {};       // scenario -> how many runs it had (for the progress display)
let runToken = 0;

function parseHash() {
  const h = new URLSearchParams(location.hash.slice(1));
  const params = {};
  for (const key of [...SETTINGS, ...PICKS]) {
    const v = h.get(key);
    if (v !== null && v !== "") params[key] = v;
  }
  const seed = Number.parseInt(h.get("seed") ?? "1", 10);
  const run = Number.parseInt(h.get("run") ?? "1", 10);
  const step = h.get("step") === "end" ? "end" : Number.parseInt(h.get("step") ?? "", 10);
  return {
    scenario: h.get("scenario") || "handshake",
    seed: Number.isFinite(seed) && seed >= 0 ? seed : 1,
    lang: h.get("lang") === "zh" ? "zh" : "en",
    params,
    run: Number.isFinite(run) && run >= 1 ? run : 1,
    step: step === "end" || (Number.isFinite(step) && step >= 0) ? step : null,
  };
}

function hashOf(w, language) {
  const enc = (v) => encodeURIComponent(v).replace(/%3A/g, ":").replace(/%2C/g, ",");
  const parts = [`scenario=${enc(w.scenario)}`, `seed=${w.seed}`, `lang=${language}`];
  for (const key of [...SETTINGS, ...PICKS]) {
    if (w.params[key] !== undefined && w.params[key] !== "") parts.push(`${key}=${enc(w.params[key])}`);
  }
  if (w.run > 1) parts.push(`run=${w.run}`);
  if (w.step !== null && w.step !== undefined) parts.push(`step=${w.step}`);
  return "#" + parts.join("&");
}

let writingHash = false;
function writeHash() {
  const h = hashOf(want, lang);
  if (location.hash !== h) {
    writingHash = true;
    location.hash = h;
  }
}

window.addEventListener("hashchange", () => {
  if (writingHash) { writingHash = false; return; }
  const w = parseHash();
  const sameRun = want && w.scenario === want.scenario && w.seed === want.seed &&
    JSON.stringify(w.params) === JSON.stringify(want.params);
  want = w;
  if (!sameRun) {
    if (w.lang !== lang) setLang(w.lang, false);
    runWanted();
  } else if (w.lang !== lang) {
    if (doc && w.run - 1 !== runIdx && w.run <= doc.runs.length) {
      stop();
      runIdx = w.run - 1;
      selected = null;
      asking = null;
    }
    setLang(w.lang, false);  // (redraws, then ready again)
  } else if (doc && w.run - 1 !== runIdx && w.run <= doc.runs.length) {
    showRun(w.run - 1).then(() => { applyStep(); synack.ready = true; });
  } else if (doc) {
    applyStep();
    synack.ready = true;  // nothing to do: the run asked for is the one drawn
  }
});

// -- time, numbers, names ---------------------------------------------------------------
function fmtTime(us) {
  if (us === null || us === undefined) return "";
  const s = us / 1e6;
  if (Math.abs(s) >= 100) return `${s.toFixed(1)} s`;
  if (Math.abs(s) >= 1) return `${s.toFixed(3).replace(/\.?0+$/, "")} s`;
  return `${(us / 1000).toFixed(3).replace(/\.?0+$/, "")} ms`;
}
const FLAG_NAMES = { S: "SYN", F: "FIN", R: "RST", P: "PSH", A: "ACK", U: "URG", E: "ECE", W: "CWR" };
function flagsName(flags) {
  if (!flags || flags === ".") return "(no flags)";
  const order = "SFRPAUEW";
  return [...flags].sort((a, b) => order.indexOf(a) - order.indexOf(b)).map((c) => FLAG_NAMES[c] || c).join("-");
}
// A host's name as the page says it (the trace's names are "client", "server"...).
function hn(host) { return host && lang === "zh" ? (HOSTS_ZH[host] || host) : host; }
function timerName(label) { return lang === "zh" ? (TIMERS_ZH[label] || label) : label; }
function reasonText(text) {
  if (!text) return "";
  if (lang !== "zh") return text;
  const [code, ...rest] = text.split(": ");
  const zh = REASONS_ZH[code];
  return zh ? `${zh}（${code}${rest.length ? ": " + rest.join(": ") : ""}）` : text;
}
function verdictText(v) { return (t("verdicts")[v]) || v || ""; }
function endpointPort(ep) { const m = /:(\d+)$/.exec(ep || ""); return m ? Number(m[1]) : null; }
function sub32(a, b) { return (((a - b) % 4294967296) + 4294967296) % 4294967296; }

// -- a run's model: its records, its steps, and the state after each ---------------------
function buildModel(run) {
  const recs = doc.records.slice(run.start, run.end);
  const steps = [];
  const flights = new Map();
  const isn = new Map();  // endpoint -> the seq of its first SYN
  recs.forEach((r, i) => {
    if (r.event !== "cc") steps.push(i);
    if (r.flight) {
      let f = flights.get(r.flight);
      if (!f) { f = { send: null, arrivals: [], drops: [] }; flights.set(r.flight, f); }
      if (r.event === "send") f.send = i;
      else if (r.event === "recv") f.arrivals.push(i);
      else if (r.event === "drop") f.drops.push(i);
    }
    if (r.event === "send" && r.flags && r.flags.includes("S") && !isn.has(r.src)) isn.set(r.src, r.seq);
  });
  // The running timers, as the playground observed them on the real stack after each
  // record (the trace itself records most timers only when they fire): by record index.
  // A change seen after a congestion sample (not a step) is shown from the step before it.
  const timerChanges = new Map();
  for (const [index, host, local, remote, timer, deadline] of run.timers || []) {
    let i = index - run.start;
    while (i > 0 && recs[i].event === "cc") i--;
    if (!timerChanges.has(i)) timerChanges.set(i, []);
    timerChanges.get(i).push({ host, local, remote, timer, deadline });
  }
  return { run, recs, steps, flights, isn, timerChanges, step: 0, checkpoints: [emptyState()], svg: {} };
}

function emptyState() {
  return { conns: {}, listeners: {}, timers: {}, focus: {}, edge: {}, fired: {}, last: -1 };
}

function connKey(r) { return `${r.host}|${r.conn?.local}|${r.conn?.remote}`; }

function apply(m, st, r, i) {
  st.last = i;
  if (r.event === "note") {
    if (r.text.startsWith("app: listen(") && r.conn?.local) {
      st.listeners[`${r.host}|${r.conn.local}`] = { host: r.host, local: r.conn.local };
    } else if (r.text === "app: accept()" && r.conn) {
      const c = st.conns[connKey(r)];
      if (c) c.accepted = true;
    } else if (r.text.startsWith("app: close") && r.conn?.local && r.conn.remote === null) {
      delete st.listeners[`${r.host}|${r.conn.local}`];
    }
  } else if (r.event === "state") {
    const key = connKey(r);
    let c = st.conns[key];
    if (!c) {
      c = st.conns[key] = { host: r.host, local: r.conn.local, remote: r.conn.remote, state: r.from,
        passive: r.from === "LISTEN", accepted: false };
    }
    c.state = r.to;
    st.focus[r.host] = { key, state: r.to };
    st.edge[r.host] = { from: r.from, to: r.to, i };
    if (r.to === "CLOSED") delete st.conns[key];
  } else if (r.event === "timer" && r.action !== "armed") {
    (st.fired[r.host] ||= []).push({ timer: r.timer, local: r.conn.local, action: r.action, t: r.t_us });
    if (st.fired[r.host].length > 4) st.fired[r.host].shift();
  }
  // Timers started, moved or stopped with this record (observed, not derived).
  for (const c of m.timerChanges.get(i) || []) {
    const key = `${c.host}|${c.local}|${c.remote}|${c.timer}`;
    if (c.deadline === null) delete st.timers[key];
    else st.timers[key] = { host: c.host, local: c.local, remote: c.remote, timer: c.timer, armed: r.t_us,
      deadline: c.deadline };
  }
}

// The state after the first k steps (k = 0: before anything).
function stateAt(m, k) {
  const upto = k === 0 ? -1 : m.steps[k - 1];  // the last record index applied
  const c = Math.floor((upto + 1) / CHECKPOINT);
  let base = Math.min(c, m.checkpoints.length - 1);
  while (base < c) {  // fill the checkpoints up to the one needed
    const st = structuredClone(m.checkpoints[base]);
    for (let i = base * CHECKPOINT; i < (base + 1) * CHECKPOINT; i++) apply(m, st, m.recs[i], i);
    m.checkpoints.push(st);
    base++;
  }
  const st = structuredClone(m.checkpoints[base]);
  for (let i = base * CHECKPOINT; i <= upto; i++) apply(m, st, m.recs[i], i);
  return st;
}

// -- words for records ------------------------------------------------------------------
function segWords(m, r) {
  const rel = (v, ep) => (m.isn.has(ep) ? sub32(v, m.isn.get(ep)) : v);
  let s = `${flagsName(r.flags)} seq=${rel(r.seq, r.src)}`;
  if (r.flags && r.flags.includes("A")) s += ` ack=${rel(r.ack, r.dst)}`;
  if (r.len) s += ` len=${r.len}`;
  return s;
}

function recordWords(m, r) {
  switch (r.event) {
    case "send": return t("sends", hn(r.host), segWords(m, r));
    case "recv": {
      let v = verdictText(r.verdict);
      if (r.reason) v += ` (${reasonText(r.reason)})`;
      return t("receives", hn(r.host), r.flags ? segWords(m, r) : "?", v);
    }
    case "drop":
      if (r.verdict === "lost") return t("lostIn", r.flags ? segWords(m, r) : "?", reasonText(r.reason));
      return t("drops", hn(r.host), r.flags ? segWords(m, r) : "?", reasonText(r.reason));
    case "state": return t("stateChange", hn(r.host), r.from, r.to) + " — " + edgeReason(r.from, r.to);
    case "timer":
      if (r.action === "armed") return t("note", hn(r.host), t("armed", timerName(r.timer), fmtTime(r.deadline_us)));
      if (r.action === "fired") return t("note", hn(r.host), t("fired", timerName(r.timer)));
      return t("note", hn(r.host), t("gaveUp", timerName(r.timer)));
    case "note": return t("note", hn(r.host), r.text);
    default: return t("note", hn(r.host), r.event);
  }
}

function edgeReason(from, to) {
  const e = diagram.edges.find((x) => x.from === from && x.to === to);
  return e ? e[lang] : "";
}

// -- the page ----------------------------------------------------------------------------
function setLang(l, write = true) {
  lang = l;
  document.documentElement.lang = l === "zh" ? "zh-CN" : "en";
  for (const b of document.querySelectorAll(".lang button")) b.classList.toggle("on", b.dataset.lang === l);
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-title]")) el.title = t(el.dataset.tTitle);
  if (catalogue) fillScenarios();
  if (write && want) writeHash();
  if (doc) {
    const token = runToken;
    synack.ready = false;
    showRanStatus();
    drawAll().then(() => { if (token === runToken) synack.ready = true; });
  }
}

function fillScenarios() {
  const sel = $("scenario");
  sel.textContent = "";
  for (const g of catalogue.groups) {
    const og = document.createElement("optgroup");
    og.label = g.en && g.en !== g.section ? `${g.section} · ${g.en}` : g.section;
    for (const s of g.scenarios) {
      const o = document.createElement("option");
      o.value = s.name;
      o.textContent = `${s.name} — ${s.title[lang]}`;
      og.appendChild(o);
    }
    sel.appendChild(og);
  }
  if (want) sel.value = want.scenario;
}

// What the status line says once a run is drawn (said again in the other language on a switch).
let ranStatus = null;

function showRanStatus() {
  if (!ranStatus) return;
  const { scenario, changed, ms } = ranStatus;
  setStatus(`${scenario} · ${changed ? t("changedRun") : t("seedRun")} · ${t("ranIn", ms)}`);
}

function setStatus(text, busy = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("busy", busy);
}

function showError(text) {
  const el = $("error");
  el.hidden = !text;
  el.textContent = text || "";
}

async function runWanted() {
  stop();
  ranStatus = null;
  const token = ++runToken;
  synack.ready = false;
  synack.trace = null;
  showError("");
  $("scenario").value = want.scenario;
  $("seed").value = want.seed;
  const started = performance.now();
  const total = runCount[want.scenario];
  let current = 1;
  const tick = () => setStatus(`${t("running", want.scenario)} ${t("progressRun", current, total,
    (performance.now() - started) / 1000)}`, true);
  tick();
  const ticker = setInterval(tick, 100);
  let bytes;
  try {
    bytes = await ask("run", { name: want.scenario, seed: want.seed, params: want.params }, (n) => {
      current = n;
      tick();
    });
  } catch (err) {
    clearInterval(ticker);
    if (token !== runToken) return;
    setStatus("");
    showError(t("failed", err.message));
    return;
  } finally {
    clearInterval(ticker);
  }
  if (token !== runToken) return;
  const result = JSON.parse(new TextDecoder().decode(bytes));
  if (result.error) {
    setStatus("");
    showError(t("failed", result.error));
    return;
  }
  doc = result;
  runCount[want.scenario] = doc.runs.length;
  models = doc.runs.map(buildModel);
  runIdx = Math.min(Math.max((want.run || 1) - 1, 0), doc.runs.length - 1);
  selected = null;
  asking = null;
  const ms = Math.round(performance.now() - started);
  synack.runMs = ms;
  $("main").hidden = false;
  await drawAll();
  if (token !== runToken) return;
  applyStep();
  ranStatus = { scenario: want.scenario, changed: Object.keys(want.params).length > 0, ms };
  showRanStatus();
  for (const id of ["reset", "dl-pcap", "dl-jsonl", "dl-svg"]) $(id).disabled = false;
  synack.doc = doc;
  synack.trace = doc.records;
  synack.ready = true;
}

async function drawAll() {
  const sc = doc.scenario;
  $("title").textContent = sc.title[lang];
  $("section").textContent = `${lang === "zh" ? "出处" : "Seed section"}: ${sc.section}${sc.section_en && sc.section_en !== sc.section ? ` · ${sc.section_en}` : ""}`;
  $("explanation").textContent = sc.explanation[lang];
  drawRunTabs();
  drawSettings();
  drawCards();
  await drawRun();
}

function drawRunTabs() {
  const nav = $("runs");
  nav.textContent = "";
  nav.hidden = doc.runs.length < 2;
  doc.runs.forEach((run, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = i === runIdx ? "on" : "";
    b.textContent = `${i + 1}. ${run.label[lang]}`;
    b.addEventListener("click", async () => {
      want.run = i + 1;
      want.step = null;
      writeHash();
      await showRun(i);
    });
    nav.appendChild(b);
  });
}

async function showRun(i) {
  stop();
  runIdx = i;
  selected = null;
  asking = null;
  drawRunTabs();
  await drawRun();
}

async function drawRun() {
  const m = models[runIdx];
  const run = m.run;
  const note = $("run-note");
  note.hidden = run.stopped_us === null || run.stopped_us === undefined;
  if (!note.hidden) note.textContent = t("goneOn", fmtTime(run.stopped_us));
  if (doc.script_error) {
    note.hidden = false;
    note.textContent += (note.textContent ? " " : "") + t("scriptError", doc.script_error);
  }
  const facts = $("facts");
  facts.textContent = "";
  for (const f of run.facts) {
    const li = document.createElement("li");
    li.textContent = f[lang];
    facts.appendChild(li);
  }
  $("facts-box").hidden = run.facts.length === 0;
  await drawLadder(m);
  drawMachine();
  $("scrub").max = m.steps.length;
  if (doc.scenario.proofs || quizOn) await loadExtras(m);
  if (m !== models[runIdx]) return;
  drawProofsHead(m);
  drawSegment();
  drawStep();
}

// -- the ladder ---------------------------------------------------------------------------
async function drawLadder(m) {
  const box = $("ladder");
  let svg = m.svg[lang];
  if (svg === undefined) {
    svg = await ask("svg", { run: m.run.n, lang });
    m.svg[lang] = svg;
  }
  if (m !== models[runIdx]) return;
  box._rows = null;
  if (svg) {
    box.innerHTML = svg;
  } else {
    box.innerHTML = "";
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = t("ladderMissing");
    box.appendChild(p);
    box.appendChild(plainLadder(m));
  }
  for (const el of box.querySelectorAll("[data-event]")) {
    el.classList.add("clickable");
    // A wider, invisible copy of the arrow's shaft: easier to hit than a 1.6 px line.
    const shaft = el.querySelector(".shaft, line");
    if (shaft && !el.querySelector(".hit")) {
      const hit = shaft.cloneNode(false);
      hit.setAttribute("class", "hit");
      el.insertBefore(hit, el.firstChild);
    }
    el.addEventListener("click", (ev) => {
      ev.stopPropagation();
      selectSegment(Number(el.dataset.event));
    });
  }
}

// A plain ladder, for a build without synack.views.svg: one row per send or arrival.
function plainLadder(m) {
  const NS = "http://www.w3.org/2000/svg";
  const run = m.run;
  const rows = [];
  m.recs.forEach((r, i) => { if (r.event === "send" || r.event === "recv" || r.event === "drop") rows.push(i); });
  const rowOf = new Map(rows.map((i, k) => [i, k]));
  const W = 640, X0 = 120, X1 = 520, DY = 26, H = (rows.length + 2) * DY;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W);
  svg.setAttribute("class", "plain-ladder");
  const el = (name, attrs, text) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  svg.appendChild(el("text", { x: X0, y: 16, "text-anchor": "middle" }, run.left));
  svg.appendChild(el("text", { x: X1, y: 16, "text-anchor": "middle" }, run.right));
  svg.appendChild(el("line", { x1: X0, y1: 22, x2: X0, y2: H, stroke: "#999" }));
  svg.appendChild(el("line", { x1: X1, y1: 22, x2: X1, y2: H, stroke: "#999" }));
  for (const [id, f] of m.flights) {
    if (f.send === null) continue;
    const s = m.recs[f.send];
    if (s.host !== run.left && s.host !== run.right) continue;
    const xa = s.host === run.left ? X0 : X1, xb = s.host === run.left ? X1 : X0;
    const ya = 30 + rowOf.get(f.send) * DY;
    const end = f.arrivals.length ? f.arrivals[0] : (f.drops.length ? f.drops[0] : null);
    const yb = end === null ? ya + DY : 30 + rowOf.get(end) * DY;
    const lost = !f.arrivals.length;
    const xe = lost ? (xa + xb) / 2 : xb;
    const ye = lost ? (ya + yb) / 2 + DY / 2 : yb;
    const g = el("g", { "data-flight": id, "data-event": run.start + f.send, class: "seg" });
    g.appendChild(el("line", { x1: xa, y1: ya, x2: xe, y2: ye, stroke: lost ? "#c33" : "#246", "stroke-width": 1.5 }));
    g.appendChild(el("text", { x: (xa + xe) / 2, y: (ya + ye) / 2 - 4, "text-anchor": "middle", "font-size": 11 },
      segWords(m, s) + (lost ? " ✗" : "")));
    svg.appendChild(g);
  }
  return svg;
}

// Step by step: a segment shows from its send record on (data-event), anything else
// the SVG ties to a row (data-step) from that row's moment on (data-t-us).
function drawLadderStep(m, st) {
  const upto = st.last;
  const cur = upto >= 0 ? m.recs[upto] : null;
  const now = cur ? cur.t_us : -1;
  const curFlight = cur && cur.flight ? cur.flight : null;
  const box = $("ladder");
  if (!box._rows) {
    box._rows = new Map();
    for (const row of box.querySelectorAll("g.row[data-step]")) box._rows.set(row.dataset.step, Number(row.dataset.tUs));
  }
  for (const el of box.querySelectorAll("[data-event]")) {
    const i = Number(el.dataset.event);
    el.classList.toggle("future", i - m.run.start > upto);
    el.classList.toggle("current", curFlight !== null && Number(el.dataset.flight) === curFlight);
    el.classList.toggle("sel", selected !== null && i === selected);
  }
  for (const el of box.querySelectorAll("[data-step]:not([data-event])")) {
    const at = box._rows.get(el.dataset.step);
    el.classList.toggle("future", at !== undefined && at > now);
  }
  // In quiz mode a state a host enters at this very moment, but has not entered yet,
  // stays hidden: it would give the answer away.
  if (quizOn) {
    for (const el of box.querySelectorAll("g.state[data-step][data-host]")) {
      if (box._rows.get(el.dataset.step) === now && el.dataset.state !== hostState(st, el.dataset.host)) {
        el.classList.add("future");
      }
    }
  }
}

// -- the state machine ------------------------------------------------------------------------
const NODE = {
  "CLOSED": [300, 28], "LISTEN": [440, 96], "SYN-SENT": [470, 176], "SYN-RECEIVED": [120, 176],
  "ESTABLISHED": [300, 250], "FIN-WAIT-1": [110, 330], "CLOSE-WAIT": [490, 330], "FIN-WAIT-2": [110, 420],
  "CLOSING": [300, 390], "LAST-ACK": [490, 420], "TIME-WAIT": [300, 470], "CLOSED*": [490, 500],
};

function drawMachine() {
  const NS = "http://www.w3.org/2000/svg";
  const box = $("machine");
  box.textContent = "";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 600 530");
  svg.setAttribute("class", "machine");
  const el = (name, attrs, text) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const defs = el("defs", {});
  for (const [id, cls] of [["arrow", "a"], ["arrow-left", "l"], ["arrow-right", "r"]]) {
    const mk = el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
      orient: "auto-start-reverse" });
    mk.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", class: `mk-${cls}` }));
    defs.appendChild(mk);
  }
  svg.appendChild(defs);
  const edges = el("g", { class: "edges" });
  for (const e of diagram.edges) {
    // Edges into CLOSED go to its second drawing at the bottom, as RFC 9293's figure does,
    // except the first (SYN-SENT's), which goes back up.
    const to = e.to === "CLOSED" && e.from !== "SYN-SENT" ? "CLOSED*" : e.to;
    const [x1, y1] = NODE[e.from], [x2, y2] = NODE[to];
    const dx = x2 - x1, dy = y2 - y1, len = Math.hypot(dx, dy) || 1;
    const sx = x1 + (dx / len) * 36, sy = y1 + (dy / len) * 14;
    const ex = x2 - (dx / len) * 40, ey = y2 - (dy / len) * 15;
    const bend = 0.12;
    const cx = (sx + ex) / 2 - dy * bend, cy = (sy + ey) / 2 + dx * bend;
    const p = el("path", { d: `M${sx},${sy} Q${cx},${cy} ${ex},${ey}`, id: `edge-${e.from}-${e.to}`,
      class: "edge", "marker-end": "url(#arrow)" });
    p.appendChild(el("title", {}, `${e.from} → ${e.to}: ${e[lang]}`));
    edges.appendChild(p);
  }
  svg.appendChild(edges);
  for (const [name, [x, y]] of Object.entries(NODE)) {
    const state = name.replace("*", "");
    const g = el("g", { class: "node", "data-state": state, id: `node-${name}` });
    g.appendChild(el("rect", { x: x - 58, y: y - 15, width: 116, height: 30, rx: 15 }));
    g.appendChild(el("text", { x, y: y + 4, "text-anchor": "middle" }, state));
    svg.appendChild(g);
  }
  const legend = el("g", { class: "legend" });
  legend.appendChild(el("rect", { x: 8, y: 490, width: 14, height: 14, class: "lg-left" }));
  legend.appendChild(el("text", { x: 28, y: 502, id: "legend-left" }, ""));
  legend.appendChild(el("rect", { x: 8, y: 510, width: 14, height: 14, class: "lg-right" }));
  legend.appendChild(el("text", { x: 28, y: 522, id: "legend-right" }, ""));
  svg.appendChild(legend);
  box.appendChild(svg);
}

function hostState(st, host) {
  const f = st.focus[host];
  if (f) return f.state;
  return Object.values(st.listeners).some((l) => l.host === host) ? "LISTEN" : "CLOSED";
}

function drawMachineStep(m, st) {
  const run = m.run;
  const svg = document.querySelector("#machine svg");
  if (!svg) return;
  for (const n of svg.querySelectorAll(".node")) n.classList.remove("left", "right");
  for (const e of svg.querySelectorAll(".edge")) {
    e.classList.remove("lit-left", "lit-right", "just");
    e.setAttribute("marker-end", "url(#arrow)");
  }
  const why = [];
  for (const [side, host] of [["left", run.left], ["right", run.right]]) {
    const state = hostState(st, host);
    const node = state === "CLOSED" && st.edge[host] && st.edge[host].to === "CLOSED" && st.edge[host].from !== "SYN-SENT"
      ? "CLOSED*" : state;
    svg.querySelector(`#node-${CSS.escape(node)}`)?.classList.add(side);
    const e = st.edge[host];
    if (e) {
      const p = svg.querySelector(`#edge-${CSS.escape(e.from)}-${CSS.escape(e.to)}`);
      if (p) {
        p.classList.add(`lit-${side}`);
        p.setAttribute("marker-end", `url(#arrow-${side})`);
        if (e.i === st.last) {
          p.classList.add("just");
          why.push(`${hn(host)}: ${e.from} → ${e.to} — ${edgeReason(e.from, e.to)}`);
        }
      }
    }
    svg.querySelector(`#legend-${side}`).textContent = `${hn(host)}: ${state}`;
  }
  $("edge-why").textContent = why.join("  ·  ");
}

// -- the hosts: sockets, queues, timers ---------------------------------------------------
function drawHosts(m, st, now) {
  const box = $("hosts");
  box.textContent = "";
  const run = m.run;
  const names = [run.left, run.right, ...Object.keys(run.hosts).filter((h) => h !== run.left && h !== run.right)];
  for (const host of names) {
    const sec = document.createElement("section");
    sec.className = `host ${host === run.left ? "left" : host === run.right ? "right" : "other"}`;
    const h = document.createElement("h4");
    h.textContent = `${hn(host)} ${(run.hosts[host] || []).join(", ")} · ${hostState(st, host)}`;
    sec.appendChild(h);
    // sockets (ss)
    const rows = [];
    const timersOf = {};
    for (const tm of Object.values(st.timers)) {
      const key = `${tm.host}|${tm.local}|${tm.remote}`;
      (timersOf[key] ||= []).push(tm);
    }
    const running = (key) => (timersOf[key] || []).map((tm) => `${timerName(tm.timer)} ${fmtTime(Math.max(0, tm.deadline - now))}`).join(", ");
    for (const l of Object.values(st.listeners)) {
      if (l.host === host) rows.push(["LISTEN", l.local, "*", running(`${host}|${l.local}|*`)]);
    }
    for (const [key, c] of Object.entries(st.conns)) {
      if (c.host !== host) continue;
      rows.push([c.state, c.local, c.remote, running(key)]);
    }
    const hasRows = rows.length > 0;
    if (hasRows || Object.keys(run.hosts).length <= 3) {
      const table = document.createElement("table");
      table.className = "ss";
      const head = table.insertRow();
      for (const k of ["stateCol", "localCol", "peerCol", "timerCol"]) {
        const th = document.createElement("th");
        th.textContent = t(k);
        head.appendChild(th);
      }
      for (const row of rows.slice(0, MAX_SOCKET_ROWS)) {
        const tr = table.insertRow();
        for (const cell of row) tr.insertCell().textContent = cell;
      }
      if (rows.length > MAX_SOCKET_ROWS) {
        const tr = table.insertRow();
        const td = tr.insertCell();
        td.colSpan = 4;
        td.textContent = t("moreRows", rows.length - MAX_SOCKET_ROWS);
      }
      if (!hasRows) {
        const td = table.insertRow().insertCell();
        td.colSpan = 4;
        td.className = "empty";
        td.textContent = t("noSockets");
      }
      const cap = document.createElement("p");
      cap.className = "caption";
      cap.textContent = t("sockets");
      sec.appendChild(cap);
      sec.appendChild(table);
    }
    // queues
    for (const l of run.listeners.filter((x) => x.host === host)) {
      let syn = 0, acc = 0;
      for (const c of Object.values(st.conns)) {
        if (c.host !== host || !c.passive || endpointPort(c.local) !== l.port) continue;
        if (c.state === "SYN-RECEIVED") syn++;
        else if (SYNCHRONIZED.has(c.state) && !c.accepted) acc++;
      }
      const q = document.createElement("div");
      q.className = "queues";
      const title = document.createElement("p");
      title.className = "caption";
      title.textContent = `${t("listener", l.local)} · backlog=${l.backlog} · ${t("cookiesOn", l.syncookies)}`;
      q.appendChild(title);
      q.appendChild(bar(t("synQueue"), syn, l.syn_queue_limit, "syn"));
      q.appendChild(bar(t("acceptQueue"), acc, l.accept_queue_limit, "accept"));
      sec.appendChild(q);
    }
    // timers
    const mine = Object.values(st.timers).filter((x) => x.host === host).sort((a, b) => a.deadline - b.deadline);
    const tp = document.createElement("div");
    tp.className = "timers";
    const cap = document.createElement("p");
    cap.className = "caption";
    cap.textContent = t("timers");
    tp.appendChild(cap);
    // The timers that fired at this moment (the trace's own timer records).
    const firedNow = (st.fired[host] || []).filter((f) => f.t === now);
    for (const f of firedNow) {
      const p = document.createElement("p");
      p.className = "fired";
      p.textContent = `◷ ${t(f.action === "gave-up" ? "gaveUp" : "fired", timerName(f.timer))} · ${f.local}`;
      tp.appendChild(p);
    }
    if (!mine.length && !firedNow.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = t("noTimers");
      tp.appendChild(p);
    }
    // Every timer running on this host now (observed on the stack after each record),
    // the earliest first, with the time left at this step's instant.
    for (const tm of mine.slice(0, MAX_SOCKET_ROWS)) {
      const left = Math.max(0, tm.deadline - now);
      const owner = tm.remote === "*" ? t("listener", tm.local) : `${tm.local} → ${tm.remote}`;
      const b = bar(`${timerName(tm.timer)} · ${owner}`, left, Math.max(1, tm.deadline - tm.armed), "timer",
        t("left", fmtTime(left)));
      Object.assign(b.dataset, { timer: tm.timer, local: tm.local, remote: tm.remote, left: String(left) });
      tp.appendChild(b);
    }
    if (mine.length > MAX_SOCKET_ROWS) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = t("moreRows", mine.length - MAX_SOCKET_ROWS);
      tp.appendChild(p);
    }
    sec.appendChild(tp);
    box.appendChild(sec);
  }
}

function bar(label, value, max, cls, text) {
  const wrap = document.createElement("div");
  wrap.className = `bar ${cls}`;
  const name = document.createElement("span");
  name.className = "bar-label";
  name.textContent = label;
  const track = document.createElement("span");
  track.className = "bar-track";
  const fill = document.createElement("span");
  fill.className = "bar-fill";
  fill.style.width = `${Math.min(100, (100 * value) / Math.max(1, max))}%`;
  if (value >= max && cls !== "timer") fill.classList.add("full");
  track.appendChild(fill);
  const num = document.createElement("span");
  num.className = "bar-num";
  num.textContent = text ?? `${value} / ${max}`;
  wrap.append(name, track, num);
  return wrap;
}

// -- stepping ---------------------------------------------------------------------------------
function drawStep() {
  const m = models[runIdx];
  const k = m.step;
  const st = stateAt(m, k);
  const cur = k > 0 ? m.recs[m.steps[k - 1]] : null;
  const now = cur ? cur.t_us : 0;
  $("scrub").value = k;
  $("where").textContent = `${t("stepOf", k, m.steps.length)} · ${t("at", fmtTime(now))}`;
  $("now").textContent = cur ? recordWords(m, cur) : t("beforeAll");
  $("play").textContent = playing ? t("pause") : t("play");
  drawLadderStep(m, st);
  drawMachineStep(m, st);
  drawHosts(m, st, now);
  drawProofsStep(m, st);
  drawQuiz();
  const el = document.querySelector("#ladder .current");
  if (el && playing) el.scrollIntoView({ block: "nearest", inline: "nearest" });
}

function go(k) {
  const m = models[runIdx];
  m.step = Math.max(0, Math.min(m.steps.length, k));
  drawStep();
}

function stop() {
  if (playing) clearTimeout(playing);
  playing = null;
  if (models.length) $("play").textContent = t("play");
}

function play() {
  const m = models[runIdx];
  if (playing) { stop(); return; }
  if (m.step >= m.steps.length) m.step = 0;
  const tickPlay = () => {
    const mm = models[runIdx];
    if (!advance()) { playing = null; drawStep(); return; }  // a quiz question waits
    if (mm.step >= mm.steps.length) playing = null;  // the end: drawn as paused
    drawStep();
    if (playing !== null) playing = setTimeout(tickPlay, 600 / Number($("speed").value));
  };
  playing = setTimeout(tickPlay, 0);
  $("play").textContent = t("pause");
}

// -- a segment: fields, bytes, why, what if ---------------------------------------------------
function selectSegment(index) {
  selected = index;
  const m = models[runIdx];
  // Step to the moment it was sent, if that is still to come.
  const rel = index - m.run.start;
  const k = m.steps.indexOf(rel) + 1;
  if (k > 0 && m.step < k) { stop(); m.step = k; }
  drawSegment();
  drawStep();
}

async function drawSegment() {
  const body = $("segment-body");
  const hint = $("segment-hint");
  const m = models[runIdx];
  if (selected === null || selected < m.run.start || selected >= m.run.end) {
    body.hidden = true;
    hint.hidden = false;
    return;
  }
  body.hidden = false;
  hint.hidden = true;
  body.textContent = "";
  const r = doc.records[selected];
  const rel = selected - m.run.start;
  const h = document.createElement("h4");
  h.textContent = `${flagsName(r.flags)} · ${hn(r.host)} → ${hn(hostOf(m, r.dst)) || r.dst}`;
  body.appendChild(h);

  // header fields
  const dl = document.createElement("table");
  dl.className = "fields";
  const relSeq = m.isn.has(r.src) ? sub32(r.seq, m.isn.get(r.src)) : null;
  const relAck = r.flags.includes("A") && m.isn.has(r.dst) ? sub32(r.ack, m.isn.get(r.dst)) : null;
  const rows = [
    [t("src"), r.src], [t("dst"), r.dst], [t("flags"), `${r.flags} (${flagsName(r.flags)})`],
    [t("seq"), relSeq === null ? `${r.seq}` : `${r.seq} (${t("relative")} ${relSeq})`],
    [t("ack"), relAck === null ? `${r.ack}` : `${r.ack} (${t("relative")} ${relAck})`],
    [t("len"), `${r.len}`], [t("win"), `${r.win}`],
    [t("optionsField"), Object.keys(r.options).length ? Object.entries(r.options).map(([k, v]) =>
      (v === true ? k : `${k}=${Array.isArray(v) ? JSON.stringify(v) : v}`)).join(", ") : t("none")],
    [t("flight"), `${r.flight}`],
  ];
  for (const [k, v] of rows) {
    const tr = dl.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v;
  }
  body.appendChild(section(t("fields"), dl));

  // why
  const why = document.createElement("ul");
  for (const line of causes(m, rel)) {
    const li = document.createElement("li");
    li.textContent = line;
    why.appendChild(li);
  }
  body.appendChild(section(t("why"), why));

  // fate
  const fate = document.createElement("ul");
  const f = m.flights.get(r.flight);
  const fateLines = [t("sentAt", hn(r.host), fmtTime(r.t_us))];
  if (f) {
    for (const i of f.arrivals) {
      const a = m.recs[i];
      let v = verdictText(a.verdict);
      if (a.reason) v += ` (${reasonText(a.reason)})`;
      fateLines.push(t("arrivedAt", hn(a.host), fmtTime(a.t_us), v));
    }
    for (const i of f.drops) {
      const d = m.recs[i];
      if (d.verdict === "lost") fateLines.push(t("lostAt", fmtTime(d.t_us), reasonText(d.reason)));
      else fateLines.push(t("drops", hn(d.host), "", reasonText(d.reason)));
    }
    if (!f.arrivals.length && !f.drops.length) fateLines.push(t("noArrival"));
  }
  for (const line of fateLines) {
    const li = document.createElement("li");
    li.textContent = line;
    fate.appendChild(li);
  }
  body.appendChild(section(t("fate"), fate));

  // what if
  const pick = doc.picks[String(selected)];
  const acts = document.createElement("div");
  acts.className = "acts";
  if (!pick) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = t("cannotPick");
    acts.appendChild(p);
  } else {
    const runNo = m.run.n;
    const mk = (label, kind, withMs, dflt) => {
      const wrap = document.createElement("span");
      wrap.className = "act";
      const b = document.createElement("button");
      b.type = "button";
      b.className = `pick-${kind}`;
      b.textContent = label;
      wrap.appendChild(b);
      let input = null;
      if (withMs) {
        input = document.createElement("input");
        input.type = "number";
        input.min = "0";
        input.max = "60000";
        input.value = dflt;
        input.className = `pick-${kind}-ms`;
        const unit = document.createElement("span");
        unit.textContent = kind === "dup" ? t("msLater") : t("ms");
        wrap.append(input, unit);
      }
      b.addEventListener("click", () => addPick(kind, `${runNo}:${pick}${withMs ? `:${Number(input.value) || 0}` : ""}`));
      return wrap;
    };
    acts.append(mk(t("dropIt"), "drop", false), mk(t("delayIt"), "delay", true, 500), mk(t("dupIt"), "dup", true, 100));
  }
  body.appendChild(section(t("whatif"), acts));

  // bytes (asked of the worker: the core builds the packet)
  const pre = document.createElement("pre");
  pre.className = "bytes";
  body.appendChild(section(t("bytes"), pre));
  const want = selected;
  const b = await ask("bytes", { index: selected });
  if (want !== selected || !b) return;
  pre.textContent = "";
  const parts = [["ip", b.ip], ["tcp", b.tcp], ["opt", b.options], ["pay", b.payload]];
  let pos = 0;
  const legend = document.createElement("div");
  legend.className = "legend";
  for (const [cls, n] of parts) {
    for (let i = 0; i < n; i++, pos++) {
      if (pos && pos % 16 === 0) pre.appendChild(document.createTextNode("\n"));
      else if (pos && pos % 8 === 0) pre.appendChild(document.createTextNode("  "));
      else if (pos) pre.appendChild(document.createTextNode(" "));
      const span = document.createElement("span");
      span.className = `b-${cls}`;
      span.textContent = b.hex.slice(2 * pos, 2 * pos + 2);
      pre.appendChild(span);
    }
  }
  for (const [cls, key, n] of [["ip", "ipHeader", b.ip], ["tcp", "tcpHeader", b.tcp], ["opt", "options", b.options],
    ["pay", "payload", b.payload]]) {
    if (!n) continue;
    const s = document.createElement("span");
    s.className = `b-${cls}`;
    s.textContent = `${t(key)} (${n})`;
    legend.appendChild(s);
  }
  pre.after(legend);
}

function section(title, content) {
  const s = document.createElement("div");
  s.className = "part";
  const h = document.createElement("h5");
  h.textContent = title;
  s.append(h, content);
  return s;
}

function hostOf(m, endpoint) {
  const addr = endpoint.replace(/^\[/, "").replace(/\]?:\d+$/, "");
  for (const [name, addrs] of Object.entries(m.run.hosts)) if (addrs.includes(addr)) return name;
  return null;
}

// Why a segment was sent, as the trace tells it: what happened on that host at that
// moment just before (an arrival, a timer, an application call, a state change), and
// whether it repeats an earlier segment.
function causes(m, rel) {
  const r = m.recs[rel];
  const out = [];
  for (let i = rel - 1; i >= 0; i--) {
    const p = m.recs[i];
    if (p.t_us !== r.t_us) break;
    if (p.host !== r.host) continue;
    if (p.event === "send") break;
    if (p.event === "recv") { out.push(t("becauseRecv", segWords(m, p), fmtTime(p.t_us))); break; }
    if (p.event === "timer" && p.action !== "armed") { out.push(t("becauseTimer", timerName(p.timer))); break; }
    if (p.event === "note" && p.text.startsWith("app: ")) { out.push(t("becauseApp", p.text.slice(5))); break; }
    if (p.event === "state") out.push(t("becauseState", p.from, p.to, edgeReason(p.from, p.to)));
  }
  for (let i = rel - 1; i >= 0; i--) {
    const p = m.recs[i];
    if (p.event === "send" && p.src === r.src && p.dst === r.dst && p.seq === r.seq && p.flags === r.flags &&
        (p.len > 0 || /[SF]/.test(r.flags)) && p.len === r.len) {
      out.push(t("retransmission", fmtTime(p.t_us)));
      break;
    }
  }
  if (!out.length) out.push(t("noCause"));
  return out.reverse();
}

// -- what if ------------------------------------------------------------------------------
function addPick(kind, token) {
  const list = (want.params[kind] || "").split(",").filter(Boolean);
  const key = token.split(":").slice(0, 4).join(":");
  const kept = list.filter((x) => x.split(":").slice(0, 4).join(":") !== key);
  kept.push(token);
  want.params = { ...want.params, [kind]: kept.join(",") };
  want.step = null;
  selected = null;
  writeHash();
  runWanted();
}

function removeChange(key, token) {
  const params = { ...want.params };
  if (key === "close") { delete params.close_at; delete params.close_then; }  // (they need it)
  if (token === undefined) delete params[key];
  else {
    const left = (params[key] || "").split(",").filter((x) => x && x !== token);
    if (left.length) params[key] = left.join(","); else delete params[key];
  }
  want.params = params;
  want.step = null;
  writeHash();
  runWanted();
}

function drawSettings() {
  const form = $("settings");
  $("close-fields").hidden = !doc.scenario.close;
  for (const key of SETTINGS) {
    const input = form.elements[key];
    let v = want.params[key] ?? "";
    if (key === "loss" && v !== "") v = String(Number.parseFloat(v) * (v.endsWith("%") ? 1 : 100));
    input.value = v;
  }
  const ul = $("changes");
  ul.textContent = "";
  const multi = doc.runs.length > 1;
  const add = (text, key, token) => {
    const li = document.createElement("li");
    li.textContent = text + " ";
    const x = document.createElement("button");
    x.type = "button";
    x.className = "remove";
    x.textContent = "×";
    x.title = t("remove");
    x.addEventListener("click", () => removeChange(key, token));
    li.appendChild(x);
    ul.appendChild(li);
  };
  for (const key of SETTINGS) {
    if (want.params[key] === undefined) continue;
    let v = want.params[key];
    if (key === "loss") v = `${(Number.parseFloat(v) * (v.endsWith("%") ? 1 : 100)).toFixed(2).replace(/\.?0+$/, "")} %`;
    if (key === "close") v = t("closeValues")[v] || v;
    add(`${t("settingNames")[key]} = ${v}${t("units")[key]}`, key);
  }
  for (const kind of PICKS) {
    for (const token of (want.params[kind] || "").split(",").filter(Boolean)) {
      const [run, host, flags, n, ms] = token.split(":");
      const name = t("pickName", run, hn(host), flagsName(flags), Number(n), multi);
      const text = kind === "drop" ? t("pickDrop", name) : kind === "delay" ? t("pickDelay", name, ms) : t("pickDup", name, ms);
      add(text, kind, token);
    }
  }
  if (!ul.children.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = t("noChanges");
    ul.appendChild(li);
  }
}

$("settings").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = ev.target;
  const params = {};
  for (const kind of PICKS) if (want.params[kind]) params[kind] = want.params[kind];
  for (const key of SETTINGS) {
    let v = form.elements[key].value.trim();
    if (v === "" || (CLOSE_SETTINGS.has(key) && !doc.scenario.close)) continue;
    if (key === "loss") v = String(Number(v) / 100);
    params[key] = v;
  }
  want.params = params;
  want.step = null;
  writeHash();
  runWanted();
});

$("quiz-on").addEventListener("change", async (ev) => {
  quizOn = ev.target.checked;
  document.body.classList.toggle("quiz-mode", quizOn);
  asking = null;
  if (!models.length) return;
  for (const mm of models) if (mm.answered) mm.answered.clear();  // a new quiz: every question again
  const m = models[runIdx];
  if (quizOn) await loadExtras(m);
  if (m === models[runIdx]) drawStep();
});

// -- downloads ------------------------------------------------------------------------------
function download(name, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function baseName() {
  const m = models[runIdx];
  const changed = Object.keys(want.params).length ? "-whatif" : "";
  return `${want.scenario}-seed${want.seed}${changed}${doc.runs.length > 1 ? `-run${m.run.n}` : ""}`;
}

$("dl-jsonl").addEventListener("click", () => {
  // The whole document's records, as `synack scenario run --json` writes them.
  const text = doc.records.map((r) => JSON.stringify(r) + "\n").join("");
  download(`${want.scenario}-seed${want.seed}${Object.keys(want.params).length ? "-whatif" : ""}.jsonl`, text,
    "application/x-ndjson");
});
$("dl-pcap").addEventListener("click", async () => {
  const bytes = await ask("pcap", { run: models[runIdx].run.n });
  download(`${baseName()}.pcap`, bytes, "application/vnd.tcpdump.pcap");
});
$("dl-svg").addEventListener("click", () => {
  const box = document.querySelector("#ladder svg");
  if (!box) return;
  const m = models[runIdx];
  const text = m.svg[lang] || new XMLSerializer().serializeToString(box);
  download(`${baseName()}-${lang}.svg`, text, "image/svg+xml");
});

// -- controls -----------------------------------------------------------------------------------
$("to-cards").addEventListener("click", () => $("cards-box").scrollIntoView({ behavior: "smooth" }));
$("first").addEventListener("click", () => { stop(); go(0); });
$("back").addEventListener("click", () => { stop(); go(models[runIdx].step - 1); });
$("step").addEventListener("click", () => { stop(); if (advance()) drawStep(); });
$("last").addEventListener("click", () => { stop(); go(models[runIdx].steps.length); });
$("play").addEventListener("click", play);
$("scrub").addEventListener("input", (ev) => { stop(); go(Number(ev.target.value)); });
$("reset").addEventListener("click", () => {
  want.params = {};
  want.step = null;
  selected = null;
  writeHash();
  runWanted();
});
$("scenario").addEventListener("change", (ev) => {
  want = { scenario: ev.target.value, seed: want.seed, params: {}, run: 1 };
  writeHash();
  runWanted();
});
$("seed").addEventListener("change", (ev) => {
  const seed = Number.parseInt(ev.target.value, 10);
  if (!Number.isFinite(seed) || seed < 0) return;
  want = { ...want, seed, step: null };
  writeHash();
  runWanted();
});
for (const b of document.querySelectorAll(".lang button")) b.addEventListener("click", () => setLang(b.dataset.lang));
document.addEventListener("keydown", (ev) => {
  if (!models.length || ev.target.closest("input, select, textarea")) return;
  if (ev.key === " ") { ev.preventDefault(); play(); }
  else if (ev.key === "ArrowRight") { stop(); if (advance()) drawStep(); }
  else if (ev.key === "ArrowLeft") { stop(); go(models[runIdx].step - 1); }
});

// -- a run's quiz and proof table (synack.playground.extras), asked of the worker once --
async function loadExtras(m) {
  if (m.extras) return m.extras;
  if (!m.extrasPromise) {
    m.extrasPromise = ask("extras", { run: m.run.n }).then((bytes) => {
      const x = JSON.parse(new TextDecoder().decode(bytes));
      m.extras = x;
      // A question is asked before the state change that announces its segment (the
      // same host, the same moment): "SYN-SENT" would give the SYN away.
      m.quizAt = new Map();
      for (const q of x.quiz) {
        q.sendRel = q.index - m.run.start;
        const send = m.recs[q.sendRel];
        let i = q.sendRel;
        while (i > 0) {
          const p = m.recs[i - 1];
          if (p.host !== send.host || p.t_us !== send.t_us) break;
          if (p.event !== "state" && !(p.event === "timer" && p.action === "armed")) break;
          i--;
        }
        m.quizAt.set(i, q);
      }
      m.answered = new Map();  // question step -> the choice made
      return x;
    });
  }
  return m.extrasPromise;
}

// -- why-three: what each side has proven, after each segment that has arrived ----------------
function drawProofsHead(m) {
  const box = $("proofs-box");
  const proofs = doc.scenario.proofs && m.extras ? m.extras.proofs : null;
  box.hidden = !proofs;
  if (!proofs) return;
  $("proofs-run").textContent = t("proofsRun", m.run.label[lang]);
  const head = $("proofs").tHead;
  head.textContent = "";
  const tr = head.insertRow();
  for (const h of proofs.headers[lang]) {
    const th = document.createElement("th");
    th.textContent = h;
    tr.appendChild(th);
  }
  const body = $("proofs").tBodies[0];
  body.textContent = "";
  proofs.rows[lang].forEach((row, i) => {
    const r = body.insertRow();
    r.dataset.index = proofs.index[i];
    row.forEach((cell, c) => {
      const td = r.insertCell();
      td.textContent = cell;
      if (c === 2 || c === 3) td.className = cell.includes(lang === "zh" ? "接收" : "receive") ? "proven" : "part";
    });
  });
}

function drawProofsStep(m, st) {
  const proofs = doc.scenario.proofs && m.extras ? m.extras.proofs : null;
  if (!proofs || $("proofs-box").hidden) return;
  const upto = m.run.start + st.last;  // the last record shown, as an index of doc.records
  let shown = 0;
  const rows = $("proofs").tBodies[0].rows;
  for (let i = 0; i < rows.length; i++) {
    const on = Number(rows[i].dataset.index) <= upto;
    rows[i].hidden = !on;
    rows[i].classList.toggle("newest", on && (i === rows.length - 1 || Number(rows[i + 1].dataset.index) > upto));
    if (on) shown++;
  }
  $("proofs").hidden = shown === 0;
  $("proofs-empty").hidden = shown > 0;
}

// -- quiz mode: before each segment the two hosts send, what does it send next? -----------------
function questionBefore(m, k) {
  if (!quizOn || !m.extras || k < 1 || k > m.steps.length) return null;
  const q = m.quizAt.get(m.steps[k - 1]);
  return q && !m.answered.has(q.step) ? q : null;
}

// One step forward; in quiz mode a segment still to be guessed asks first (false: it asks).
function advance() {
  const m = models[runIdx];
  const k = m.step + 1;
  const q = questionBefore(m, k);
  if (q) {
    asking = { m, k, q, chosen: null };
    drawQuiz();
    $("quiz").scrollIntoView({ block: "nearest" });
    return false;
  }
  asking = null;
  m.step = Math.max(0, Math.min(m.steps.length, k));
  return true;
}

function drawQuiz() {
  const box = $("quiz");
  box.hidden = !quizOn;
  if (!quizOn) return;
  const m = models[runIdx];
  box.textContent = "";
  const p = (cls, text) => {
    const e = document.createElement("p");
    e.className = cls;
    e.textContent = text;
    box.appendChild(e);
    return e;
  };
  if (!m.extras) { p("hint", t("quizLoading")); return; }
  const all = m.extras.quiz;
  const asked = [...m.answered.values()];
  const right = asked.filter((x) => x.right).length;
  if (!asking || asking.m !== m || asking.k !== m.step + 1) {
    asking = null;
    p("hint", all.length ? t("quizHint") : t("quizNone"));
    if (asked.length) p("q-score", t("quizScore", right, asked.length));
    return;
  }
  const q = asking.q;
  const h = document.createElement("h3");
  h.textContent = t("quizTitle", q.step, all.length);
  box.appendChild(h);
  p(`q-prompt ${q.sender}`, q.prompt[lang]);
  const choices = document.createElement("div");
  choices.className = "q-choices";
  q.choices[lang].forEach((label, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "q-choice";
    b.dataset.choice = i;
    b.textContent = label;
    if (asking.chosen !== null) {
      b.disabled = true;
      if (i === q.answer) b.classList.add("right");
      else if (i === asking.chosen) b.classList.add("wrong");
    }
    b.addEventListener("click", () => {
      if (asking.chosen !== null) return;
      asking.chosen = i;
      drawQuiz();
    });
    choices.appendChild(b);
  });
  box.appendChild(choices);
  if (asking.chosen === null) return;
  const ok = asking.chosen === q.answer;
  p(`q-verdict ${ok ? "right" : "wrong"}`, ok ? t("quizRight") : t("quizWrong", q.choices[lang][q.answer]));
  p("q-why", `${t("quizWhy")}: ${q.why[lang]}`);
  const go = document.createElement("button");
  go.type = "button";
  go.id = "quiz-continue";
  go.textContent = t("quizContinue");
  go.addEventListener("click", () => {
    m.answered.set(q.step, { chosen: asking.chosen, right: ok });
    asking = null;
    m.step = m.steps.indexOf(q.sendRel) + 1;  // on to the segment itself
    drawStep();
  });
  box.appendChild(go);
}

// The step the URL asks for (step=K or step=end), in the run shown.
function applyStep() {
  if (want.step === null || want.step === undefined || !models.length) return;
  const m = models[runIdx];
  stop();
  asking = null;
  m.step = want.step === "end" ? m.steps.length : Math.min(want.step, m.steps.length);
  drawStep();
}

// -- the seed's questions as cards -------------------------------------------------------------
function drawCards() {
  const box = $("cards");
  box.textContent = "";
  for (const c of cards) {
    const here = [...c.proof, ...c.counterfactual].some((e) => e.scenario === doc.scenario.name);
    const card = document.createElement("article");
    card.className = `card${here ? " here" : ""}`;
    card.dataset.card = c.key;
    const h = document.createElement("h4");
    h.textContent = c.question[lang];
    if (here) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = t("cardHere");
      h.appendChild(tag);
    }
    const a = document.createElement("p");
    a.className = "answer";
    a.textContent = c.answer[lang];
    card.append(h, a);
    const runs = document.createElement("div");
    runs.className = `evidence${c.counterfactual.length ? "" : " single"}`;
    for (const [kind, list, label] of [["proof", c.proof, "proofLabel"], ["counter", c.counterfactual, "counterLabel"]]) {
      if (!list.length) continue;
      const col = document.createElement("div");
      col.className = `ev ${kind}`;
      const cap = document.createElement("p");
      cap.className = "caption";
      cap.textContent = t(label);
      col.appendChild(cap);
      for (const e of list) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = `open-run ${kind}`;
        b.dataset.scenario = e.scenario;
        b.dataset.run = e.run;
        b.textContent = `▶ ${t("openRun", e.scenario, e.run)}`;
        b.addEventListener("click", () => openRun(e.scenario, e.run));
        const shows = document.createElement("span");
        shows.className = "shows";
        shows.textContent = e.shows[lang];
        const line = document.createElement("div");
        line.className = "ev-line";
        line.append(b, shows);
        col.appendChild(line);
      }
      runs.appendChild(col);
    }
    card.appendChild(runs);
    box.appendChild(card);
  }
}

async function openRun(scenario, run) {
  stop();
  window.scrollTo({ top: 0 });
  // The run opens at its end: the whole proof drawn (|◀ and play go through it).
  if (doc && doc.scenario.name === scenario && want.scenario === scenario && !Object.keys(want.params).length) {
    want.run = run;
    want.step = "end";
    writeHash();
    await showRun(Math.min(run, doc.runs.length) - 1);
    applyStep();
    synack.ready = true;
    return;
  }
  want = { scenario, seed: want.seed, params: {}, run, step: "end" };
  writeHash();
  await runWanted();
}

// -- start ---------------------------------------------------------------------------------------
async function start() {
  want = parseHash();
  setLang(want.lang, false);
  const started = performance.now();
  const tick = setInterval(() => setStatus(`${t("loading")} ${t("elapsed", (performance.now() - started) / 1000)}`, true), 100);
  setStatus(t("loading"), true);
  let loaded;
  try {
    loaded = await boot;
  } catch (err) {
    clearInterval(tick);
    setStatus("");
    showError(t("failed", err.message));
    return;
  }
  clearInterval(tick);
  catalogue = loaded.catalogue;
  diagram = loaded.diagram;
  cards = loaded.cards;
  synack.loadMs = Math.round(performance.now() - started);
  fillScenarios();
  $("scenario").disabled = false;
  setStatus(t("loaded", synack.loadMs));
  writeHash();
  await runWanted();
}

start();
