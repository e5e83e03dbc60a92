#!/usr/bin/python3
"""Verifies the DKIM signatures of messages with dkimpy (Debian's python3-dkim), a DKIM
implementation independent of bulletin's signer.

    dkim_verify.py --record NAME VALUE [--record NAME VALUE ...] FILE...

Each --record stands in for a DNS TXT record, so nothing is looked up. Prints one line per
file, "pass FILE" or "fail FILE: why", and exits 1 if any file fails.
"""
import argparse
import logging
import sys

import dkim

parser = argparse.ArgumentParser()
parser.add_argument("--record", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
parser.add_argument("files", nargs="+")
args = parser.parse_args()
records = {name.rstrip(".").lower(): value for name, value in args.record}


def dnsfunc(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    return records.get(name.rstrip(".").lower(), "").encode() or None


class Why(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


failed = 0
for path in args.files:
    with open(path, "rb") as f:
        message = f.read()
    why = Why()
    logger = logging.getLogger("dkim-" + path)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(why)
    try:
        ok = dkim.verify(message, logger=logger, dnsfunc=dnsfunc, minkey=2048)
    except Exception as e:  # a malformed signature is a failure, not a crash
        ok = False
        why.lines.append(repr(e))
    if ok:
        print("pass", path)
    else:
        failed += 1
        print("fail", path + ":", " | ".join(why.lines[-3:]))
sys.exit(1 if failed else 0)
