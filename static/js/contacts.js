// Contacts pages: the import progress bar and the segment builder's live preview.
(() => {
  const progress = document.getElementById("import-progress");
  if (progress && progress.dataset.finished !== "true") {
    const set = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };
    const poll = async () => {
      let data;
      try {
        const response = await fetch(progress.dataset.statusUrl, { headers: { Accept: "application/json" } });
        if (!response.ok) throw new Error(String(response.status));
        data = await response.json();
      } catch {
        setTimeout(poll, 3000);
        return;
      }
      const bar = document.getElementById("import-bar");
      bar.setAttribute("aria-valuenow", data.progress_percent);
      bar.firstElementChild.style.width = `${data.progress_percent}%`;
      set("import-percent", data.progress_percent);
      set("import-status", data.status_label);
      set("import-rows", data.rows_processed);
      set("import-created", data.created);
      set("import-updated", data.updated);
      set("import-skipped", data.skipped);
      set("import-invalid", data.invalid);
      if (data.error) { const e = document.getElementById("import-error"); e.hidden = false; e.textContent = data.error; }
      // Once finished, the page itself shows the summary, with the rows that were not imported and why.
      if (data.finished) { window.location.reload(); return; }
      setTimeout(poll, 1000);
    };
    poll();
  }

  const builder = document.getElementById("segment-builder");
  if (!builder) return;
  // Show only the inputs that matter for each condition's type.
  const FIELDS = {
    property: ["key", "property_op", "value"],
    consent: ["consent", "consent_value"],
    test_profile: ["test_profile"],
    date: ["date_field", "date_op", "value", "key"],
    event: ["event_op", "event_name", "min_count", "days", "filter_key", "filter_op", "filter_value"],
  };
  const ALWAYS = ["type"];
  const arrange = (card) => {
    const type = card.querySelector("select[name$='-type']").value;
    card.querySelectorAll(".field").forEach((field) => {
      const input = field.querySelector("input, select, textarea");
      if (!input) return;
      const name = input.name.replace(/^conditions-\d+-/, "");
      field.hidden = !(ALWAYS.includes(name) || (FIELDS[type] || []).includes(name));
    });
  };
  builder.querySelectorAll("[data-condition]").forEach(arrange);

  const count = document.getElementById("preview-count");
  const sample = document.getElementById("preview-sample");
  const errors = document.getElementById("preview-errors");
  const hint = document.getElementById("preview-hint");
  // A form nobody has typed in yet is not wrong, only unfinished: it gets a hint, not error messages.
  let touched = false;
  let timer = null;
  let sequence = 0;
  const refresh = async () => {
    const mine = ++sequence;
    const body = new FormData(builder);
    body.delete("action");
    let data;
    try {
      const response = await fetch(builder.dataset.previewUrl, { method: "POST", body, headers: { Accept: "application/json" } });
      data = await response.json();
    } catch {
      return;
    }
    if (mine !== sequence) return;
    errors.replaceChildren();
    sample.replaceChildren();
    hint.hidden = data.valid || touched;
    if (!data.valid) {
      count.textContent = "–";
      document.getElementById("preview-reach").textContent = "";
      if (!touched) return;
      data.errors.forEach((text) => { const li = document.createElement("li"); li.textContent = text; errors.append(li); });
      return;
    }
    count.textContent = data.count;
    document.getElementById("preview-reach").textContent = data.reach || "";
    data.sample.forEach((contact) => {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = contact.url;
      link.textContent = contact.name || contact.phone;
      li.append(link);
      sample.append(li);
    });
  };
  const later = () => { touched = true; clearTimeout(timer); timer = setTimeout(refresh, 350); };
  builder.addEventListener("input", later);
  builder.addEventListener("change", (event) => {
    const card = event.target.closest("[data-condition]");
    if (card && event.target.name.endsWith("-type")) arrange(card);
    later();
  });
  document.getElementById("preview-refresh").addEventListener("click", () => { touched = true; refresh(); });
  refresh();
})();
