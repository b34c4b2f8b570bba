"""Pyramid's own cookie signing, for the compatibility tests.

Usage: tool.py sign SECRET ID      -> the cookie value signed_serialize makes
       tool.py verify SECRET VALUE -> the id, or "invalid"
"""
import sys
import warnings

warnings.simplefilter("ignore")
from pyramid.session import signed_deserialize, signed_serialize  # noqa: E402


def main():
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
