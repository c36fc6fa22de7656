"""``python -m crypto_assets.binance.simulator --port N``."""

import sys

from crypto_assets.binance.simulator.cli import main

sys.exit(main(sys.argv[1:]))
