// Small progressive enhancements shared by every page.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target) return;
  const text = "value" in target && target.value !== undefined ? target.value : target.textContent;
  try {
    await navigator.clipboard.writeText(text.trim());
  } catch {
    const area = document.createElement("textarea");
    area.value = text.trim();
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  button.dataset.copied = "true";
  setTimeout(() => { button.textContent = label; }, 1500);
});
