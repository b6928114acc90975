"""Loading a 10,000-person organisation file: libyaml's C loader against the pure-Python safe loader,
side by side in one run, parse alone and parse plus validation (what every CLI start pays).

    uv run python bench/config_load.py [--people 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

import config.organisation as organisation
from config.catalogue import load_catalogue
from config.settings import PACKAGED_EXAMPLE_ORG
from config.yaml_files import SAFE_LOADER


def big_org(people: int) -> str:
    org = yaml.safe_load(PACKAGED_EXAMPLE_ORG.read_text(encoding="utf-8"))
    org["people"] += [
        {
            "id": f"p{n}",
            "name": f"Person {n}",
            "email": f"p{n}@example.org",
            "slack_id": f"U{n:08d}",
            "roles": ["employee"],
            "manager": "alice",
        }
        for n in range(people)
    ]
    return yaml.safe_dump(org, sort_keys=False)


def best(seconds: list[float]) -> float:
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    text = big_org(args.people)
    path = Path(tempfile.mkdtemp()) / "org.yaml"
    path.write_text(text, encoding="utf-8")
    ids = set(load_catalogue().ids)
    rows = []
    for name, loader in (("C loader (used)", SAFE_LOADER), ("pure-Python SafeLoader", yaml.SafeLoader)):
        parse, full = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            yaml.load(text, Loader=loader)
            parse.append(time.perf_counter() - start)
            original = organisation.parse_yaml
            organisation.parse_yaml = lambda t, loader=loader: yaml.load(t, Loader=loader)
            try:
                start = time.perf_counter()
                organisation.load_organisation(path, ids)
                full.append(time.perf_counter() - start)
            finally:
                organisation.parse_yaml = original
        rows.append((name, best(parse), best(full)))
    print(f"{args.people:,} people, {len(text) / 1e6:.1f} MB, best of {args.repeat}")
    print("| loader | parse | parse + validate |")
    print("| --- | ---: | ---: |")
    for name, parse, full in rows:
        print(f"| {name} | {parse:.2f} s | {full:.2f} s |")
    print(f"C loader saves {rows[1][2] - rows[0][2]:.2f} s ({rows[1][2] / rows[0][2]:.1f}x) on a start")


if __name__ == "__main__":
    main()
