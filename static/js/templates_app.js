// Template editor: a live WhatsApp-style preview (wa_preview.js), header fields that follow the header type, and the
// namespace field only while the chosen provider has none. Everything user-typed is written with textContent.
(function () {
  "use strict";

  const form = document.getElementById("template-form");
  const screen = document.querySelector("[data-wa-screen]");
  if (!form || !screen || !window.WaPreview) return;

  // WhatsApp allows up to 10 buttons (templates_app/rules.py); a slot shows once the one before it is used.
  const BUTTON_SLOTS = Number(form.dataset.buttonSlots || 3);
  const field = (name) => form.querySelector(`[name="${name}"]`);
  const value = (name) => (field(name) ? field(name).value : "");
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

  const variablesOf = window.WaPreview.variablesOf;

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

  function buttons() {
    const list = [];
    for (let slot = 1; slot <= BUTTON_SLOTS; slot += 1) {
      list.push({ type: value(`button_${slot}_type`), text: value(`button_${slot}_text`) });
    }
    return list;
  }

  function syncButtonSlots() {
    const used = (slot) => ["type", "text", "value"].some((part) => value(`button_${slot}_${part}`));
    for (let slot = 2; slot <= BUTTON_SLOTS; slot += 1) {
      const visible = used(slot) || used(slot - 1);
      ["type", "text", "value"].forEach((part) => show(`button_${slot}_${part}`, visible));
    }
  }

  function render() {
    const body = value("body");
    syncSampleInputs(body, value("header_text"));
    const type = value("header_type");
    window.WaPreview.render(
      screen,
      {
        headerType: type,
        headerText: value("header_text"),
        headerDetail: type === "location" ? value("location_name") : value("header_media_url"),
        body,
        footer: value("footer"),
        buttons: buttons(),
      },
      sampleValues,
    );
  }

  form.addEventListener("input", () => {
    syncButtonSlots();
    render();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "header_type") syncHeaderFields();
    if (event.target.name === "provider") syncNamespaceField();
    render();
  });
  syncHeaderFields();
  syncNamespaceField();
  syncButtonSlots();
  render();
})();

