"""A small layered layout for drawing a journey as SVG on the server: columns by distance from the entry node."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from journeys.definition import node_edges

STAT_KEYS = ("entered", "waiting", "sent", "delivered", "read", "replied", "exited", "converted")

BOX_W, BOX_H = 190, 92
GAP_X, GAP_Y = 70, 28
PAD = 16


@dataclass
class Box:
    id: str
    type: str
    x: int
    y: int
    counts: dict[str, int] = field(default_factory=dict)
    summary: str = ""
    entry: bool = False

    @property
    def count_rows(self) -> list[tuple[str, int]]:
        return [(key, self.counts.get(key, 0)) for key in STAT_KEYS]


@dataclass
class Edge:
    label: str
    path: str
    label_x: int
    label_y: int


@dataclass
class Graph:
    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int
    box_w: int = BOX_W
    box_h: int = BOX_H


def _summary(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "wait":
        if node.get("seconds"):
            return f"{node['seconds']} s"
        return f"until {node.get('until_local_time') or node.get('until_property') or '?'}"
    if kind == "wait_for_reply":
        return f"reply {node.get('payload') or 'any'} ≤ {node.get('timeout_seconds')} s"
    if kind == "send_template":
        return f"template #{node.get('template')}"
    if kind == "update_property":
        return f"{node.get('property')} = {node.get('value')!r}"[:28]
    if kind == "branch":
        return str((node.get("condition") or {}).get("type", "?"))
    return ""


def journey_graph(*, entry_node: str, nodes: list[Any], stats: dict[str, dict[str, int]] | None = None) -> Graph:
    """Boxes placed column by column (breadth-first from the entry), unreachable ones in a last column."""
    by_id = {str(n["id"]): n for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)}
    column: dict[str, int] = {}
    order: list[str] = []
    if entry_node in by_id:
        column[entry_node] = 0
        queue = deque([entry_node])
        while queue:
            current = queue.popleft()
            order.append(current)
            for _, target in node_edges(by_id[current]):
                if target in by_id and target not in column:
                    column[target] = column[current] + 1
                    queue.append(target)
    last = max(column.values(), default=-1) + 1
    for node_id in by_id:
        if node_id not in column:
            column[node_id] = last
            order.append(node_id)
    rows: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for node_id in order:
        col = column[node_id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        node = by_id[node_id]
        boxes[node_id] = Box(
            id=node_id,
            type=str(node.get("type")),
            x=PAD + col * (BOX_W + GAP_X),
            y=PAD + row * (BOX_H + GAP_Y),
            counts=(stats or {}).get(node_id, {}),
            summary=_summary(node),
            entry=node_id == entry_node,
        )
    edges = []
    for node_id, box in boxes.items():
        for label, target in node_edges(by_id[node_id]):
            end = boxes.get(target)
            if end is None:
                continue
            x1, y1 = box.x + BOX_W, box.y + BOX_H // 2
            x2, y2 = end.x, end.y + BOX_H // 2
            if end.x <= box.x:  # a loop back or a same-column edge: bend below the boxes
                low = max(box.y, end.y) + BOX_H + GAP_Y // 2
                path = f"M{x1},{y1} C{x1 + 40},{low} {x2 - 40},{low} {x2},{y2}"
                lx, ly = (x1 + x2) // 2, low
            else:
                mid = (x1 + x2) // 2
                path = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"
                lx, ly = mid, (y1 + y2) // 2 - 4
            edges.append(Edge(label=label, path=path, label_x=lx, label_y=ly))
    width = max((b.x for b in boxes.values()), default=0) + BOX_W + PAD
    height = max((b.y for b in boxes.values()), default=0) + BOX_H + PAD + GAP_Y
    return Graph(boxes=list(boxes.values()), edges=edges, width=width, height=height)
