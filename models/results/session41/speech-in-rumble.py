#!/usr/bin/python3
"""Session 41: speech in rumble, the case the steady-sound rule over 50-ms energies could harm.

Rumble (white noise low-passed at CUTOFF Hz, a brick wall in the FFT) is added to every 25th
test utterance of ./corpus (100 files, all languages, augmented as the corpus is) at a
signal-to-noise ratio of SNR dB (the rumble's power against the utterance's mean power over its
voiced part, where 10-ms blocks lie within 40 dB of the loudest), with 1 s of rumble before and
after. For each plugin folder, mslamasr's final captions (how many files have one, the
characters in all) and mslamlid's decisions (how many, and how many name the utterance's
language), with the bundled model and the elements' defaults.

  /usr/bin/python3 models/results/session41/speech-in-rumble.py PLUGIN_DIR...  (about 3 min a plugin and case)
  CUTOFFS=200 SNRS=0 /usr/bin/python3 ...   (the cases: by default 100 and 200 Hz at 0, 5, 10 dB)
"""
import csv, os, re, subprocess, sys, tempfile, wave
import numpy as np

root = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
plugins = sys.argv[1:]
rows = []
with open(os.path.join(root, "corpus/manifest.tsv"), newline="") as f:
    tests = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == "test"]
rows = tests[::25]
sr = 16000
rng = np.random.default_rng(41)
env = dict(os.environ, MSLAM_MODEL=os.path.join(root, "models/default.safetensors"))
lid_msg = re.compile(r"mslam-lid, language=\(string\)([^,]*),")
asr_text = re.compile(r"mslam-asr, .*?text=\(string\)(\"(?:[^\"\\]|\\.)*\"|[^,]*), .*final=\(boolean\)true")

def read(path, tmp):
    out = os.path.join(tmp, "speech.wav")
    subprocess.run(["sox", os.path.join(root, "corpus", path), "-r", "16000", "-c", "1", "-b", "16", out], check=True)
    with wave.open(out) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768

def rumble(n, cutoff):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[int(cutoff * n / sr):] = 0
    x = np.fft.irfft(spectrum, n)
    return x / np.sqrt(np.mean(x ** 2))

def voiced_power(x):
    blocks = (x[: len(x) // 160 * 160].reshape(-1, 160) ** 2).mean(axis=1)
    return blocks[blocks > blocks.max() * 1e-4].mean()

def run(plugin, element, path):
    return subprocess.run(["gst-launch-1.0", "-m", "filesrc", "location=" + path, "!", "wavparse", "!", "audioconvert",
                           "!", element, "!", "fakesink"], env=dict(env, GST_PLUGIN_PATH=plugin),
                          capture_output=True, text=True, check=True).stdout

with tempfile.TemporaryDirectory() as tmp:
    for cutoff in [int(c) for c in os.environ.get("CUTOFFS", "100,200").split(",")]:
        for snr in [int(c) for c in os.environ.get("SNRS", "0,5,10").split(",")]:
            files = []
            for i, r in enumerate(rows):
                speech = read(r["path"], tmp)
                x = np.concatenate([np.zeros(sr), speech, np.zeros(sr)])
                x = x + rumble(len(x), cutoff) * np.sqrt(voiced_power(speech) / 10 ** (snr / 10))
                path = os.path.join(tmp, "%d-%d-%d.wav" % (cutoff, snr, i))
                with wave.open(path, "wb") as w:
                    w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
                    w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
                files.append((path, r["lang"]))
            for plugin in plugins:
                with_caption = chars = decisions = right = 0
                for path, lang in files:
                    texts = asr_text.findall(run(plugin, "mslamasr", path))
                    with_caption += bool(texts)
                    chars += sum(len(t.strip('"')) for t in texts)
                    for l in lid_msg.findall(run(plugin, "mslamlid", path)):
                        decisions += 1
                        right += l == lang
                print("rumble below %d Hz, SNR %d dB, %s: %d of %d files captioned (%d characters), "
                      "%d language decisions (%d right)" % (cutoff, snr, plugin, with_caption, len(files), chars,
                                                           decisions, right), flush=True)
