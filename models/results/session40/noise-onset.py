#!/usr/bin/python3
"""Session 40: what mslamlid and mslamasr make of steady noise that starts mid-stream.

For LANGS x N test utterances of ./corpus (espeak-ng): the utterance, 0.5 s of digital silence,
6 s of steady noise (white at -45 dBFS, or brown at -40 dBFS: white noise through an 8-sample
moving average), 4 s of silence, 6 s of the noise again, 2 s of silence, the next utterance, 1 s
of silence. Runs mslamlid and mslamasr
(their defaults, the bundled model) on each and counts the language decisions whose window holds
no speech (decided on the noise alone) and the final captions that lie outside the speech (each
utterance's time, 0.3 s either side), with the captions of the speech whose language was decided
right and the decisions in all.

  /usr/bin/python3 models/results/session40/noise-onset.py PLUGIN_DIR [N]
"""
import csv, os, re, subprocess, sys, tempfile, wave
import numpy as np

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
plugin = sys.argv[1]
n_per = int(sys.argv[2]) if len(sys.argv) > 2 else 6
langs = ["en", "de", "es", "fr", "it"]
rows = {}
with open(os.path.join(root, "corpus/manifest.tsv"), newline="") as f:
    for r in csv.DictReader(f, delimiter="\t"):
        if r["split"] == "test" and r["lang"] in langs and len(rows.setdefault(r["lang"], [])) < n_per + 1:
            rows[r["lang"]].append(r["path"])

lid_msg = re.compile(r"mslam-lid, language=\(string\)([^,]*), confidence=\(double\)[0-9.e-]*, "
                     r"start=\(guint64\)([0-9]+), end=\(guint64\)([0-9]+)")
# (after the words array, whose words have times of their own)
asr_msg = re.compile(r"(?:>, |mslam-asr, )text=\(string\).*, start=\(guint64\)([0-9]+), end=\(guint64\)([0-9]+), "
                     r"final=\(boolean\)true")
env = dict(os.environ, GST_PLUGIN_PATH=plugin, MSLAM_MODEL=os.path.join(root, "models/default.safetensors"))
rng = np.random.default_rng(1)

def read(path, tmp):
    wav = os.path.join(tmp, "speech.wav")
    subprocess.run(["sox", os.path.join(root, "corpus", path), "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
    with wave.open(wav) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768

def noise(kind, n):
    x = rng.standard_normal(n).astype(np.float32)
    if kind == "brown":
        x = np.convolve(x, np.ones(8) / 8, mode="same").astype(np.float32)
    db = -45 if kind == "white" else -40
    return x * (10 ** (db / 20) / np.sqrt(np.mean(x ** 2)))

def messages(element, path):
    return subprocess.run(["gst-launch-1.0", "-m", "filesrc", "location=" + path, "!", "wavparse", "!", "audioconvert",
                           "!", element, "!", "fakesink"], env=env, capture_output=True, text=True, check=True).stdout

with tempfile.TemporaryDirectory() as tmp:
    for kind in ["white", "brown"]:
        on_noise = decisions = right = captions_off = captions = 0
        for lang in langs:
            for a, b in zip(rows[lang], rows[lang][1:]):
                first, second = read(a, tmp), read(b, tmp)
                sr = 16000
                parts = [first, np.zeros(sr // 2, np.float32), noise(kind, 6 * sr), np.zeros(4 * sr, np.float32),
                         noise(kind, 6 * sr), np.zeros(2 * sr, np.float32), second, np.zeros(sr, np.float32)]
                t, speech = 0.0, []
                for i, p in enumerate(parts):
                    if i in (0, 6):
                        speech.append((t, t + p.size / sr))
                    t += p.size / sr
                out = os.path.join(tmp, "x.wav")
                with wave.open(out, "wb") as w:
                    w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
                    w.writeframes((np.clip(np.concatenate(parts), -1, 1) * 32767).astype("<i2").tobytes())
                holds_speech = lambda s, e: any(s < se and e > ss for ss, se in speech)
                for l, s, e in lid_msg.findall(messages("mslamlid", out)):
                    s, e = int(s) / 1e9, int(e) / 1e9
                    decisions += 1
                    on_noise += not holds_speech(s, e)
                    right += holds_speech(s, e) and l == lang
                for s, e in asr_msg.findall(messages("mslamasr", out)):
                    s, e = int(s) / 1e9, int(e) / 1e9
                    captions += 1
                    captions_off += not holds_speech(s - 0.3, e + 0.3)
        pairs = sum(len(v) - 1 for v in rows.values())
        print(f"{kind} noise, {pairs} pairs of utterances: {on_noise} of {decisions} language decisions on the noise "
              f"alone ({right} on speech, right); {captions_off} of {captions} final captions outside the speech")
