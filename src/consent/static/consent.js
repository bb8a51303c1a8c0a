/* asgi-consent: the server decides; this script saves the reload. */
(() => {
  "use strict";
  const d = document;
  const data = d.getElementById("consent-data");
  if (!data) return;
  const cfg = JSON.parse(data.textContent);
  const owners = cfg.owners || {};
  let state = cfg.state;
  let opener = null;

  const all = (sel, root = d) => Array.from(root.querySelectorAll(sel));
  const allowed = (id) => state.granted.includes(id) || state.services.includes(id);
  const dialog = () => d.querySelector("dialog[data-consent-dialog]");

  // An inert script never runs: insert a copy (nonce kept).
  const revive = (old) => {
    const s = d.createElement("script");
    for (const a of old.attributes) if (a.name !== "data-consent-type") s.setAttribute(a.name, a.value);
    if ((old.getAttribute("type") || "").toLowerCase() === "text/plain") {
      const type = old.getAttribute("data-consent-type");
      if (type) s.type = type; else s.removeAttribute("type");
    }
    if (old.nonce) s.nonce = old.nonce;
    if (s.src && !old.hasAttribute("async")) s.async = false; // keep document order
    s.text = old.text;
    return s;
  };

  // Insert a revived script in place of `old`; wait for an external one, so that
  // everything runs in document order.
  const run = (old, spot = old) => new Promise((done) => {
    const s = revive(old);
    if (s.src) s.onload = s.onerror = done;
    spot.replaceWith(s);
    if (!s.src) done();
  });

  const activate = async () => {
    const gated = "script[type='text/plain'][data-consent],iframe[data-consent][data-consent-src],template[data-consent]";
    for (const el of all(gated)) {
      if (!allowed(el.dataset.consent)) continue;
      if (el.tagName === "SCRIPT") {
        await run(el);
      } else if (el.tagName === "IFRAME") {
        el.src = el.dataset.consentSrc;
        el.removeAttribute("data-consent-src");
        el.hidden = false;
        const box = el.closest("[data-consent-embed]");
        const placeholder = box && box.querySelector("[data-consent-placeholder]");
        if (placeholder) placeholder.remove();
      } else {
        const content = el.content.cloneNode(true);
        const scripts = Array.from(content.querySelectorAll("script"), (s) => {
          const mark = d.createComment("");
          s.replaceWith(mark);
          return [mark, s];
        });
        el.replaceWith(content);
        for (const [mark, s] of scripts) await run(s, mark);
      }
    }
  };

  const announce = (text) => {
    let el = d.querySelector("[data-consent-status]");
    if (!el) {
      el = d.createElement("div");
      el.className = "cc-sr";
      el.setAttribute("role", "status");
      el.setAttribute("data-consent-status", "");
      d.body.append(el);
    }
    el.textContent = "";
    requestAnimationFrame(() => { el.textContent = text; });
  };

  const apply = (next) => {
    const before = [...state.granted, ...state.services];
    state = next;
    for (const banner of all("[data-consent-banner]")) banner.remove();
    for (const box of all("input[type=checkbox][name=grant]:not(:disabled)")) box.checked = allowed(box.value);
    const dlg = dialog();
    if (dlg && dlg.open) dlg.close();
    // Running scripts cannot be stopped: after a withdrawal, reload.
    if (before.some((id) => !allowed(id))) return location.reload();
    activate();
    announce(cfg.strings.saved);
    d.dispatchEvent(new CustomEvent("consent:change", { detail: state }));
  };

  const choice = (form, submitter) => {
    const allow = form.dataset.consentAllow;
    if (allow) {
      const services = state.services.filter((s) => owners[s] !== allow);
      return { action: "save", grant: [...state.granted, ...services, allow] };
    }
    const fields = new FormData(form, submitter);
    return { action: fields.get("action"), grant: fields.getAll("grant") };
  };

  d.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!form.matches("form[data-consent-form]")) return;
    ev.preventDefault();
    const submitter = ev.submitter;
    try {
      const response = await fetch(cfg.path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(choice(form, submitter)),
      });
      if (!response.ok) throw new Error(String(response.status));
      apply(await response.json());
    } catch (error) {
      // Fall back to a plain post.
      if (submitter && submitter.name) {
        const hidden = d.createElement("input");
        hidden.type = "hidden";
        hidden.name = submitter.name;
        hidden.value = submitter.value;
        form.append(hidden);
      }
      HTMLFormElement.prototype.submit.call(form);
    }
  });

  const open = (from) => {
    const dlg = dialog();
    if (!dlg) return false;
    opener = from || d.activeElement;
    dlg.showModal();
    return true;
  };

  d.addEventListener("click", (ev) => {
    const trigger = ev.target.closest("[data-consent-open]");
    if (trigger && open(trigger)) ev.preventDefault();
    else if (ev.target.closest("[data-consent-close]")) dialog().close();
  });

  // Tab stays in the open dialog; closing it grants nothing; focus goes back.
  d.addEventListener("keydown", (ev) => {
    const dlg = dialog();
    if (ev.key !== "Tab" || !dlg || !dlg.open) return;
    const items = all("a[href],button,input,summary,select,textarea", dlg)
      .filter((el) => !el.disabled && el.getClientRects().length);
    const first = items[0];
    const last = items[items.length - 1];
    const inside = dlg.contains(d.activeElement);
    if (ev.shiftKey && (!inside || d.activeElement === first)) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (!inside || d.activeElement === last)) {
      ev.preventDefault();
      first.focus();
    }
  });

  const dlg = dialog();
  if (dlg) {
    dlg.addEventListener("close", () => {
      if (opener && opener.isConnected) opener.focus();
      opener = null;
    });
  }

  // A category sets its services; no service left clears the category.
  d.addEventListener("change", (ev) => {
    const box = ev.target;
    if (!box.matches("input[name=grant]") || !box.form) return;
    const kids = (id) => all("[data-consent-parent]", box.form).filter((k) => k.dataset.consentParent === id);
    for (const kid of kids(box.value)) if (!kid.disabled) kid.checked = box.checked;
    const parent = box.dataset.consentParent;
    if (parent && !kids(parent).some((k) => k.checked)) {
      const category = all("input[name=grant]", box.form).find((c) => c.value === parent);
      if (category && !category.disabled) category.checked = false;
    }
  });

  window.consent = Object.freeze({ state: () => state, allows: allowed, open: () => open(null) });
})();
