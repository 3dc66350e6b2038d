// The admin page: asks for ADMIN_KEY, keeps it in this tab (sessionStorage) and calls the admin API.
// Everything the API returns goes into the page as text (textContent, attributes), never as HTML.
"use strict";
(() => {
  const KEY = "gbp-admin-key";
  const REFRESH_MS = 4000;
  const STATES = { active: "active", cooling_down: "cooling down", needs_login: "needs login", disabled: "disabled" };
  const LABELS = ["Account", "State", "Cooldown", "Sign-in", "Requests / errors", "Cookies expire", "Last error", ""];
  const $ = (id) => document.getElementById(id);
  const rows = new Map(); // account id -> its <tr>, updated in place so a code being typed survives a refresh
  let timer = null;
  let generation = 0; // a refresh answered after a newer one started is dropped
  let open = false;

  function el(tag, props = {}, ...children) {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children); // strings become text nodes
    return node;
  }

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // An admin API call with the key; the answer if it is a success (else an ApiError; a 401 signs out).
  async function call(method, path, body) {
    const init = { method, cache: "no-store", headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY)}` } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, "Cannot reach the proxy.");
    }
    if (response.status === 401) {
      signOut(open ? "The proxy no longer accepts this admin key: enter it again." : "Wrong admin key.");
      throw new ApiError(401, "wrong admin key");
    }
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      throw new ApiError(response.status, (data && data.error && data.error.message) || `HTTP ${response.status}`);
    }
    return response;
  }

  const api = async (method, path, body) => (await call(method, path, body)).json().catch(() => null);

  const accountPath = (id, action = "") => `accounts/${encodeURIComponent(id)}${action}`;

  // --- showing ----------------------------------------------------------------------------
  function duration(seconds, coarse = false) {
    const s = Math.max(0, Math.round(seconds));
    const pad = (n) => String(n).padStart(2, "0");
    if (s < 60) return `${s} s`;
    if (s < 3600) return coarse ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${pad(Math.floor(s / 60) % 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor(s / 3600) % 24} h`;
  }

  function relative(epoch) {
    const delta = epoch - Date.now() / 1000;
    return delta >= 0 ? `in ${duration(delta, true)}` : `${duration(-delta, true)} ago`;
  }

  const stamp = (epoch) => new Date(epoch * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

  function note(text, isError = false) {
    const notice = $("notice");
    notice.textContent = text;
    notice.className = isError ? "error" : "ok";
  }

  function newRow(id) {
    const tr = el("tr");
    const cells = LABELS.map((label) => {
      const td = tr.appendChild(el("td"));
      td.dataset.label = label; // the phone layout shows it before the value
      return td;
    });
    const parts = {
      id: el("strong", { className: "id" }), origin: el("small", { className: "muted" }),
      proxy: el("small", { className: "muted proxy" }),
      badge: el("span"), reason: el("small", { className: "muted" }),
      countdown: el("span", { className: "countdown" }),
      kinds: el("small", { className: "muted kinds" }),
      login: el("span"), loginDetail: el("small", { className: "muted" }),
      code: el("input", { type: "text", required: true, minLength: 6, maxLength: 6, pattern: "[A-Za-z0-9]{6}",
        autocomplete: "one-time-code", spellcheck: false, placeholder: "code", className: "code" }),
      counters: el("span"), expiry: el("span"), expiryDetail: el("small", { className: "muted" }),
      error: el("span", { className: "last-error" }), errorAt: el("small", { className: "muted" }),
      signIn: el("button", { type: "button", textContent: "Sign in" }),
      toggle: el("button", { type: "button" }),
      setProxy: el("button", { type: "button", textContent: "Set proxy", className: "small" }),
      clear: el("button", { type: "button", textContent: "Clear", className: "small" }),
      remove: el("button", { type: "button", textContent: "Delete", className: "danger" }),
    };
    parts.codeForm = el("form", { className: "code-form", method: "post" }, parts.code,
      el("button", { type: "submit", textContent: "Send code" }));
    parts.code.setAttribute("aria-label", `One-time code for ${id}`);
    for (const [name, verb] of [["signIn", "Sign in"], ["clear", "Clear cooldown of"], ["remove", "Delete"],
      ["setProxy", "Set the outbound proxy of"]]) {
      parts[name].setAttribute("aria-label", `${verb} ${id}`);
    }
    cells[0].append(parts.id, parts.origin, parts.proxy, parts.setProxy);
    cells[1].append(parts.badge, parts.reason);
    cells[2].append(parts.countdown, parts.clear, parts.kinds);
    cells[3].append(parts.login, parts.loginDetail, parts.codeForm);
    cells[4].append(parts.counters);
    cells[5].append(parts.expiry, parts.expiryDetail);
    cells[6].append(parts.error, parts.errorAt);
    cells[7].append(el("div", { className: "actions" }, parts.signIn, parts.toggle, parts.remove));
    cells[7].className = "actions-cell";
    wire(id, parts);
    tr.parts = parts;
    return tr;
  }

  function fill(tr, a) {
    const p = tr.parts;
    p.account = a;
    tr.className = `state-${a.state}`;
    p.id.textContent = a.id;
    p.origin.textContent = [a.email && a.email !== a.id ? a.email : "", `from ${a.source}`].filter(Boolean).join(" · ");
    // Its outbound proxy, password masked by the API: "" is UPSTREAM_PROXY, "none" direct.
    p.proxy.textContent = a.proxy === "none" ? "proxy: none (direct)" : a.proxy ? `proxy: ${a.proxy}` : "proxy: default";
    // Refused by the upstream (a second 403, or "Access Restricted" at sign-in): only Enable brings it back.
    p.badge.textContent = a.banned ? "banned" : STATES[a.state] || a.state;
    p.badge.className = `badge ${a.banned ? "banned" : a.state}`;
    p.reason.textContent = a.disabled_reason
      ? `${a.disabled_reason}${a.disabled_at ? ` · ${relative(a.disabled_at)}` : ""}` : a.needs_login_reason || "";
    p.reason.title = a.disabled_at ? `since ${stamp(a.disabled_at)}` : "";
    p.reason.className = a.banned ? "refusal" : "muted";
    p.countdown.dataset.until = a.cooldown_seconds ? Date.now() + a.cooldown_seconds * 1000 : "";
    p.countdown.title = a.cooldown_until ? `until ${stamp(a.cooldown_until)}` : "";
    tick(p.countdown);
    // Per kind: an image quota can be spent while the account still serves text. A text
    // cooldown blocks every kind; it is shown once.
    const kinds = Object.values(a.cooldowns || {});
    const own = kinds.filter((c) => !c.blocked_by);
    p.kinds.replaceChildren(...own.map((c) => el("span", { className: `kind ${c.cause}`,
      textContent: c === a.cooldowns.text ? `${c.text} (every kind)` : c.text })));
    const login = a.login || {};
    const waiting = login.status === "waiting_for_code";
    let status = login.status ? login.status.replaceAll("_", " ") : "—";
    if (login.running && !["running", "waiting_for_code"].includes(login.status)) status = "starting";
    else if (login.status === "running" && login.step) status = `running: ${login.step.replaceAll("_", " ")}`;
    p.login.textContent = status;
    p.login.className = `login ${login.status || ""}`;
    const retry = login.status === "failed" && login.next_attempt_at ? `next try ${relative(login.next_attempt_at)}` : "";
    p.loginDetail.textContent = [login.message, retry].filter(Boolean).join(" · ");
    p.codeForm.hidden = !waiting;
    p.counters.textContent = `${a.requests} / ${a.errors}`;
    p.counters.className = a.errors ? "has-errors" : "";
    const expired = a.cookie_expires_at && a.cookie_expires_at * 1000 < Date.now();
    p.expiry.textContent = a.cookie_expires_at ? stamp(a.cookie_expires_at) : a.cookie_fingerprint ? "unknown" : "no cookies";
    p.expiry.className = expired ? "expired" : "";
    p.expiryDetail.textContent = a.cookie_expires_at ? (expired ? "expired" : relative(a.cookie_expires_at)) : "";
    p.error.textContent = a.last_error || "—";
    p.error.title = a.last_error || "";
    p.errorAt.textContent = a.last_error && a.last_error_at ? relative(a.last_error_at) : "";
    p.toggle.textContent = a.disabled ? "Enable" : "Disable";
    p.toggle.setAttribute("aria-label", `${a.disabled ? "Enable" : "Disable"} ${a.id}`);
    for (const button of [p.signIn, p.toggle, p.clear, p.remove, p.setProxy]) enable(button, true); // a running sign-in answers 409
    p.clear.hidden = !a.cooldown_seconds && !kinds.length;
  }

  const enable = (button, yes) => { button.disabled = !yes || button.dataset.busy === "1"; };

  function tick(node) {
    const until = Number(node.dataset.until);
    if (!until) { node.textContent = "—"; return; }
    const left = (until - Date.now()) / 1000;
    node.textContent = left > 0 ? duration(left) : "ending…";
    if (left <= -1 && open) { node.dataset.until = ""; refresh(); }
  }

  function render(accounts) {
    const tbody = $("accounts").tBodies[0];
    const ids = new Set(accounts.map((a) => a.id));
    for (const [id, tr] of rows) if (!ids.has(id)) { tr.remove(); rows.delete(id); }
    accounts.forEach((account, index) => {
      let tr = rows.get(account.id);
      if (!tr) rows.set(account.id, (tr = newRow(account.id)));
      fill(tr, account);
      if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
    });
    $("count").textContent = `(${accounts.length})`;
    $("empty").hidden = accounts.length > 0;
    $("accounts").hidden = accounts.length === 0;
  }

  // --- client keys: their rows rebuilt at each refresh; an open edit form is kept across them --------
  const editing = new Map(); // key id -> its edit form's <tr>, never detached by a refresh (what is typed, and the focus, survive)
  const keyTitle = (k) => k.name || `${k.prefix}…`;
  const numberOrNull = (text) => (text.trim() === "" ? null : Number(text)); // the API says what is wrong with it
  const modelList = (text) => text.split(",").map((m) => m.trim()).filter(Boolean); // none: every model
  const localInput = (epoch) => { // a datetime-local value, in this browser's time zone like stamp()
    const d = new Date(epoch * 1000);
    return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  };

  function renderKeys(keys) {
    const limits = (k) => [k.rpm ? `${k.rpm} requests/min` : "", k.concurrent_streams
      ? `${k.concurrent_streams} streams` : "", k.daily_tokens ? `${k.daily_tokens} tokens/day` : ""]
      .filter(Boolean).join(", ") || "none";
    const now = Date.now() / 1000;
    const tbody = $("keys").tBodies[0];
    const editable = new Set(keys.filter((k) => !k.revoked).map((k) => k.id)); // a revoked key is not edited
    for (const [id, form] of editing) if (!editable.has(id)) { form.remove(); editing.delete(id); }
    for (const tr of [...tbody.rows]) if (!tr.classList.contains("key-edit")) tr.remove();
    const wanted = keys.flatMap((k) => {
      const state = k.revoked ? "revoked" : k.expires_at && k.expires_at <= now ? "expired" : "active";
      const revoke = el("button", { type: "button", textContent: "Revoke", className: "danger", hidden: k.revoked });
      revoke.setAttribute("aria-label", `Revoke key ${k.name || k.prefix}`);
      revoke.addEventListener("click", () => {
        if (!confirm(`Revoke ${k.name || k.prefix}…? Clients using it are refused within a few seconds.`)) return;
        act(revoke, () => api("DELETE", `keys/${encodeURIComponent(k.id)}`), () => `Key ${k.name || k.prefix}… revoked.`);
      });
      const edit = el("button", { type: "button", textContent: "Edit", hidden: k.revoked });
      edit.setAttribute("aria-label", `Edit key ${k.name || k.prefix}`);
      edit.setAttribute("aria-expanded", String(editing.has(k.id)));
      edit.addEventListener("click", () => toggleEdit(k, edit));
      const cells = [k.name || "—", `${k.prefix}…`, (k.models || []).join(", ") || "all", limits(k),
        k.expires_at ? stamp(k.expires_at) : "never", el("span", { className: `badge key-${state}`, textContent: state }),
        el("div", { className: "actions" }, edit, revoke)];
      const tr = el("tr", { className: `key-${state}` });
      ["Name", "Key", "Models", "Limits", "Expires", "State", ""].forEach((label, i) => {
        tr.appendChild(el("td", {}, cells[i])).dataset.label = label;
      });
      return editing.has(k.id) ? [tr, editing.get(k.id)] : [tr];
    });
    // The kept forms are already in place: rows go in around them, so a form is never moved
    wanted.forEach((tr, index) => { if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null); });
    $("key-count").textContent = `(${keys.length})`;
    $("no-keys").hidden = keys.length > 0;
    $("keys").hidden = keys.length === 0;
  }

  function toggleEdit(k, button) {
    if (editing.has(k.id)) {
      editing.get(k.id).remove();
      editing.delete(k.id);
      button.setAttribute("aria-expanded", "false");
      return;
    }
    const form = editForm(k, () => { form.remove(); editing.delete(k.id); });
    editing.set(k.id, form);
    button.closest("tr").after(form);
    button.setAttribute("aria-expanded", "true");
    form.querySelector("input").focus();
  }

  // The key's fields as they were when the form opened; only what was changed is sent (PATCH), so
  // an expiry left alone keeps its seconds and a field edited elsewhere meanwhile is not undone.
  function editForm(k, close) {
    const fields = [ // field, label, input properties, the value shown, the value sent
      ["name", "Name", { type: "text", maxLength: 100 }, k.name || "", (v) => v.trim()],
      ["models", "Models", { type: "text", placeholder: "all", className: "models" }, (k.models || []).join(", "),
        modelList],
      ["rpm", "Requests per minute", { type: "number", min: 1, placeholder: "no limit" }, k.rpm, numberOrNull],
      ["concurrent_streams", "Concurrent streams", { type: "number", min: 1, placeholder: "no limit" },
        k.concurrent_streams, numberOrNull],
      ["daily_tokens", "Daily token budget", { type: "number", min: 1, placeholder: "no budget",
        title: "estimated input + output tokens per UTC day" }, k.daily_tokens, numberOrNull],
      ["expires_at", "Expires (empty: never)", { type: "datetime-local" }, k.expires_at ? localInput(k.expires_at) : "",
        (v) => (v ? new Date(v).getTime() / 1000 : null)],
    ].map(([field, label, props, shown, sent]) => ({ field, sent, shown: shown == null ? "" : String(shown),
      input: el("input", { ...props, spellcheck: false, value: shown == null ? "" : String(shown) }), label }));
    const message = el("p", { role: "alert" });
    const save = el("button", { type: "submit", textContent: "Save" });
    const cancel = el("button", { type: "button", textContent: "Cancel", className: "quiet" });
    const form = el("form", { className: "key-form", method: "post" },
      el("div", { className: "fields" }, ...fields.map((f) => el("label", {}, f.label, f.input))),
      el("div", { className: "row" }, save, cancel, message));
    form.setAttribute("aria-label", `Edit key ${keyTitle(k)}`);
    const tr = el("tr", { className: "key-edit" }, el("td", { colSpan: 7 }, form));
    cancel.addEventListener("click", () => { close(); if (open) refresh(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = Object.fromEntries(fields.filter((f) => f.input.value !== f.shown).map((f) => [f.field, f.sent(f.input.value)]));
      message.textContent = "";
      if (!Object.keys(body).length) { message.textContent = "Nothing changed."; message.className = "muted"; return; }
      save.disabled = true;
      try {
        const saved = await api("PATCH", `keys/${encodeURIComponent(k.id)}`, body);
        close();
        note(`Key ${keyTitle(saved)} saved.`);
      } catch (error) {
        if (error.status !== 401) { message.textContent = error.message; message.className = "error"; }
      } finally {
        save.disabled = false;
        if (open) refresh();
      }
    });
    return tr;
  }

  $("new-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = $("key-message");
    const button = event.target.querySelector("button");
    const number = (id) => numberOrNull($(id).value);
    const days = number("key-days");
    const body = { name: $("key-name").value.trim(), rpm: number("key-rpm"), concurrent_streams: number("key-streams"),
      daily_tokens: number("key-tokens"), models: modelList($("key-models").value),
      expires_at: days === null ? null : Date.now() / 1000 + days * 86400 };
    button.disabled = true;
    try {
      const made = await api("POST", "keys", body);
      $("key-secret-value").textContent = made.key;
      $("key-secret").hidden = false;
      message.textContent = `Key ${made.name || made.prefix} created.`;
      message.className = "ok";
      for (const id of ["key-name", "key-models", "key-rpm", "key-streams", "key-tokens", "key-days"]) $(id).value = "";
    } catch (error) {
      if (error.status !== 401) { message.textContent = error.message; message.className = "error"; }
    } finally {
      button.disabled = false;
      if (open) refresh();
    }
  });

  async function refresh() {
    clearTimeout(timer);
    const mine = ++generation;
    try {
      const [data, keys] = await Promise.all([api("GET", "accounts"), api("GET", "keys")]);
      if (mine !== generation) return;
      render(data.accounts);
      renderKeys(keys.keys);
      if (!open) show();
      $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
      $("updated").className = "muted";
    } catch (error) {
      if (error.status === 401 || mine !== generation) return;
      if (!open) { $("signin-message").textContent = error.message; return; }
      $("updated").textContent = `not updated: ${error.message}`;
      $("updated").className = "error";
    }
    if (open && mine === generation) timer = setTimeout(refresh, document.hidden ? REFRESH_MS * 3 : REFRESH_MS);
  }

  // --- usage (GET /admin/usage): a chart per day, the table, totals, a CSV download ----------
  const SVG = "http://www.w3.org/2000/svg";
  const USAGE_MS = 60000; // usage changes slowly and reading it lists the whole store namespace
  const seen = { key: new Map(), model: new Set() }; // filter choices met so far (key -> its label)
  let usageTimer = null;
  let usageGeneration = 0;
  let lastDays = null; // what the chart last drew, redrawn when its width changes
  const count = new Intl.NumberFormat();
  const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
  const dayLabel = (day, long = false) => new Date(`${day}T00:00:00Z`).toLocaleDateString([],
    { timeZone: "UTC", month: "short", day: "numeric", ...(long ? { weekday: "short", year: "numeric" } : {}) });

  function svg(tag, attributes = {}, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }

  function usageQuery() {
    const days = Number($("usage-days").value);
    const to = new Date();
    const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - days + 1));
    const query = new URLSearchParams({ from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) });
    for (const name of ["key", "model"]) if ($(`usage-${name}`).value) query.set(name, $(`usage-${name}`).value);
    return query;
  }

  async function loadUsage() {
    clearTimeout(usageTimer);
    const mine = ++usageGeneration;
    const query = usageQuery();
    const csv = $("usage-csv");
    csv.href = `usage?${query}&format=csv`;
    csv.download = `usage-${query.get("from")}-${query.get("to")}.csv`;
    try {
      const [perDay, records] = await Promise.all([api("GET", `usage?${query}&group=day`), api("GET", `usage?${query}`)]);
      if (mine !== usageGeneration) return;
      remember(records.data);
      lastDays = perDay;
      drawChart(perDay);
      renderUsage(records);
      $("usage-message").textContent = "";
    } catch (error) {
      if (error.status === 401 || mine !== usageGeneration) return;
      $("usage-message").textContent = `Usage not updated: ${error.message}`;
    }
    if (open && mine === usageGeneration) usageTimer = setTimeout(loadUsage, document.hidden ? USAGE_MS * 3 : USAGE_MS);
  }

  function keyLabel(row) {
    return row.key_name ? `${row.key_name} (${row.key.slice(0, 8)}…)` : row.key === "open" ? "open (no key)" : row.key;
  }

  function remember(rows) {
    let changed = false;
    for (const row of rows) {
      if (!seen.key.has(row.key)) { seen.key.set(row.key, keyLabel(row)); changed = true; }
      if (!seen.model.has(row.model)) { seen.model.add(row.model); changed = true; }
    }
    if (!changed) return;
    const fill = (select, entries, all) => {
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "", textContent: all }),
        ...[...entries].sort((a, b) => a[1].localeCompare(b[1])).map(([value, label]) => el("option", { value, textContent: label })));
      select.value = chosen;
    };
    fill($("usage-key"), seen.key, "All keys");
    fill($("usage-model"), [...seen.model].map((m) => [m, m === "-" ? "- (none chosen)" : m]), "All models");
  }

  // Two bar charts over the same days, inline SVG: requests (errors stacked in red) and estimated
  // tokens (input under output). Every day of the range gets its slot, so gaps are visible; bar
  // widths and the labelled days follow the width available (1 day or 90 stay readable).
  function drawChart(report) {
    const box = $("usage-chart");
    const days = [];
    for (let t = Date.parse(`${report.from}T00:00:00Z`); t <= Date.parse(`${report.to}T00:00:00Z`); t += 86400000) {
      days.push(new Date(t).toISOString().slice(0, 10));
    }
    const byDay = new Map(report.data.map((row) => [row.day, row]));
    const width = Math.max(280, box.clientWidth || 600);
    const left = 52, right = 8, panel = 96, gap = 30, top = 18, bottom = 22;
    const plot = width - left - right;
    const slot = plot / days.length;
    const bar = Math.max(1, Math.min(slot * 0.7, 40));
    const every = Math.max(1, Math.ceil(58 / slot)); // a date label per `every` days, the latest always
    const height = top + 2 * panel + gap + bottom;
    const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "usage-chart" });
    const panels = [
      { title: "Requests", y: top, parts: [["ok", (r) => r.requests - r.errors], ["failed", (r) => r.errors]] },
      { title: "Tokens (estimated)", y: top + panel + gap,
        parts: [["input", (r) => r.input_tokens], ["output", (r) => r.output_tokens]] },
    ];
    for (const p of panels) {
      const total = (r) => p.parts.reduce((sum, [, value]) => sum + Math.max(0, value(r)), 0);
      const max = Math.max(1, ...days.map((day) => (byDay.has(day) ? total(byDay.get(day)) : 0)));
      const base = p.y + panel;
      chart.append(
        svg("text", { x: 0, y: p.y - 6, class: "panel-title" }, p.title),
        svg("line", { x1: left, x2: width - right, y1: p.y, y2: p.y, class: "grid" }),
        svg("line", { x1: left, x2: width - right, y1: base, y2: base, class: "axis" }),
        svg("text", { x: left - 6, y: p.y + 4, class: "tick" }, compact.format(max)),
        svg("text", { x: left - 6, y: base, class: "tick" }, "0"));
      days.forEach((day, i) => {
        const row = byDay.get(day) || { requests: 0, errors: 0, input_tokens: 0, output_tokens: 0 };
        const x = left + i * slot + (slot - bar) / 2;
        const group = svg("g", { class: "day", "data-day": day });
        let y = base;
        for (const [name, value] of p.parts) {
          const h = (Math.max(0, value(row)) / max) * panel;
          y -= h;
          group.append(svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: bar.toFixed(1), height: h.toFixed(1),
            class: `bar ${name}`, "data-value": Math.max(0, value(row)) }));
        }
        group.append(svg("title", {}, `${dayLabel(day, true)}: ${count.format(row.requests)} requests, ` +
          `${count.format(row.errors)} errors; ${count.format(row.input_tokens)} input + ` +
          `${count.format(row.output_tokens)} output tokens (estimated)`));
        chart.append(group);
        if (p === panels[1] && (days.length - 1 - i) % every === 0) {
          const centre = left + (i + 0.5) * slot;
          const label = svg("text", { x: centre.toFixed(1), y: height - 6, class: "date" }, dayLabel(day));
          if (centre + 26 > width) label.setAttribute("x", width), label.setAttribute("class", "date last"); // not cut off
          chart.append(label);
        }
      });
    }
    box.replaceChildren(chart);
  }

  function renderUsage(report) {
    const LIMIT = 500;
    const rows = [...report.data].reverse(); // newest day first
    const LABELS = ["Requests", "Errors", "Input tokens", "Output tokens", "Images", "Videos"];
    const numbers = (r) => [r.requests, r.errors, r.input_tokens, r.output_tokens, r.images, r.videos].map((n, i) => {
      const td = el("td", { className: "num", textContent: count.format(n) });
      td.dataset.label = LABELS[i]; // the phone layout shows it before the value
      return td;
    });
    $("usage-table").tBodies[0].replaceChildren(...rows.slice(0, LIMIT).map((r) => {
      const key = el("td", {}, r.key_name || (r.key === "open" ? "open (no key)" : r.key));
      if (r.key_name) key.append(el("small", { className: "muted", textContent: r.key }));
      const cells = [el("td", { textContent: r.day }), key, el("td", { textContent: r.model }),
        el("td", { textContent: r.account })];
      ["Day", "Key", "Model", "Account"].forEach((label, i) => { cells[i].dataset.label = label; });
      return el("tr", {}, ...cells, ...numbers(r));
    }));
    const shown = rows.length > LIMIT ? `the newest ${LIMIT} of ${rows.length} rows (the CSV has them all)` : "";
    $("usage-table").tFoot.replaceChildren(el("tr", {}, el("th", { scope: "row", colSpan: 4, textContent: "Total" }),
      ...numbers(report.totals)));
    $("usage-range").textContent = `(${dayLabel(report.from)} – ${dayLabel(report.to)}, UTC)`;
    $("usage-note").textContent = [`${report.note[0].toUpperCase()}${report.note.slice(1)}.`, // "token counts are estimates…"
      shown ? `Shown: ${shown}.` : ""].filter(Boolean).join(" ");
    $("no-usage").hidden = rows.length > 0;
    $("usage-table").hidden = rows.length === 0;
  }

  for (const id of ["usage-days", "usage-key", "usage-model"]) $(id).addEventListener("change", () => loadUsage());
  $("usage-filters").addEventListener("submit", (event) => { event.preventDefault(); loadUsage(); });
  new ResizeObserver(() => { if (open && lastDays) drawChart(lastDays); }).observe($("usage-chart"));

  // The CSV link needs the admin key, which a plain link cannot send: fetched here, then saved.
  $("usage-csv").addEventListener("click", async (event) => {
    event.preventDefault();
    const link = event.currentTarget;
    try {
      const blob = await (await call("GET", link.getAttribute("href"))).blob();
      const url = URL.createObjectURL(blob);
      const save = el("a", { href: url, download: link.download, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      if (error.status !== 401) $("usage-message").textContent = `No CSV: ${error.message}`;
    }
  });

  function clearUsage() {
    usageGeneration++;
    clearTimeout(usageTimer);
    lastDays = null;
    seen.key.clear();
    seen.model.clear();
    for (const [id, all] of [["usage-key", "All keys"], ["usage-model", "All models"]]) {
      $(id).replaceChildren(el("option", { value: "", textContent: all }));
    }
    $("usage-chart").replaceChildren();
    $("usage-table").tBodies[0].replaceChildren();
    $("usage-table").tFoot.replaceChildren();
    for (const id of ["usage-range", "usage-note", "usage-message"]) $(id).textContent = "";
  }

  // --- acting -----------------------------------------------------------------------------
  async function act(button, work, done) {
    button.dataset.busy = "1";
    button.disabled = true;
    try {
      note(done(await work()));
    } catch (error) {
      if (error.status !== 401) note(error.message, true);
    } finally {
      button.dataset.busy = "";
      button.disabled = false;
      if (open) refresh();
    }
  }

  function wire(id, p) {
    p.signIn.addEventListener("click", () => act(p.signIn,
      () => api("POST", accountPath(id, "/login")),
      () => `Sign-in started for ${id}.`));
    p.toggle.addEventListener("click", () => act(p.toggle,
      () => api("PATCH", accountPath(id), { disabled: !p.account.disabled }),
      (a) => `${a.id} is ${a.disabled ? "disabled" : "enabled"}.`));
    p.clear.addEventListener("click", () => act(p.clear,
      () => api("PATCH", accountPath(id), { clear_cooldown: true }), () => `Cooldown of ${id} cleared.`));
    p.setProxy.addEventListener("click", () => {
      const url = prompt(`Outbound proxy of ${id}: http://user:pass@host:port (https, socks5, socks5h too), ` +
        "none for direct, empty for the default (UPSTREAM_PROXY).", "");
      if (url === null) return;
      act(p.setProxy, () => api("PATCH", accountPath(id), { proxy: url.trim() }),
        (a) => `Proxy of ${a.id}: ${a.proxy || "the default"}.`);
    });
    p.remove.addEventListener("click", () => {
      if (!confirm(`Delete ${id}? Its cookies and state are removed from the proxy.`)) return;
      act(p.remove, () => api("DELETE", accountPath(id)), () => `${id} deleted.`);
    });
    p.codeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(p.codeForm.querySelector("button"),
        () => api("POST", accountPath(id, "/code"), { code: p.code.value.trim() }),
        (a) => {
          p.code.value = "";
          return a.code_accepted_by_running_login ? `Code sent for ${id}.`
            : `Code kept for ${id}, but no sign-in is running right now: the next one in 15 minutes will use it.`;
        });
    });
  }

  function importBody(text) {
    // Plain email addresses, one a line, are the "just an email" format.
    const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
    return lines.every((line) => /^[^\s"{}[\],]+@[^\s"{}[\],]+$/.test(line)) ? lines.map((id) => ({ id })) : text;
  }

  $("add").addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = $("add-message");
    const button = event.target.querySelector("button");
    button.disabled = true;
    try {
      const result = await api("POST", "accounts", importBody($("import").value.trim()));
      const parts = [["Added", result.added], ["Updated", result.updated]].filter(([, ids]) => ids.length);
      message.textContent = parts.map(([verb, ids]) => `${verb}: ${ids.join(", ")}.`).join(" ");
      message.className = "ok";
      $("import").value = "";
    } catch (error) {
      if (error.status !== 401) { message.textContent = error.message; message.className = "error"; }
    } finally {
      button.disabled = false;
      if (open) refresh();
    }
  });

  // --- signing in and out -----------------------------------------------------------------
  function show() {
    open = true;
    loadUsage();
    $("signin").hidden = true;
    $("console").hidden = false;
    $("signout").hidden = false;
    $("signin-message").textContent = "";
  }

  function signOut(message = "") {
    sessionStorage.removeItem(KEY);
    open = false;
    generation++;
    clearTimeout(timer);
    rows.clear();
    clearUsage();
    $("accounts").tBodies[0].replaceChildren();
    $("keys").tBodies[0].replaceChildren();
    editing.clear();
    for (const id of ["notice", "add-message", "count", "updated", "key-message", "key-count", "key-secret-value"]) {
      $(id).textContent = "";
    }
    $("key-secret").hidden = true;
    $("import").value = "";
    $("console").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    $("signin-message").textContent = message;
    $("key").focus();
  }

  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY, key);
    $("key").value = "";
    $("signin-message").textContent = "";
    refresh();
  });
  $("signout").addEventListener("click", () => signOut());
  setInterval(() => document.querySelectorAll(".countdown").forEach(tick), 1000);
  document.addEventListener("visibilitychange", () => { if (open && !document.hidden) { refresh(); loadUsage(); } });
  if (sessionStorage.getItem(KEY)) refresh();
  else $("key").focus();
})();
