"""The result channel between a test process and the trusted harness, and its schema.

Everything a test process sends is untrusted: it is read as one length-prefixed frame of at
most `MAX_MESSAGE` bytes (the size is checked before a byte is decoded), decoded by the C JSON
scanner (nesting beyond the interpreter's recursion limit is refused, not followed), and must
then fit `check_result`'s schema (exact keys, types, string lengths). Values are tagged JSON of
exact built-in types; `decode` rebuilds them with a depth, item and range-length budget and
refuses sets and dicts whose keys collide in hash (a flood that would make building them
quadratic). A violation is a `BadMessage`, which fails that one test.

Standard library only, and no `json` or `re` import: the harness runs this inside the sandbox.
"""

import os
import select
import struct
import time

from agentlib.sandbox.kinds import SANDBOX_KINDS

MAX_MESSAGE = 4 << 20  # bytes in one frame
MAX_OUTPUT = 2000  # characters of stdout/stderr kept per test
MAX_ERROR_MESSAGE = 500
MAX_TRACEBACK = 1500
MAX_NAME = 100  # characters in an exception's type name
MAX_DEPTH = 50  # nesting of a value
MAX_ITEMS = 1 << 20  # elements in one value, the length of a range included
MAX_SAME_HASH = 16  # distinct set members or dict keys that may share one hash
_SLACK = 64  # room for the "… [n more]" that `short` appends


class BadMessage(Exception):
    """What crossed the channel does not fit its schema."""


class NotStandard(Exception):
    """A value that is not made of exact built-in types."""


def _json_codec():
    """Return (dumps, loads) built on `_json`, the C code `json` itself runs on.

    Importing `json` pulls in `re` and `enum`, most of the harness's start-up time; the C
    scanner and encoder need neither. Output is ASCII (lone surrogates escaped). Malformed or
    too deeply nested input raises ValueError. Falls back to `json` where `_json` is missing.
    """
    try:
        import _json
    except ImportError:
        import json

        def loads_fallback(text):
            try:
                return json.loads(text)
            except RecursionError:
                raise ValueError("JSON nested too deeply") from None

        return json.dumps, loads_fallback

    def refuse_constant(name):
        raise ValueError(f"{name} is not valid here")

    def refuse_object(value):
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    class Context:
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = staticmethod(refuse_constant)
        memo = None

    scanner = _json.make_scanner(Context())
    encoder = _json.make_encoder({}, refuse_object, _json.encode_basestring_ascii, None, ":",
                                 ",", False, False, True)

    def dumps(value):
        return "".join(encoder(value, 0))

    def loads(text):
        if isinstance(text, (bytes, bytearray)):
            text = text.decode("utf-8")
        try:
            value, end = scanner(text, 0)
        except StopIteration:
            raise ValueError("not JSON") from None
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if text[end:].strip():
            raise ValueError("extra data after the JSON value")
        return value

    return dumps, loads


json_dumps, json_loads = _json_codec()


def short(text, limit):
    """Cut `text` to `limit` characters, saying how much was left out."""
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more]"


# ---------------------------------------------------------------- framing


def frame(message):
    """Encode a message as one frame: a 4-byte big-endian length, then ASCII JSON."""
    data = json_dumps(message).encode()
    return struct.pack(">I", len(data)) + data


def write_all(fd, data):
    """Write all of `data` to `fd`."""
    while data:
        data = data[os.write(fd, data):]


def _readable(fd, timeout):
    """Whether `fd` is readable within `timeout` seconds (None: wait).

    poll, not select: select() refuses descriptors above 1023, which a long-lived process
    holding many open stores reaches.
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000) + 1)))


def read_exact(fd, size, deadline=None):
    """Read `size` bytes; None on timeout, fewer bytes on end of file (no deadline: wait)."""
    got = bytearray()
    while len(got) < size:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return None
        if _readable(fd, remaining):
            chunk = os.read(fd, size - len(got))
            if not chunk:
                break
            got += chunk
    return bytes(got)


def read_frame(fd, deadline, watch=None, every=0.02, limit=MAX_MESSAGE):
    """Read one frame of at most `limit` bytes; return (status, payload).

    status is "ok" (payload: the frame's bytes), "timeout", "eof", "too-large" (payload: the
    announced size, which is never read), or "watch" (payload: what `watch()` returned;
    while waiting, `watch` is called every `every` seconds and a non-empty return ends the wait).
    """
    got = bytearray()
    need = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout", None
        if not _readable(fd, min(remaining, every) if watch else remaining):
            reason = watch() if watch is not None else None
            if reason:
                return "watch", reason
            continue
        chunk = os.read(fd, 1 << 16 if need is None else min(1 << 20, 4 + need - len(got)))
        if not chunk:
            return "eof", None
        got += chunk
        if need is None and len(got) >= 4:
            need = struct.unpack(">I", got[:4])[0]
            if need > limit:
                return "too-large", need
        if need is not None and len(got) >= 4 + need:
            return "ok", bytes(got[4:4 + need])


# ---------------------------------------------------------------- values


def encode(value, depth=0):
    """Encode a value made only of exact built-in types as tagged JSON data (test process)."""
    if depth > MAX_DEPTH:
        raise NotStandard(f"value nested deeper than {MAX_DEPTH} levels")
    t = type(value)
    if value is None:
        return ["none"]
    if t is bool:
        return ["bool", value]
    if t is int:
        return ["int", str(value)]
    if t is float:
        return ["float", repr(value)]
    if t is complex:
        return ["complex", repr(value.real), repr(value.imag)]
    if t is str:
        return ["str", value]
    if t is bytes:
        return ["bytes", value.hex()]
    if t in (list, tuple, set, frozenset):
        return [t.__name__, [encode(v, depth + 1) for v in value]]
    if t is dict:
        return ["dict", [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]]
    if t is range:
        return ["range", value.start, value.stop, value.step]
    raise NotStandard(f"returned a value of type {t.__module__}.{t.__qualname__}, "
                      "which is not a standard built-in type")


_SEQUENCES = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def decode(data):
    """Rebuild a value from `encode`'s tagged form (trusted side); BadMessage if it is not one."""
    budget = [MAX_ITEMS]
    try:
        return _decode(data, 0, budget)
    except BadMessage:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise BadMessage(f"a value that does not decode ({type(exc).__name__})") from None


