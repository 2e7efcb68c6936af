"""Which status a message may move to, from which: the one table every writer of `Message.status` derives from.

Send answers, batched send outcomes, status callbacks (one or many), claims and retries all build their conditions
here, as ORM filters (`q_into`, `q_step`) or SQL (`sql_into`), so no writer keeps a list of its own. Statuses only
move forward; the only steps back are two operations of the engine: a claimed message given back to the queue
before its request went out (`sending → queued`), and a failed send (Nexmo never accepted it) queued again on
request (`failed → queued`).
"""

from __future__ import annotations

from functools import cache

from django.db.models import Q

from providers.models import MessageStatus

S = MessageStatus

# Each status and the statuses it may become. A status callback may overtake the send's own answer (matched by
# client_ref), which is why the early states reach every later one directly.
TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.QUEUED: frozenset(
        {S.SENDING, S.SUBMITTED, S.DELIVERED, S.READ, S.REJECTED, S.UNDELIVERABLE, S.FAILED, S.UNKNOWN}
    ),
    S.SENDING: frozenset(
        {S.QUEUED, S.SUBMITTED, S.DELIVERED, S.READ, S.REJECTED, S.UNDELIVERABLE, S.FAILED, S.UNKNOWN}
    ),
    # No answer came (a timeout after the request left): only Nexmo's callbacks can settle it.
    S.UNKNOWN: frozenset({S.SUBMITTED, S.DELIVERED, S.READ, S.REJECTED, S.UNDELIVERABLE}),
    S.SUBMITTED: frozenset({S.DELIVERED, S.READ, S.REJECTED, S.UNDELIVERABLE}),
    S.DELIVERED: frozenset({S.READ}),
    S.READ: frozenset(),
    S.REJECTED: frozenset(),
    S.UNDELIVERABLE: frozenset(),
    # Nexmo never accepted it (429, 5xx, unreachable): it may be queued again, and nothing else.
    S.FAILED: frozenset({S.QUEUED}),
}
# The engine's own steps back; every other allowed move is forward.
STEPS_BACK = frozenset({(S.SENDING, S.QUEUED), (S.FAILED, S.QUEUED)})


def may_move(current: str, new: str) -> bool:
    return S(new) in TRANSITIONS[S(current)]


@cache
def sources(new: str) -> tuple[str, ...]:
    """The statuses a message may move into `new` from, in the table's order."""
    target = S(new)
    return tuple(status.value for status, targets in TRANSITIONS.items() if target in targets)


@cache
def after(status: str) -> tuple[str, ...]:
    """Every status a message in `status` can still reach going forward: a late timestamp of `status` may still be
    recorded on a message already there."""
    reached: set[MessageStatus] = set()
    frontier = [S(status)]
    while frontier:
        current = frontier.pop()
        for target in TRANSITIONS[current] - reached:
            if (current, target) not in STEPS_BACK:
                reached.add(target)
                frontier.append(target)
    reached.discard(S(status))
    return tuple(s.value for s in S if s in reached)


def q_into(new: str) -> Q:
    """The rows that may move into `new` (a send outcome or a callback)."""
    return Q(status__in=sources(new))


def q_step(current: str, new: str) -> Q:
    """The rows in `current`, for one named move of the engine (claim, give back, settle, retry)."""
    if not may_move(current, new):
        raise ValueError(f"A message never moves from {current} to {new}")
    return Q(status=current)


def sql_in(statuses: tuple[str, ...]) -> str:
    """An SQL list of status literals (the enum's own values, never input)."""
    return ", ".join(f"'{S(value).value}'" for value in statuses)


def sql_into(new: str, column: str = '"status"') -> str:
    """SQL condition: the row may move into `new`."""
    return f"{column} IN ({sql_in(sources(new))})"
