"""The depth heatmap's model: a book's resting size per price over time, exactly.

What a cell means, why it is the maximum over its column, and how the columns are laid
out in memory: docs/heatmap.md. In short:

- Three tiers of time columns, 100 ms, 1 s and 10 s wide, each fed directly by every
  recorded book (so zooming is a switch of tier, never a re-bucketing pass). The 1 s and
  10 s tiers hold the whole `history`; the 100 ms tier the last `FINE_SPAN_S` (a screen
  is at most a few hundred columns wide: 100 ms columns further back would cost ten
  times the memory to show nothing).
- A cell is the largest size resting at that price at any moment of its column (the
  book as it stood when the column opened counts, so a quiet second still shows the
  book that rested through it).
- Prices are interned (one `Decimal` per distinct price, an int id in the columns);
  sizes are integers of `10**-places` (`places` grows, and every stored size with it,
  when a finer size arrives), so nothing stored is a float or rounded.
- A closed column is two `array`s (keys, sizes); a run of columns in which nothing
  changed shares one column object.

Raw prices are stored, bids and asks apart; grouping into rows (bids round down, asks
round up, as the ladder groups them) happens when a view asks, so changing the ladder's
grouping regroups the whole history.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from itertools import islice

from obview.book import OrderBook
from obview.fmt import CACHE_LIMIT, BoundedCache, decimals_of
from obview.trades import BUY, Trade

RESOLUTIONS_MS = (100, 1000, 10_000)  # the zoom steps: one time column is this wide
DEFAULT_RESOLUTION = 1  # index into RESOLUTIONS_MS: 1 s a column
DEFAULT_HISTORY_S = 30 * 60
FINE_SPAN_S = 10 * 60  # how far back the 100 ms tier reaches
LEVELS_PER_SIDE = 100  # book levels recorded per side (200 price rows)
# The tick (the rows' height, ungrouped) is the smallest gap among this many levels of a
# side from the touch: where the trader looks. Deeper levels may sit in a band with a
# finer tick (HKEX's spread table halves it below 500, say): rows of that tick would
# stripe the whole picture with rows no price of the touch's band can fill.
TICK_LEVELS = 10
_EXACT = Context(prec=200)  # scaling a size by 10**places never rounds


class _NeedsFinerUnits(Exception):
    """A size has more decimals than the stored units: rescale, then record again."""

    def __init__(self, places: int) -> None:
        self.places = places


class Column:
    """One closed time column: parallel arrays of keys (price id * 2 + is_bid) and sizes
    (integer units). Sizes fall back to a list of Python ints if one exceeds 64 bits."""

    __slots__ = ("keys", "sizes")

    def __init__(self, cells: dict[int, int]) -> None:
        self.keys = array("I", cells.keys())
        self.sizes = _size_array(cells.values())

    def items(self) -> Iterator[tuple[int, int]]:
        return zip(self.keys, self.sizes, strict=True)

    def get(self, key: int, default: int = 0) -> int:
        try:
            return self.sizes[self.keys.index(key)]
        except ValueError:
            return default

    def scale(self, factor: int) -> None:
        self.sizes = _size_array(size * factor for size in self.sizes)


def _size_array(values: Iterable[int]) -> array | list[int]:
    values = list(values)
    try:
        return array("q", values)
    except OverflowError:
        return values


@dataclass(slots=True)
class TradeCell:
    """The prints of one (time column, price), aggregated: exact units by aggressor side."""

    buy_units: int = 0
    sell_units: int = 0
    count: int = 0
    buy_count: int = 0


class Tier:
    """One zoom level: a ring of `capacity` contiguous closed columns plus the open one.

    The column at index i covers [i * ms, (i + 1) * ms) milliseconds of monotonic time;
    `open_index` is the newest (still filling) one, and closed column k sits at
    `open_index - len(columns) + k`.
    """

    __slots__ = ("ms", "capacity", "columns", "open_index", "open", "trades", "trade_counts",
                 "trades_added")

    def __init__(self, ms: int, capacity: int) -> None:
        self.ms = ms
        self.capacity = max(1, capacity)
        self.columns: deque[Column] = deque(maxlen=self.capacity)
        self.open_index: int | None = None
        self.open: dict[int, int] = {}
        self.trades: dict[int, dict[int, TradeCell]] = {}  # column index -> price id -> cell
        self.trade_counts: dict[int, int] = {}  # column index -> prints (a view's cache key)
        self.trades_added = 0  # prints ever recorded here (a view's cache key)

    @property
    def first_index(self) -> int | None:
        """The oldest column still held (closed or, with none closed, the open one)."""
        return None if self.open_index is None else self.open_index - len(self.columns)

    def advance(self, t_ms: int, resting: dict[int, int],
                resting_column: Callable[[], Column]) -> None:
        """Close every column that ended before `t_ms`; the columns nothing was recorded
        in hold `resting` (the book as it stood), all sharing `resting_column()`."""
        index = t_ms // self.ms
        if self.open_index is None:
            self.open_index = index
            self.open = dict(resting)
            return
        if index <= self.open_index:
            return
        self.columns.append(Column(self.open))
        gap = index - self.open_index - 1
        if gap > 0:
            self.columns.extend([resting_column()] * min(gap, self.capacity))
        self.open_index = index
        self.open = dict(resting)
        first = self.first_index
        if self.trades and min(self.trades) < first:
            for old in [i for i in self.trades if i < first]:
                del self.trades[old]
                del self.trade_counts[old]

    def merge(self, state: dict[int, int]) -> None:
        cells = self.open
        for key, units in state.items():
            if units > cells.get(key, 0):
                cells[key] = units

    def column(self, index: int) -> Column | dict[int, int] | None:
        """The closed column at `index`, the open one's live cells, or None if not held."""
        if self.open_index is None:
            return None
        if index == self.open_index:
            return self.open
        offset = index - (self.open_index - len(self.columns))
        if 0 <= offset < len(self.columns):
            return self.columns[offset]
        return None

    def window(self, first: int, last: int) -> list[Column | dict[int, int] | None]:
        """Columns `first`..`last` (inclusive), None where none is held: one pass from the
        newest end (a deque indexes its middle slowly)."""
        if self.open_index is None:
            return [None] * (last - first + 1)
        out: list[Column | dict[int, int] | None] = []
        if last >= self.open_index:
            out.extend([None] * (last - self.open_index))  # columns not begun yet
            out.append(self.open)
            last = self.open_index - 1
        wanted = last - first + 1
        if wanted > 0:
            skip = self.open_index - 1 - last
            held = list(islice(reversed(self.columns), skip, skip + wanted))
            out.extend(held)
            out.extend([None] * (wanted - len(held)))
        out.reverse()
        return out

    def prepend(self, older: Tier, resting: dict[int, int], resting_column: Column) -> None:
        """`older`'s columns in front of these (see DepthHistory.prepend)."""
        if older.open_index is None:
            return
        if self.open_index is None:  # nothing recorded here yet: older's is all there is
            self.columns = deque(older.columns, maxlen=self.capacity)
            self.open_index, self.open = older.open_index, dict(older.open)
            self.trades, self.trade_counts = older.trades, older.trade_counts
            self.trades_added = older.trades_added
            return
        first = self.first_index
        if older.open_index > first:
            raise ValueError("the older history reaches past the start of this one")
        front: list[Column] = list(older.columns)
        if older.open_index == first:
            joined = older.open  # both recorded into this column
        else:
            front.append(Column(older.open))
            front.extend([resting_column] * min(first - older.open_index - 1, self.capacity))
            joined = resting  # the book it left rested into this column
        mine = self.columns[0] if self.columns else self.open
        cells = dict(joined)
        for key, units in mine.items():
            if units > cells.get(key, 0):
                cells[key] = units
        if self.columns:
            rest = list(self.columns)
            rest[0] = Column(cells)
            self.columns = deque(front + rest, maxlen=self.capacity)
        else:
            self.columns = deque(front, maxlen=self.capacity)
            self.open = cells
        for index, theirs in older.trades.items():
            ours = self.trades.setdefault(index, {})
            for price_id, cell in theirs.items():
                total = ours.get(price_id)
                if total is None:
                    ours[price_id] = cell
                else:
                    total.buy_units += cell.buy_units
                    total.sell_units += cell.sell_units
                    total.count += cell.count
                    total.buy_count += cell.buy_count
            self.trade_counts[index] = self.trade_counts.get(index, 0) + older.trade_counts[index]
        self.trades_added += older.trades_added
        held = self.first_index
        for old in [i for i in self.trades if i < held]:
            del self.trades[old]
            del self.trade_counts[old]

    def __len__(self) -> int:
        return len(self.columns) + (self.open_index is not None)


