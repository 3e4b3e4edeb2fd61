"""docs/loopring.md "Building the book", case by case, on the socket-free state machine (plus hypothesis)."""

from __future__ import annotations

import json
from decimal import Context, Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obview.book import OrderBook, ScaledLevel
from obview.venues.loopring.protocol import DepthSnapshot, FrameKind, Push, PushReader, SlotParser
from obview.venues.loopring.sync import BadPush, DepthSync, Phase, Step, fast_path

TOPIC = "depth&LRC-ETH&0"
D = Decimal
WIDE = Context(prec=200)


def push(start: int, end: int, bids=(), asks=()) -> Push:
    """A push as the reader would hand it over: slots [price, units, volume, orders]."""
    frame = msgspec.json.encode({
        "topic": TOPIC, "ts": 1, "startVersion": start, "endVersion": str(end),
        "data": {"bids": [[p, str(u), "0", str(n)] for p, u, n in bids],
                 "asks": [[p, str(u), "0", str(n)] for p, u, n in asks]},
    })
    kind, payload = READER.read(frame)
    assert kind == FrameKind.PUSH, payload
    return payload


PARSER = SlotParser(2)  # sizes in hundredths: "150" units = 1.5
READER = PushReader("LRC-ETH", 0, PARSER)


def snap(version: int, bids=(), asks=()) -> DepthSnapshot:
    level = lambda p, u, n: (PARSER.price(p), u, n)  # noqa: E731
    return DepthSnapshot(version, 7, [level(*b) for b in bids], [level(*a) for a in asks])


def book_of(sync: DepthSync) -> tuple[list, list]:
    side = lambda s: [(str(lv.price), str(lv.size.normalize(WIDE)), lv.orders) for lv in s.iter_levels()]  # noqa: E731
    return side(sync.book.bids), side(sync.book.asks)


def fresh() -> DepthSync:
    return DepthSync(OrderBook(), PARSER)


def test_buffer_keeps_only_a_contiguous_run():
    sync = fresh()
    assert sync.on_push(push(10, 11)) is Step.BUFFERED
    assert sync.on_push(push(12, 12)) is Step.BUFFERED
    assert [p.start for p in sync.buffer] == [10, 12]
    sync.on_push(push(14, 15))  # 13 missing: the run so far is useless
    assert [p.start for p in sync.buffer] == [14]


def test_snapshot_discards_contained_pushes_and_applies_the_straddling_one():
    sync = fresh()
    sync.on_push(push(10, 11, bids=[("1.0", 100, 1)]))
    sync.on_push(push(12, 14, bids=[("1.0", 300, 3)], asks=[("2", 50, 1)]))
    sync.on_push(push(15, 15, asks=[("2", 0, 0)]))
    step = sync.on_snapshot(snap(13, bids=[("1", 200, 2)], asks=[("3", 10, 1)]))
    assert step is Step.SYNCED
    assert sync.local == 15 and sync.book.version == 15 and sync.phase is Phase.SYNCED
    # 10-11 dropped (in the snapshot); 12-14 straddles 13 and is applied; "1.0" == "1"
    assert book_of(sync) == ([("1", "3", 3)], [("3", "0.1", 1)])
    assert not sync.buffer


def test_too_old_snapshot_is_never_applied_and_buffering_goes_on():
    sync = fresh()
    sync.on_push(push(10, 11, bids=[("1", 100, 1)]))
    assert sync.on_snapshot(snap(8, bids=[("5", 1, 1)])) is Step.TOO_OLD  # 9 unknown
    assert sync.phase is Phase.INIT and not sync.book.bids and sync.too_old == 1
    sync.on_push(push(12, 12))
    assert sync.on_snapshot(snap(9, bids=[("5", 1, 1)])) is Step.SYNCED  # 10 = V+1
    assert sync.local == 12
    assert book_of(sync)[0] == [("5", "0.01", 1), ("1", "1", 1)]


def test_snapshot_newer_than_everything_buffered_waits_for_the_straddle():
    sync = fresh()
    sync.on_push(push(10, 11))
    assert sync.on_snapshot(snap(20, asks=[("2", 100, 1)])) is Step.SYNCED
    assert sync.local == 20 and sync.awaiting_straddle
    assert sync.on_push(push(12, 18)) is Step.IGNORED  # late, already in the snapshot
    assert sync.on_push(push(19, 22, asks=[("2", 0, 0)])) is Step.APPLIED  # straddles 20
    assert sync.local == 22 and not sync.book.asks
    assert sync.on_push(push(23, 23)) is Step.APPLIED


