"""A local stand-in for Nexmo's Messages API (WhatsApp): for the demo, the tests and the benchmarks.

`run_in_thread(SimulatorConfig(...)) -> SimulatorHandle` starts one in-process; `manage.py nexmo_simulator` runs one
in the foreground. See README.md ("Nexmo simulator") for the endpoints and counters.
"""

from providers.simulator.config import Channel, SimulatorConfig, digits
from providers.simulator.core import CustomerError, Simulator
from providers.simulator.runner import SimulatorHandle, customer_request, run_in_thread, serve_forever

__all__ = [
    "Channel",
    "CustomerError",
    "Simulator",
    "SimulatorConfig",
    "SimulatorHandle",
    "customer_request",
    "digits",
    "run_in_thread",
    "serve_forever",
]
