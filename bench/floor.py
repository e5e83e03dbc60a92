#!/usr/bin/env python3
"""The machine's floor for a preview: a trivial writer putting FILES files totalling BYTES bytes
into DIR, one plain write each. Usage: floor.py DIR FILES BYTES"""
import os, sys, time

out, files, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
size = total // files
blob = (b"x" * 1023 + b"\n") * (size // 1024 + 1)
start = time.monotonic()
for i in range(files):
    with open(os.path.join(out, f"{i:06}.eml"), "wb") as f:
        f.write(blob[:size])
print(f"{time.monotonic() - start:.2f}")
