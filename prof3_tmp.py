import cProfile, pstats, threading
import bot.slack.endpoint as be
import bot.slack.intake as bi
bi.IntakeWorkers.start = lambda self: None  # acks only: the workers do not run in this profile
prof = cProfile.Profile()
lock = threading.Lock()
orig = be.SlackEndpoint.__call__
def patched(self, environ, sr):
    with lock:
        prof.enable()
        try: return orig(self, environ, sr)
        finally: prof.disable()
be.SlackEndpoint.__call__ = patched
import sys, time
sys.argv=["x","300","1"]
src=open("prof_tmp.py").read().replace("            while True:","            print(f'acks only {N/(t1-t0):.0f}/s'); return\n            while True:")
exec(src)
pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