class DepthHistory:
    """Record a book on each coalesced change (`record`) and trades (`record_trade`);
    views read cells grouped into price rows (`row_sizes`, `cell`)."""

    def __init__(self, history_s: float = DEFAULT_HISTORY_S,
                 levels_per_side: int = LEVELS_PER_SIDE) -> None:
        self.history_s = history_s
        self.levels_per_side = levels_per_side
        self.tiers = tuple(
            Tier(ms, int(min(history_s, FINE_SPAN_S if ms < 1000 else history_s) * 1000) // ms)
            for ms in RESOLUTIONS_MS)
        self.places = 0  # stored sizes are integers of 10**-places
        self.now_ms: int | None = None  # the latest time recorded or advanced to
        self.best_bid: Decimal | None = None
        self.best_ask: Decimal | None = None
        self.tick: Decimal | None = None  # smallest gap between adjacent prices seen near the touch
        self.version = 0  # bumped by every change a view must redraw for
        self._price_ids: dict[Decimal, int] = {}
        self._prices: list[Decimal] = []
        self._state: dict[int, int] = {}  # the book as last recorded
        self._state_column: Column | None = None
        # bounded by the shared policy (obview.fmt.BoundedCache): a size or a pair seen
        # again after a clear is worked out again, to the same value
        self._units_cache: dict[Decimal, int] = BoundedCache(CACHE_LIMIT)
        self._pairs: dict[int, None] = BoundedCache(CACHE_LIMIT)  # adjacent ids `tick` saw
        self._rows_cache: dict[Decimal, dict[int, int]] = {}  # row step -> key -> row

    def clear(self) -> None:
        """Forget everything recorded (a replay seeked): an empty history, the same
        object (views and samplers keep it), the same price ids (histories built beside
        it with `sibling()` stay joinable)."""
        prices, ids, version = self._prices, self._price_ids, self.version
        self.__init__(self.history_s, self.levels_per_side)
        self._prices, self._price_ids = prices, ids
        self.version = version + 1

    def sibling(self) -> DepthHistory:
        """An empty history of the same shape sharing this one's price ids: one recorded
        up to where this one starts can be put in front of it (`prepend`) as it is."""
        other = DepthHistory(self.history_s, self.levels_per_side)
        other._prices, other._price_ids = self._prices, self._price_ids
        return other

    def prepend(self, older: DepthHistory) -> None:
        """`older` (a `sibling()`, at the same `places`) recorded the same book up to the
        moment this history began: its columns go in front of these, the column both
        recorded into holding the larger size of each cell and the prints of both, the
        columns between them the book `older` left resting. What is further back than
        the history keeps is dropped."""
        if older._prices is not self._prices:
            raise ValueError("prepend needs a sibling() history (shared price ids)")
        if older.places != self.places:
            raise ValueError("prepend needs both histories at the same places")
        if older.now_ms is None:
            return
        resting = older._state
        resting_column = older._state_column or Column(resting)
        for mine, theirs in zip(self.tiers, older.tiers, strict=True):
            mine.prepend(theirs, resting, resting_column)
        if self.now_ms is None:
            self.now_ms = older.now_ms
            self._state = dict(resting)
            self._state_column = None
            self.best_bid, self.best_ask = older.best_bid, older.best_ask
        if older.tick is not None and (self.tick is None or older.tick < self.tick):
            self.tick = older.tick
        self._rows_cache.clear()
        self.version += 1

    # -- recording -------------------------------------------------------------------
    def record(self, book: OrderBook, now_mono: float) -> None:
        """The book changed (once per coalesced update): fold its top levels in."""
        while True:
            try:
                state = self._snapshot(book)
                break
            except _NeedsFinerUnits as finer:
                self._rescale(finer.places)
        t_ms = int(now_mono * 1000)
        self._advance(t_ms)
        old = self._state
        if state != old:
            self._state = state
            self._state_column = None
            # Every open column holds at least the state recorded last (it merged it, or
            # was opened with it), so only the sizes that grew since can raise a cell.
            old_get = old.get
            grown = {key: units for key, units in state.items() if units > old_get(key, 0)}
            if grown:
                for tier in self.tiers:
                    tier.merge(grown)
        self.best_bid = book.best_bid()
        self.best_ask = book.best_ask()
        self.version += 1

    def record_trade(self, trade: Trade, at: float | None = None) -> None:
        """One print, at `at` (seconds on the history's clock; default `trade.mono`)."""
        while True:
            try:
                units = self._units(trade.size)
                break
            except _NeedsFinerUnits as finer:
                self._rescale(finer.places)
        t_ms = int((trade.mono if at is None else at) * 1000)
        if self.now_ms is None or t_ms > self.now_ms:
            self._advance(t_ms)
        price_id = self._price_id(trade.price)
        for tier in self.tiers:
            index = t_ms // tier.ms
            first = tier.first_index
            if first is None or index < first or index > tier.open_index:
                continue
            cell = tier.trades.setdefault(index, {}).get(price_id)
            if cell is None:
                cell = tier.trades[index][price_id] = TradeCell()
            if trade.side == BUY:
                cell.buy_units += units
                cell.buy_count += 1
            else:
                cell.sell_units += units
            cell.count += 1
            tier.trade_counts[index] = tier.trade_counts.get(index, 0) + 1
            tier.trades_added += 1
        self.version += 1

    def advance(self, now_mono: float) -> None:
        """Time passed with no book change: close the columns that ended (a view's timer
        calls this so the picture scrolls while the book rests)."""
        t_ms = int(now_mono * 1000)
        if self.now_ms is not None and t_ms > self.now_ms:
            before = self.tiers[0].open_index
            self._advance(t_ms)
            if self.tiers[0].open_index != before:
                self.version += 1

    def _advance(self, t_ms: int) -> None:
        if self.now_ms is not None and t_ms < self.now_ms:
            t_ms = self.now_ms  # a clock step backwards never reopens a closed column
        self.now_ms = t_ms
        resting = self._state
        # built only for a column nothing was recorded in: most samples close none
        column = self._resting_column
        for tier in self.tiers:
            tier.advance(t_ms, resting, column)

    def _resting_column(self) -> Column:
        column = self._state_column
        if column is None:
            column = self._state_column = Column(self._state)
        return column

    def _snapshot(self, book: OrderBook) -> dict[int, int]:
        # The hot part of recording (a replay at 100x samples a book 5,000 times a second):
        # the caches are read inline, each with its method as the fallback for a miss; and
        # the gap between two adjacent prices is worked out in Decimal once per pair of
        # price ids (`_pairs`), not at every sample: the same pair always has the same
        # gap. (Whole-list steps, map and update, were measured no faster on 10 levels.)
        state: dict[int, int] = {}
        ids_get, units_get = self._price_ids.get, self._units_cache.get
        pairs = self._pairs
        tick = self.tick
        for flag, side in ((1, book.bids), (0, book.asks)):
            previous = previous_price = None
            near = TICK_LEVELS  # the levels left whose gaps count for the tick
            for level in side.top(self.levels_per_side):
                price = level.price
                price_id = ids_get(price)
                if price_id is None:
                    price_id = self._price_id(price)
                size = level.size
                units = units_get(size)
                if units is None:
                    units = self._units(size)
                key = price_id * 2 + flag
                if key in state:  # equal prices of sources add
                    state[key] += units
                else:
                    state[key] = units
                if near:
                    near -= 1
                    if previous is not None and previous != price_id:
                        pair = previous << 32 | price_id
                        if pair not in pairs:
                            pairs[pair] = None
                            gap = abs(previous_price - price)
                            if tick is None or gap < tick:
                                tick = gap
                    previous, previous_price = price_id, price
        self.tick = tick
        return state

    def _price_id(self, price: Decimal) -> int:
        ids = self._price_ids
        found = ids.get(price)
        if found is None:
            found = ids[price] = len(self._prices)
            self._prices.append(price)
        return found

    def _units(self, size: Decimal) -> int:
        cache = self._units_cache
        found = cache.get(size)
        if found is not None:
            return found
        scaled = _EXACT.scaleb(size, self.places)
        if scaled != scaled.to_integral_value():
            exponent = size.normalize().as_tuple().exponent
            raise _NeedsFinerUnits(-exponent)  # type: ignore[operator]
        units = cache[size] = int(scaled)
        return units

    def _rescale(self, places: int) -> None:
        for _ in self.rescaling(places):
            pass

    def rescaling(self, places: int, every: int = 256) -> Iterator[None]:
        """Store sizes in units of 10**-places from now on (finer only), every stored
        size with them; yields after each `every` columns, so a big history can be
        rescaled between other work (nothing may record into it meanwhile)."""
        factor = 10 ** (places - self.places)
        if factor <= 1:
            return
        scaled = 0
        for tier in self.tiers:
            seen: set[int] = set()
            for column in tier.columns:
                if id(column) not in seen:  # a shared resting column is scaled once
                    seen.add(id(column))
                    column.scale(factor)
                    scaled += 1
                    if scaled % every == 0:
                        yield
        self.places = places
        self._units_cache.clear()
        self._state = {key: units * factor for key, units in self._state.items()}
        self._state_column = None
        for tier in self.tiers:
            tier.open = {key: units * factor for key, units in tier.open.items()}
            for cells in tier.trades.values():
                for cell in cells.values():
                    cell.buy_units *= factor
                    cell.sell_units *= factor
        self.version += 1

    # -- reading -------------------------------------------------------------------
    def size_of(self, units: int) -> Decimal:
        """Stored units back to the exact size."""
        return _EXACT.scaleb(Decimal(units), -self.places)

    def units_of(self, size: Decimal) -> int:
        """A size as stored units (exact; raises ValueError if it needs more decimals)."""
        try:
            return self._units(size)
        except _NeedsFinerUnits as finer:
            raise ValueError(f"{size} is finer than the stored 10**-{self.places}") from finer

    def price(self, price_id: int) -> Decimal:
        return self._prices[price_id]

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return bid if ask is None else ask
        return (bid + ask) / 2

    def row_step(self, step: Decimal | None) -> Decimal | None:
        """The price rows' height: the ladder's grouping step, else the book's tick (the
        smallest gap seen between a side's prices, or the last digit of the touch)."""
        if step or self.tick:
            return step or self.tick
        touch = self.best_bid if self.best_bid is not None else self.best_ask
        if touch is None:
            return None
        return Decimal(1).scaleb(-decimals_of(touch))

    def rows_of(self, step: Decimal) -> dict[int, int]:
        """key -> row for this row step, where row r holds prices [r*step, (r+1)*step)
        for bids (rounded down) and ((r-1)*step, r*step] for asks (rounded up): the
        ladder's grouping. Grown lazily; call `row_for` for keys not in it yet."""
        return self._rows_cache.setdefault(step, {})

    def row_for(self, key: int, step: Decimal) -> int:
        rows = self.rows_of(step)
        row = rows.get(key)
        if row is None:
            price = self._prices[key >> 1]
            rounding = ROUND_FLOOR if key & 1 else ROUND_CEILING
            row = rows[key] = int((price / step).to_integral_value(rounding))
        return row

    def row_price(self, row: int, step: Decimal) -> Decimal:
        return row * step

    def price_row(self, price: Decimal, step: Decimal, is_bid: bool = True) -> int:
        rounding = ROUND_FLOOR if is_bid else ROUND_CEILING
        return int((price / step).to_integral_value(rounding))

    def row_sizes(self, cells: Column | dict[int, int], step: Decimal) -> dict[int, int]:
        """One column's cells summed into price rows: row -> units (bids and asks add)."""
        rows = self.rows_of(step)
        out: dict[int, int] = {}
        for key, units in cells.items():
            row = rows.get(key)
            if row is None:
                row = self.row_for(key, step)
            out[row] = out.get(row, 0) + units
        return out

    def cell(self, resolution: int, index: int, row: int, step: Decimal) -> tuple[int, int]:
        """(bid units, ask units) resting in price row `row` of column `index`."""
        cells = self.tiers[resolution].column(index)
        bid = ask = 0
        if cells is None:
            return 0, 0
        rows = self.rows_of(step)
        for key, units in cells.items():
            found = rows.get(key)
            if (found if found is not None else self.row_for(key, step)) == row:
                if key & 1:
                    bid += units
                else:
                    ask += units
        return bid, ask

    def trade_rows(self, resolution: int, index: int, step: Decimal) -> dict[int, TradeCell]:
        """The prints of column `index` summed into price rows. A buy consumed asks and a
        sell bids, so each is rounded as the side it took (up for buys, down for sells)
        and lands on the row that showed the liquidity it hit."""
        cells = self.tiers[resolution].trades.get(index)
        if not cells:
            return {}
        out: dict[int, TradeCell] = {}
        for price_id, cell in cells.items():
            if cell.buy_units:
                total = out.setdefault(self.row_for(price_id * 2, step), TradeCell())
                total.buy_units += cell.buy_units
                total.buy_count += cell.buy_count
                total.count += cell.buy_count
            if cell.count > cell.buy_count:
                total = out.setdefault(self.row_for(price_id * 2 + 1, step), TradeCell())
                total.sell_units += cell.sell_units
                total.count += cell.count - cell.buy_count
        return out


SLOT_NS = 20_000_000  # a book is sampled at most once per 20 ms slot (the finest column is 100 ms)


class SlotSampler:
    """One book into a `DepthHistory` on a fixed grid of time (ns; in replay the
    journal's clock): for every `slot_ns` slot in which the book changed, the book as it
    stood at the end of the slot, stamped with its last change in it.

    The live pane samples on the screen's clock instead (at most one book per 20 ms from
    the last one), which depends on when it started. This rule does not: two samplers
    that see the same changes record the same samples whenever each began, so a history
    rebuilt from a journal joins the one recorded while playing (docs/replay.md).

    The owner tells it of each change (`changed`) and, before anything stamped at or
    after the time `changed` returns happens (a later change, a print, time shown on
    screen), calls `flush_due`; a replay's `call_at` does exactly that."""

    __slots__ = ("history", "book", "slot_ns", "armed", "due", "changed_at")

    def __init__(self, history: DepthHistory, book: OrderBook, *, slot_ns: int = SLOT_NS,
                 armed: bool = True) -> None:
        self.history = history
        self.book = book
        self.slot_ns = slot_ns
        self.armed = armed
        self.due: int | None = None  # the end of the slot with a change not yet recorded
        self.changed_at = 0

    def changed(self, at: int) -> int | None:
        """The book changed at `at` (ns). Returns when its sample falls due if that is
        new (the owner must flush by then), else None."""
        if not self.armed:
            return None
        due = self.due
        if due is not None:
            if at < due:
                self.changed_at = at
                return None
            self.flush()  # flushed late: this change is in it too (the owner broke the rule)
        self.changed_at = at
        due = self.due = (at // self.slot_ns + 1) * self.slot_ns
        return due

    def flush_due(self, now: int) -> bool:
        """Record the pending sample if its slot ended by `now` (ns). True if it did."""
        if self.due is not None and self.due <= now:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        self.due = None
        self.history.record(self.book, self.changed_at / 1e9)

    def trades(self, trades: Iterable[Trade], at: int) -> None:
        """Prints received at `at` (ns); one without an aggressor side has no marker."""
        if not self.armed:
            return
        self.flush_due(at)
        seconds = at / 1e9
        for trade in trades:
            if trade.side is not None:
                self.history.record_trade(trade, seconds)

    def start(self, at: int) -> int:
        """Begin at `at` (ns): the book as it stands at the end of this slot is sampled
        whether or not it changes (whoever recorded before `at` left that slot open).
        Returns when that falls due."""
        self.armed = True
        self.due = None
        return self.changed(at)  # type: ignore[return-value]

    def stop(self) -> None:
        """Record nothing until `start` (a replay catching up after a seek)."""
        self.armed = False
        self.due = None

    def finish(self, split: int | None) -> None:
        """The end of a rebuild whose lines stopped before the line stamped `split`
        (None: at the journal's end): the pending sample is this history's only if its
        slot ended by then; otherwise the one recording from `split` takes it."""
        if split is not None:
            self.flush_due(split)
        self.due = None
