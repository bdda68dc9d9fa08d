// FaceGate operators' console: one page, views drawn from the JSON API under /api/console/api.
// No framework, no inline script (the Content-Security-Policy forbids it), no innerHTML:
// every value from the server is set as text. The anti-forgery token lives in memory only.
"use strict";

(function () {
  const API = "/api/console/api";
  let csrf = "";
  let vocabulary = null;
  let cacheSeconds = 15;
  let mode = "local";

  // --- small helpers ---------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "text") el.textContent = value;
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function say(message, kind) {
    const status = document.getElementById("status");
    status.textContent = message || "";
    status.className = "status" + (kind ? " " + kind : "");
  }

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || "Request failed (" + status + ").");
      this.status = status;
      this.code = error.code || "";
      this.signIn = error.signIn || null;
    }
  }

  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body || {});
    }
    const response = await fetch(API + path, init);
    const data = (response.headers.get("Content-Type") || "").startsWith("application/json")
      ? await response.json()
      : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const text = q.toString();
    return text ? "?" + text : "";
  }

  function today() {
    return new Date().toISOString().slice(0, 10);
  }

  function field(id, label, input, help) {
    input.id = id;
    if (help) input.setAttribute("aria-describedby", id + "-help");
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input,
      help ? h("p", { class: "help", id: id + "-help", text: help }) : null);
  }

  function select(name, options, value, withAny) {
    const el = h("select", { name });
    if (withAny) el.append(h("option", { value: "", text: "any" }));
    for (const option of options) {
      el.append(h("option", { value: option, text: option, selected: option === value }));
    }
    return el;
  }

  function checkboxes(legend, name, options, chosen) {
    return h("fieldset", { class: "checks" }, h("legend", { text: legend }),
      options.map((o) => h("label", {},
        h("input", { type: "checkbox", name, value: o, checked: chosen.includes(o) }), " " + o)));
  }

  function checked(form, name) {
    return Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map((i) => i.value);
  }

  function table(caption, columns, rows, cells) {
    return h("table", {},
      h("caption", { text: caption }),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c })))),
      h("tbody", {}, rows.length
        ? rows.map((row) => h("tr", {}, cells(row).map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: columns.length, text: "Nothing to show." }))));
  }

  function badge(text) {
    return h("span", { class: "badge badge-" + String(text).replace(/[^a-z0-9-]/gi, "") , text });
  }

  function show(title, ...content) {
    const view = document.getElementById("view");
    const parts = content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
    view.replaceChildren(h("h1", { id: "view-title", tabindex: "-1", text: title }), ...parts);
    view.hidden = false;
    document.getElementById("sign-in").hidden = true;
    document.title = title + " - FaceGate console";
    document.getElementById("view-title").focus();
  }

  function reasonForm(id, label, buttons) {
    // A written reason, required, then one or more submit buttons (each names its action).
    const reason = h("textarea", { name: "reason", rows: "2", required: true, maxlength: "1000" });
    const form = h("form", { class: "card", id },
      field(id + "-reason", label, reason, "Kept in the audit with your name."),
      h("div", { class: "buttons" }, buttons.map((b) =>
        h("button", { type: "submit", value: b.value, class: b.danger ? "danger" : "", text: b.text }))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const chosen = event.submitter || form.querySelector("button");
      const button = buttons.find((b) => b.value === chosen.value);
      try {
        await button.run(reason.value);
      } catch (error) {
        say(error.message, "error");
      }
    });
    return form;
  }

  // --- sign-in ----------------------------------------------------------------------------
  async function start() {
    document.getElementById("sign-in-form").addEventListener("submit", signIn);
    document.getElementById("sign-out").addEventListener("click", signOut);
    window.addEventListener("hashchange", () => { say(""); route(); });
    try {
      let session = await api("GET", "/session");
      if (!session.operator && session.signIn.mode === "entra") {
        try {
          await api("POST", "/session", {});  // Easy Auth signed us in: open a console session
          session = await api("GET", "/session");
        } catch (error) {
          if (error.status === 403) say(error.message, "error");  // signed in, but no operator role
        }
      }
      if (!session.operator) return showSignIn(session.signIn);
      await useSession(session);
      await route();
    } catch (error) {
      say(error.message, "error");
    }
  }

  async function loadSession() {
    const session = await api("GET", "/session");
    if (!session.operator) throw new ApiError(401, { error: { message: "Sign in again.", signIn: session.signIn } });
    await useSession(session);
  }

  async function useSession(session) {
    csrf = session.csrfToken;
    cacheSeconds = session.cacheSeconds;
    mode = session.mode;
    document.getElementById("who-name").textContent = session.operator.name;
    document.getElementById("who").hidden = false;
    document.getElementById("nav").hidden = false;
    vocabulary = vocabulary || (await api("GET", "/vocabulary"));
  }

  function showSignIn(signIn) {
    csrf = "";
    document.getElementById("view").hidden = true;
    document.getElementById("nav").hidden = true;
    document.getElementById("who").hidden = true;
    document.getElementById("sign-in").hidden = false;
    document.getElementById("sign-in-form").hidden = signIn.mode !== "local";
    document.getElementById("entra-sign-in").hidden = signIn.mode !== "entra";
    document.getElementById("console-off").hidden = signIn.mode !== "off";
    if (signIn.url) document.getElementById("entra-link").setAttribute("href", signIn.url);
    document.title = "Sign in - FaceGate console";
    const focus = signIn.mode === "local" ? "credential" : "sign-in-title";
    document.getElementById(focus).focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const input = document.getElementById("credential");
    try {
      await api("POST", "/session", { credential: input.value });
      input.value = "";
      await loadSession();
      say("Signed in.", "ok");
      if (!location.hash || location.hash === "#") location.hash = "#/customers";
      else await route();
    } catch (error) {
      say(error.message, "error");
      input.select();
    }
  }

  async function signOut() {
    try {
      await api("DELETE", "/session", {});
    } finally {
      say("Signed out.", "ok");
      showSignIn({ mode });
    }
  }

  // --- routing ----------------------------------------------------------------------------
  async function route() {
    const hash = location.hash.replace(/^#/, "") || "/customers";
    const [path, search] = hash.split("?");
    const params = Object.fromEntries(new URLSearchParams(search || ""));
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === "customers" && parts.length === 1) return await customersView(params);
      if (parts[0] === "customers" && parts[1] === "new") return await newCustomerView();
      if (parts[0] === "customers") return await customerView(parts[1]);
      if (parts[0] === "reviews") return await reviewsView();
      if (parts[0] === "audit" && parts[1] === "decision") return await decisionView(params);
      if (parts[0] === "audit") return await auditView(params);
      if (parts[0] === "policies") return await policiesView();
      show("Not found", h("p", { text: "No such console page." }));
    } catch (error) {
      if (error.status === 401) return showSignIn(error.signIn || { mode });
      say(error.message, "error");
    }
  }

  // --- customers --------------------------------------------------------------------------
  async function customersView(params) {
    const list = await api("GET", "/customers" + query({ q: params.q, status: params.status }));
    const search = h("input", { type: "search", name: "q", value: params.q || "" });
    const form = h("form", { class: "filters", role: "search" },
      field("customer-search", "Search id or name", search),
      field("customer-status", "Status", select("status", vocabulary.statuses, params.status, true)),
      h("button", { type: "submit", text: "Search" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = "#/customers" + query({ q: search.value, status: form.status.value });
    });
    show("Customers",
      form,
      h("p", {}, h("a", { href: "#/customers/new", class: "button", text: "Register a customer" })),
      table("Customers (" + list.length + ")",
        ["Customer", "Name", "Sector", "Country", "Status", "Review", "Actions"], list, (c) => [
          h("a", { href: "#/customers/" + encodeURIComponent(c.id), text: c.id }),
          c.name, c.sector, c.country, badge(c.status),
          c.sensitive_use ? badge(c.review_state) : "not sensitive", c.actions.join(", ")]));
  }

  function customerFields(customer) {
    const v = vocabulary;
    return [
      field("f-name", "Name", h("input", { name: "name", required: true, value: customer.name || "" })),
      field("f-sector", "Sector", select("sector", v.sectors, customer.sector)),
      field("f-country", "Country (ISO 3166-1 alpha-2)",
        h("input", { name: "country", required: true, maxlength: "2", value: customer.country || "" })),
      field("f-status", "Status", select("status", v.statuses, customer.status || "pending")),
      field("f-sensitive", "Sensitive use", select("sensitive_use", ["false", "true"],
        String(Boolean(customer.sensitive_use)))),
      field("f-review", "Review state", select("review_state", v.reviewStates, customer.review_state || "none")),
      checkboxes("Approved actions", "actions", v.actions, customer.actions || []),
      field("f-purposes", "Declared purposes (comma-separated)",
        h("input", { name: "purposes", value: (customer.purposes || []).join(",") })),
      field("f-retention", "Upload retention", select("retention", v.retentions, customer.retention || "delete")),
      checkboxes("Default upload features", "default_features", v.features,
        customer.default_features || ["detect"]),
    ];
  }

  function fieldsOf(form) {
    return {
      name: form.name.value, sector: form.sector.value, country: form.country.value.toUpperCase(),
      status: form.status.value, sensitive_use: form.sensitive_use.value === "true",
      review_state: form.review_state.value, actions: checked(form, "actions"),
      purposes: form.purposes.value.split(",").map((p) => p.trim()).filter(Boolean),
      retention: form.retention.value, default_features: checked(form, "default_features"),
    };
  }

  async function newCustomerView() {
    const id = h("input", { name: "id", required: true, pattern: "[a-z0-9][a-z0-9_-]{0,63}" });
    const reason = h("textarea", { name: "reason", rows: "2", required: true });
    const form = h("form", { class: "card" },
      field("f-id", "Customer id", id, "Lowercase letters, digits, - and _."),
      customerFields({}),
      field("f-create-reason", "Reason", reason, "Kept in the audit with your name."),
      h("button", { type: "submit", text: "Register" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/customers", { customer: { id: id.value, ...fieldsOf(form) }, reason: reason.value });
        say("Customer " + id.value + " registered. Issue its key with the admin CLI (shown once).", "ok");
        location.hash = "#/customers/" + encodeURIComponent(id.value);
      } catch (error) { say(error.message, "error"); }
    });
    show("Register a customer", form);
  }

  async function customerView(id) {
    const data = await api("GET", "/customers/" + encodeURIComponent(id));
    const c = data.customer;
    const path = "/customers/" + encodeURIComponent(c.id);
    const reload = async (message) => { say(message, "ok"); await customerView(c.id); };
    const facts = h("dl", { class: "facts" }, [
      ["Name", c.name], ["Sector", c.sector], ["Country", c.country], ["Status", c.status],
      ["Sensitive use", c.sensitive_use ? "yes" : "no"], ["Review state", c.review_state],
      ["Approved actions", c.actions.join(", ") || "none"], ["Purposes", c.purposes.join(", ") || "none"],
      ["Upload retention", c.retention], ["Default upload features", c.default_features.join(", ")],
      ["Gallery store", (c.gallery_store || "default") + (c.gallery_store_moving ? " (moving)" : "")],
      ["Registered", c.created_at], ["Last changed", c.updated_at],
    ].map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
    const statusButtons = c.status === "suspended"
      ? [{ value: "reactivate", text: "Reactivate", run: async (r) => { await api("POST", path + "/reactivate", { reason: r }); await reload("Reactivated."); } }]
      : [{ value: "suspend", text: "Suspend", danger: true, run: async (r) => { await api("POST", path + "/suspend", { reason: r }); await reload("Suspended."); } }];
    const edit = h("form", { class: "card", id: "change-form" }, customerFields(c),
      field("f-change-reason", "Reason for the change",
        h("textarea", { name: "reason", rows: "2", required: true }), "Kept in the audit with your name."),
      h("button", { type: "submit", text: "Save changes" }));
    edit.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", path, { changes: fieldsOf(edit), reason: edit.reason.value });
        await reload("Saved. The gate sees it within " + cacheSeconds + " s.");
      } catch (error) { say(error.message, "error"); }
    });
    show("Customer " + c.id,
      facts,
      h("p", {}, h("a", { href: "#/audit" + query({ customer: c.id, day: today() }), text: "Today's decisions for " + c.id })),
      h("h2", { text: "API keys" }),
      h("p", { class: "help", text: "Keys are shown by id only; the admin CLI issues new ones (shown once)." }),
      table("Keys", ["Key id", "Created", "State", ""], data.keys, (k) => [
        h("code", { text: k.keyId }), k.createdAt, k.revoked ? "revoked " + k.revokedAt : "active",
        k.revoked ? "" : h("button", { type: "button", class: "danger", text: "Revoke " + k.keyId,
          onclick: () => revokeKey(c.id, k.keyId, reload) })]),
      h("h2", { text: "History" }),
      table("Console changes", ["Time", "Change", "Operator", "Reason", "Before", "After"], data.changes, (x) => [
        x.time, x.kind, x.operator + " (" + x.via + ")", x.reason,
        h("code", { text: JSON.stringify(x.before) }), h("code", { text: JSON.stringify(x.after) })]),
      h("h2", { text: "Status" }),
      reasonForm("status-form", "Reason for the status change", statusButtons),
      h("h2", { text: "Change the record" }), edit,
      h("h2", { text: "Erase galleries" }),
      h("p", { class: "help", text: "Erases every gallery of this customer, with every person and face template in it." }),
      reasonForm("erase-form", "Reason for the erasure", [{ value: "erase", text: "Erase all galleries", danger: true,
        run: async (r) => {
          const out = await api("POST", path + "/erase-galleries", { reason: r });
          await reload("Erased " + out.erasedGalleries.length + " galleries.");
        } }]));
  }

  function revokeKey(customerId, keyId, reload) {
    const dialog = h("dialog", { "aria-labelledby": "revoke-title" });
    const form = reasonForm("revoke-form", "Reason for revoking " + keyId, [
      { value: "revoke", text: "Revoke key", danger: true, run: async (r) => {
        await api("POST", "/customers/" + encodeURIComponent(customerId) + "/keys/" + encodeURIComponent(keyId) + "/revoke", { reason: r });
        dialog.close(); dialog.remove();
        await reload("Key " + keyId + " revoked; refused within " + cacheSeconds + " s.");
      } },
    ]);
    form.querySelector(".buttons").append(h("button", { type: "button", text: "Cancel",
      onclick: () => { dialog.close(); dialog.remove(); } }));
    dialog.append(h("h2", { id: "revoke-title", text: "Revoke key " + keyId }), form);
    document.body.append(dialog);
    dialog.showModal();
  }

  // --- review queue -----------------------------------------------------------------------
  async function reviewsView() {
    const waiting = await api("GET", "/reviews");
    const cards = waiting.map((c) => h("article", { class: "card review", "aria-labelledby": "review-" + c.id },
      h("h2", { id: "review-" + c.id }, h("a", { href: "#/customers/" + encodeURIComponent(c.id), text: c.id }), " ", c.name),
      h("p", { text: c.sector + ", " + c.country + "; actions " + (c.actions.join(", ") || "none") +
        "; purposes " + (c.purposes.join(", ") || "none") }),
      reasonForm("review-form-" + c.id, "Reason for the decision on " + c.id, ["approve", "deny"].map((d) => ({
        value: d, text: d === "approve" ? "Approve " + c.id : "Deny " + c.id, danger: d === "deny",
        run: async (r) => {
          await api("POST", "/customers/" + encodeURIComponent(c.id) + "/review", { decision: d, reason: r });
          await reviewsView();
          say((d === "approve" ? "Approved " : "Denied ") + c.id + ". The gate applies it within " + cacheSeconds + " s.", "ok");
        } })))));
    show("Review queue",
      h("p", { text: "Customers flagged for sensitive use wait here: recognition stays refused until a review is approved." }),
      cards.length ? cards : h("p", { text: "No review is waiting." }));
  }

  // --- audit ------------------------------------------------------------------------------
  async function auditView(params) {
    const filters = { day: params.day || today(), customer: params.customer || "", action: params.action || "",
      outcome: params.outcome || "", policy: params.policy || "" };
    const found = await api("GET", "/audit" + query(filters));
    const form = h("form", { class: "filters", role: "search" },
      field("a-day", "Day (UTC)", h("input", { type: "date", name: "day", value: filters.day })),
      field("a-customer", "Customer", h("input", { name: "customer", value: filters.customer })),
      field("a-action", "Action", select("action", vocabulary.gateActions, filters.action, true)),
      field("a-outcome", "Outcome", select("outcome", ["allow", "deny"], filters.outcome, true)),
      field("a-policy", "Policy id", h("input", { name: "policy", value: filters.policy })),
      h("button", { type: "submit", text: "Filter" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = "#/audit" + query({ day: form.day.value, customer: form.customer.value.trim(),
        action: form.action.value, outcome: form.outcome.value, policy: form.policy.value.trim() });
    });
    show("Audit",
      form,
      h("p", {}, h("a", { href: API + "/audit/csv" + query(filters), download: "", text: "Export these rows as CSV" })),
      found.truncated ? h("p", { class: "help", text: "Only the first rows are shown; narrow the filters." }) : null,
      table("Decisions on " + found.day + " (" + found.rows.length + ")",
        ["Time", "Customer", "Action", "Outcome", "Policies", "Decision"], found.rows, (r) => [
          r.time, r.customer, r.action, badge(r.decision), r.policyIds.join(", "),
          h("a", { href: "#/audit/decision" + query({ customer: r.customer, day: found.day, id: r.decisionId }),
            "aria-label": "Decision " + r.decisionId + " (" + r.action + ", " + r.decision + ")", text: r.decisionId.slice(0, 8) })]));
  }

  async function decisionView(params) {
    const d = await api("GET", "/audit/decisions/" + encodeURIComponent(params.id) + query({ customer: params.customer, day: params.day }));
    const ctx = d.context;
    show("Decision " + d.decisionId,
      h("p", {}, badge(d.allowed ? "allow" : "deny"), " for ", h("a", { href: "#/customers/" + encodeURIComponent(d.customer), text: d.customer }), " at " + d.time),
      table("Actions decided", ["Action", "Outcome", "Policies"], d.rows, (r) => [r.action, badge(r.decision), r.policyIds.join(", ")]),
      h("h2", { text: "Context the decision saw" }),
      h("dl", { class: "facts" }, [["Channel", ctx.channel], ["Capture", ctx.capture], ["Purpose", ctx.purpose || "none stated"],
        ["Request id", ctx.requestId]].map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])),
      d.customerAtDecision ? h("details", {}, h("summary", { text: "Customer record at the time (console changes undone)" }),
        h("pre", { text: JSON.stringify(d.customerAtDecision, null, 2) })) : null,
      h("h2", { text: "Why: the deciding policies" }),
      d.policies.map((p) => h("article", { class: "card policy" },
        h("h3", {}, h("code", { text: p.id }), " ", badge(p.effect)),
        h("p", { text: p.comment }),
        p.text ? h("pre", { text: p.text }) : null)),
      h("p", {}, h("a", { href: "#/audit" + query({ customer: d.customer, day: params.day }), text: "Back to the audit" })));
  }

  // --- policies ---------------------------------------------------------------------------
  async function policiesView() {
    const list = await api("GET", "/policies");
    show("Policies",
      h("p", { text: "The Cedar policies the gate evaluates, read-only; change them in the repository (shared/policy/policies/)." }),
      list.map((p) => h("article", { class: "card policy", id: "policy-" + p.id },
        h("h2", {}, h("code", { text: p.id }), " ", badge(p.effect)),
        h("p", { text: p.comment }),
        h("p", { class: "help", text: p.file }),
        h("pre", { text: p.text }))));
  }

  document.addEventListener("DOMContentLoaded", start);
})();