def test_first_push_after_snapshot_beyond_v_plus_one_resyncs():
    sync = fresh()
    sync.on_snapshot(snap(20, bids=[("1", 1, 1)]))
    assert sync.on_push(push(22, 23)) is Step.RESYNC
    assert sync.phase is Phase.INIT and not sync.book.bids and sync.book.version is None
    assert [p.start for p in sync.buffer] == [22]  # the new buffer starts with that push
    assert sync.resyncs == 1


def test_gap_overlap_and_repeat_all_resync():
    for bad in (push(14, 14), push(11, 12), push(12, 13)):
        sync = fresh()
        sync.on_snapshot(snap(10))
        assert sync.on_push(push(11, 12)) is Step.APPLIED
        assert sync.on_push(bad) is Step.RESYNC, bad


def test_size_zero_deletes_and_values_are_absolute():
    sync = fresh()
    sync.on_snapshot(snap(1, bids=[("1", 100, 1), ("0.5", 100, 1)]))
    sync.on_push(push(2, 2, bids=[("1", 0, 0), ("0.50", 700, 4)]))
    assert book_of(sync)[0] == [("0.5", "7", 4)]


def test_snapshot_while_synced_is_ignored():
    sync = fresh()
    sync.on_snapshot(snap(5))
    assert sync.on_snapshot(snap(9, bids=[("1", 1, 1)])) is Step.STRAY
    assert sync.local == 5 and not sync.book.bids


# -- fuzz: random markets, deliveries and corruptions against the exact truth --------
PRICES = ["1", "1.5", "2", "2.25", "3", "0.75", "4"]


@st.composite
def scenarios(draw):
    """A version history, its pushes, and a delivery full of trouble."""
    changes = draw(st.lists(
        st.tuples(st.booleans(), st.sampled_from(PRICES), st.integers(0, 5) | st.integers(0, 10**30)),
        min_size=5, max_size=60))
    cuts = draw(st.lists(st.integers(1, 3), min_size=len(changes), max_size=len(changes)))
    action = st.sampled_from(["push"] * 8 + ["skip", "dup", "corrupt", "foreign", "snap", "snap"])
    events = draw(st.lists(st.tuples(action, st.integers(-8, 3)), min_size=10, max_size=120))
    return changes, cuts, events


def truth_states(changes):
    """The book (price -> (units, orders)) of each side at every version from 100."""
    bids: dict[str, tuple[int, int]] = {}
    asks: dict[str, tuple[int, int]] = {}
    states = {100: ({}, {})}
    for i, (is_bid, price, units) in enumerate(changes, start=101):
        side = bids if is_bid else asks
        if units:
            side[str(D(price).normalize())] = (units, i % 7 + 1)
        else:
            side.pop(str(D(price).normalize()), None)
        states[i] = (dict(bids), dict(asks))
    return states


def frames_from(changes, cuts, states):
    """Pushes listing every slot touched in their range, with its state at the end."""
    frames, version, i = [], 100, 0
    while i < len(changes):
        n = min(cuts[i], len(changes) - i)
        start, end = version + 1, version + n
        bids_at, asks_at = states[end]
        touched = {(b, str(D(p).normalize())) for b, p, _u in changes[i:i + n]}
        slots = {True: [], False: []}
        for is_bid, price in sorted(touched):
            units, orders = (bids_at if is_bid else asks_at).get(price, (0, 0))
            slots[is_bid].append([price, str(units), "0", str(orders if units else 0)])
        frames.append((start, end, msgspec.json.encode({
            "topic": TOPIC, "ts": end, "startVersion": start, "endVersion": str(end),
            "data": {"bids": slots[True], "asks": slots[False]}})))
        version, i = end, i + n
    return frames


def expected(states, version):
    to_rows = lambda side, rev: [  # noqa: E731
        (p, str(PARSER.size(u).normalize(WIDE)), n)
        for p, (u, n) in sorted(side.items(), key=lambda kv: D(kv[0]), reverse=rev)]
    bids, asks = states[version]
    return to_rows(bids, True), to_rows(asks, False)


