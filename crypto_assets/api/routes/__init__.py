"""The API's routes, one module per family: catalog (symbols), series (candles, downsampled,
metrics), live (snapshot and server-sent events), health."""
