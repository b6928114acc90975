import sys, time
import bot.slack.intake as bi
real_start = bi.IntakeWorkers.start
bi.IntakeWorkers.start = lambda self: None
sys.argv=["x","400",sys.argv[1]]
src=open("prof_tmp.py").read().replace("            while True:","            print(f'acks only {N/(t1-t0):.0f}/s'); t0=time.perf_counter(); real_start(bot.intake); bot.intake.sweep_once()\n            while True:")
src=src.replace("SLACK_API_URL=slack.base_url,","SLACK_API_URL=slack.base_url,ISMS_LOG_LEVEL='WARNING',")
exec(src)
