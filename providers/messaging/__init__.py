"""The outbox: how messages are created, paced, sent and followed (statuses, inbound answers).

- `sending`: the one function that creates outbound messages for every origin, and single sends;
- `outbox` and `dispatch`: one sender per number, under its pacer (`pacing`);
- `transitions`: the status table every writer goes through;
- `statuses` and `inbound`: what Nexmo calls back with.
"""
