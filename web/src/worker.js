// The real synack, in a worker: Pyodide (copied from the npm package into
// pyodide/ by the build) runs synack's pure-Python packages (synack.zip), so the
// page stays responsive while a scenario runs, and hears of its progress.
//
// Messages in:  {id, op: "run", name, seed, params} | {id, op: "svg", run, lang}
//               | {id, op: "pcap", run} | {id, op: "bytes", index} | {id, op: "extras", run}
// Messages out: {type: "loaded", catalogue, diagram, cards, ms} once, then for each request
//               {type: "progress", id, run} (runs only) and {type: "done", id, result}
//               or {type: "failed", id, error}.
import { loadPyodide } from "./pyodide/pyodide.mjs";

const started = performance.now();
let py = null;
let pg = null;

async function boot() {
  const zip = fetch(new URL("./synack.zip", import.meta.url));  // (while Pyodide loads)
  py = await loadPyodide({ indexURL: new URL("./pyodide/", import.meta.url).href });
  const got = await zip;
  if (!got.ok) throw new Error(`synack.zip: HTTP ${got.status}`);
  py.unpackArchive(new Uint8Array(await got.arrayBuffer()), "zip", { extractDir: "/lib/synack-web" });
  py.runPython("import sys; sys.path.insert(0, '/lib/synack-web')");
  pg = py.pyimport("synack.playground");
  const catalogue = JSON.parse(py.runPython("import json, synack.playground as p; json.dumps(p.catalogue())"));
  const diagram = JSON.parse(py.runPython("import json, synack.playground as p; json.dumps(p.diagram())"));
  const cards = JSON.parse(py.runPython("import json, synack.playground as p; json.dumps(p.cards())"));
  postMessage({ type: "loaded", catalogue, diagram, cards, ms: Math.round(performance.now() - started) });
}

const booting = boot().catch((err) => {
  postMessage({ type: "fatal", error: String(err && err.stack ? err.stack : err) });
  throw err;
});

function handle(msg) {
  const { id, op } = msg;
  if (op === "run") {
    // The document comes as UTF-8 bytes (see synack.playground.run_json), handed over
    // to the page without a copy; the page decodes and parses it.
    const progress = (n) => postMessage({ type: "progress", id, run: n });
    const bytes = pg.run_json(msg.name, msg.seed, JSON.stringify(msg.params || {}), progress);
    const out = bytes.toJs();
    bytes.destroy();
    return out;
  }
  if (op === "extras") {
    // The quiz and the proof table of a run of the last run (synack.playground.extras).
    const bytes = pg.extras_json(msg.run);
    const out = bytes.toJs();
    bytes.destroy();
    return out;
  }
  if (op === "svg") {
    const svg = pg.svg(msg.run, msg.lang);
    return svg === undefined ? null : svg;
  }
  if (op === "pcap") {
    const bytes = pg.pcap(msg.run);
    const out = bytes.toJs();
    bytes.destroy();
    return out;
  }
  if (op === "bytes") {
    const res = pg.packet_hex(msg.index);
    if (res === undefined || res === null) return null;
    const out = res.toJs({ dict_converter: Object.fromEntries });
    res.destroy();
    return out;
  }
  throw new Error(`unknown request ${op}`);
}

onmessage = async (event) => {
  const msg = event.data;
  try {
    await booting;
    const result = handle(msg);
    postMessage({ type: "done", id: msg.id, result }, result instanceof Uint8Array ? [result.buffer] : []);
  } catch (err) {
    postMessage({ type: "failed", id: msg.id, error: String(err && err.message ? err.message : err) });
  }
};
