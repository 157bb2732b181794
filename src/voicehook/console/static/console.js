// voicehook console: the page. Plain JavaScript, no build step, no libraries.
// The server keeps the conversations; this page draws them and sends turns.
"use strict";

const $ = (id) => document.getElementById(id);
let version = -1;
let busy = false;
let composing = false; // a Korean (or any) IME composition is in progress

// ------------------------------------------------------------------ small helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) { // no clipboard API (not a secure context): select and copy
    const area = el("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "copied";
  setTimeout(() => { button.textContent = "copy"; }, 1200);
}

function jsonBlock(title, value, open) {
  const text = pretty(value);
  const copy = el("button", { type: "button", class: "copy", text: "copy" });
  copy.addEventListener("click", (ev) => { ev.preventDefault(); copyText(text, copy); });
  const box = el("details", { class: "json-box" },
    el("summary", {}, title, copy), el("pre", { class: "json" }, text));
  if (open) box.open = true;
  return box;
}

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Voicehook-Console"] = "1";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const data = (resp.headers.get("content-type") || "").startsWith("application/json")
    ? await resp.json() : await resp.text();
  if (!resp.ok) throw new Error(data && data.message ? data.message : `HTTP ${resp.status}`);
  return data;
}

function notice(text, isError) {
  const box = $("notice");
  box.hidden = !text;
  box.textContent = text || "";
  box.style.color = isError ? "var(--bad)" : "";
}

// ------------------------------------------------------------------ drawing

function describeState(both) {
  const state = both && both.conversation;
  if (!state) return "";
  if (!state.active) return "no session (the next utterance opens one)";
  const w = state.waiting;
  let what = "listening";
  if (w && w.type === "slot") what = `slot filling: ${w.param} of ${w.action}`;
  else if (w && w.type === "exception") what = `exception wait: ${w.code} of ${w.action}`;
  else if (w && w.type === "listen") what = `multi-turn: ${w.action}`;
  return `session ${String(state.session_id || "").slice(0, 8)} open, ${what}`;
}

function drawState(state) {
  if (!state) return;
  if (state.device) {
    const audio = state.device.audio || {};
    let text = audio.playerActivity || "IDLE";
    if (audio.token) text += `  token=${audio.token}  offset=${audio.offsetInMilliseconds} ms`;
    $("audio").textContent = text;
  } else {
    $("audio").textContent = "no AudioPlayer on this channel";
  }
  $("summary").textContent = describeState(state);
  $("state").textContent = pretty(state);
}

function turnCard(view) {
  const card = el("div", { class: "turn" });
  const row = (key, ...value) => card.append(el("div", { class: "row" },
    el("span", { class: "key", text: key }), ...value));
  if (view.kind === "user") {
    const ents = view.entities.map((e) => `${e.role}=${e.value}` + (e.text && e.text !== e.value ? ` (“${e.text}”)` : ""));
    const score = typeof view.score === "number" ? ` ${view.score.toFixed(2)}` : "";
    row("intent", el("b", {}, view.intent || "(none)"), score);
    if (ents.length) row("entities", ents.join(", "));
  } else if (view.kind === "event" && view.event) {
    row("event", view.event.type);
  }
  if (view.actions.length) row("path", view.actions.join(" → "));
  if (view.channel) channelPart(view.channel, row, card);
  for (const call of view.calls) {
    const head = `${call.action} · HTTP ${call.status ?? "-"} · resultCode ${call.result_code ?? "-"} · ${call.elapsed_ms} ms`;
    const box = el("details", { class: `call ${call.outcome}` },
      el("summary", {}, el("span", { class: "key", text: "call" }), head));
    if (call.error) box.append(el("div", { class: "violation", text: call.error }));
    box.append(jsonBlock("request", call.request, true), jsonBlock("response", call.response, true));
    card.append(box);
  }
  for (const v of view.violations) card.append(el("div", { class: "violation", text: `violation: ${v}` }));
  for (const w of view.warnings) card.append(el("div", { class: "warning", text: `warning: ${w}` }));
  if (view.directives.length) card.append(jsonBlock(`directives: ${view.directives.map((d) => d.type).join(", ")}`, view.directives, false));
  card.append(jsonBlock(`state after turn ${view.turn}: ${describeState(view.state)}`, view.state, false));
  return card;
}

