"""Exercises the Python client against a running service: `python3 demo.py SOCKET`.

Prints one line per check and exits non-zero on the first that fails, so
`tests/python_client.rs` can run it against the real daemon.
"""

import sys

from zero_storage_client import Client, ErrorFrame, StorageError


def check(what, ok):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def main(path):
    with Client(path) as c:
        check("claim app:py-demo", c.claim("py-demo") == "app:py-demo")
        binary = bytes(range(256))
        c.set("blob", binary)
        check("binary value round trip", c.get("blob") == binary)
        check("absent key is None", c.get("missing") is None)
        for key in ["b", "a", "c"]:
            c.set("k/" + key, key.encode())
        keys, cursor = c.list("k/", 2)
        check(f"first page in byte order: {keys} {cursor!r}", keys == ["k/a", "k/b"] and cursor is not None)
        keys, cursor = c.list("k/", 2, cursor)
        check("second page ends", keys == ["k/c"] and cursor is None)
        check("delete existing", c.delete("k/a") is True)
        check("delete absent", c.delete("k/a") is False)
        namespace, used, quota, count = c.quota()
        check("quota counts keys and bytes", (namespace, count) == ("app:py-demo", 3)
              and used == len("blob") + 256 + len("k/b") + 1 + len("k/c") + 1 and quota == 10 * 1024 * 1024)
        try:
            c.set("x" * 257, b"v")
            check("a 257-byte key is refused", False)
        except StorageError as e:
            check("a 257-byte key is KeyTooLong", e.kind == "KeyTooLong")
        try:
            c.list("", 10, "not-a-cursor")
            check("a forged cursor is refused", False)
        except ErrorFrame as e:
            check("a forged cursor gets the error frame for LIST", e.request_tag == 0x7006)
        check("the connection goes on after errors", c.get("blob") == binary)
    with Client(path) as other:
        other.claim("py-other")
        check("another app cannot see py-demo's keys", other.get("blob") is None)


if __name__ == "__main__":
    main(sys.argv[1])
