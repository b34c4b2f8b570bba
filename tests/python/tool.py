"""Pyramid's own cookie signing, for the compatibility tests.

Usage: tool.py sign SECRET ID      -> the cookie value signed_serialize makes
       tool.py verify SECRET VALUE -> the id, or "invalid"
       tool.py samples             -> a session blob full of Python values,
                                      pickled with each protocol 0 to 5, in hex
       tool.py same                -> for each stdin line "HEX HEX": "yes" if
                                      both pickles load as equal values
       tool.py bomb                -> a session blob of about 1.2 KB whose
                                      memo references expand to 512 MB, in hex
"""
import collections
import datetime
import decimal
import fractions
import pickle
import sys
import uuid
import warnings

warnings.simplefilter("ignore")
from pyramid.session import signed_deserialize, signed_serialize  # noqa: E402


def sample():
    shared = [1, "shared"]
    managed = {
        "counter": 3, "neg": -7, "i32": -(2 ** 31), "i64": 2 ** 62, "big": 10 ** 30,
        "negbig": -(2 ** 100), "float": 1.25, "inf": float("inf"), "none": None,
        "bools": [True, False], "text": "h\u00e9llo \U0001f600 \\ \n",
        "bytes": b"\x00\xff" * 200, "bytearray": bytearray(b"ab"),
        "tuple": (1, (2, 3), (), (4, 5, 6, 7)), "set": {1, 2}, "frozen": frozenset({"x"}),
        "nested": {"a": shared, "b": shared, 7: "int key", (1, 2): "tuple key"},
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        "aware": datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 2, 29), "decimal": decimal.Decimal("1.10"),
        "fraction": fractions.Fraction(1, 3), "ordered": collections.OrderedDict(a=1, b=2),
        "uuid": uuid.UUID(int=12345), "_f_": ["one", "two"], "_csrft_": "ab" * 20,
        "long_str": "x" * 70000, "empty": [{}, [], "", b""],
    }
    return {"managed_dict": managed, "created": 1700000000.25, "timeout": 1200}


def main():
    if sys.argv[1] == "samples":
        for proto in range(6):
            print(pickle.dumps(sample(), proto).hex())
        return
    if sys.argv[1] == "bomb":
        s = "a" * 1024
        nested = [s, s]
        for _ in range(17):
            nested = [nested, nested]
        blob = {"managed_dict": {"x": nested, "y": "ok"}, "created": 1700000000.0, "timeout": 1200}
        print(pickle.dumps(blob, 2).hex())
        return
    if sys.argv[1] == "same":
        for line in sys.stdin:
            a, b = line.split()
            same = pickle.loads(bytes.fromhex(a)) == pickle.loads(bytes.fromhex(b))
            print("yes" if same else "no")
        return
    command, secret, arg = sys.argv[1:4]
    if command == "sign":
        print(signed_serialize(arg, secret))
    elif command == "verify":
        try:
            print(signed_deserialize(arg, secret))
        except ValueError:
            print("invalid")
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
