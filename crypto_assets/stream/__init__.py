"""The live collector behind ``crypto stream``: Binance kline_1m streams -> ``candles_1m``,
``price_samples`` and ``stream_heartbeats``.

``buffer.py`` holds what waits to be written (bounded), ``writer.py`` writes it in one
transaction through COPY, ``heartbeat.py`` says how each connection is doing, and
``collector.py`` runs the connections, the writes and the clean stop.
"""