def _edit(change):
    def corrupt(frame: bytes) -> bytes:
        obj = msgspec.json.decode(frame)
        change(obj)
        return msgspec.json.encode(obj)
    return corrupt


CORRUPTIONS = [
    _edit(lambda o: o.pop("endVersion")),
    _edit(lambda o: o.update(startVersion="x12")),
    _edit(lambda o: o["data"].update(bids=[["1", "-5", "0", "1"]])),
    _edit(lambda o: o["data"].update(asks=[["NaN", "5", "0", "1"]])),
    _edit(lambda o: o["data"].update(bids=[["1", "5", "0"]])),
    _edit(lambda o: o["data"].update(asks=[[".5", "5", "0", "1"]])),
    _edit(lambda o: o["data"].update(bids=[["1", "5000000000000000.5", "0", "1"]])),
    _edit(lambda o: o["data"].update(bids=[["1", "5", "0", "1"], ["1.000", "6", "0", "1"]])),
    _edit(lambda o: o.update(endVersion=f"{o['endVersion']}.0")),
    _edit(lambda o: o.update(endVersion=o["startVersion"] - 1)),
    lambda f: f[: len(f) // 2],
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, len(CORRUPTIONS) - 1))
def test_fuzzed_delivery_never_raises_and_never_shows_a_wrong_book(scenario, corruption):
    changes, cuts, events = scenario
    states = truth_states(changes)
    frames = frames_from(changes, cuts, states)
    last = max(states)
    sync = fresh()
    reader = PushReader("LRC-ETH", 0, PARSER)
    fast = fast_path(reader, sync)
    position = 0  # next push to deliver
    for action, offset in events:
        if action == "snap":
            if sync.phase is Phase.INIT or offset == 3:  # now and then a stray one
                # a snapshot near the edge that matters (just before the buffered run,
                # or the delivery point): stale, exact, or ahead
                delivered = frames[position - 1][1] if position else 100
                edge = sync.buffer[0].start - 1 if sync.buffer and offset % 2 else delivered
                version = min(last, max(100, edge + offset))
                bids, asks = states[version]
                step = sync.on_snapshot(DepthSnapshot(
                    version, None,
                    [(PARSER.price(p), u, n) for p, (u, n) in bids.items()],
                    [(PARSER.price(p), u, n) for p, (u, n) in asks.items()]))
                assert step in (Step.SYNCED, Step.TOO_OLD, Step.STRAY)
        elif position < len(frames):
            frame = frames[position][2]
            if action == "foreign":
                frame = frame.replace(b"LRC-ETH", b"LRC-USDT")
            elif action == "corrupt":
                frame = CORRUPTIONS[corruption](frame)
            if action == "skip":
                position += 1
                continue
            # the feed's way: the fast path first, the full path when it declines; the
            # order varies so that the fast path also meets prices it has not seen
            applied = fast(frame) if offset % 2 else None
            kind, payload = reader.read(frame)
            if applied is None and not offset % 2:
                applied = fast(frame)
            bad = isinstance(applied, BadPush)  # the fast path has resynced already
            assert applied is None or (kind == FrameKind.MALFORMED if bad else kind == FrameKind.PUSH)
            if action == "foreign":
                assert kind == FrameKind.FOREIGN
            elif action == "corrupt":
                assert kind in (FrameKind.MALFORMED, FrameKind.FOREIGN, FrameKind.UNDECODABLE)
                position += 1  # the broken push replaced the real one
            if kind == FrameKind.MALFORMED and not bad:
                sync.on_bad_push()  # a bad push of ours: the book is dropped
            if kind == FrameKind.PUSH:
                if applied is None:
                    sync.on_push(payload)
                if action != "dup":
                    position += 1
        if sync.synced:
            assert book_of(sync) == expected(states, sync.local), f"at version {sync.local}"


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["topic", "startVersion", "endVersion", "data", "bids",
                                           "asks", "ts", "op", "result", "market", "level"]),
                          children, max_size=6),
        max_leaves=20).map(msgspec.json.encode),
))
def test_reader_never_raises_on_garbage(frame):
    kind, _payload = READER.read(frame)
    sync = fresh()
    sync.on_snapshot(snap(0))
    sync.on_push(push(1, 1))
    applied = fast_path(READER, sync)(frame)
    if isinstance(applied, BadPush):
        assert kind == FrameKind.MALFORMED and not sync.synced
    else:
        assert applied is None or kind == FrameKind.PUSH
    assert kind in (FrameKind.PING, FrameKind.PUSH, FrameKind.MALFORMED,
                    FrameKind.SUB_REPLY, FrameKind.FOREIGN, FrameKind.UNDECODABLE)


