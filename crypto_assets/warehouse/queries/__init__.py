"""Read queries behind the dashboard: bounded, bucketed in the database, one module per page.

Every query is limited to a symbol (or a few) and a time range, and long ranges are aggregated
into at most ``buckets.MAX_POINTS`` buckets with ``date_bin`` (PostgreSQL 14+, so the same SQL
runs on plain PostgreSQL and on TimescaleDB). Prices come back as ``float8``: they are for
charts; the tables keep the exact ``numeric`` values. Each page module has one ``*_view``
function producing all the data of its page; the dashboard caches those, ``bench/`` times them.
"""
