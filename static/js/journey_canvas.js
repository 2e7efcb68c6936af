// The journey canvas: draws the journey from its state (GET canvas/), laid out by dagre (npm, served as a static
// file) unless a step was dragged somewhere (its position is kept), and edits it through the canvas endpoints and the
// side panels (HTML forms drawn and checked by the server). No inline code: the Content-Security-Policy allows
// scripts from files only; positions are set through the CSSOM, which the policy does not restrict.
(() => {
  "use strict";

  const root = document.getElementById("builder");
  if (!root || !window.dagre) return;
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const world = $("world");
  const edgesSvg = $("edges");
  const edgeLayer = $("edge-layer");
  const nodeLayer = $("node-layer");
  const panel = $("panel");
  const panelBody = $("panel-body");
  const panelEmpty = $("panel-empty");
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 4000;
  const POLL_MAX_MS = 15000;
  const STAT_WORDS = {
    entered: "entered", waiting: "waiting", sent: "sent", delivered: "delivered", read: "read",
    replied: "replied", exited: "exited", converted: "converted",
  };
  // Which counts a card shows even at zero; any other count shows once it is above zero.
  const STATS_SHOWN = {
    send_template: ["entered", "sent", "delivered", "read"],
    send_text: ["entered", "sent", "delivered", "read"],
    send_interactive: ["entered", "sent", "delivered", "read"],
    wait: ["entered", "waiting"],
    wait_for_reply: ["entered", "waiting", "replied"],
    exit: ["entered", "exited", "converted"],
  };

  let state = null;
  let lastText = "";
  let boxes = {}; // id → {x, y, w, h}: where each card is drawn (top-left, world units)
  let routes = {}; // "from|field" → dagre's route around the other cards, while neither end was dragged
  let view = { x: 0, y: 0, k: 1 };
  let fitted = false;
  let enrollment = null;
  let busy = false; // a drag or a connection is in progress: polling waits

  // --- server ---------------------------------------------------------------------------------------------------

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch { data = { errors: ["The server could not do it; try again."] }; }
    if (!response.ok) {
      flash((data.errors || ["Not done."]).join(" "), true);
      return null;
    }
    setState(data);
    return data;
  }

  let pollMs = POLL_MS;

  async function load() {
    const url = root.dataset.stateUrl + (enrollment ? `?enrollment=${enrollment}` : "");
    const started = performance.now();
    const response = await fetch(url, { credentials: "same-origin" });
    // A big journey's counts take longer to add up: poll less often then, so open pages never load the database.
    pollMs = Math.min(POLL_MAX_MS, Math.max(POLL_MS, (performance.now() - started) * 10));
    if (!response.ok) return;
    const text = await response.text();
    if (text === lastText) return;
    lastText = text;
    setState(JSON.parse(text));
  }

  let waiting = null; // a state that arrived during a drag: drawn when it ends, so the dragged card stays put

  function setState(data) {
    if (busy) { waiting = data; return; }
    state = data;
    draw();
  }

  function flash(message, error) {
    const out = $("test-result");
    out.textContent = message;
    out.classList.toggle("error", Boolean(error));
  }

  // --- drawing ----------------------------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(node) {
    const box = el("div", `jnode type-${node.type}`);
    box.dataset.node = node.id;
    box.tabIndex = 0;
    box.setAttribute("role", "button");
    const problems = node.problems.length ? `, ${node.problems.length} to fix` : "";
    box.setAttribute("aria-label", `${node.label} ${node.id}: ${node.summary}${problems}. Enter to edit, Delete to remove.`);
    if (node.entry) box.classList.add("jnode-entry");
    if (node.problems.length) box.classList.add("jnode-invalid");
    const head = el("div", "jnode-head");
    head.append(el("span", `type-dot type-${node.type}`), el("span", "jnode-type", node.label));
    if (node.entry) head.append(el("span", "jnode-start", "Start"));
    box.append(head, el("div", "jnode-title", node.id), el("div", "jnode-summary", node.summary));
    if (node.problems.length) {
      const list = el("ul", "jnode-problems");
      node.problems.slice(0, 2).forEach((text) => list.append(el("li", "", text)));
      if (node.problems.length > 2) list.append(el("li", "", `and ${node.problems.length - 2} more`));
      box.append(list);
    }
    const stats = el("div", "jnode-stats");
    const shown = STATS_SHOWN[node.type] || ["entered"];
    Object.keys(STAT_WORDS).forEach((key) => {
      const value = node.stats[key] || 0;
      if (!shown.includes(key) && !value) return;
      const item = el("span", "stat");
      item.dataset.stat = key;
      item.append(el("b", "", String(value)), document.createTextNode(` ${STAT_WORDS[key]}`));
      stats.append(item);
    });
    box.append(stats);
    const ports = el("div", "jnode-ports");
    node.slots.forEach((slot) => {
      const port = el("span", "jnode-port");
      port.dataset.field = slot.field;
      port.title = `Drag onto a step to connect${slot.label ? `: ${slot.label}` : ""}`;
      ports.append(port);
    });
    box.append(ports);
    return box;
  }

  function slotKey(nodeId, field) { return `slot:${nodeId}:${field}`; }

  function placeholder(nodeId, slot) {
    const button = el("button", "slot-add");
    button.type = "button";
    button.dataset.after = nodeId;
    button.dataset.field = slot.field;
    button.dataset.label = slot.label;
    button.append(el("span", "slot-plus", "+"), el("span", "", slot.label ? `${slot.label}: add a step` : "Add a step"));
    button.setAttribute("aria-label", `Add a step after ${nodeId}${slot.label ? ` (${slot.label})` : ""}`);
    return button;
  }

  function draw() {
    const focused = document.activeElement;
    const focusKey = focused && (focused.dataset || {}).node
      ? `node:${focused.dataset.node}`
      : focused && focused.dataset && focused.dataset.after ? `slot:${focused.dataset.after}:${focused.dataset.field}` : "";
    $("canvas-loading").hidden = true;
    nodeLayer.replaceChildren();
    edgeLayer.replaceChildren();
    const items = {}; // layout id → element
    const trigger = el("a", "jnode jnode-trigger");
    trigger.href = root.dataset.settingsUrl;
    trigger.append(el("div", "jnode-type", "Starts when"), el("div", "jnode-summary", state.journey.trigger));
    trigger.title = "Change the trigger in Settings";
    items.__trigger = trigger;
    const editable = state.journey.editable;
    canvas.classList.toggle("readonly", !editable);
    state.nodes.forEach((node) => {
      items[node.id] = card(node);
      node.slots.forEach((slot) => {
        if (!slot.target && editable) items[slotKey(node.id, slot.field)] = placeholder(node.id, slot);
      });
    });
    if (!state.nodes.length && editable) {
      const first = el("button", "slot-add slot-first");
      first.type = "button";
      first.dataset.after = "";
      first.dataset.field = "";
      first.append(el("span", "slot-plus", "+"), el("span", "", "Add the first step"));
      items.__first = first;
    }
    Object.values(items).forEach((item) => nodeLayer.append(item));
    layout(items);
    Object.entries(items).forEach(([id, item]) => {
      const box = boxes[id];
      item.style.left = `${box.x}px`;
      item.style.top = `${box.y}px`;
    });
    placePorts();
    drawEdges();
    renderChrome();
    if (!fitted) { fit(); fitted = true; } else { sizeCanvas(); applyView(); }
    if (focusKey) {
      const [kind, a, ...rest] = focusKey.split(":");
      const again = kind === "node"
        ? nodeLayer.querySelector(`.jnode[data-node="${CSS.escape(a)}"]`)
        : nodeLayer.querySelector(`.slot-add[data-after="${CSS.escape(a)}"][data-field="${CSS.escape(rest.join(":"))}"]`);
      if (again) again.focus({ preventScroll: true });
    }
  }

  function layout(items) {
    const g = new window.dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "TB", nodesep: 36, ranksep: 64, edgesep: 24, marginx: 24, marginy: 24 });
    g.setDefaultEdgeLabel(() => ({}));
    const sizes = {};
    Object.entries(items).forEach(([id, item]) => {
      sizes[id] = { w: item.offsetWidth, h: item.offsetHeight };
      g.setNode(id, { width: sizes[id].w, height: sizes[id].h });
    });
    const entry = state.journey.entry_node;
    if (entry && items[entry]) g.setEdge("__trigger", entry, { minlen: 1 }, "entry");
    else if (items.__first) g.setEdge("__trigger", "__first", {}, "first");
    state.nodes.forEach((node) => {
      node.slots.forEach((slot) => {
        const to = slot.target || slotKey(node.id, slot.field);
        if (items[to]) g.setEdge(node.id, to, { width: 110, height: 26, labelpos: "c" }, slot.field);
      });
    });
    window.dagre.layout(g);
    boxes = {};
    routes = {};
    const placed = new Set(state.nodes.filter((n) => n.position).map((n) => n.id));
    g.edges().forEach((e) => {
      if (placed.has(e.v) || placed.has(e.w) || !e.name) return;
      const edge = g.edge(e);
      routes[`${e.v}|${e.name}`] = { points: edge.points, x: edge.x, y: edge.y };
    });
    g.nodes().forEach((id) => {
      const n = g.node(id);
      boxes[id] = { x: Math.round(n.x - sizes[id].w / 2), y: Math.round(n.y - sizes[id].h / 2), w: sizes[id].w, h: sizes[id].h };
    });
    // Dragged steps keep their place; their open slots follow them.
    state.nodes.forEach((node) => {
      if (!node.position) return;
      const box = boxes[node.id];
      const dx = node.position[0] - box.x;
      const dy = node.position[1] - box.y;
      box.x += dx;
      box.y += dy;
      node.slots.forEach((slot) => {
        const open = boxes[slotKey(node.id, slot.field)];
        if (open) { open.x += dx; open.y += dy; }
      });
    });
  }

  // Ports sit under the card in the left-to-right order of where they lead, so the lines do not cross below it.
  function portOrder(node) {
    const centre = (slot) => {
      const box = boxes[slot.target || slotKey(node.id, slot.field)];
      return box ? box.x + box.w / 2 : 0;
    };
    return node.slots.map((slot, index) => [centre(slot), index]).sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .map(([, index]) => index);
  }

  function portPoint(node, index) {
    const box = boxes[node.id];
    const rank = portOrder(node).indexOf(index);
    return { x: box.x + (box.w * (rank + 1)) / (node.slots.length + 1), y: box.y + box.h };
  }

  function placePorts() {
    state.nodes.forEach((node) => {
      const cardEl = nodeLayer.querySelector(`.jnode[data-node="${CSS.escape(node.id)}"]`);
      if (!cardEl) return;
      node.slots.forEach((slot, index) => {
        const port = cardEl.querySelector(`.jnode-port[data-field="${CSS.escape(slot.field)}"]`);
        if (port) port.style.left = `${portPoint(node, index).x - boxes[node.id].x - 7}px`;
      });
    });
  }

  function curve(a, b) {
    const dy = Math.max(40, Math.abs(b.y - a.y) / 2);
    return `M${a.x},${a.y} C${a.x},${a.y + dy} ${b.x},${b.y - dy} ${b.x},${b.y}`;
  }

  // A line through dagre's route, its corners rounded: from the port to the top of the target card.
  function routed(points) {
    let d = `M${points[0].x},${points[0].y}`;
    for (let i = 1; i < points.length - 1; i += 1) {
      const mid = { x: (points[i].x + points[i + 1].x) / 2, y: (points[i].y + points[i + 1].y) / 2 };
      d += ` Q${points[i].x},${points[i].y} ${mid.x},${mid.y}`;
    }
    const last = points[points.length - 1];
    return `${d} L${last.x},${last.y}`;
  }

  function midpoint(a, b) {
    // The cubic above at t = 0.5: its control points sit straight below a and above b.
    const dy = Math.max(40, Math.abs(b.y - a.y) / 2);
    return { x: (a.x + b.x) / 2, y: (a.y + (a.y + dy) * 3 + (b.y - dy) * 3 + b.y) / 8 };
  }

  function pathPairs() {
    const pairs = new Set();
    const nodes = (state.path && state.path.nodes) || [];
    for (let i = 1; i < nodes.length; i += 1) pairs.add(`${nodes[i - 1]}→${nodes[i]}`);
    return pairs;
  }

  function drawEdges() {
    edgeLayer.replaceChildren();
    nodeLayer.querySelectorAll(".edge-add, .edge-label").forEach((item) => item.remove());
    const taken = pathPairs();
    const visited = new Set((state.path && state.path.nodes) || []);
    nodeLayer.querySelectorAll(".jnode[data-node]").forEach((item) => {
      item.classList.toggle("jnode-path", visited.has(item.dataset.node));
    });
    const line = (from, to, classes, route) => {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", route ? routed([from, ...route.points.slice(1, -1), to]) : curve(from, to));
      path.setAttribute("class", classes);
      path.setAttribute("marker-end", classes.includes("edge-path") ? "url(#arrow-path)" : "url(#arrow)");
      edgeLayer.append(path);
      return path;
    };
    const entry = state.journey.entry_node;
    const start = boxes.__trigger;
    const head = boxes[entry] || boxes.__first;
    if (start && head) {
      line({ x: start.x + start.w / 2, y: start.y + start.h }, { x: head.x + head.w / 2, y: head.y }, "edge edge-entry");
    }
    state.nodes.forEach((node) => {
      node.slots.forEach((slot, index) => {
        const from = portPoint(node, index);
        const targetId = slot.target || slotKey(node.id, slot.field);
        const box = boxes[targetId];
        if (!box) return;
        const to = { x: box.x + box.w / 2, y: box.y };
        const onPath = slot.target && taken.has(`${node.id}→${slot.target}`);
        const route = routes[`${node.id}|${slot.field}`];
        const path = line(from, to, `edge${slot.target ? "" : " edge-open"}${onPath ? " edge-path" : ""}`, route);
        path.dataset.from = node.id;
        path.dataset.field = slot.field;
        if (!slot.target || !state.journey.editable) return;
        const mid = route && route.x !== undefined ? { x: route.x, y: route.y } : midpoint(from, to);
        const add = el("button", "edge-add", "+");
        add.type = "button";
        add.dataset.after = node.id;
        add.dataset.field = slot.field;
        add.dataset.label = slot.label;
        add.setAttribute("aria-label", `Add a step between ${node.id} and ${slot.target}`);
        add.style.left = `${mid.x - 11}px`;
        add.style.top = `${mid.y - 11}px`;
        // Right after its step in the DOM, so Tab goes from a step to the "+" of its paths.
        const sourceEl = nodeLayer.querySelector(`.jnode[data-node="${CSS.escape(node.id)}"]`);
        if (sourceEl) sourceEl.after(add); else nodeLayer.append(add);
        if (slot.label || slot.count) {
          const label = el("span", `edge-label${onPath ? " edge-label-path" : ""}`);
          label.dataset.edge = `${node.id}:${slot.field}`;
          if (slot.label) label.append(el("span", "", slot.label));
          if (slot.count) label.append(el("b", "edge-count", String(slot.count)));
          label.style.left = `${mid.x + 16}px`;
          label.style.top = `${mid.y - 10}px`;
          nodeLayer.append(label);
        }
      });
    });
    const width = Math.max(...Object.values(boxes).map((b) => b.x + b.w)) + 80;
    const height = Math.max(...Object.values(boxes).map((b) => b.y + b.h)) + 80;
    edgesSvg.setAttribute("width", String(width));
    edgesSvg.setAttribute("height", String(height));
    world.dataset.width = String(width);
    world.dataset.height = String(height);
  }

  function renderChrome() {
    const t = state.journey.totals;
    $("totals").textContent = `${t.entered} entered · ${t.active} in progress · ${t.completed} completed · ${t.converted} converted`;
    const checks = $("checks");
    checks.replaceChildren();
    const invalid = state.nodes.filter((n) => n.problems.length).length;
    if (state.ready) {
      const draft = state.journey.status === "draft";
      checks.append(el("p", "ok", draft ? "✓ All checks pass: ready to publish." : "✓ All checks pass."));
    } else {
      const count = state.problems.length + state.nodes.reduce((sum, n) => sum + n.problems.length, 0);
      const head = el("p", "checks-head", `${count} thing${count === 1 ? "" : "s"} to fix before publishing`);
      if (invalid) head.append(document.createTextNode(`: ${invalid} step${invalid === 1 ? "" : "s"} marked in red`));
      checks.append(head);
      if (state.problems.length) {
        const list = el("ul", "problems");
        state.problems.forEach((text) => list.append(el("li", "error", text)));
        checks.append(list);
      }
    }
    document.querySelectorAll("[data-needs-ready]").forEach((button) => {
      button.disabled = !state.ready;
      button.title = state.ready ? "" : "Fix the steps marked in red first";
    });
  }

  // --- view: pan and zoom ---------------------------------------------------------------------------------------

  function applyView() {
    world.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.k})`;
  }

  // Fit the width (never below a readable size) and let the canvas grow with the journey, up to most of a screen;
  // what does not fit is reached by panning.
  function sizeCanvas() {
    const height = Number(world.dataset.height || 1);
    const wanted = Math.round(Math.min(Math.max(480, height * view.k + 24), window.innerHeight * 0.85));
    if (wanted > canvas.clientHeight) canvas.style.height = `${wanted}px`; // grows with the journey, never jumps back
  }

  // Move the view so a card is inside it (a step just added may be drawn below the visible part).
  function reveal(id) {
    const box = boxes[id];
    if (!box) return;
    const left = view.x + box.x * view.k;
    const top = view.y + box.y * view.k;
    const margin = 24;
    if (left < margin) view.x += margin - left;
    if (left + box.w * view.k > canvas.clientWidth - margin) view.x -= left + box.w * view.k - canvas.clientWidth + margin;
    if (top < margin) view.y += margin - top;
    if (top + box.h * view.k > canvas.clientHeight - margin) view.y -= top + box.h * view.k - canvas.clientHeight + margin;
    applyView();
  }

  function fit(all) {
    const width = Number(world.dataset.width || 1);
    const height = Number(world.dataset.height || 1);
    view = { k: Math.max(0.75, Math.min(1, canvas.clientWidth / width)), x: 0, y: 0 };
    sizeCanvas();
    if (all) view.k = Math.max(0.3, Math.min(1, canvas.clientWidth / width, canvas.clientHeight / height));
    view.x = Math.max(0, (canvas.clientWidth - width * view.k) / 2);
    applyView();
  }

  function zoom(factor, cx, cy) {
    const k = Math.min(2, Math.max(0.3, view.k * factor));
    const x = cx === undefined ? canvas.clientWidth / 2 : cx;
    const y = cy === undefined ? canvas.clientHeight / 2 : cy;
    view.x = x - ((x - view.x) * k) / view.k;
    view.y = y - ((y - view.y) * k) / view.k;
    view.k = k;
    applyView();
  }

  document.querySelectorAll("[data-zoom]").forEach((button) => {
    button.addEventListener("click", () => {
      if (button.dataset.zoom === "fit") fit(true);
      else zoom(button.dataset.zoom === "in" ? 1.2 : 1 / 1.2);
    });
  });

  // The wheel (or two fingers) moves around; with Ctrl (or a pinch) it zooms at the pointer.
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) {
      const rect = canvas.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - rect.left, event.clientY - rect.top);
    } else {
      view.x -= event.shiftKey ? event.deltaY : event.deltaX;
      view.y -= event.shiftKey ? 0 : event.deltaY;
      applyView();
    }
  }, { passive: false });

  canvas.addEventListener("keydown", (event) => {
    if (event.target !== canvas) return;
    const step = 40;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[event.key]) {
      view.x += moves[event.key][0];
      view.y += moves[event.key][1];
      applyView();
      event.preventDefault();
    } else if (event.key === "+" || event.key === "=") zoom(1.2);
    else if (event.key === "-") zoom(1 / 1.2);
  });

  $("tidy").addEventListener("click", () => post(root.dataset.layoutUrl, { reset: true }));

  // --- pointer: pan the background, drag a card, connect from a port ------------------------------------------------

  function toWorld(event) {
    const rect = canvas.getBoundingClientRect();
    return { x: (event.clientX - rect.left - view.x) / view.k, y: (event.clientY - rect.top - view.y) / view.k };
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const port = event.target.closest(".jnode-port");
    const cardEl = event.target.closest(".jnode[data-node]");
    if (port && cardEl && state.journey.editable) return startConnect(event, cardEl.dataset.node, port.dataset.field);
    if (cardEl) return startDrag(event, cardEl);
    if (event.target.closest("button, a, .edge-label")) return undefined;
    return startPan(event);
  });

  function track(event, onMove, onUp) {
    busy = true;
    const target = event.target;
    target.setPointerCapture(event.pointerId);
    const move = (e) => onMove(e);
    const up = (e) => {
      target.removeEventListener("pointermove", move);
      target.removeEventListener("pointerup", up);
      target.removeEventListener("pointercancel", up);
      busy = false;
      onUp(e);
      if (waiting) { const data = waiting; waiting = null; setState(data); }
    };
    target.addEventListener("pointermove", move);
    target.addEventListener("pointerup", up);
    target.addEventListener("pointercancel", up);
  }

  function startPan(event) {
    const start = { x: event.clientX, y: event.clientY, vx: view.x, vy: view.y };
    canvas.classList.add("panning");
    track(event, (e) => {
      view.x = start.vx + e.clientX - start.x;
      view.y = start.vy + e.clientY - start.y;
      applyView();
    }, () => canvas.classList.remove("panning"));
  }

  function startDrag(event, cardEl) {
    const id = cardEl.dataset.node;
    const box = boxes[id];
    const node = state.nodes.find((n) => n.id === id);
    const start = { x: event.clientX, y: event.clientY, bx: box.x, by: box.y };
    const open = node.slots.filter((s) => !s.target).map((s) => [boxes[slotKey(id, s.field)], slotKey(id, s.field)]);
    const openStart = open.map(([b]) => (b ? { x: b.x, y: b.y } : null));
    let moved = false;
    track(event, (e) => {
      const dx = (e.clientX - start.x) / view.k;
      const dy = (e.clientY - start.y) / view.k;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      moved = true;
      cardEl.classList.add("dragging");
      box.x = Math.round(start.bx + dx);
      box.y = Math.round(start.by + dy);
      cardEl.style.left = `${box.x}px`;
      cardEl.style.top = `${box.y}px`;
      open.forEach(([b, key], i) => {
        if (!b) return;
        b.x = openStart[i].x + (box.x - start.bx);
        b.y = openStart[i].y + (box.y - start.by);
        const item = nodeLayer.querySelector(`.slot-add[data-after="${CSS.escape(id)}"][data-field="${CSS.escape(key.split(":").slice(2).join(":"))}"]`);
        if (item) { item.style.left = `${b.x}px`; item.style.top = `${b.y}px`; }
      });
      placePorts();
      drawEdges();
    }, () => {
      cardEl.classList.remove("dragging");
      if (moved) {
        waiting = null; // the answer to this post is newer
        node.position = [box.x, box.y];
        post(root.dataset.layoutUrl, { positions: { [id]: [box.x, box.y] } });
      } else {
        openNode(id);
      }
    });
  }

  function startConnect(event, fromId, field) {
    event.stopPropagation();
    const node = state.nodes.find((n) => n.id === fromId);
    const from = portPoint(node, node.slots.findIndex((s) => s.field === field));
    const temp = document.createElementNS(SVG, "path");
    temp.setAttribute("class", "edge edge-drawing");
    edgeLayer.append(temp);
    track(event, (e) => temp.setAttribute("d", curve(from, toWorld(e))), (e) => {
      temp.remove();
      const hit = document.elementFromPoint(e.clientX, e.clientY);
      const target = hit && hit.closest(".jnode[data-node]");
      if (target && target.dataset.node !== fromId) {
        waiting = null;
        post(root.dataset.edgeUrl, { node: fromId, field, target: target.dataset.node });
      }
    });
  }

  // --- side panel -------------------------------------------------------------------------------------------------

  function showPanel(html) {
    panelBody.innerHTML = html; // drawn by our server, every value escaped by its templates
    panelBody.hidden = false;
    panelEmpty.hidden = true;
    panel.classList.add("open");
    splitTotal();
    livePreview();
    const form = panelBody.querySelector("form");
    nodeLayer.querySelectorAll(".jnode-selected").forEach((item) => item.classList.remove("jnode-selected"));
    if (form && form.dataset.node) {
      const cardEl = nodeLayer.querySelector(`.jnode[data-node="${CSS.escape(form.dataset.node)}"]`);
      if (cardEl) cardEl.classList.add("jnode-selected");
    }
  }

  function closePanel() {
    panelBody.hidden = true;
    panelBody.replaceChildren();
    panelEmpty.hidden = false;
    panel.classList.remove("open");
    nodeLayer.querySelectorAll(".jnode-selected").forEach((item) => item.classList.remove("jnode-selected"));
  }

  async function getPanel(url) {
    const response = await fetch(url, { credentials: "same-origin" });
    showPanel(await response.text());
    const first = panelBody.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  }

  function openNode(id) {
    getPanel(`${root.dataset.panelUrl}${encodeURIComponent(id)}/`);
  }

  function openPicker(after, field, label) {
    const picker = $("type-picker").content.cloneNode(true);
    picker.querySelector(".type-picker-where").textContent = after
      ? `After “${after}”${label ? ` (${label})` : ""}`
      : "The first step of the journey";
    picker.querySelectorAll("[data-type]").forEach((button) => {
      button.addEventListener("click", () => {
        const query = new URLSearchParams({ type: button.dataset.type, after, field });
        getPanel(`${root.dataset.panelUrl}?${query}`);
      });
    });
    panelBody.replaceChildren(picker);
    panelBody.hidden = false;
    panelEmpty.hidden = true;
    panel.classList.add("open");
    const first = panelBody.querySelector("[data-type]");
    if (first) first.focus();
  }

  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || panelBody.hidden) return;
    const form = panelBody.querySelector("form");
    const id = form && form.dataset.node;
    closePanel();
    const back = id && nodeLayer.querySelector(`.jnode[data-node="${CSS.escape(id)}"]`);
    (back || canvas).focus();
  });

  nodeLayer.addEventListener("click", (event) => {
    const add = event.target.closest("[data-after]");
    if (add) openPicker(add.dataset.after, add.dataset.field, add.dataset.label || "");
  });

  nodeLayer.addEventListener("keydown", (event) => {
    const cardEl = event.target.closest(".jnode[data-node]");
    if (cardEl && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      openNode(cardEl.dataset.node);
    }
    if (cardEl && event.key === "Delete" && state.journey.editable
        && window.confirm(`Delete the step “${cardEl.dataset.node}”?`)) {
      post(root.dataset.deleteUrl, { node: cardEl.dataset.node }).then((done) => { if (done) closePanel(); });
    }
  });

  async function sendForm(form, rerender) {
    const data = new FormData(form);
    if (rerender) data.set("_rerender", "1");
    const focusName = document.activeElement && document.activeElement.name;
    const response = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
    showPanel(await response.text());
    const saved = response.headers.get("X-Journey-Saved");
    if (saved) {
      lastText = "";
      await load();
      showPanel(panelBody.innerHTML);
      reveal(saved);
    }
    const again = focusName && panelBody.querySelector(`[name="${CSS.escape(focusName)}"]`);
    const error = panelBody.querySelector(".has-error input, .has-error select, .has-error textarea");
    if (error) error.focus();
    else if (again) again.focus();
  }

  panelBody.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-panel-form]");
    if (!form) return;
    event.preventDefault();
    sendForm(form, false);
  });

  panelBody.addEventListener("change", (event) => {
    if (event.target.dataset.rerender) sendForm(event.target.form, true);
  });

  panelBody.addEventListener("input", (event) => {
    if (event.target.dataset.percent) splitTotal();
    livePreview();
  });

  // The interactive message's preview follows what is typed: text, title, small print and the options' titles.
  function livePreview() {
    const preview = panelBody.querySelector("[data-live-preview]");
    if (!preview) return;
    const value = (name) => {
      const input = panelBody.querySelector(`[name="${name}"]`);
      return input ? input.value.trim() : "";
    };
    ["header", "text", "footer"].forEach((name) => {
      const part = preview.querySelector(`[data-preview="${name}"]`);
      if (part) { part.textContent = value(name); part.hidden = !value(name); }
    });
    const buttons = preview.querySelector("[data-preview=buttons]");
    const titles = Array.from(panelBody.querySelectorAll("[name^=button_][name$=_title]"))
      .map((input) => input.value.trim()).filter(Boolean);
    const label = value("list_button");
    buttons.replaceChildren(...(label ? [`☰ ${label}`] : titles).map((title) => el("span", "preview-button", title)));
  }

  panelBody.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "close") closePanel();
    if (action === "entry") {
      if (await post(root.dataset.entryUrl, { node: button.dataset.node })) openNode(button.dataset.node);
    }
    if (action === "delete" && window.confirm(`Delete the step “${button.dataset.node}”?`)) {
      if (await post(root.dataset.deleteUrl, { node: button.dataset.node })) closePanel();
    }
  });

  function splitTotal() {
    const out = panelBody.querySelector("[data-percent-total]");
    if (!out) return;
    const total = Array.from(panelBody.querySelectorAll("[data-percent]"))
      .reduce((sum, input) => sum + (Number(input.value) || 0), 0);
    out.textContent = total === 100 ? "Total: 100% ✓" : `Total: ${total}%, it must be 100%`;
    out.classList.toggle("error", total !== 100);
  }

  // --- test event and live counts ---------------------------------------------------------------------------------

  $("test-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const select = $("test-contact");
    const name = select.options[select.selectedIndex] ? select.options[select.selectedIndex].text : "";
    const data = await post(root.dataset.testUrl, { contact: select.value });
    if (!data) return;
    enrollment = data.enrollment;
    lastText = "";
    flash(`Test sent as ${name}: the path it takes is highlighted and follows along.`, false);
  });

  async function poll() {
    if (!document.hidden && !busy) {
      try { await load(); } catch { pollMs = POLL_MAX_MS; }
    }
    setTimeout(poll, pollMs);
  }
  load().then(() => setTimeout(poll, pollMs));
})();
