// The WhatsApp-style preview of a template message (templates_app/includes/wa_preview.html), shared by the template
// editor and the campaign wizard. Everything user-typed is written with textContent, never as HTML.
window.WaPreview = (() => {
  "use strict";

  const VARIABLE = /\{\{(\d+)\}\}/g;
  const MEDIA_LABELS = { image: "🖼 Image", video: "▶ Video", document: "📄 Document", location: "📍 Location" };
  const ICONS = { url: "↗ ", phone_number: "☎ " };

  function variablesOf(text) {
    return Array.from(text.matchAll(VARIABLE), (match) => match[1]);
  }

  // Fill {{n}} with values[`${prefix}-${n}`] (or a visible placeholder) as DOM nodes.
  function fill(target, text, prefix, values) {
    target.replaceChildren();
    let last = 0;
    for (const match of text.matchAll(VARIABLE)) {
      target.append(document.createTextNode(text.slice(last, match.index)));
      const value = values[`${prefix}-${match[1]}`];
      const span = document.createElement("span");
      span.className = value ? "wa-var filled" : "wa-var";
      span.textContent = value || match[0];
      target.append(span);
      last = match.index + match[0].length;
    }
    target.append(document.createTextNode(text.slice(last)));
  }

  // message: {headerType, headerText, headerDetail, body, footer, buttons: [{type, text}]}; values: {"body-1": ...}.
  function render(screen, message, values) {
    const part = (name) => screen.querySelector(`[data-part="${name}"]`);
    const header = part("header");
    const type = message.headerType || "none";
    header.replaceChildren();
    header.className = "wa-header";
    if (type === "text") {
      header.classList.add("text");
      fill(header, message.headerText || "", "header", values);
    } else if (MEDIA_LABELS[type]) {
      header.classList.add("media", type);
      const label = document.createElement("span");
      label.textContent = MEDIA_LABELS[type] + (message.headerDetail ? ` · ${message.headerDetail}` : "");
      header.append(label);
    }
    header.hidden = type === "none";
    fill(part("body"), message.body || "Your message…", "body", values);
    part("footer").textContent = message.footer || "";
    part("footer").hidden = !message.footer;
    const buttons = part("buttons");
    buttons.replaceChildren();
    (message.buttons || []).forEach((spec) => {
      if (!spec.type || !spec.text) return;
      const button = document.createElement("div");
      button.className = `wa-button ${spec.type}`;
      button.textContent = (ICONS[spec.type] || "↩ ") + spec.text;
      buttons.append(button);
    });
    buttons.hidden = !buttons.children.length;
  }

  return { render, variablesOf };
})();
