# Session 22: a live source that stops. RTP L16 of the gst tests' talk (6.2 s: two English
# sentences; build/tests/gst_make_fixtures /tmp/fx writes /tmp/fx/talk.wav) over UDP on localhost
# into mslamasr with the bundled model; the sender is killed KILL_AT s after it starts; prints
# when each final caption arrives, and EOS 9 s in (3 s after the kill when later).
#   python3 models/results/session22/rtp-stall.py KILL_AT [ELEMENT_PROPERTY...]   (from the checkout)
#   MSLAM_BUILD_DIR=build-x: the build folder (default build)
import os, subprocess, sys, threading, time
kill_at = float(sys.argv[1])
prop = sys.argv[2:]
env = dict(os.environ, GST_PLUGIN_PATH=os.path.abspath(os.environ.get('MSLAM_BUILD_DIR', 'build') + '/plugin'))
caps = 'application/x-rtp,media=audio,clock-rate=16000,encoding-name=L16,channels=1,payload=96'
recv = subprocess.Popen(['stdbuf', '-oL', 'gst-launch-1.0', '-m', '-e', 'udpsrc', 'port=5004', 'caps=' + caps, '!',
                         'rtpjitterbuffer', 'latency=100', '!', 'rtpL16depay', '!', 'audioconvert', '!', 'audioresample',
                         '!', 'mslamasr', 'model=models/default.safetensors'] + prop + ['!', 'fakesink'],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
t0 = None
def read():
    for line in recv.stdout:
        if 'mslam-asr' in line and 'final=(boolean)true' in line and t0:
            text = line.split('text=(string)')[1].split(', ')[0]
            print('%.2f s: final caption %s' % (time.time() - t0, text), flush=True)
reader = threading.Thread(target=read)
reader.start()
time.sleep(2)
t0 = time.time()
send = subprocess.Popen(['gst-launch-1.0', 'filesrc', 'location=/tmp/fx/talk.wav', '!', 'wavparse', '!', 'audioconvert', '!',
                         'audio/x-raw,format=S16BE', '!', 'rtpL16pay', 'pt=96', '!', 'udpsink', 'host=127.0.0.1',
                         'port=5004', 'sync=true'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(kill_at)
send.kill()
print('%.2f s: sender killed' % (time.time() - t0), flush=True)
time.sleep(max(3, 9 - kill_at))
print('%.2f s: EOS' % (time.time() - t0), flush=True)
recv.send_signal(2)
recv.wait()
reader.join()
