#!/usr/bin/env python3
"""Compile a text file into a C string: embed.py SYMBOL INPUT OUTPUT."""
import sys

sym, src, dst = sys.argv[1:4]
with open(src, encoding="utf-8") as f:
    text = f.read()
with open(dst, "w", encoding="utf-8") as f:
    f.write("/* Generated from %s by sim/embed.py; do not edit. */\n" % src.split("/")[-1])
    f.write("extern const char %s[];\n" % sym)
    f.write("const char %s[] =\n" % sym)
    for line in text.splitlines(True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        f.write('\t"%s"\n' % esc)
    f.write("\t;\n")
