#!/usr/bin/env python3
"""Finds a picture inside a screenshot: spice_match.py SCREEN.png PART.png.

Both are thresholded to black and white by ImageMagick (so a viewer's colour conversion does not matter); the rows of
PART are looked for in SCREEN at one offset. Prints "match at X,Y (N of M pixels differ)" and exits 0 when at most 1%
of PART's pixels differ there; exits 1 otherwise. Used to check that remote-viewer's window shows what the guest shows
(vgpuvm screenshot), wherever the window is."""
import subprocess
import sys


def load(path):
    size = subprocess.run(["identify", "-format", "%w %h", path], check=True, capture_output=True, text=True).stdout
    w, h = map(int, size.split())
    raw = subprocess.run(["convert", path, "-colorspace", "gray", "-threshold", "40%", "-depth", "8", "gray:-"],
                         check=True, capture_output=True).stdout
    return w, h, raw


def main():
    sw, sh, screen = load(sys.argv[1])
    pw, ph, part = load(sys.argv[2])
    rows = [part[y * pw:(y + 1) * pw] for y in range(ph)]
    # An anchor row with something drawn on it: a row of one colour would match anywhere.
    anchor = next((y for y, r in enumerate(rows) if len(set(r)) > 1), None)
    if anchor is None:
        print("the part is blank: nothing to look for")
        return 1
    total = pw * ph
    best = None
    for sy in range(sh - ph + 1):
        line = screen[(sy + anchor) * sw:(sy + anchor + 1) * sw]
        x = line.find(rows[anchor])
        while x >= 0:
            if x + pw <= sw:
                diff = sum(1 for y in range(ph)
                           for a, b in zip(screen[(sy + y) * sw + x:(sy + y) * sw + x + pw], rows[y]) if a != b)
                if best is None or diff < best[0]:
                    best = (diff, x, sy)
                if diff * 100 <= total:
                    print(f"match at {x},{sy} ({diff} of {total} pixels differ)")
                    return 0
            x = line.find(rows[anchor], x + 1)
    print("no match" + (f"; closest at {best[1]},{best[2]} with {best[0]} of {total} pixels differing" if best else ""))
    return 1


sys.exit(main())
