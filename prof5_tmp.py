import sys, time, collections
import bot.slack.intake as bi
import storage.intake as si
import bot.slack.jobs as bj
import bot.slack.app as ba
T=collections.defaultdict(float); C=collections.Counter()
def timed(name, f):
    def w(*a, **k):
        t=time.perf_counter()
        try: return f(*a, **k)
        finally: T[name]+=time.perf_counter()-t; C[name]+=1
    return w
si.claim = timed("claim", si.claim)
bj.Job.request = timed("request", bj.Job.request)
bj.Job.run = timed("run", bj.Job.run)
si.finish = timed("finish", si.finish)
ba._messages = timed("messages", ba._messages)
bi.IntakeWorkers._attempt = timed("attempt", bi.IntakeWorkers._attempt)
real_start = bi.IntakeWorkers.start
bi.IntakeWorkers.start = lambda self: None
sys.argv=["x","200",sys.argv[1]]
src=open("prof_tmp.py").read().replace("            while True:","            print(f'acks only {N/(t1-t0):.0f}/s'); t0=time.perf_counter(); real_start(bot.intake); bot.intake.sweep_once()\n            while True:")
exec(src)
for k in T: print(k, C[k], f"{T[k]/C[k]*1000:.1f} ms avg")
