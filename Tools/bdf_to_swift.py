#!/usr/bin/env python3
"""Turns the public-domain X11 misc-fixed 6x13 font into FixedFont.swift's glyph table.

    apt-get install xfonts-base pcf2bdf
    zcat /usr/share/fonts/X11/misc/6x13-ISO8859-1.pcf.gz > /tmp/6x13.pcf
    pcf2bdf -o /tmp/6x13.bdf /tmp/6x13.pcf
    python3 Tools/bdf_to_swift.py /tmp/6x13.bdf

prints one line per printable ASCII character (32...126): 13 rows, two hex digits each, the
top bit of each byte the leftmost pixel. Only used when the font table is regenerated.
"""
import sys

glyphs, current, rows, in_bitmap = {}, None, [], False
for line in open(sys.argv[1]):
    word = line.split()
    if not word:
        continue
    if word[0] == "ENCODING":
        current = int(word[1])
    elif word[0] == "BBX":
        assert word[1:] == ["6", "13", "0", "-2"], f"glyph {current} is not a full 6x13 cell: {word}"
    elif word[0] == "BITMAP":
        in_bitmap, rows = True, []
    elif word[0] == "ENDCHAR":
        in_bitmap = False
        glyphs[current] = rows
    elif in_bitmap:
        rows.append(word[0].upper())

for code in range(32, 127):
    rows = glyphs[code]
    assert len(rows) == 13
    print(f'        "{"".join(rows)}", // {chr(code)!r}')