# -- fuzz: near-valid pushes with arbitrary values against a reference model ----------
digits = st.text("0123456789", min_size=1, max_size=30)
# a few prices in several spellings, so that pushes update and delete existing levels
good_price = st.one_of(
    *[st.sampled_from(["1", "1.0", "01.50", "1.5", "0.5", "2", "2.000", "10", "0.0001"])] * 6,
    st.builds(lambda a, b: f"{a}.{b}", digits, digits).filter(lambda t: D(t) != 0))
bad_price = st.one_of(st.sampled_from(["1e1", "NaN", "-1", "0", "0.00", " 1", "١", ".5", "5."]),
                      st.text(max_size=5))
good_units = st.one_of(digits, st.integers(0, 10**40), st.integers(10**28, 10**40).map(str),
                       st.just("0"), st.just(0), st.just("0"))
bad_units = st.sampled_from(["1.5", "-3", "x", -1, 2.5, None, ""])
good_slot = st.tuples(good_price, good_units, st.just("0"), st.integers(0, 9).map(str)).map(list)
bad_slot = st.one_of(
    st.tuples(bad_price, good_units, st.just("0"), st.just("1")).map(list),
    st.tuples(good_price, bad_units, st.just("0"), st.just("1")).map(list),
    st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=5))
slot = st.one_of(*[good_slot] * 9, bad_slot)
version = st.one_of(st.integers(-2, 30), st.integers(0, 30).map(str), st.sampled_from(["x", 1.5, None]))


@st.composite
def near_pushes(draw):
    frame = {
        "topic": draw(st.sampled_from([TOPIC] * 5 + [
            "depth&LRC-ETH&1", {"topic": "orderbook", "market": "LRC-ETH", "level": 0}, 7])),
        "startVersion": draw(version), "endVersion": draw(version),
        "data": {"bids": draw(st.lists(slot, max_size=3)), "asks": draw(st.lists(slot, max_size=3))},
    }
    if draw(st.booleans()):
        frame["ts"] = draw(st.integers(0, 2**40) | st.sampled_from(["12", "x"]))
    # most pushes continue the sequence (so they get applied), the rest keep their values
    continue_by = draw(st.sampled_from([None] + [0, 0, 0, 1, 2] * 3))
    return frame, continue_by


@settings(max_examples=300, deadline=None)
@given(st.lists(near_pushes(), min_size=1, max_size=25))
def test_fuzzed_pushes_apply_exactly_like_the_reference_model(drawn):
    sync = fresh()
    sync.on_snapshot(snap(0, bids=[("1", 100, 1)]))
    model = {True: {D(1): (D(1), 1)}, False: {}}
    local = 0
    fast = fast_path(READER, sync)
    applied = 0
    for obj, continue_by in drawn:
        if continue_by is not None:
            obj = dict(obj, startVersion=local + 1, endVersion=str(local + 1 + continue_by))
        frame = msgspec.json.encode(obj)
        push = fast(frame)
        if isinstance(push, BadPush):
            assert READER.read(frame)[0] == FrameKind.MALFORMED
            return  # the fast path resynced: the book is dropped
        if push is not None:
            step = Step.APPLIED
            # the wire push: its values are text; the reader's checked form must agree
            checked = READER.read(frame)[1]
            levels = (checked.bids, checked.asks)
            end = checked.end
        else:
            kind, push = READER.read(frame)
            if kind == FrameKind.MALFORMED:
                sync.on_bad_push()
                if not sync.synced:
                    return
            if kind != FrameKind.PUSH:
                continue
            step = sync.on_push(push)
            levels = (push.bids, push.asks)
            end = push.end
        if sync.synced and step is Step.APPLIED:
            for is_bid, slots in ((True, levels[0]), (False, levels[1])):
                for price, units, orders in slots:
                    if units:
                        model[is_bid][price] = (D(units).scaleb(-2, WIDE), orders)
                    else:
                        model[is_bid].pop(price, None)
            local = end
            applied += 1
        if not sync.synced:
            return  # a resync: the book is dropped, nothing left to compare
        want = tuple(
            [(str(p.normalize(WIDE)), str(s.normalize(WIDE)), n) for p, (s, n) in
             sorted(model[is_bid].items(), reverse=is_bid)]
            for is_bid in (True, False))
        got = tuple([(str(lv.price), str(lv.size.normalize(WIDE)), lv.orders) for lv in side.iter_levels()]
                    for side in (sync.book.bids, sync.book.asks))
        assert got == want
        assert sync.local == local


