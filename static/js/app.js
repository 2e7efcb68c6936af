// Small progressive enhancements shared by every page. No inline code anywhere: the Content-Security-Policy
// allows scripts and styles from files only, so behaviour hangs on data- attributes read here.

// Progress bars: the width comes from data-width (a style attribute would be refused by the policy).
document.querySelectorAll("[data-width]").forEach((bar) => { bar.style.width = `${bar.dataset.width}%`; });

// Forms that ask first: <form data-confirm="question">.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset ? event.target.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});

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
