"""A Binance spot simulator (REST and WebSocket streams) that speaks the exchange's wire format.

Real HTTP (keep-alive), deterministic synthetic candles for the 13 recorded symbols (and any
number of synthetic ones), Binance's request weights, 429/418 behaviour and error bodies, a
controllable clock, and faults switchable at run time. Kline streams on the same port push the
same candles as REST (``ws.py``). See ``SimulatorServer`` for the Python API, ``admin.py`` for
the ``/_sim/`` HTTP controls, ``cli.main`` for the command line.
"""

from crypto_assets.binance.simulator.cli import main
from crypto_assets.binance.simulator.clock import SimClock
from crypto_assets.binance.simulator.faults import Faults
from crypto_assets.binance.simulator.server import SimulatorServer

__all__ = ["Faults", "SimClock", "SimulatorServer", "main"]
