/* asgi-consent: applies the server's answer in place, without a reload. */
(() => {
  "use strict";
  const d = document;
  const data = d.getElementById("consent-data");
  if (!data) return;
  const cfg = JSON.parse(data.textContent);
  let state = cfg.state;
  let opener = null;
  let queue = Promise.resolve();

  const $$ = (sel, root = d) => [...root.querySelectorAll(sel)];
  const has = (s, id) => s.granted.includes(id) || s.services.includes(id);
  // GPC seen by the page: its categories stay off.
  const gpc = navigator.globalPrivacyControl === true;
  const allows = (id) => has(state, id) && !(gpc && cfg.gpc.includes(cfg.owners[id] || id));
  const dialog = () => d.querySelector("dialog[data-consent-dialog]");
  const INERT = "script[type='text/plain'][data-consent]";
  // What the server moved aside to "data-consent-<name>" (srcdoc before src: it wins).
  const MOVED = ["srcdoc", "srcset", "imagesrcset", "src", "poster", "data", "href", "xlink:href"];
  const aside = MOVED.map((a) => `[data-consent-${a.replace(":", "\\:")}]`);
  const WAITING = [INERT, "template[data-consent]", ...aside.map((a) => `[data-consent]${a}`)].join();
  // Gated markup in shadow roots attached here is looked for too.
  const roots = [];
  const all = (sel) => [d, ...roots].flatMap((root) => $$(sel, root));
  // Running code cannot be stopped: withdrawing its consent needs a reload.
  const live = new Set($$(`[data-consent]:not(${INERT},template,${aside})`).map((el) => el.dataset.consent));

  // Only a script we create runs; the nonce is readable only as a property.
  const copy = (old, gated) => {
    const s = d.createElement("script");
    for (const a of old.attributes) if (!gated || !/^(type|data-consent-type)$/.test(a.name)) s.setAttribute(a.name, a.value);
    if (gated && old.dataset.consentType) s.type = old.dataset.consentType;
    s.nonce = old.nonce;
    if (s.src && !old.hasAttribute("async")) s.async = false;
    s.text = old.text;
    return s;
  };

  // Document order: wait for each ordered external script.
  const put = (s, spot) => new Promise((done) => {
    const wait = s.src && !s.async && /^$|module|script$/i.test(s.type);
    if (wait) s.onload = s.onerror = done;
    spot.replaceWith(s);
    if (!wait) done();
  });

  // A template's content in its place, or in the shadow root it declares; scripts run in order.
  const unpack = async (el, root) => {
    const part = d.importNode(el.content, true);
    const inner = $$("script", part).map((s) => {
      const spot = new Comment();
      s.replaceWith(spot);
      return [s, spot];
    });
    if (root) {
      root.append(part);
      el.remove();
    } else el.replaceWith(part);
    for (const [s, spot] of inner) await put(copy(s), spot);
  };

  // The shadow root the parser would have attached (none: the template stays inert, as there).
  const attach = (el) => {
    const mode = el.getAttribute("data-consent-shadowrootmode").toLowerCase();
    const flag = (f) => el.hasAttribute("shadowroot" + f);
    try {
      const root = el.parentElement.attachShadow({ mode, delegatesFocus: flag("delegatesfocus"), clonable: flag("clonable"), serializable: flag("serializable") });
      return roots.push(root) && root;
    } catch {}
  };

  const activate = async () => {
    const media = new Set();
    let again = false;
    for (const el of all(WAITING)) {
      const id = el.dataset.consent;
      if (!allows(id) || !el.isConnected) continue;
      live.add(id);
      const box = el.closest("[data-consent-embed]");
      const inside = box?.contains(d.activeElement);
      if (el.localName === "script") await put(copy(el, true), el);
      else if (el.localName === "template") {
        const shadow = el.hasAttribute("data-consent-shadowrootmode");
        const root = shadow && attach(el);
        if (root || !shadow) {
          await unpack(el, root);
          again = true;
        }
      } else {
        for (const a of MOVED) {
          const v = el.getAttribute("data-consent-" + a);
          el.removeAttribute("data-consent-" + a);
          // An SVG <image> takes href as well as xlink:href.
          if (v !== null) el.setAttribute(a.replace("xlink:", ""), v);
        }
        el.hidden &&= !box;
        box?.querySelector("[data-consent-placeholder]")?.remove();
        if (inside) el.focus();
        // A <source> that came back is seen by its media element once it looks again.
        if (el.localName === "source" && el.parentElement?.load) media.add(el.parentElement);
      }
    }
    // (one with a src of its own has loaded it, or will)
    for (const m of media) if (!m.hasAttribute("src")) m.load();
    // Gated markup a template held is looked at too.
    if (again) await activate();
  };

  const announce = (text) => {
    let box = d.querySelector("[data-consent-status]");
    if (!box) {
      box = d.body.appendChild(d.createElement("div"));
      box.className = "cc-sr";
      box.setAttribute("role", "status");
      box.dataset.consentStatus = "";
    }
    box.textContent = "";
    requestAnimationFrame(() => requestAnimationFrame(() => (box.textContent = text)));
  };

  const apply = (next) => {
    const before = state;
    state = next;
    for (const el of $$("[data-consent-banner]")) el.remove();
    for (const box of $$("input[name=grant][type=checkbox]:not(:disabled)")) box.checked = allows(box.value);
    if ([...live].some((id) => has(before, id) && !allows(id))) return location.reload();
    announce(cfg.strings.saved);
    dialog()?.close();
    d.dispatchEvent(new CustomEvent("consent:change", { detail: state }));
    queue = queue.then(activate);
  };

  const choice = (form, submitter) => {
    const id = form.dataset.consentAllow;
    if (id) {
      const kept = state.services.filter((s) => cfg.owners[s] !== id);
      return { action: "save", grant: [...state.granted, ...kept, id] };
    }
    const fields = new FormData(form, submitter);
    const action = submitter?.name === "action" ? submitter.value : fields.get("action");
    return { action: action || "save", grant: fields.getAll("grant") };
  };

  d.addEventListener("submit", async (ev) => {
    const form = ev.target;
    const sub = ev.submitter;
    if (!form.matches("form[data-consent-form]")) return;
    ev.preventDefault();
    const next = await fetch(cfg.path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ ...choice(form, sub), gpc, lang: form.lang?.value }),
    }).then((r) => [200, 503].includes(r.status) && r.json()).catch(() => null);
    if (next?.granted) return apply(next);
    // 503: not recorded.
    if (next?.error) return announce(next.error);
    // Plain post; submit() fires no event, so no loop.
    if (sub?.name) form.append(Object.assign(d.createElement("input"), { type: "hidden", name: sub.name, value: sub.value }));
    HTMLFormElement.prototype.submit.call(form);
  });

  const focusables = (root) => $$("a[href],button,input,select,textarea,summary,[tabindex]", root)
    .filter((el) => !el.disabled && el.tabIndex >= 0 && el.getClientRects().length);

  const open = (from) => {
    const dlg = dialog();
    if (dlg && !dlg.open) {
      opener = from || d.activeElement;
      dlg.showModal();
      focusables(dlg)[0]?.focus();
    }
    return !!dlg;
  };

  d.addEventListener("click", (ev) => {
    const el = ev.target.closest?.("[data-consent-open],[data-consent-close]");
    if (el?.matches("[data-consent-close]")) el.closest("dialog")?.close();
    else if (el && open(el)) ev.preventDefault();
  });

  d.addEventListener("keydown", (ev) => {
    const dlg = dialog();
    if (ev.key !== "Tab" || !dlg?.open) return;
    const items = focusables(dlg);
    const ends = [items[0], items[items.length - 1]];
    if (ev.shiftKey) ends.reverse();
    if (!dlg.contains(d.activeElement) || d.activeElement === ends[1]) {
      ev.preventDefault();
      ends[0]?.focus();
    }
  });

  // Escape (native cancel) grants nothing.
  dialog()?.addEventListener("close", () => {
    if (opener?.isConnected) opener.focus();
    else d.activeElement?.blur();
    opener = null;
  });

  d.addEventListener("change", ({ target: box }) => {
    if (box.name !== "grant" || !box.form) return;
    const boxes = $$("input[name=grant]:not(:disabled)", box.form);
    const kids = (id) => boxes.filter((s) => s.dataset.consentParent === id);
    for (const s of kids(box.value)) s.checked = box.checked;
    const up = box.dataset.consentParent;
    if (up && !kids(up).some((s) => s.checked)) for (const c of boxes) if (c.value === up) c.checked = false;
  });

  window.consent = Object.freeze({ state: () => state, allows, open: () => open() });
})();
