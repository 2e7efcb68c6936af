// Campaign wizard. Step 1: the audience's fields that apply, and who it would reach, counted by the server as
// launch counts. Step 2: a live WhatsApp-style preview (wa_preview.js) of the personalisation as it is typed.
(() => {
  "use strict";

  const wrapper = (form, name) => {
    const input = form.querySelector(`[name="${name}"]`);
    return input ? input.closest(".field") : null;
  };
  const show = (node, visible) => { if (node) node.hidden = !visible; };

  const audienceForm = document.getElementById("step-audience");
  if (audienceForm) {
    const reach = document.getElementById("audience-reach");
    const audience = audienceForm.querySelector("[name=audience]");
    let asked = 0;
    const update = async () => {
      show(wrapper(audienceForm, "segment"), audience.value === "segment");
      show(wrapper(audienceForm, "audience_file"), audience.value === "uploaded_list");
      const url = new URL(audienceForm.dataset.reachUrl, window.location.href);
      ["template", "audience", "segment", "audience_list"].forEach((name) => {
        const input = audienceForm.querySelector(`[name="${name}"]`);
        if (input && input.value) url.searchParams.set(name, input.value);
      });
      const ticket = ++asked;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (!response.ok || ticket !== asked) return;
        reach.textContent = (await response.json()).text;
      } catch {
        // Offline for a moment: the count shows again on the next change.
      }
    };
    audienceForm.addEventListener("change", update);
    update();
  }

  const detailsForm = document.getElementById("step-details");
  const screen = document.querySelector("[data-wa-screen]");
  if (!detailsForm || !screen || !window.WaPreview) return;
  const message = JSON.parse(detailsForm.dataset.message || "{}");
  const sample = JSON.parse(detailsForm.dataset.sample || "{}");
  const value = (name) => {
    const input = detailsForm.querySelector(`[name="${name}"]`);
    return input ? input.value.trim() : "";
  };

  // A property path ("address.city") in the sample contact's fields, then its properties.
  const lookup = (path) => {
    if (path in sample && path !== "properties") return sample[path];
    return path.split(".").reduce((node, key) => (node && typeof node === "object" ? node[key] : undefined), sample.properties);
  };

  const slotValue = (key) => {
    const name = value(`var_${key}_name`);
    if (!name) return "";
    if (value(`var_${key}_source`) === "value") return name;
    const found = lookup(name);
    if (found !== undefined && found !== null && String(found).trim()) return String(found);
    return value(`var_${key}_fallback`) || `‹${name}›`;
  };

  const render = () => {
    const values = {};
    detailsForm.querySelectorAll("[data-slot-fields]").forEach((fieldset) => {
      const key = fieldset.dataset.slotFields;
      // A text for everyone has no fallback.
      show(wrapper(detailsForm, `var_${key}_fallback`), value(`var_${key}_source`) !== "value");
      values[key === "header" ? "header-1" : `body-${key}`] = slotValue(key);
    });
    window.WaPreview.render(
      screen,
      {
        headerType: message.header_type,
        headerText: message.header_text,
        headerDetail: value("header_media_url") || message.header_detail,
        body: message.body,
        footer: message.footer,
        buttons: message.buttons,
      },
      values,
    );
  };
  detailsForm.addEventListener("input", render);
  detailsForm.addEventListener("change", render);
  render();
})();
