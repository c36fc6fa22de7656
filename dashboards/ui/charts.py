"""Plotly figures for every page, in one style: titled, axes named with their units, times in
UTC, colours readable on Streamlit's light and dark themes (the page theme supplies the
background and fonts through ``st.plotly_chart(theme="streamlit")``)."""

from __future__ import annotations

from datetime import timedelta
from itertools import cycle

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crypto_assets.warehouse.queries.buckets import describe
from crypto_assets.warehouse.queries.candles import CandleSeries, normalised_closes
from crypto_assets.warehouse.queries.live import LiveView
from crypto_assets.warehouse.queries.metrics import VolatilityView
from crypto_assets.warehouse.queries.samples import DownsampledView

UP, DOWN = "#26a69a", "#ef5350"
VWAP = "#3b82f6"
AVERAGES = ("#f59e0b", "#a855f7", "#ec4899", "#14b8a6", "#84cc16")
SYMBOLS = ("#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#a855f7", "#ec4899", "#14b8a6", "#84cc16")
TIME_AXIS = "Time (UTC)"
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "EUR", "TRY", "BRL", "BTC", "ETH", "BNB")


def split_symbol(symbol: str) -> tuple[str, str]:
    """('BTC', 'USDT') for 'BTCUSDT'; the quote asset prices are in, the base asset volumes are in."""
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    return symbol, "quote asset"


def _style(fig: go.Figure, title: str, y_title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        hovermode="x unified",
    )
    fig.update_yaxes(title_text=y_title)
    fig.update_xaxes(title_text=TIME_AXIS, showgrid=True)
    return fig


def candles_figure(series: CandleSeries, averages: bool, vwap: bool) -> go.Figure:
    """Candlesticks over volume bars, with moving averages and the anchored VWAP."""
    base, quote = split_symbol(series.symbol)
    frame = series.frame
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03
    )
    fig.add_trace(
        go.Candlestick(
            x=frame["time"],
            open=frame["open"],
            high=frame["high"],
            low=frame["low"],
            close=frame["close"],
            name=series.symbol,
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
        ),
        row=1,
        col=1,
    )
    if averages:
        for color, column in zip(
            cycle(AVERAGES), [c for c in frame.columns if c.startswith("ma_")]
        ):
            fig.add_trace(
                go.Scatter(
                    x=frame["time"],
                    y=frame[column],
                    mode="lines",
                    line={"color": color, "width": 1.4},
                    name=f"MA {column[3:]}",
                ),
                row=1,
                col=1,
            )
    if vwap:
        fig.add_trace(
            go.Scatter(
                x=frame["time"],
                y=frame["vwap"],
                mode="lines",
                line={"color": VWAP, "width": 1.4, "dash": "dot"},
                name="VWAP (from range start)",
            ),
            row=1,
            col=1,
        )
    rising = (frame["close"] >= frame["open"]).to_list()
    fig.add_trace(
        go.Bar(
            x=frame["time"],
            y=frame["volume"],
            name=f"Volume ({base})",
            showlegend=False,
            marker_color=[UP if r else DOWN for r in rising],
            opacity=0.6,
        ),
        row=2,
        col=1,
    )
    title = f"{series.symbol} · {describe(series.bucket)} candles"
    _style(fig, title, f"Price ({quote})", height=560)
    fig.update_yaxes(title_text=f"Volume ({base})", row=2, col=1)
    fig.update_xaxes(title_text=None, row=1, col=1)
    fig.update_xaxes(rangeslider_visible=False)
    return fig


def compare_figure(lines: tuple[CandleSeries, ...]) -> go.Figure:
    """Closes of several symbols as a percentage of their first close in the range."""
    fig = go.Figure()
    for color, series in zip(cycle(SYMBOLS), lines):
        frame = normalised_closes(series)
        fig.add_trace(
            go.Scatter(
                x=frame["time"],
                y=frame["normalised"],
                mode="lines",
                name=series.symbol,
                line={"color": color, "width": 1.6},
            )
        )
    fig.add_hline(y=100, line={"color": "gray", "width": 1, "dash": "dot"})
    bucket = describe(lines[0].bucket) if lines else ""
    return _style(
        fig,
        f"Compared: close as % of the first close ({bucket} closes)",
        "Close (first close = 100)",
    )