def test_fast_path_sizes_stay_exact_beyond_28_digits():
    sync = fresh()
    sync.on_snapshot(snap(0, bids=[("1", 100, 1)]))
    sync.on_push(push(1, 1))  # straddle handled by the full path; the fast path may go on
    fast = fast_path(READER, sync)
    huge = 10**40 + 7
    frame = msgspec.json.encode({
        "topic": TOPIC, "ts": 9, "startVersion": 2, "endVersion": 2,
        "data": {"bids": [["1", str(huge), "0", "2"]], "asks": [["1", str(huge + 1), "0", "1"]]}})
    assert fast(frame) is not None
    assert sync.book.bids.get(D(1)).size == D(huge).scaleb(-2, WIDE)
    assert sync.book.asks.get(D(1)).size == D(huge + 1).scaleb(-2, WIDE)
    assert (sync.local, sync.book.version, sync.book.venue_ts) == (2, 2, 9)


@pytest.mark.parametrize("field", ["size", "endVersion", "startVersion"])
@pytest.mark.parametrize("escaped", [True, False])
def test_fast_path_refuses_non_ascii_digits(field, escaped):
    # "\u0661" is ARABIC-INDIC DIGIT ONE: str.isdigit() and int() accept it, the wire
    # rules do not, whether the frame carries it raw (UTF-8) or as a JSON escape (an
    # all-ASCII frame that decodes to non-ASCII text)
    sync = fresh()
    sync.on_snapshot(snap(0, bids=[("1", 100, 1)]))
    sync.on_push(push(1, 1))
    fast = fast_path(READER, sync)
    digit = "\u0661"
    obj = {"topic": TOPIC, "ts": 9, "startVersion": 2, "endVersion": "2",
           "data": {"bids": [["1", "5", "0", "2"]], "asks": []}}
    if field == "size":
        obj["data"]["bids"][0][1] = "5" + digit
    elif field == "endVersion":
        obj["endVersion"] = "2" + digit
    else:
        obj["startVersion"] = digit + "2"
    frame = json.dumps(obj, ensure_ascii=escaped).encode()
    assert frame.isascii() is escaped
    result = fast(frame)
    assert result is None or isinstance(result, BadPush)
    assert READER.read(frame)[0] == FrameKind.MALFORMED
    assert sync.local != 2 or not sync.synced  # never applied as version 2
    if field == "size" and result is None:
        assert sync.book.bids.get(D(1)).size == D(100).scaleb(-2, WIDE)


@pytest.mark.parametrize(("field", "text"), [
    ("endVersion", "2"), ("endVersion", "0002"), ("endVersion", "2 "), ("endVersion", " 2"),
    ("endVersion", "+2"), ("endVersion", "2.0"), ("endVersion", "1e1"), ("endVersion", "-0"),
    ("size", "0"), ("size", "000"), ("size", "0150"), ("size", "1.5E2"), ("size", "150"),
    ("size", " 150"), ("size", "150 "), ("size", "-0"), ("size", "+150"), ("size", "1_50"),
    ("size", "/"), ("size", "15O"),
])
def test_fast_path_reads_version_and_size_text_as_the_full_path_does(field, text):
    # the fast path's own digit checks and integer reading (leading zeros, signs,
    # spaces, exponent forms) against the full path on the same frame: the same book
    # and version, or both refuse it
    def synced() -> DepthSync:
        sync = fresh()
        sync.on_snapshot(snap(0, bids=[("1", 100, 1)]))
        sync.on_push(push(1, 1))
        return sync

    obj = {"topic": TOPIC, "ts": 9, "startVersion": 2, "endVersion": "2",
           "data": {"bids": [["1", "5", "0", "2"]], "asks": []}}
    if field == "size":
        obj["data"]["bids"][0][1] = text
    else:
        obj["endVersion"] = text
    frame = msgspec.json.encode(obj)
    fast_sync, full_sync = synced(), synced()
    result = fast_path(READER, fast_sync)(frame)
    kind, payload = READER.read(frame)
    if kind == FrameKind.PUSH:
        assert full_sync.on_push(payload) is Step.APPLIED
    assert result is not None  # the next push, in the documented shape: never declined
    if isinstance(result, BadPush):
        assert kind == FrameKind.MALFORMED and not fast_sync.synced
        return
    assert kind == FrameKind.PUSH
    assert book_of(fast_sync) == book_of(full_sync)
    assert fast_sync.local == full_sync.local == payload.end


