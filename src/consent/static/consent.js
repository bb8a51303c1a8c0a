/*
 * asgi-consent in the browser: applies the server's answer in place, without a reload.
 *
 * The server renders every part (banner, dialog, forms) and holds back whatever waits for
 * consent; this script posts a choice as JSON, then brings the held-back markup to life.
 * Without it every form still works as a plain post.
 *
 * This is the readable source. Visitors get a minified copy built when the package is
 * (hatch_build.py); CONTRIBUTING.md, "The browser script", says how to rebuild and check it.
 */
(() => {
  "use strict";

  // The settings the server wrote into <script type="application/json" id="consent-data">:
  // state, path (where choices are posted), strings, owners (service -> its category) and
  // gpc (the categories a Global Privacy Control signal keeps off).
  const dataBlock = document.getElementById("consent-data");
  if (!dataBlock) {
    return;
  }
  const config = JSON.parse(dataBlock.textContent);
  let state = config.state;

  // The control that opened the dialog: it gets the focus back when the dialog closes.
  let opener = null;

  // Activations run one after another, so two quick choices never restore an element twice.
  let activations = Promise.resolve();

  const selectAll = (selector, root = document) => [...root.querySelectorAll(selector)];

  // Whether a state names this id: a whole category granted, or one service allowed alone.
  const names = (someState, id) =>
    someState.granted.includes(id) || someState.services.includes(id);

  // A Global Privacy Control signal seen only by the page (an extension, say, with no header
  // reaching the server): the categories it covers stay off here too, and the server is told.
  const gpc = navigator.globalPrivacyControl === true;

  const allows = (id) => {
    const category = config.owners[id] || id;
    return names(state, id) && !(gpc && config.gpc.includes(category));
  };

  const findDialog = () => document.querySelector("dialog[data-consent-dialog]");

  // A gated script: the server changed its type to text/plain so that it does not run.
  const INERT_SCRIPT = "script[type='text/plain'][data-consent]";

  // The attributes the server moves aside to "data-consent-<name>" on a gated element, so
  // that it loads nothing. srcdoc comes before src because an iframe's srcdoc wins over src.
  const MOVED = ["srcdoc", "srcset", "imagesrcset", "src", "poster", "data", "href", "xlink:href"];

  // "[data-consent-xlink\:href]": a colon in an attribute name must be escaped in a selector.
  const MOVED_SELECTORS = MOVED.map((name) => `[data-consent-${name.replace(":", "\\:")}]`);

  // Everything still waiting for consent: inert scripts, templates and elements whose
  // loading attributes were moved aside.
  const WAITING = [
    INERT_SCRIPT,
    "template[data-consent]",
    ...MOVED_SELECTORS.map((moved) => `[data-consent]${moved}`),
  ].join();

  // Shadow roots this script attached: gated markup inside them is looked for too, since
  // document.querySelectorAll does not see into them.
  const shadowRoots = [];
  const selectEverywhere = (selector) =>
    [document, ...shadowRoots].flatMap((root) => selectAll(selector, root));

  // The ids whose code is running already (the server let it through). Running code cannot
  // be stopped, so withdrawing one of them needs a reload.
  const running = new Set(
    selectAll(`[data-consent]:not(${INERT_SCRIPT},template,${MOVED_SELECTORS})`).map(
      (element) => element.dataset.consent,
    ),
  );

  // A script element the parser made, or one moved in from a template, never runs when put
  // back into the page: only a script element this script creates does. The copy keeps
  // every attribute (a gated one gets its real type back from data-consent-type), and the
  // nonce, which a strict Content-Security-Policy needs: the browser hides the nonce
  // attribute's value, so it is carried over as a property.
  const copyScript = (original, gated) => {
    const script = document.createElement("script");
    for (const attribute of original.attributes) {
      const gatedType = attribute.name === "type" || attribute.name === "data-consent-type";
      if (!gated || !gatedType) {
        script.setAttribute(attribute.name, attribute.value);
      }
    }
    if (gated && original.dataset.consentType) {
      script.type = original.dataset.consentType;
    }
    script.nonce = original.nonce;
    // A created script with a src is async by default; the parser's would not have been.
    if (script.src && !original.hasAttribute("async")) {
      script.async = false;
    }
    script.text = original.text;
    return script;
  };

  // Puts a script in place of `spot`; resolves once it has run, so that scripts keep the
  // document's order. An external classic or module script that is not async is waited for
  // (loaded or failed); anything else (inline, async, a data block) runs or is left at once.
  const putScript = (script, spot) =>
    new Promise((done) => {
      const waits = script.src && !script.async && /^$|module|script$/i.test(script.type);
      if (waits) {
        script.onload = done;
        script.onerror = done;
      }
      spot.replaceWith(script);
      if (!waits) {
        done();
      }
    });

  // Puts a template's content in its place, or into the shadow root it declares, then runs
  // its scripts one by one in order. Each script is first swapped for an empty comment that
  // marks its place, so the rest of the content is in the page before the first one runs.
  const unpackTemplate = async (template, shadowRoot) => {
    const content = document.importNode(template.content, true);
    const scripts = selectAll("script", content).map((script) => {
      const spot = new Comment();
      script.replaceWith(spot);
      return { script, spot };
    });
    if (shadowRoot) {
      shadowRoot.append(content);
      template.remove();
    } else {
      template.replaceWith(content);
    }
    for (const { script, spot } of scripts) {
      await putScript(copyScript(script), spot);
    }
  };

  // Attaches the shadow root a declarative template asked for (data-consent-shadowrootmode,
  // moved aside by the server), with its options. When the host cannot take one (it has a
  // shadow root already, or cannot have one), the template stays inert, as the HTML parser
  // leaves it: undefined is returned.
  const attachShadowRoot = (template) => {
    const mode = template.getAttribute("data-consent-shadowrootmode").toLowerCase();
    const option = (name) => template.hasAttribute("shadowroot" + name);
    try {
      const shadowRoot = template.parentElement.attachShadow({
        mode,
        delegatesFocus: option("delegatesfocus"),
        clonable: option("clonable"),
        serializable: option("serializable"),
      });
      shadowRoots.push(shadowRoot);
      return shadowRoot;
    } catch {
      return undefined;
    }
  };

  // Restores an element whose loading attributes were moved aside, and tidies the embed
  // box around it (an iframe with its "Allow" placeholder, say).
  const restoreElement = (element, embedBox) => {
    // Read before anything changes: the visitor may be on the box's "Allow" button.
    const focusWasInside = embedBox?.contains(document.activeElement);
    for (const name of MOVED) {
      const value = element.getAttribute("data-consent-" + name);
      element.removeAttribute("data-consent-" + name);
      // An SVG <image> takes href as well as xlink:href: the plain name is set.
      if (value !== null) {
        element.setAttribute(name.replace("xlink:", ""), value);
      }
    }
    // Inside an embed box the element was hidden behind the placeholder; elsewhere its
    // hidden attribute is the page's own and stays.
    if (embedBox) {
      element.hidden = false;
    }
    embedBox?.querySelector("[data-consent-placeholder]")?.remove();
    if (focusWasInside) {
      element.focus();
    }
  };

  // Brings every element that is now allowed to life, in document order.
  const activate = async () => {
    // Media elements whose <source> children came back: they must look at them again.
    const media = new Set();
    let unpacked = false;
    // A list taken before anything changes: restored elements are not visited twice.
    for (const element of selectEverywhere(WAITING)) {
      const id = element.dataset.consent;
      // (a template unpacked earlier in this loop may have removed it)
      if (!allows(id) || !element.isConnected) {
        continue;
      }
      running.add(id);
      if (element.localName === "script") {
        await putScript(copyScript(element, true), element);
      } else if (element.localName === "template") {
        const declaresShadowRoot = element.hasAttribute("data-consent-shadowrootmode");
        const shadowRoot = declaresShadowRoot && attachShadowRoot(element);
        if (shadowRoot || !declaresShadowRoot) {
          await unpackTemplate(element, shadowRoot);
          unpacked = true;
        }
      } else {
        restoreElement(element, element.closest("[data-consent-embed]"));
        if (element.localName === "source" && element.parentElement?.load) {
          media.add(element.parentElement);
        }
      }
    }
    // One with a src of its own has loaded it already, or will: only the others reload.
    for (const mediaElement of media) {
      if (!mediaElement.hasAttribute("src")) {
        mediaElement.load();
      }
    }
    // A template's content may hold gated markup of its own: it is looked at in turn.
    if (unpacked) {
      await activate();
    }
  };

  // Says `text` in the live region, which screen readers read out.
  const announce = (text) => {
    let region = document.querySelector("[data-consent-status]");
    if (!region) {
      region = document.body.appendChild(document.createElement("div"));
      region.className = "cc-sr";
      region.setAttribute("role", "status");
      region.dataset.consentStatus = "";
    }
    // Emptied first, then filled two frames later: a screen reader announces a change, and
    // the same message twice in a row would be no change.
    region.textContent = "";
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        region.textContent = text;
      }),
    );
  };

  // Takes the state the server recorded and brings the page in line with it.
  const applyState = (next) => {
    const before = state;
    state = next;
    for (const banner of selectAll("[data-consent-banner]")) {
      banner.remove();
    }
    for (const box of selectAll("input[name=grant][type=checkbox]:not(:disabled)")) {
      box.checked = allows(box.value);
    }
    const withdrawn = [...running].some((id) => names(before, id) && !allows(id));
    if (withdrawn) {
      // The server sends the page again with that code inert.
      location.reload();
      return;
    }
    announce(config.strings.saved);
    findDialog()?.close();
    // Before the newly allowed scripts run, so that a listener can prepare for them.
    document.dispatchEvent(new CustomEvent("consent:change", { detail: state }));
    activations = activations.then(activate);
  };

  // What a submitted consent form asks for, as the JSON body of the post.
  const readChoice = (form, submitter) => {
    // An embed's "Allow" form: this one category on top of what is granted, in place of
    // the services of that category allowed one by one.
    const category = form.dataset.consentAllow;
    if (category) {
      const kept = state.services.filter((service) => config.owners[service] !== category);
      return { action: "save", grant: [...state.granted, ...kept, category] };
    }
    const fields = new FormData(form, submitter);
    const action = submitter?.name === "action" ? submitter.value : fields.get("action");
    return { action: action || "save", grant: fields.getAll("grant") };
  };

  // Posts a choice as JSON. Whatever goes wrong (network, an unexpected answer), the form is
  // posted the plain way instead, as it would be without this script.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    const submitter = event.submitter;
    if (!form.matches("form[data-consent-form]")) {
      return;
    }
    event.preventDefault();
    const answer = await fetch(config.path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        ...readChoice(form, submitter),
        gpc,
        // The form's "lang" field, if it has one (form.lang would be the lang attribute).
        lang: form.elements.namedItem("lang")?.value,
      }),
    })
      .then((response) => [200, 503].includes(response.status) && response.json())
      .catch(() => null);
    if (answer?.granted) {
      applyState(answer);
      return;
    }
    // 503: the consent log could not record the choice; the previous one stays.
    if (answer?.error) {
      announce(answer.error);
      return;
    }
    // submit() does not send the button that was pressed: a hidden field carries it.
    if (submitter?.name) {
      const field = document.createElement("input");
      field.type = "hidden";
      field.name = submitter.name;
      field.value = submitter.value;
      form.append(field);
    }
    // submit() fires no submit event, so this listener is not called again; taken from the
    // prototype because a field named "submit" would hide form.submit.
    HTMLFormElement.prototype.submit.call(form);
  });

  // Opens the settings dialog; false when the page has none (then a link goes to the
  // preferences page instead). showModal() makes the rest of the page inert, so focus stays
  // inside the dialog, and Escape closes it.
  const openDialog = (from) => {
    const dialog = findDialog();
    if (dialog && !dialog.open) {
      opener = from || document.activeElement;
      dialog.showModal();
    }
    return Boolean(dialog);
  };

  document.addEventListener("click", (event) => {
    const control = event.target.closest?.("[data-consent-open],[data-consent-close]");
    if (control?.matches("[data-consent-close]")) {
      control.closest("dialog")?.close();
    } else if (control && openDialog(control)) {
      event.preventDefault();
    }
  });

  // However the dialog closes (its close button, a saved choice, or Escape, which grants
  // nothing), the focus goes back to the control that opened it, if it is still there.
  findDialog()?.addEventListener("close", () => {
    if (opener?.isConnected) {
      opener.focus();
    } else {
      document.activeElement?.blur();
    }
    opener = null;
  });

  // A category's switch sets the switches of its services; turning off a category's last
  // service turns the category off too.
  document.addEventListener("change", (event) => {
    const box = event.target;
    if (box.name !== "grant" || !box.form) {
      return;
    }
    const boxes = selectAll("input[name=grant]:not(:disabled)", box.form);
    const childrenOf = (id) => boxes.filter((child) => child.dataset.consentParent === id);
    for (const child of childrenOf(box.value)) {
      child.checked = box.checked;
    }
    const parent = box.dataset.consentParent;
    if (parent && !childrenOf(parent).some((child) => child.checked)) {
      for (const other of boxes) {
        if (other.value === parent) {
          other.checked = false;
        }
      }
    }
  });

  // The page's own code may ask: consent.allows("analytics"), consent.state(), consent.open().
  window.consent = Object.freeze({ state: () => state, allows, open: () => openDialog() });
})();
