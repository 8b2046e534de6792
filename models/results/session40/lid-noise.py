#!/usr/bin/python3
"""Session 40: mslamlid on speech after and under steady white noise.

For LANGS x N test utterances of ./corpus (espeak-ng), each after 2 s and before 1 s of
nothing, white noise of AMPLITUDE (uniform, peak) over the whole; mslamlid (its defaults:
window 3 s, interval 1 s) on the bundled model. Prints, per noise level, the decisions whose
window ended before the speech began (decided on noise alone), the utterances whose first
decision after the speech began is right, and the decisions in all.

  /usr/bin/python3 models/results/session40/lid-noise.py PLUGIN_DIR [N] [AMPLITUDE...]
"""
import csv, os, re, subprocess, sys, tempfile, wave
import numpy as np

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
plugin = sys.argv[1]
n_per = int(sys.argv[2]) if len(sys.argv) > 2 else 10
amplitudes = [float(a) for a in sys.argv[3:]] or [0.0, 0.007, 0.0245]
langs = ["en", "de", "es", "fr", "it"]
lead, tail = 2.0, 1.0

rows = {}
with open(os.path.join(root, "corpus/manifest.tsv"), newline="") as f:
    for r in csv.DictReader(f, delimiter="\t"):
        if r["split"] == "test" and r["lang"] in langs and len(rows.setdefault(r["lang"], [])) < n_per:
            rows[r["lang"]].append(r["path"])

def read(path):
    wav = os.path.join(tmp, "speech.wav")
    subprocess.run(["sox", path, "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
    with wave.open(wav) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768

msg = re.compile(r"mslam-lid, language=\(string\)([^,]*), confidence=\(double\)[0-9.e-]*, "
                 r"start=\(guint64\)([0-9]+), end=\(guint64\)([0-9]+)")
env = dict(os.environ, GST_PLUGIN_PATH=plugin, MSLAM_MODEL=os.path.join(root, "models/default.safetensors"))
rng = np.random.default_rng(1)
with tempfile.TemporaryDirectory() as tmp:
    for amp in amplitudes:
        on_noise = right = total = 0
        for lang in langs:
            for path in rows[lang]:
                speech = read(os.path.join(root, "corpus", path))
                pcm = np.concatenate([np.zeros(int(lead * 16000), np.float32), speech,
                                      np.zeros(int(tail * 16000), np.float32)])
                pcm += amp * rng.uniform(-1, 1, pcm.size).astype(np.float32)
                out = os.path.join(tmp, "x.wav")
                with wave.open(out, "wb") as w:
                    w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
                    w.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
                log = subprocess.run(["gst-launch-1.0", "-m", "filesrc", "location=" + out, "!", "wavparse", "!",
                                      "audioconvert", "!", "mslamlid", "!", "fakesink"],
                                     env=env, capture_output=True, text=True, check=True).stdout
                decisions = [(m[0], int(m[2]) / 1e9) for m in msg.findall(log)]
                total += len(decisions)
                on_noise += sum(end <= lead for _, end in decisions)
                after = [l for l, end in decisions if end > lead]
                right += bool(after) and after[0] == lang
        n = sum(len(v) for v in rows.values())
        print(f"noise amplitude {amp}: {on_noise} decisions on the noise alone, first decision on the speech "
              f"right for {right} of {n} utterances, {total} decisions")
