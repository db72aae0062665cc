"""Conversation replies: time to the first streamed byte and to the whole answer.

Run from the repository root:

    .venv/bin/python bench/chat_ttfb.py

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/persona_chatbench; a
throwaway test database `test_<name>` is created, migrated and dropped). Celery runs eagerly.

A persona gets eight pages of knowledge (indexed with the real sentence model), then questions go
to `POST /v1/conversations/{id}/messages` through Django's test client (the whole request path:
authentication, rate limit, retrieval, responder, Server-Sent Events), `speak: false` so that only
the text is timed. Paths:

- local: the local responder (sentences picked from the passages by the sentence model).
- llm: an OpenAI-compatible server on loopback that streams its reply at once (the test suite's
  fake server), so the time is ours: retrieval, the request, and relaying the first delta.
- llm-direct: the floor for the llm path: the same server asked directly with `requests`, time to
  its first streamed byte.

First byte = the first `delta` event (text the user sees), not the headers. Medians and p95 over
`--rounds` questions per path (alternated). Prints a Markdown table; writes JSON to bench/results/
unless `--no-json`.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import common  # bench/common.py (a script's own folder is first on sys.path)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

PAGES = [
    ("Opening hours", "The bakery opens at 7 am on weekdays and 8 am on Saturdays. It is closed on Sundays."),
    ("Refunds", "Unopened items can be returned within 30 days for a full refund; bring the receipt."),
    ("Delivery", "We deliver within 5 km of the shop for a flat fee of 4 euros; orders over 40 euros ship free."),
    ("Sourdough", "Our sourdough starter is fed twice a day with rye flour and is twelve years old."),
    ("Allergies", "Every bread contains gluten. Nut-free loaves are baked on Mondays in a separate oven."),
    ("Biography", "Maya trained as a baker in Lyon and opened the shop in 2015 after ten years in Paris."),
    ("Catering", "For weddings and parties we bake to order with two weeks' notice and a 30% deposit."),
    ("Jobs", "We hire apprentices every September; the shift starts at 4 am and pay follows the union scale."),
]
QUESTIONS = [
    "When do you open on Saturday?",
    "Can I get my money back?",
    "How much is delivery?",
    "How old is the sourdough starter?",
    "Do you have nut-free bread?",
    "Where did Maya learn to bake?",
    "Can you cater my wedding?",
    "Are you hiring?",
]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed_stream(client, url: str, question: str) -> tuple[float, float]:
    start = time.perf_counter()
    response = client.post(url, {"text": question, "speak": False}, format="json")
    first = None
    for chunk in response.streaming_content:
        if first is None and b"event: delta" in chunk:
            first = time.perf_counter() - start
    return first if first is not None else float("nan"), time.perf_counter() - start


def timed_direct(server_url: str) -> tuple[float, float]:
    import requests

    body = {"model": "test-model", "stream": True, "messages": [{"role": "user", "content": "Hello there"}]}
    start = time.perf_counter()
    with requests.post(f"{server_url}/chat/completions", json=body, stream=True, timeout=10) as response:
        first = None
        for chunk in response.iter_content(chunk_size=None):
            if first is None and chunk:
                first = time.perf_counter() - start
    return first, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/persona_chatbench")
    os.environ["API_RATE_LIMIT"] = ""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from rest_framework.test import APIClient

    from persona_platform.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        results = run(args, settings, APIClient)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    report(results, args)


def run(args, settings, client_class) -> dict:
    from accounts.services import account_bootstrap
    from characters.services.persons import person_create
    from knowledge.indexing import index_pages
    from knowledge.services.pages import pages_store
    from tests.knowledge.llm_server import LLMServer

    api_key, raw = account_bootstrap(email="chat-bench@example.com", plan="agency")
    person = person_create(workspace=api_key.workspace, owner=api_key.user, name="Maya")
    pages = pages_store(person=person, pages=[{"title": t, "content": c} for t, c in PAGES])
    index_pages(pages=[[page.pk, page.version] for page in pages])
    client = client_class()
    client.credentials(HTTP_X_API_KEY=raw)
    conversation = client.post("/v1/conversations", {"replica_id": str(person.pk)}, format="json").json()
    url = f"/v1/conversations/{conversation['id']}/messages"

    samples = {"local": [], "llm": [], "llm-direct": []}
    with LLMServer(reply="Thanks for asking! Here is what I know [1].") as server:
        for warmup in QUESTIONS[:2]:
            settings.LLM_BASE_URL = ""
            timed_stream(client, url, warmup)
            settings.LLM_BASE_URL = server.url
            timed_stream(client, url, warmup)
            timed_direct(server.url)
        for index in range(args.rounds):
            question = QUESTIONS[index % len(QUESTIONS)]
            settings.LLM_BASE_URL = ""
            samples["local"].append(timed_stream(client, url, question))
            settings.LLM_BASE_URL = server.url
            samples["llm"].append(timed_stream(client, url, question))
            samples["llm-direct"].append(timed_direct(server.url))
    settings.LLM_BASE_URL = ""
    return samples


def report(samples: dict, args) -> None:
    rows = {}
    for path, runs in samples.items():
        first = [run[0] * 1000 for run in runs]
        total = [run[1] * 1000 for run in runs]
        rows[path] = {
            "first_p50_ms": round(statistics.median(first), 2),
            "first_p95_ms": round(percentile(first, 0.95), 2),
            "total_p50_ms": round(statistics.median(total), 2),
            "total_p95_ms": round(percentile(total, 0.95), 2),
        }
    print(
        f"Machine: {platform.machine()} {common.cpu_model()}, Python {platform.python_version()}, {args.rounds} rounds\n"
    )
    print("| path | first byte p50 | first byte p95 | whole reply p50 | whole reply p95 |")
    print("|---|---:|---:|---:|---:|")
    for path, row in rows.items():
        print(
            f"| {path} | {row['first_p50_ms']} ms | {row['first_p95_ms']} ms | "
            f"{row['total_p50_ms']} ms | {row['total_p95_ms']} ms |"
        )
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"chat_ttfb-{stamp}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
