#!/usr/bin/env python3
"""CER of mslamasr's final captions against eval's, on the same utterances.

For each language of a manifest's split, the utterances are joined into one 16 kHz WAV (0.5 s of
silence at the ends, 1 s between), run through `gst-launch-1.0 -m ... ! mslamasr PROPS ! fakesink`,
and the final `mslam-asr` messages' texts, joined, are scored against the joined references:
character edit distance over reference characters after eval's normalisation (NFKC, case
folding, punctuation and symbols removed, spaces collapsed). `--hyps` scores a `mslam-trainer
eval --hyps` file the same way (joined per language), so the two compare like for like.

  element_cer.py --manifest M --audio-dir D --langs sr,ms --work DIR --props "model=... lm=..."
  element_cer.py --manifest M --langs sr,ms --hyps eval-hyps.tsv --mode offline [--task asr-beam]
"""
import argparse, csv, os, re, struct, subprocess, sys, unicodedata, wave

def normalise(text):
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" or c.isspace() else c for c in text)
    return " ".join(text.split())

def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]

def cer(hyps, refs):
    h, r = normalise(" ".join(hyps)), normalise(" ".join(refs))
    return edit_distance(h, r) / max(1, len(r))

def decode(path, env):
    raw = subprocess.run(["gst-launch-1.0", "-q", "filesrc", "location=" + path, "!", "decodebin", "!",
                          "audioconvert", "!", "audioresample", "!",
                          "audio/x-raw,format=S16LE,rate=16000,channels=1", "!", "fdsink", "fd=1"],
                         check=True, capture_output=True, env=env).stdout
    return raw

def final_texts(out):
    texts = []
    for line in out.splitlines():
        if "mslam-asr" not in line or "final=(boolean)true" not in line:
            continue
        m = re.search(r'(?<![-\w])text=\(string\)("((?:[^"\\]|\\.)*)"|[^,;]*)', line)
        if m:
            t = m.group(2) if m.group(2) is not None else m.group(1)
            # gst-launch escapes spaces and quotes with a backslash, other bytes as \NNN (octal)
            raw = re.sub(rb"\\([0-7]{3})|\\(.)", lambda e: bytes([int(e.group(1), 8)]) if e.group(1)
                         else e.group(2), t.encode())
            texts.append(raw.decode("utf-8", "replace"))
    return texts

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--audio-dir", default=".")
    ap.add_argument("--split", default="test")
    ap.add_argument("--langs", required=True)
    ap.add_argument("--work", default="element-cer")
    ap.add_argument("--props", default="")
    ap.add_argument("--hyps")
    ap.add_argument("--mode", default="offline")
    ap.add_argument("--task", default="asr-beam", help="hypotheses of this task: asr (greedy) or asr-beam")
    a = ap.parse_args()
    langs = a.langs.split(",")
    rows = {l: [] for l in langs}
    with open(a.manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row["split"] == a.split and row["lang"] in rows:
                rows[row["lang"]].append(row)
    scores = {}
    if a.hyps:
        hyps = {l: {} for l in langs}
        with open(a.hyps, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                if row["mode"] == a.mode and row["task"] == a.task and row["lang"] in hyps:
                    hyps[row["lang"]][os.path.basename(row["path"])] = row["hypothesis"]
        for l in langs:
            refs = [r["text"] for r in rows[l]]
            scores[l] = cer([hyps[l].get(os.path.basename(r["path"]), "") for r in rows[l]], refs)
    else:
        os.makedirs(a.work, exist_ok=True)
        env = dict(os.environ)
        for l in langs:
            wav_path = os.path.join(a.work, l + ".wav")
            if not os.path.exists(wav_path):
                pcm = b"\0\0" * 8000
                for r in rows[l]:
                    pcm += decode(os.path.join(a.audio_dir, r["path"]), env) + b"\0\0" * 16000
                pcm += b"\0\0" * 8000
                with wave.open(wav_path + ".tmp", "wb") as w:
                    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(pcm)
                os.replace(wav_path + ".tmp", wav_path)
            out = subprocess.run(["gst-launch-1.0", "-m", "filesrc", "location=" + wav_path, "!", "wavparse", "!",
                                  "audioconvert", "!", "audioresample", "!", "mslamasr"] + a.props.split() +
                                 ["!", "fakesink"], check=True, capture_output=True, text=True, env=env).stdout
            texts = final_texts(out)
            with open(os.path.join(a.work, l + ".captions.txt"), "w") as f:
                f.write("\n".join(texts) + "\n")
            scores[l] = cer(texts, [r["text"] for r in rows[l]])
    for l in langs:
        print(f"{l}\t{100 * scores[l]:.2f}")
    print(f"mean\t{100 * sum(scores.values()) / len(scores):.2f}")

if __name__ == "__main__":
    sys.exit(main())