def _decode(data, depth, budget):
    if depth > MAX_DEPTH:
        raise BadMessage(f"a value nested deeper than {MAX_DEPTH} levels")
    if type(data) is not list or not data or type(data[0]) is not str:
        raise BadMessage("an item that is not a tagged value")
    budget[0] -= 1
    if budget[0] < 0:
        raise BadMessage(f"a value of more than {MAX_ITEMS} items")
    tag, size = data[0], len(data)
    if tag == "none" and size == 1:
        return None
    if tag == "bool" and size == 2 and type(data[1]) is bool:
        return data[1]
    if tag == "int" and size == 2 and type(data[1]) is str:
        return int(data[1])  # CPython refuses more than 4300 digits: never slow
    if tag == "float" and size == 2 and type(data[1]) is str and len(data[1]) < 40:
        return float(data[1])
    if tag == "complex" and size == 3 and all(type(p) is str and len(p) < 40 for p in data[1:]):
        return complex(float(data[1]), float(data[2]))
    if tag == "str" and size == 2 and type(data[1]) is str:
        return data[1]
    if tag == "bytes" and size == 2 and type(data[1]) is str:
        return bytes.fromhex(data[1])
    if tag in _SEQUENCES and size == 2 and type(data[1]) is list:
        items = [_decode(v, depth + 1, budget) for v in data[1]]
        if tag in ("set", "frozenset"):
            _refuse_hash_flood(items)
        return _SEQUENCES[tag](items)
    if tag == "dict" and size == 2 and type(data[1]) is list:
        pairs = []
        for pair in data[1]:
            if type(pair) is not list or len(pair) != 2:
                raise BadMessage("a dict item that is not a key and a value")
            pairs.append((_decode(pair[0], depth + 1, budget), _decode(pair[1], depth + 1, budget)))
        _refuse_hash_flood([k for k, _ in pairs])
        return dict(pairs)
    if tag == "range" and size == 4 and all(type(p) is int for p in data[1:]):
        value = range(data[1], data[2], data[3])
        if len(value) > MAX_ITEMS:  # OverflowError beyond sys.maxsize: refused too
            raise BadMessage(f"a range of {len(value)} items, more than {MAX_ITEMS}: the judge "
                             "would expand it")
        return value
    raise BadMessage(f"an unknown or malformed tag {short(repr(tag), 40)}")


def _refuse_hash_flood(keys):
    if len(keys) <= MAX_SAME_HASH:
        return
    counts = {}
    for key in keys:
        h = hash(key)
        counts[h] = counts.get(h, 0) + 1
        if counts[h] > MAX_SAME_HASH:
            raise BadMessage(f"more than {MAX_SAME_HASH} set members or dict keys with the same "
                             "hash (a hash flood)")


# ---------------------------------------------------------------- the schema of a result


def _text(message, key, limit):
    value = message[key]
    if type(value) is not str or len(value) > limit + _SLACK:
        raise BadMessage(f"{key!r} is not a string of at most {limit} characters")
    return value


def check_result(message, calls):
    """Return the test process's result if it fits the schema, else raise BadMessage.

    One of: {"values": [tagged value] * calls}, {"ran": true}, or {"error": type name,
    "message": text[, "traceback": text]}. An error may not be one of the sandbox's own kinds.
    """
    if type(message) is not dict:
        raise BadMessage("a result that is not a JSON object")
    keys = set(message)
    if keys == {"values"}:
        values = message["values"]
        if type(values) is not list or len(values) != calls:
            raise BadMessage(f"'values' is not a list of {calls} value(s)")
        return {"values": values}
    if keys == {"ran"}:
        if message["ran"] is not True:
            raise BadMessage("'ran' is not true")
        return {"ran": True}
    if keys in ({"error", "message"}, {"error", "message", "traceback"}):
        name = message["error"]
        if type(name) is not str or not name.isidentifier() or len(name) > MAX_NAME:
            raise BadMessage("'error' is not an exception type name")
        if name in SANDBOX_KINDS:
            raise BadMessage(f"the test process reported {name}, which only the sandbox "
                             "decides")
        checked = {"error": name, "message": _text(message, "message", MAX_ERROR_MESSAGE)}
        if "traceback" in keys:
            checked["traceback"] = _text(message, "traceback", MAX_TRACEBACK)
        return checked
    shown = ", ".join(sorted(short(repr(k), 30) for k in keys)[:6])
    raise BadMessage(f"a result with the keys {{{shown}}}")
