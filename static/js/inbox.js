// The shared inbox (conversations/templates): new messages and ticks without a reload (polling small fragments every
// few seconds), the template picker, and the WhatsApp-style preview of a template reply as its values are typed.
(() => {
  "use strict";

  const POLL_MS = 3000;

  function badge(unread) {
    const node = document.querySelector("[data-inbox-badge]");
    if (!node) return;
    node.textContent = unread > 99 ? "99+" : String(unread);
    node.hidden = !unread;
  }

  // Fetch `url` every few seconds and hand its JSON to `apply`; pauses while the tab is hidden.
  function poll(url, apply) {
    let busy = false;
    const tick = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (response.ok) apply(await response.json());
      } catch (error) {
        // Offline for a moment: the next tick tries again.
      } finally {
        busy = false;
      }
    };
    window.setInterval(tick, POLL_MS);
  }

  const list = document.querySelector("[data-inbox-poll]");
  if (list) {
    poll(list.dataset.inboxPoll, (data) => {
      if (data.html !== list.dataset.last) {
        list.innerHTML = data.html;
        list.dataset.last = data.html;
      }
      badge(data.unread);
    });
  }

  const thread = document.querySelector("[data-thread-poll]");
  if (thread) {
    thread.scrollTop = thread.scrollHeight;
    poll(thread.dataset.threadPoll, (data) => {
      if (data.html === thread.dataset.last) return;
      const atBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 40;
      thread.innerHTML = data.html;
      thread.dataset.last = data.html;
      if (atBottom) thread.scrollTop = thread.scrollHeight;
    });
  }

  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  const templateForm = document.getElementById("template-reply");
  const screen = document.querySelector("[data-wa-screen]");
  if (templateForm && screen && window.WaPreview) {
    const message = JSON.parse(templateForm.dataset.message || "{}");
    const render = () => {
      const values = {};
      templateForm.querySelectorAll("input[name^='p_']").forEach((input) => {
        const key = input.name.slice(2);
        values[key === "header" ? "header-1" : `body-${key}`] = input.value.trim();
      });
      window.WaPreview.render(
        screen,
        {
          headerType: message.header_type,
          headerText: message.header_text,
          headerDetail: message.header_detail,
          body: message.body,
          footer: message.footer,
          buttons: message.buttons,
        },
        values,
      );
    };
    templateForm.addEventListener("input", render);
    render();
  }
})();