def samples_figure(view: DownsampledView) -> go.Figure:
    """Raw samples (or their min-max band) with the windows' average and median."""
    _, quote = split_symbol(view.symbol)
    fig = go.Figure()
    if view.raw_bucket is None:
        fig.add_trace(
            go.Scatter(
                x=view.raw["time"],
                y=view.raw["price"],
                mode="markers",
                name="Raw samples",
                marker={"size": 4, "color": "#94a3b8"},
            )
        )
    else:
        band = f"Raw samples, min–max per {describe(view.raw_bucket)}"
        fig.add_trace(
            go.Scatter(
                x=view.raw["time"],
                y=view.raw["high"],
                mode="lines",
                line={"width": 0},
                showlegend=False,
                name="Raw max",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=view.raw["time"],
                y=view.raw["low"],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(148,163,184,0.45)",
                name=band,
            )
        )
    if (
        view.width is None
    ):  # samples, but no window written yet: say so rather than draw empty lines
        return _style(
            fig, f"{view.symbol} · raw price samples (no windows yet)", f"Price ({quote})"
        )
    width = describe(view.width)
    bucket = view.window_bucket
    merged = bucket is not None and bucket != view.width
    suffix = f" (merged to {describe(bucket)})" if bucket is not None and merged else ""
    fig.add_trace(
        go.Scatter(
            x=view.windows["time"],
            y=view.windows["avg"],
            mode="lines",
            line_shape="hv",
            name=f"Average, {width} windows{suffix}",
            line={"color": SYMBOLS[0], "width": 2},
        )
    )
    median = "Median of window medians" if merged else f"Median, {width} windows"
    fig.add_trace(
        go.Scatter(
            x=view.windows["time"],
            y=view.windows["median"],
            mode="lines",
            line_shape="hv",
            name=median,
            line={"color": SYMBOLS[1], "width": 2, "dash": "dash"},
        )
    )
    return _style(
        fig,
        f"{view.symbol} · raw price vs {width} window average and median{suffix}",
        f"Price ({quote})",
    )


def rolling_volatility_figure(view: VolatilityView) -> go.Figure:
    fig = go.Figure()
    for color, symbol in zip(cycle(SYMBOLS), view.symbols):
        part = view.rolling.filter(view.rolling["symbol"] == symbol)
        fig.add_trace(
            go.Scatter(
                x=part["time"],
                y=part["volatility"] * 100,
                mode="lines",
                name=symbol,
                line={"color": color, "width": 1.8},
            )
        )
    title = f"Rolling {view.window_days}-day realized volatility, annualized"
    return _style(fig, title, "Volatility (% per year)")


def returns_figure(view: VolatilityView) -> go.Figure:
    fig = go.Figure()
    for color, symbol in zip(cycle(SYMBOLS), view.symbols):
        part = view.returns.filter(view.returns["symbol"] == symbol)
        centres = ((part["lo"] + part["hi"]) / 2 * 100).to_list()
        fig.add_trace(
            go.Bar(
                x=centres,
                y=part["days"],
                name=symbol,
                marker_color=color,
                opacity=0.65,
                width=((part["hi"] - part["lo"]) * 100).to_list(),
            )
        )
    _style(fig, "Distribution of daily log returns", "Days", height=380)
    fig.update_layout(barmode="overlay", hovermode="closest")
    fig.update_xaxes(title_text="Daily log return (%)")
    return fig


def daily_range_figure(view: VolatilityView) -> go.Figure:
    fig = go.Figure()
    for color, symbol in zip(cycle(SYMBOLS), view.symbols):
        part = view.ranges.filter(view.ranges["symbol"] == symbol)
        fig.add_trace(go.Bar(x=part["time"], y=part["range_pct"], name=symbol, marker_color=color))
    per = "" if view.bucket.days == 1 else f" (mean per {describe(view.bucket)})"
    _style(fig, f"Daily high–low range{per}", "Range (% of open)", height=380)
    fig.update_layout(barmode="group")
    return fig


def last_hour_figure(view: LiveView) -> go.Figure:
    """The last hour of 1m candles; the forming minute is drawn hollow."""
    _, quote = split_symbol(view.symbol)
    frame = view.last_hour
    fig = go.Figure(
        go.Candlestick(
            x=frame["time"],
            open=frame["open"],
            high=frame["high"],
            low=frame["low"],
            close=frame["close"],
            name=view.symbol,
            increasing_line_color=UP,
            decreasing_line_color=DOWN,
        )
    )
    forming = view.forming
    if forming is not None:
        fig.add_vrect(
            x0=forming["time"],
            x1=forming["time"] + timedelta(minutes=1),
            fillcolor="rgba(148,163,184,0.25)",
            line_width=0,
            annotation_text="forming",
            annotation_position="top left",
        )
    _style(fig, f"{view.symbol} · last hour of 1m candles", f"Price ({quote})", height=380)
    fig.update_xaxes(rangeslider_visible=False)
    return fig
