// Conveyor's dashboard: one EventSource (/_conveyor/events) brings the state as it changes; the page
// draws it. Every text comes from resource names the user chose, so it is set with textContent only.
"use strict";

const CSRF = document.querySelector('meta[name="conveyor-csrf"]').content;
const SVG = "http://www.w3.org/2000/svg";
const COLUMN = 250, ROW = 74, WIDTH = 170, HEIGHT = 56, PAD = 12;
const KINDS = { bucket: "bucket", topic: "SNS topic", queue: "SQS queue", dlq: "dead-letter queue",
  pool: "worker pool", function: "function", alarm: "alarm", output: "processed", other: "" };
let state = null;
let drawnGraph = "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value; else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function say(text, bad) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = bad ? "state-ALARM" : "";
}

async function act(action, body) {
  try {
    const response = await fetch(`/_conveyor/ui/${action}`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Conveyor-CSRF": CSRF },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.message || response.statusText);
    say(`${action}: done`);
    return answer;
  } catch (error) {
    say(`${action} failed: ${error.message}`, true);
    return null;
  }
}

function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "…" : text; }

function liveText(node) {
  const s = state;
  if (node.kind === "queue" || node.kind === "dlq") {
    const q = s.queues[node.id];
    if (!q) return "";
    return node.kind === "dlq" ? `${q.visible} messages` : `${q.visible} visible · ${q.inflight} in flight`;
  }
  if (node.kind === "pool") {
    const p = s.pools[node.name];
    return p ? `${p.in_service}/${p.desired} workers · backlog ${p.backlog ?? "-"}` : "";
  }
  if (node.kind === "function") {
    const f = s.functions[node.id];
    return f ? `${f.busy} busy · ${f.invocations} invocations` : "";
  }
  if (node.kind === "alarm") {
    const a = s.alarms[node.id];
    return a ? a.state : "";
  }
  if (node.kind === "output") {
    const bucket = node.name.split("/")[0];
    const done = s.uploads.filter((u) => u.bucket === bucket && u.state === "processed").length;
    return `${done} recent processed`;
  }
  if (node.kind === "bucket") {
    const recent = s.uploads.filter((u) => u.bucket === node.name).length;
    return `${recent} recent uploads`;
  }
  return "";
}

function attention(node) {
  const s = state;
  if (node.kind === "dlq") return (s.queues[node.id]?.visible || 0) > 0;
  if (node.kind === "alarm") return s.alarms[node.id]?.state === "ALARM";
  if (node.kind === "pool") return s.pools[node.name]?.state !== "ok";
  return false;
}

