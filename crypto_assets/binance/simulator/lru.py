"""A small thread-safe LRU map bounded by a size budget (bytes, or a count with size 1 each)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRU(Generic[V]):
    """Least-recently-used map; inserting past ``capacity`` (summed ``size``) evicts the oldest."""

    def __init__(self, capacity: int, size: Callable[[V], int] = lambda _: 1) -> None:
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._capacity, self._size, self._used = capacity, size, 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._used += self._size(value)
            while self._used > self._capacity and len(self._items) > 1:
                _, evicted = self._items.popitem(last=False)
                self._used -= self._size(evicted)
