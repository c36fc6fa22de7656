"""``python -m bench`` (``make bench``): list the benchmarks and the command that runs each.

Each benchmark takes minutes and its own flags, so none is run from here; BENCHMARKS.md keeps
the latest figures with the exact commands.
"""

import pkgutil
from pathlib import Path

import bench


def main() -> None:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    print("benchmarks (figures and flags in BENCHMARKS.md):")
    for name in names:
        doc = (
            (Path(bench.__path__[0]) / f"{name}.py")
            .read_text()
            .split('"""')[1]
            .strip()
            .splitlines()[0]
        )
        print(f"  uv run python -m bench.{name:<22} {doc}")


if __name__ == "__main__":
    main()