function drawGraph() {
  const graph = state.graph;
  const key = JSON.stringify(graph);
  const box = document.getElementById("graph");
  if (key !== drawnGraph) {
    drawnGraph = key;
    box.replaceChildren();
    const at = {};
    let width = 0, height = 0;
    for (const n of graph.nodes) {
      at[n.id] = { x: PAD + n.column * COLUMN, y: PAD + n.row * ROW };
      width = Math.max(width, at[n.id].x + WIDTH + PAD);
      height = Math.max(height, at[n.id].y + HEIGHT + PAD);
    }
    box.setAttribute("viewBox", `0 0 ${Math.max(width, 300)} ${Math.max(height, 120)}`);
    box.setAttribute("height", String(Math.max(height, 120)));
    const edges = svg("g", { class: "edges" });
    for (const e of graph.edges) {
      const a = at[e.source], b = at[e.target];
      if (!a || !b) continue;
      const x1 = a.x + WIDTH, y1 = a.y + HEIGHT / 2, x2 = b.x, y2 = b.y + HEIGHT / 2;
      const bend = Math.max(30, (x2 - x1) / 2);
      const path = svg("path", { class: `edge ${e.kind}`, "data-kind": e.kind,
        d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` });
      path.append(svg("title", {}, `${e.kind}${e.label ? ": " + e.label : ""}`));
      edges.append(path);
      if (e.label && x2 - x1 > 60) {
        edges.append(svg("text", { class: "edge-label", x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 5,
          "text-anchor": "middle" }, short(e.label, 13)));
      }
    }
    box.append(edges);
    for (const n of graph.nodes) {
      const g = svg("g", { class: `node ${n.kind}`, "data-id": n.id, "data-kind": n.kind, "data-name": n.name,
        transform: `translate(${at[n.id].x},${at[n.id].y})` });
      g.append(svg("rect", { width: WIDTH, height: HEIGHT }));
      g.append(svg("text", { class: "kind", x: 8, y: 14 }, KINDS[n.kind] ?? n.kind));
      g.append(svg("text", { class: "name", x: 8, y: 31 }, short(n.name, 26)));
      g.append(svg("text", { class: "live", x: 8, y: 47 }));
      g.append(svg("title", {}, n.id));
      box.append(g);
    }
  }
  for (const g of box.querySelectorAll("g.node")) {
    const node = { id: g.dataset.id, kind: g.dataset.kind, name: g.dataset.name };
    g.querySelector("text.live").textContent = liveText(node);
    g.classList.toggle("attention", attention(node));
  }
}

function fillTable(id, rows) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows);
}

function drawQueues() {
  const rows = Object.entries(state.queues).map(([arn, q]) => {
    const tr = el("tr", { "data-queue": q.name, class: `${q.dlq ? "dlq" : ""} ${q.dlq && q.visible ? "attention" : ""}` },
      el("td", {}, q.name), el("td", { class: "num visible" }, q.visible), el("td", { class: "num inflight" }, q.inflight),
      el("td", { class: "num" }, q.delayed), el("td", { class: "num" }, `${Math.round(q.oldest_age)} s`));
    const cell = el("td");
    if (q.dlq) {
      const button = el("button", { class: "redrive", "data-queue": arn, title: "Move its messages back to their source queues (StartMessageMoveTask)" }, "Redrive");
      button.disabled = q.visible === 0;
      button.addEventListener("click", () => { button.disabled = true; act("redrive", { queue: arn }); });
      cell.append(button);
    }
    tr.append(cell);
    return tr;
  });
  fillTable("queues", rows);
}

function drawPools() {
  const box = document.getElementById("pools");
  const pools = Object.entries(state.pools);
  if (!pools.length) { box.replaceChildren(el("p", {}, "No worker pools.")); return; }
  box.replaceChildren(...pools.map(([name, p]) => {
    const down = el("button", { class: "scale-down", "data-pool": name, title: "Desired capacity − 1" }, "−");
    const up = el("button", { class: "scale-up", "data-pool": name, title: "Desired capacity + 1" }, "+");
    down.disabled = p.desired <= p.min;
    up.disabled = p.desired >= p.max;
    down.addEventListener("click", () => act("scale", { pool: name, desired: p.desired - 1 }));
    up.addEventListener("click", () => act("scale", { pool: name, desired: p.desired + 1 }));
    const head = el("div", { class: "pool-head" }, el("strong", {}, name),
      el("span", { class: "desired" }, `desired ${p.desired} (${p.min}–${p.max})`), down, up,
      el("span", {}, ` · ${p.in_service} in service · backlog ${p.backlog ?? "-"} · replaced ${p.replaced}`),
      el("span", { class: p.state === "ok" ? "" : "state-ALARM" }, p.state === "ok" ? "" : ` · ${p.state}`));
    const rows = p.workers.map((w) => {
      const kill = el("button", { class: "kill", "data-worker": w.id, title: "SIGKILL: the pool replaces it" }, "Kill");
      kill.addEventListener("click", () => { kill.disabled = true; act("kill", { worker: w.id }); });
      return el("tr", { "data-worker": w.id }, el("td", {}, w.id), el("td", { class: "state" }, w.state),
        el("td", { class: "num" }, `pid ${w.pid}`), el("td", { class: "num" }, `${Math.round(w.uptime)} s`),
        el("td", { class: "num" }, `${w.done} done`), el("td", {}, kill));
    });
    return el("div", { class: "pool", "data-pool": name }, head, el("table", {}, el("tbody", {}, ...rows)));
  }));
}

function drawFunctions() {
  fillTable("functions", Object.values(state.functions).map((f) => el("tr", {},
    el("td", {}, f.name), el("td", { class: "num" }, f.busy), el("td", { class: "num" }, f.idle),
    el("td", { class: "num" }, f.invocations), el("td", { class: "num" }, f.cold_starts))));
}

function drawAlarms() {
  fillTable("alarms", Object.values(state.alarms).map((a) => el("tr", { "data-alarm": a.name },
    el("td", {}, a.name), el("td", { class: `state-${a.state}` }, a.state), el("td", {}, short(a.reason || "", 90)))));
}

function drawUploads() {
  fillTable("uploads", state.uploads.map((u) => el("tr", { "data-key": u.key },
    el("td", {}, `s3://${u.bucket}/${u.key}`), el("td", { class: `step ${u.state}` }, u.state),
    el("td", {}, ...u.steps.map((s) => el("span", { class: `step ${s.step}`, title: s.detail || "" },
      s.step + (s.by ? ` (${s.by})` : "") + (s.to ? ` → ${s.to}` : "")))))));
}

function drawLogs() {
  const box = document.getElementById("logs");
  const stick = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.textContent = state.logs.map((l) => `${l.group.replace(/^\/(aws\/lambda|conveyor\/pools)\//, "")} ${l.stream.slice(-12)} | ${l.message}`).join("\n");
  if (stick) box.scrollTop = box.scrollHeight;
}

function draw() {
  document.getElementById("region").textContent = state.region;
  document.getElementById("auth").textContent = `auth ${state.auth}`;
  drawGraph();
  drawQueues();
  drawPools();
  drawFunctions();
  drawAlarms();
  drawUploads();
  drawLogs();
  document.body.dataset.updated = String(Number(document.body.dataset.updated || 0) + 1);
}

function connect() {
  const status = document.getElementById("connection");
  const events = new EventSource("/_conveyor/events");
  events.addEventListener("open", () => { status.textContent = "live"; status.className = "badge on"; });
  events.addEventListener("error", () => { status.textContent = "reconnecting…"; status.className = "badge off"; });
  events.addEventListener("state", (event) => { state = JSON.parse(event.data); draw(); });
}

connect();
