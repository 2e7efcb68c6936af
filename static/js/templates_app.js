// Template editor: a live WhatsApp-style preview, header fields that follow the header type, and the namespace
// field only while the chosen provider has none. Everything user-typed is written with textContent.
(function () {
  "use strict";

  const form = document.getElementById("template-form");
  const preview = document.getElementById("wa-preview");
  if (!form || !preview) return;

  const BUTTON_SLOTS = 3;
  const VARIABLE = /\{\{(\d+)\}\}/g;
  const MEDIA_LABELS = { image: "🖼 Image", video: "▶ Video", document: "📄 Document", location: "📍 Location" };
  const field = (name) => form.querySelector(`[name="${name}"]`);
  const value = (name) => (field(name) ? field(name).value : "");
  const part = (name) => document.querySelector(`[data-part="${name}"]`);
  const samples = document.getElementById("preview-samples");
  const sampleValues = {};

  function wrapperOf(name) {
    const input = field(name);
    return input ? input.closest(".field") : null;
  }

  function show(name, visible) {
    const wrapper = wrapperOf(name);
    if (wrapper) wrapper.hidden = !visible;
  }

  function syncHeaderFields() {
    const type = value("header_type");
    show("header_text", type === "text");
    show("header_media_url", ["image", "video", "document"].includes(type));
    ["latitude", "longitude", "name", "address"].forEach((key) => show(`location_${key}`, type === "location"));
    // A hidden header text would otherwise be saved and rejected for a media header.
    if (type !== "text" && field("header_text")) field("header_text").value = "";
    if (!["image", "video", "document"].includes(type) && field("header_media_url")) field("header_media_url").value = "";
  }

  function syncNamespaceField() {
    if (!field("whatsapp_namespace")) return;
    const without = JSON.parse(form.dataset.providersWithoutNamespace || "[]").map(String);
    show("whatsapp_namespace", without.includes(value("provider")));
  }

  function variablesOf(text) {
    return Array.from(text.matchAll(VARIABLE), (match) => match[1]);
  }

  function syncSampleInputs(body, headerText) {
    const wanted = [...new Set(variablesOf(body))].sort((a, b) => a - b).map((n) => `body-${n}`);
    if (value("header_type") === "text" && variablesOf(headerText).length) wanted.unshift("header-1");
    const current = Array.from(samples.querySelectorAll("input"), (input) => input.dataset.sample);
    if (wanted.join() === current.join()) return;
    samples.replaceChildren();
    if (wanted.length) {
      const title = document.createElement("p");
      title.className = "muted";
      title.textContent = "Sample values for the preview (not saved)";
      samples.append(title);
    }
    wanted.forEach((key) => {
      const [where, number] = key.split("-");
      const label = document.createElement("label");
      label.textContent = where === "header" ? "Header {{1}}" : `{{${number}}}`;
      const input = document.createElement("input");
      input.type = "text";
      input.dataset.sample = key;
      input.value = sampleValues[key] || "";
      input.placeholder = `Sample ${number}`;
      input.addEventListener("input", () => {
        sampleValues[key] = input.value;
        render();
      });
      label.append(input);
      samples.append(label);
    });
  }

  // Fill {{n}} with the sample value (or a visible placeholder) as DOM nodes, never as HTML.
  function fill(target, text, prefix) {
    target.replaceChildren();
    let last = 0;
    for (const match of text.matchAll(VARIABLE)) {
      target.append(document.createTextNode(text.slice(last, match.index)));
      const key = `${prefix}-${match[1]}`;
      const span = document.createElement("span");
      span.className = sampleValues[key] ? "wa-var filled" : "wa-var";
      span.textContent = sampleValues[key] || match[0];
      target.append(span);
      last = match.index + match[0].length;
    }
    target.append(document.createTextNode(text.slice(last)));
  }

  function renderHeader() {
    const header = part("header");
    const type = value("header_type");
    header.replaceChildren();
    header.className = "wa-header";
    if (type === "text") {
      header.classList.add("text");
      fill(header, value("header_text"), "header");
    } else if (MEDIA_LABELS[type]) {
      header.classList.add("media", type);
      const label = document.createElement("span");
      const detail = type === "location" ? value("location_name") : value("header_media_url");
      label.textContent = MEDIA_LABELS[type] + (detail ? ` · ${detail}` : "");
      header.append(label);
    }
    header.hidden = type === "none" || !type;
  }

  function renderButtons() {
    const buttons = part("buttons");
    buttons.replaceChildren();
    for (let slot = 1; slot <= BUTTON_SLOTS; slot += 1) {
      const type = value(`button_${slot}_type`);
      const text = value(`button_${slot}_text`);
      if (!type || !text) continue;
      const button = document.createElement("div");
      button.className = `wa-button ${type}`;
      const icon = type === "url" ? "↗ " : type === "phone_number" ? "☎ " : "↩ ";
      button.textContent = icon + text;
      buttons.append(button);
    }
    buttons.hidden = !buttons.children.length;
  }

  function render() {
    const body = value("body");
    syncSampleInputs(body, value("header_text"));
    renderHeader();
    fill(part("body"), body || "Your message…", "body");
    part("footer").textContent = value("footer");
    part("footer").hidden = !value("footer");
    renderButtons();
  }

  form.addEventListener("input", render);
  form.addEventListener("change", (event) => {
    if (event.target.name === "header_type") syncHeaderFields();
    if (event.target.name === "provider") syncNamespaceField();
    render();
  });
  syncHeaderFields();
  syncNamespaceField();
  render();
})();

document.addEventListener("submit", (event) => {
  const message = event.target.dataset ? event.target.dataset.confirm : "";
  if (message && !window.confirm(message)) event.preventDefault();
});