// What the channel exchanged: the request as the platform sent it and the answer.
function channelPart(channel, row, card) {
  const r = channel.recognised || {};
  let what = r.type || "";
  if (r.intent) {
    const slots = Object.entries(r.slots || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    what += ` ${r.intent}${slots ? ` {${slots}}` : ""}`;
  }
  if (r.event) what += ` ${r.event}`;
  if (r.text !== undefined && r.text !== null) what += ` “${r.text}”`;
  row(channel.name, el("b", {}, what), ` · HTTP ${channel.status}`);
  if (channel.end !== undefined && channel.end !== null && channel.name === "clova") {
    row("session", channel.end ? "shouldEndSession: true (the session ends)" : "shouldEndSession: false (the mic listens)");
  }
  if (channel.input_hint) row("inputHint", channel.input_hint + (channel.end ? ` · endOfConversation ${channel.end}` : ""));
  if (channel.reprompt) row("reprompt", channel.reprompt);
  if (channel.directives && channel.directives.length) row("directives", channel.directives.join(", "));
  const box = el("details", { class: `exchange ${channel.name}` },
    el("summary", {}, el("span", { class: "key", text: "JSON" }), channel.exchanges.map((x) => x.title).join(" · ")));
  for (const x of channel.exchanges) box.append(jsonBlock(x.title, x.json, true));
  card.append(box);
}

function drawTurn(input, view) {
  const log = $("log");
  if (input.user !== undefined) {
    log.append(el("div", { class: "bubble user", text: input.user === "" ? "(invocation name)" : input.user }));
  } else if (input.event !== undefined) {
    const shown = view.event && view.event.type ? view.event.type : input.event;
    log.append(el("div", { class: "bubble event", text: `event ${shown}` }));
  } else {
    log.append(el("div", { class: "bubble event", text: "reset" }));
  }
  log.append(turnCard(view));
  if (view.prompt !== null && view.kind !== "reset") {
    const badge = el("span", { class: `badge ${view.prompt_type}`, text: `${view.prompt_type}` });
    const source = el("span", { class: "badge", text: view.prompt_source || "" });
    log.append(el("div", { class: "bubble prompt" }, view.prompt || "(silent)", badge, source));
  }
  if (view.session_ended) log.append(el("div", { class: "conv-head", text: "session ended" }));
  log.scrollTop = log.scrollHeight;
}

function drawAll(info) {
  version = info.version;
  $("play").textContent = info.play
    ? `${info.play.name}${info.play.invocation ? ` · “${info.play.invocation}”` : ""} · ${info.play.actions} actions`
    : "no play loaded";
  const select = $("channel");
  select.replaceChildren(...info.channels.map((c) => {
    const opt = el("option", { value: c.name, text: c.label });
    if (c.name === info.channel) opt.selected = true;
    return opt;
  }));
  const problems = $("problems");
  problems.hidden = info.problems.length === 0;
  problems.textContent = info.problems.length
    ? "The play did not load; the last good play keeps running.\n" + info.problems.map((p) => p.text).join("\n")
    : "";
  if (!$("save-name").value) $("save-name").value = info.default_save_name;
  $("channel-note").textContent = info.channel_note || "";
  const save = $("save");
  save.dataset.channel = info.test_channel || "nugu";
  save.disabled = !info.transcripts;
  save.title = info.transcripts
    ? `write the conversations on this channel as a transcript (voicehook test${info.test_channel !== "nugu" ? ` --channel ${info.test_channel}` : ""})`
    : "not on this channel: " + info.channel_note;
  $("save-name").disabled = !info.transcripts;
  const reload = $("reload-note");
  reload.hidden = !info.reload_note;
  reload.textContent = info.reload_note || "";
  drawEvents(info.events || []);
  const log = $("log");
  log.replaceChildren();
  for (const conv of info.conversations) {
    log.append(el("div", { class: "conv-head", text: `${conv.name} · ${conv.channel}${conv.note ? ` · ${conv.note}` : ""}` }));
    const marks = conv.marks || [];
    conv.turns.forEach((t, i) => {
      for (const m of marks) if (m.after === i) log.append(el("div", { class: "mark", text: m.text }));
      drawTurn(t.input, t.view);
    });
    for (const m of marks) if (m.after >= conv.turns.length) log.append(el("div", { class: "mark", text: m.text }));
  }
  drawState(info.state);
}

async function refresh() {
  drawAll(await api("GET", "/api/info"));
}

// ------------------------------------------------------------------ actions

async function sendTurn(body) {
  if (busy) return;
  busy = true;
  try {
    const data = await api("POST", "/api/turn", body);
    drawTurn(body, data.view);
    drawState(data.state);
    notice("");
  } catch (err) {
    notice(String(err.message || err), true);
  } finally {
    busy = false;
  }
}

function sendText() {
  const input = $("text");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  sendTurn({ user: text });
}

$("say").addEventListener("submit", (ev) => { ev.preventDefault(); sendText(); });
const textBox = $("text");
textBox.addEventListener("compositionstart", () => { composing = true; });
textBox.addEventListener("compositionend", () => { composing = false; });
textBox.addEventListener("keydown", (ev) => {
  if (ev.key !== "Enter") return;
  // Enter during an IME composition ends the composition; it must not send the message.
  // keyCode 229 is what some browsers report for the Enter that ends a composition.
  if (ev.isComposing || composing || ev.keyCode === 229) {
    ev.preventDefault();
    return;
  }
  ev.preventDefault();
  sendText();
});

// The device-event buttons of the channel: {name sent, label shown}.
function drawEvents(events) {
  const box = $("events");
  box.replaceChildren(...events.map((e) => {
    const button = el("button", { type: "button", text: e.label });
    button.title = `send ${e.label}`;
    button.dataset.event = e.name;
    button.addEventListener("click", () => sendTurn({ event: e.name }));
    return button;
  }));
  $("events-none").hidden = events.length > 0;
}

$("reset").addEventListener("click", async () => {
  try { drawAll(await api("POST", "/api/reset", {})); notice(""); } catch (err) { notice(err.message, true); }
});

$("channel").addEventListener("change", async (ev) => {
  try { drawAll(await api("POST", "/api/channel", { name: ev.target.value })); } catch (err) { notice(err.message, true); }
});

$("replay").addEventListener("change", async (ev) => {
  const file = ev.target.files[0];
  if (!file) return;
  try {
    const data = await api("POST", "/api/replay", { yaml: await file.text() });
    drawAll(data);
    notice(`replayed ${data.turns} turns from ${file.name}`);
  } catch (err) {
    notice(`replay failed: ${err.message}`, true);
  }
  ev.target.value = "";
});

$("save").addEventListener("click", async () => {
  const name = $("save-name").value.trim();
  try {
    const data = await api("POST", "/api/save", { name });
    const link = el("a", { download: name.split("/").pop(), text: "download" });
    link.href = URL.createObjectURL(new Blob([data.yaml], { type: "application/yaml" }));
    const box = $("notice");
    box.hidden = false;
    box.style.color = "";
    const channel = $("save").dataset.channel;
    const flag = channel && channel !== "nugu" ? ` --channel ${channel}` : "";
    box.replaceChildren(`saved ${data.path} — run: voicehook test ${data.path}${flag}  `, link);
    box.dataset.saved = data.path;
    $("save-name").value = "";
  } catch (err) {
    notice(`not saved: ${err.message}`, true);
  }
});

// Reloads (an edited play.yaml or handler) and load problems come from the server.
async function poll() {
  try {
    const s = await api("GET", "/api/status");
    if (s.version !== version) await refresh();
  } catch (err) {
    // the console stopped; keep the page as it is
  }
}

refresh().then(() => setInterval(poll, 1000));
