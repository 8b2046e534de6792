"""Per-language test CER (beam + LM, offline) change of a fine-tuned model against the bundled one:
the other languages' mean change and how many moved by more than half a point.
  python3 compare.py BUNDLED.json FT.json [EXCLUDED,LANGS]"""
import json
import sys

def cers(path):
    langs = json.load(open(path))['offline']['languages']
    return {k: v['cer_beam'] * 100 for k, v in langs.items() if 'cer_beam' in v}

base, ft = cers(sys.argv[1]), cers(sys.argv[2])
excluded = set((sys.argv[3] if len(sys.argv) > 3 else 'en,de,fr').split(','))
for lang in sorted(excluded):
    print(f"{lang}: {base[lang]:.2f} -> {ft[lang]:.2f} %")
others = [l for l in base if l not in excluded and l in ft]
delta = {l: ft[l] - base[l] for l in others}
print(f"the other {len(others)}: mean change {sum(delta.values()) / len(others):+.2f} points, "
      f"{sum(d > 0.5 for d in delta.values())} worse by more than 0.5, {sum(d < -0.5 for d in delta.values())} better")
print("most worse:", ", ".join(f"{l} {delta[l]:+.2f}" for l in sorted(delta, key=delta.get, reverse=True)[:5]))
