"""The simulator's one page: recent sends with their statuses, and the customer's replies (text, STOP, button taps)."""

from __future__ import annotations

import time
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from providers.simulator.http import Response

if TYPE_CHECKING:
    from providers.simulator.core import SentMessage, Simulator

STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5rem;color:#1f2933}h1{font-size:1.3rem}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e4e7eb;padding:.4rem;text-align:left;
vertical-align:top}form{display:inline-block;margin:0 .3rem .2rem 0}input[type=text]{width:12rem}
.notice{background:#e3f8ff;padding:.5rem;border-radius:4px}.muted{color:#7b8794}button{cursor:pointer}
"""


def redirect(notice: str) -> Response:
    return Response(303, headers={"Location": f"/?notice={quote(notice)}"}, content_type="text/plain")


def _actions(message: SentMessage) -> str:
    hidden = (
        f'<input type="hidden" name="from" value="{escape(message.to)}">'
        f'<input type="hidden" name="to" value="{escape(message.from_)}">'
    )
    parts = [
        f'<form method="post" action="/_sim/customer">{hidden}'
        '<input type="text" name="text" placeholder="Reply as the customer" required>'
        "<button>reply</button></form>",
        f'<form method="post" action="/_sim/customer">{hidden}'
        '<input type="hidden" name="action" value="stop"><button>STOP</button></form>',
    ]
    # Template quick replies, or an interactive message's reply buttons and list rows: each one a tap.
    for index, (_payload, text) in enumerate(message.buttons):
        parts.append(
            '<form method="post" action="/_sim/customer">'
            f'<input type="hidden" name="tap" value="{escape(message.message_uuid)}">'
            f'<input type="hidden" name="index" value="{index}"><button>tap {escape(text)}</button></form>'
        )
    return "".join(parts)


def render(simulator: Simulator, *, notice: str = "") -> Response:
    rows = []
    for message in list(reversed(simulator.messages.values()))[:50]:
        what = message.text or message.template_name or message.message_type
        rows.append(
            "<tr>"
            f"<td>{time.strftime('%H:%M:%S', time.localtime(message.accepted_at))}</td>"
            f"<td>+{escape(message.from_)} → +{escape(message.to)}</td>"
            f"<td>{escape(message.message_type)}: {escape(what[:120])}</td>"
            f"<td>{escape(' → '.join(message.statuses) or 'accepted')}</td>"
            f"<td class=muted>{escape(message.client_ref)}</td>"
            f"<td>{_actions(message)}</td>"
            "</tr>"
        )
    numbers = sorted(simulator.by_number)
    first_number = "+" + numbers[0] if numbers else ""
    counters = simulator.counters
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>Nexmo simulator</title>
<style>{STYLE}</style></head><body>
<h1>Nexmo simulator</h1>
<p class=muted>Provider numbers: {escape(", ".join("+" + n for n in numbers) or "none yet")} ·
received {counters["received"]} · accepted {counters["accepted"]} · callbacks sent {counters["callbacks"]["sent"]},
failed {counters["callbacks"]["failed"]} · <a href="/">refresh</a> · <a href="/_sim/counters">counters</a></p>
{f"<p class=notice>{escape(notice)}</p>" if notice else ""}
<h2>Write as a customer</h2>
<form method="post" action="/_sim/customer">
<input type="text" name="from" placeholder="Customer, e.g. +447700900001" required>
<input type="text" name="to" placeholder="Provider number" value="{escape(first_number)}" required>
<input type="text" name="text" placeholder="Message" required><button>send</button></form>
<h2>Recent messages</h2>
<table><tr><th>time</th><th>from → to</th><th>content</th><th>statuses</th><th>client_ref</th><th>customer</th></tr>
{"".join(rows) or "<tr><td colspan=6 class=muted>Nothing sent yet.</td></tr>"}</table>
</body></html>"""
    return Response(200, body.encode(), "text/html; charset=utf-8")
