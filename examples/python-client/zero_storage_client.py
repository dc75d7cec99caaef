"""A client for the Zero Storage Service, written from PROTOCOL.md alone (no Rust, no postcard
library): framing, the postcard rules the messages need, the design's five messages, STORAGE_CLAIM
and the error frame. Python 3 standard library only.

    from zero_storage_client import Client
    with Client("zero-data/zero-storage.sock") as c:
        c.set("color", b"blue")
        assert c.get("color") == b"blue"
"""

import socket
import struct

GET, SET, DELETE, LIST, QUOTA, CLAIM, ERROR = 0x7000, 0x7002, 0x7004, 0x7006, 0x7008, 0x7028, 0x70FF

# StorageError, in PROTOCOL.md's order; the last three carry a field.
ERRORS = ["NotFound", "QuotaExceeded", "KeyTooLong", "ValueTooLarge", "PermissionDenied",
          "BackendError", "InvalidArgument", "PreconditionFailed"]


class StorageError(Exception):
    """The service answered a request with `Err(StorageError)`: `.kind` is the variant's name."""

    def __init__(self, kind, detail=None):
        super().__init__(kind if detail is None else f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


class ErrorFrame(Exception):
    """The service answered with the error frame (0x70FF): `.request_tag` and `.message`."""

    def __init__(self, request_tag, message):
        super().__init__(f"request 0x{request_tag:04X}: {message}")
        self.request_tag, self.message = request_tag, message


# --- postcard, the parts PROTOCOL.md lists ------------------------------------------------------

def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(s):
    data = s.encode("utf-8")
    return varint(len(data)) + data


def blob(b):
    return varint(len(b)) + bytes(b)


def option(value, encode):
    return b"\x00" if value is None else b"\x01" + encode(value)


class Reader:
    """Reads postcard values off one payload; `done()` checks nothing is left over."""

    def __init__(self, payload):
        self.data, self.at = payload, 0

    def byte(self):
        if self.at >= len(self.data):
            raise ValueError("payload ended early")
        self.at += 1
        return self.data[self.at - 1]

    def varint(self):
        n, shift = 0, 0
        while True:
            b = self.byte()
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    def blob(self):
        n = self.varint()
        if self.at + n > len(self.data):
            raise ValueError("payload ended early")
        self.at += n
        return self.data[self.at - n:self.at]

    def string(self):
        return self.blob().decode("utf-8")

    def option(self, read):
        return None if self.byte() == 0 else read()

    def result(self, read_ok):
        """`Ok` gives `read_ok()`; `Err` raises StorageError."""
        if self.byte() == 0:
            return read_ok()
        index = self.varint()
        kind = ERRORS[index]
        detail = self.string() if kind in ("BackendError", "InvalidArgument") else (
            self.varint() if kind == "PreconditionFailed" else None)
        raise StorageError(kind, detail)

    def done(self):
        if self.at != len(self.data):
            raise ValueError(f"{len(self.data) - self.at} bytes after the message")


# --- the connection ------------------------------------------------------------------------------

class Client:
    """One connection to `zero-storage serve`, one request at a time."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _exact(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the service closed the connection")
            data += chunk
        return bytes(data)

    def call(self, tag, payload):
        """Sends one request frame and returns a Reader on its answer's payload."""
        self.sock.sendall(struct.pack("<II", tag, len(payload)) + payload)
        answer_tag, length = struct.unpack("<II", self._exact(8))
        reader = Reader(self._exact(length))
        if answer_tag == ERROR:
            request_tag, message = reader.varint(), reader.string()
            raise ErrorFrame(request_tag, message)
        if answer_tag != tag + 1:
            raise ValueError(f"answer 0x{answer_tag:04X} to request 0x{tag:04X}")
        return reader

    def _answer(self, reader, read):
        value = read(reader)
        reader.done()
        return value

    def claim(self, name, roles=(), user=None):
        """Acts as app `name`; must come first. Returns the identity's own namespace."""
        payload = string(name) + varint(len(roles)) + b"".join(string(r) for r in roles) + option(user, string)
        return self._answer(self.call(CLAIM, payload), lambda r: r.result(r.string))

    def get(self, key):
        """The value under `key`, or None."""
        return self._answer(self.call(GET, string(key)), lambda r: r.result(lambda: r.option(r.blob)))

    def set(self, key, value, ttl_secs=0):
        self._answer(self.call(SET, string(key) + blob(value) + varint(ttl_secs)), lambda r: r.result(lambda: None))

    def delete(self, key):
        """Whether a live entry existed."""
        return self._answer(self.call(DELETE, string(key)), lambda r: r.result(lambda: r.byte() == 1))

    def list(self, prefix="", limit=100, cursor=None):
        """One page: (keys, next_cursor)."""
        payload = string(prefix) + varint(limit) + option(cursor, string)

        def page(r):
            keys = [r.string() for _ in range(r.varint())]
            return keys, r.option(r.string)
        return self._answer(self.call(LIST, payload), page)

    def quota(self):
        """(namespace, used_bytes, quota_bytes, key_count)."""
        return self._answer(self.call(QUOTA, b""),
                            lambda r: r.result(lambda: (r.string(), r.varint(), r.varint(), r.varint())))