@pytest.mark.parametrize("side", ["bids", "asks"])
@pytest.mark.parametrize(("prices", "repeated"), [
    (["1", "2"], False), (["1", "1.0"], True),
    (["1", "2", "3"], False), (["1", "1.00", "3"], True), (["1", "2", "1"], True),
    (["3", "2", "2.0"], True),
    (["1", "2", "3", "4"], False), (["1", "2", "3", "2"], True), (["4", "2", "3", "4.0"], True),
])
def test_fast_path_refuses_one_price_twice_wherever_it_is(side, prices, repeated):
    # the fast path compares two or three slots' prices from its loop and uses a set for
    # more: a price repeated at any place, in any spelling, is refused as the full path
    # refuses it; distinct prices are applied alike
    def synced() -> DepthSync:
        sync = fresh()
        sync.on_snapshot(snap(0, bids=[("1", 100, 1)], asks=[("9", 100, 1)]))
        sync.on_push(push(1, 1))
        return sync

    slots = [[price, str(10 + i), "0", "1"] for i, price in enumerate(prices)]
    obj = {"topic": TOPIC, "ts": 9, "startVersion": 2, "endVersion": "2",
           "data": {"bids": [["0.5", "5", "0", "1"]], "asks": [["10", "5", "0", "1"]]}}
    obj["data"][side] = slots
    frame = msgspec.json.encode(obj)
    fast_sync, full_sync = synced(), synced()
    result = fast_path(READER, fast_sync)(frame)
    kind, payload = READER.read(frame)
    if repeated:
        assert isinstance(result, BadPush) and "twice" in result.reason and not fast_sync.synced
        assert kind == FrameKind.MALFORMED and "twice" in payload
        return
    assert result and kind == FrameKind.PUSH
    assert full_sync.on_push(payload) is Step.APPLIED
    assert book_of(fast_sync) == book_of(full_sync)


def _slots(level) -> dict:
    names = {n for cls in type(level).__mro__ for n in getattr(cls, "__slots__", ())} - {"size"}
    return {name: getattr(level, name) for name in sorted(names)}  # an unset slot raises


def test_fast_path_makes_and_reuses_whole_levels_and_never_one_still_held():
    # the fast path builds levels without calling ScaledLevel() and puts deleted ones
    # back when their price returns: each must be what ScaledLevel() would have made,
    # and one that something outside the book still holds is never reused
    sync = fresh()
    sync.on_snapshot(snap(0, bids=[("1", 100, 1)]))
    sync.on_push(push(1, 1))
    fast = fast_path(READER, sync)

    def apply(version: int, units: str, orders: str = "3") -> None:
        frame = msgspec.json.encode({
            "topic": TOPIC, "ts": 9, "startVersion": version, "endVersion": str(version),
            "data": {"bids": [["2.50", units, "0", orders]], "asks": []}})
        assert fast(frame) is not None and sync.local == version

    apply(2, "700")
    assert _slots(sync.book.bids.get(D("2.5"))) == _slots(ScaledLevel(D("2.5"), "700", PARSER.unit, 3))
    apply(3, "0")
    assert sync.book.bids.get(D("2.5")) is None
    apply(4, "800", "4")  # the price is back: the deleted object, which nobody holds, again
    back = sync.book.bids.get(D("2.5"))
    assert _slots(back) == _slots(ScaledLevel(D("2.5"), "800", PARSER.unit, 4))
    held = back
    apply(5, "0")
    apply(6, "900", "5")  # `held` still holds the deleted level: a new one is made
    fresh_level = sync.book.bids.get(D("2.5"))
    assert fresh_level is not held and (held.size, held.orders) == (D(8), 4)
    assert _slots(fresh_level) == _slots(ScaledLevel(D("2.5"), "900", PARSER.unit, 5))
    assert book_of(sync) == ([("2.5", "9", 5), ("1", "1", 1)], [])
