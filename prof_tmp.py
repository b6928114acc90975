import time, threading, sys, os
from concurrent.futures import ThreadPoolExecutor
from sqlalchemy import select, func, text
from tests.support import fresh_postgres_database
from tests.doubles.slack_api import SlackApiDouble
from tests.doubles.signing import FORM_CONTENT_TYPE, post_signed, slash_command_body
from config.settings import load_settings
from storage import migrate
from storage.db import make_engine
from storage.models import IntakeRequest, Incident
from bot.server import BotServer
import logging; logging.basicConfig(level=logging.WARNING)
N=int(sys.argv[1]); W=sys.argv[2]
url_kind=sys.argv[3] if len(sys.argv)>3 else "pg"
with SlackApiDouble(token="xoxb-t") as slack:
    slack.add_user("U0ERIN","erin@example.org")
    def go(url):
        e=make_engine(url); migrate.upgrade(e)
        s=load_settings(ISMS_DATABASE_URL=url,SLACK_BOT_TOKEN="xoxb-t",SLACK_SIGNING_SECRET="sec",SLACK_API_URL=slack.base_url,ISMS_INTAKE_WORKERS=W)
        with BotServer(s) as bot:
            def send(i):
                body=slash_command_body("/incident",f"report {i}","U0ERIN",response_url=slack.response_url(f"r{i}"))
                t=time.perf_counter(); st=post_signed(bot.url+"/slack/events","sec",body,FORM_CONTENT_TYPE)[0]; return time.perf_counter()-t
            t0=time.perf_counter()
            with ThreadPoolExecutor(8) as p: lat=list(p.map(send,range(N)))
            t1=time.perf_counter()
            while True:
                with e.connect() as c:
                    d=c.execute(text("select count(*) from slack_intake where status='done'")).scalar()
                if d>=N: break
                time.sleep(0.05)
            t2=time.perf_counter()
            print(f"acks {N/(t1-t0):.0f}/s p50 {sorted(lat)[N//2]*1000:.1f}ms; all done after {t2-t0:.1f}s → {N/(t2-t0):.0f}/s")
    if url_kind=="pg":
        with fresh_postgres_database() as url: go(url)
    else:
        import tempfile
        with tempfile.TemporaryDirectory() as d: go(f"sqlite:///{d}/x.db")
