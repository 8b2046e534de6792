"""Beam CER per language of two eval JSONs (offline), for the languages named (default: all)."""
import json
import sys

a = json.load(open(sys.argv[1]))["offline"]["languages"]
b = json.load(open(sys.argv[2]))["offline"]["languages"]
langs = sys.argv[3].split(",") if len(sys.argv) > 3 else sorted(a)
for lang in langs:
    print(f"{lang}: {100 * a[lang]['cer_beam']:.2f} -> {100 * b[lang]['cer_beam']:.2f} %")
