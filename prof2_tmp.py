import cProfile, pstats, threading
import bot.slack.intake as bi
prof = cProfile.Profile()
lock = threading.Lock()
orig = bi.IntakeWorkers._attempt
def patched(self, rid):
    with lock:
        prof.enable()
        try: orig(self, rid)
        finally: prof.disable()
bi.IntakeWorkers._attempt = patched
import sys
sys.argv=["x","300","1"]
exec(open("prof_tmp.py").read())
st=pstats.Stats(prof); st.print_callers("work.py:129")
