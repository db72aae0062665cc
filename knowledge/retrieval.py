"""Finding the passages of a persona's knowledge that answer a question: hybrid search.

Two rankings of the persona's chunks, each cut to its best N (N = max(20, 4 x limit)): by cosine
similarity of the embeddings, and by keyword relevance of the question's words. They are fused by
reciprocal rank fusion (score = sum of 1 / (60 + rank) over the rankings a chunk is in), so a passage
that only one ranking finds still comes back, and one that both find comes first.

Keyword relevance is the same formula everywhere, BM25 without length normalisation (chunks are of
similar length): each distinct word of the question (stemmed, stop words left out) found in `df` of
the persona's chunks weighs ln(1 + C / df), and a chunk scores the sum, over the words it holds, of
weight x tf (k1 + 1) / (tf + k1), k1 = 1.2. Words found in C = MAX_TERM_CHUNKS chunks or more are left
out: they tell passages apart no better than stop words, and leaving them out bounds the work of a
question whatever the size of the knowledge base (on PostgreSQL so are the words that ANALYZE counts
that often in the whole table, which are known without a look at the index). A question's words
match any of a chunk's (OR): a question rarely shares all its words with the passage that answers it.

Three backends do the same search, chosen by the database (`backend_for`):

- `PgvectorSearch`: PostgreSQL with the `embedding_vector` column (pgvector): both rankings and the
  fusion in one statement (HNSW for the vectors, the GIN index for the words): one round trip.
- `PostgresSearch`: PostgreSQL without pgvector: exact vector search in numpy over the persona's
  embeddings (cached per process), then the same statement with those ranks in place of HNSW's.
- `InProcessSearch`: any database (SQLite in embedded mode): exact vector search and the keyword
  formula in numpy, over an index of the persona's chunks cached per process.

PostgreSQL stems with Snowball, the in-process index with a lighter stemmer (`stem`), so keyword
scores can differ a little between backends; the vectors are the same.

The per-process caches are checked on every search with one cheap query (the count, greatest id and
sum of ids of the persona's chunks; indexing only ever deletes and inserts chunks, and ids are never
reused, so any change moves one of them), and rebuilt when it differs.
"""

import math
import re
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np
from django.db import connections
from django.db.models import Count, Max, Sum

from knowledge.embeddings import DIMENSIONS, embed
from knowledge.models import KnowledgeChunk, KnowledgePage

RRF_K = 60
MIN_CANDIDATES = 20
EF_SEARCH = 100  # pgvector HNSW candidate list; its default (40) loses recall past a few thousand chunks
MAX_TERM_CHUNKS = 1000  # a word in this many of the persona's chunks or more is left out of keyword search
BM25_K1 = 1.2
CACHED_PERSONS = 32  # per process and backend

# What "nothing relevant" means. A passage is relevant when its embedding is close to the question's,
# or fairly close and it shares a word with the question. Calibrated with all-MiniLM-L6-v2 on the test
# corpus (tests/knowledge/test_retrieval.py): the passage that answers a question scores 0.43 to 0.78,
# those of a question the persona never wrote about at most 0.18 (0.41 for a look-alike: "the price of
# a flight to Paris" against the shipping page, which shares no word with it). A shared word alone
# proves little: stop words aside, "change" or "cup" turn up in passages about anything.
MIN_COSINE = 0.45
MIN_COSINE_WITH_KEYWORDS = 0.30


@dataclass(frozen=True)
class Passage:
    """A chunk found for a question. `score` is the fused (RRF) score that orders the results;
    `vector_score` the cosine similarity to the question; `keyword_score` the keyword formula's score
    (0: no informative word of the question in the chunk). Passages built by hand (tests, citations)
    count as a full match."""

    chunk_id: int
    page_id: int
    title: str
    text: str
    score: float = 1.0
    vector_score: float = 1.0
    keyword_score: float = 0.0


def passage_is_relevant(passage: Passage) -> bool:
    """Close in meaning, or somewhat close and sharing a word with the question."""
    return passage.vector_score >= MIN_COSINE or (
        passage.keyword_score > 0 and passage.vector_score >= MIN_COSINE_WITH_KEYWORDS
    )


def relevant(passages: list[Passage]) -> list[Passage]:
    """The passages worth answering from, in their order; empty when the persona knows nothing about it."""
    return [passage for passage in passages if passage_is_relevant(passage)]


def retrieve(*, person_id: int, query: str, limit: int = 5, using: str = "default") -> list[Passage]:
    """The persona's best `limit` passages for the question, best first (never another persona's)."""
    if not query.strip() or limit <= 0:
        return []
    return search(person_id=person_id, query=query, vector=embed([query])[0], limit=limit, using=using)


def search(*, person_id: int, query: str, vector: np.ndarray, limit: int = 5, using: str = "default") -> list[Passage]:
    """`retrieve` with the question's embedding already computed."""
    return backend_for(connections[using]).search(person_id=person_id, query=query, vector=vector, limit=limit)


def candidates(limit: int) -> int:
    """How deep each ranking goes before fusion."""
    return max(MIN_CANDIDATES, 4 * limit)


def backend_for(connection):
    """The fastest backend this database supports."""
    if connection.vendor == "postgresql":
        return PgvectorSearch(connection) if vector_column_available(connection) else PostgresSearch(connection)
    return InProcessSearch(connection)


# Text: the words of a question and of a chunk, for full-text search.

# PostgreSQL's `english` stop words (the Snowball list), so both keyword backends ignore the same words.
STOP_WORDS = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is are "
    "was were be been being have has had having do does did doing a an the and but if or because as until while "
    "of at by for with about against between into through during before after above below to from up down in out "
    "on off over under again further then once here there when where why how all any both each few more most "
    "other some such no nor not only own same so than too very s t can will just don should now".split()
)
_WORD = re.compile(r"[^\W_]+")
_DOUBLED = re.compile(r"([b-df-hj-km-np-rtv-z])\1$")  # a doubled consonant other than l, s, z


def stem(word: str) -> str:
    """A light English stemmer: plural, -ing, -ed, -ly and a final e, so "opens", "opening" and
    "opened" meet at "open". Not Snowball: the query and the chunks only need to agree with each other."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ied", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix == "ied" else "")
            if _DOUBLED.search(word) and not word.endswith(("ll", "ss", "zz")):
                word = word[:-1]
            break
    if word.endswith("ly") and len(word) >= 6:
        word = word[:-2]
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """The text's words, lower case, without stop words (unstemmed)."""
    return [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


def terms(text: str) -> list[str]:
    return [stem(word) for word in words(text)]


def term_weight(chunks_with_term: int) -> float:
    """A word's weight from the number of the persona's chunks that hold it (below MAX_TERM_CHUNKS)."""
    return math.log(1 + MAX_TERM_CHUNKS / chunks_with_term)


# Fusion, for the in-process backend (the SQL of the PostgreSQL backends does the same).


def fuse(*rankings: list[int], limit: int) -> list[tuple[int, float]]:
    """(chunk id, RRF score) of the best `limit` chunks over the rankings (lists of ids, best first)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _top(ids: np.ndarray, scores: np.ndarray, n: int, *, positive: bool = False) -> np.ndarray:
    """Positions of the n best scores, best first, ties to the lower chunk id (as SQL orders them)."""
    positions = np.flatnonzero(scores > 0) if positive else np.arange(len(scores))
    if len(positions) > n:
        # The n-th best score, and every position at least that good, so ties at the cut break by id too.
        threshold = np.partition(scores[positions], len(positions) - n)[len(positions) - n]
        positions = positions[scores[positions] >= threshold]
    order = np.lexsort((ids[positions], -scores[positions]))
    return positions[order][:n]


class _KeywordIndex:
    """The keyword formula (see the module's docstring) over the chunks' stemmed words."""

    def __init__(self, texts: list[str]):
        self.size = len(texts)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for position, text in enumerate(texts):
            for term, count in Counter(terms(text)).items():
                docs, freqs = postings.setdefault(term, ([], []))
                docs.append(position)
                freqs.append(count)
        self.postings = {
            term: (np.asarray(docs, dtype=np.int64), np.asarray(freqs, dtype=np.float64))
            for term, (docs, freqs) in postings.items()
        }

    def scores(self, query: str) -> np.ndarray:
        scores = np.zeros(self.size, dtype=np.float64)
        for term in dict.fromkeys(terms(query)):
            docs, freqs = self.postings.get(term, (None, None))
            if docs is None or len(docs) >= MAX_TERM_CHUNKS:
                continue
            scores[docs] += term_weight(len(docs)) * freqs * (BM25_K1 + 1) / (freqs + BM25_K1)
        return scores


@dataclass(frozen=True)
class _PersonIndex:
    key: tuple
    ids: np.ndarray  # chunk ids, ascending
    matrix: np.ndarray  # (len(ids), 384) unit float32
    keywords: _KeywordIndex | None


class _Cache:
    """The last CACHED_PERSONS persons' indexes, shared by the threads of the process."""

    def __init__(self):
        self._entries: OrderedDict[tuple, _PersonIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: tuple, key: tuple) -> _PersonIndex | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry.key != key:
                return None
            self._entries.move_to_end(name)
            return entry

    def put(self, name: tuple, entry: _PersonIndex) -> None:
        with self._lock:
            self._entries[name] = entry
            self._entries.move_to_end(name)
            while len(self._entries) > CACHED_PERSONS:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def index(self, connection, person_id: int, key: tuple, *, with_keywords: bool) -> _PersonIndex:
        """The person's index as cached, read again from the database once its `key` has changed."""
        name = (connection.alias, connection.settings_dict["NAME"], person_id)
        if (entry := self.get(name, key)) is None:
            entry = _load(connection.alias, person_id, key, with_keywords=with_keywords)
            self.put(name, entry)
        return entry


_in_process_cache = _Cache()
_postgres_cache = _Cache()


def _load(using: str, person_id: int, key: tuple, *, with_keywords: bool) -> _PersonIndex:
    fields = ("id", "embedding", "text") if with_keywords else ("id", "embedding")
    chunks = KnowledgeChunk.objects.using(using).filter(person_id=person_id).order_by("id")
    rows = list(chunks.values_list(*fields))
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    stored = b"".join(bytes(row[1]) for row in rows)  # each 384 little-endian float32 (embeddings.to_bytes)
    matrix = np.frombuffer(stored, dtype="<f4").reshape(len(rows), DIMENSIONS).astype(np.float32)
    keywords = _KeywordIndex([row[2] for row in rows]) if with_keywords else None
    return _PersonIndex(key=key, ids=ids, matrix=matrix, keywords=keywords)


def _vector_ranking(index: _PersonIndex, vector: np.ndarray, n: int) -> tuple[list[int], np.ndarray]:
    similarities = index.matrix @ np.asarray(vector, dtype=np.float32)
    return index.ids[_top(index.ids, similarities, n)].tolist(), similarities


def _passages(rows, fused: list[tuple[int, float]], vector_scores: dict, keyword_scores: dict) -> list[Passage]:
    """Passages in fused order from rows of (id, page id, title, text); chunks deleted meanwhile drop out."""
    found = {row[0]: row for row in rows}
    return [
        Passage(
            chunk_id=chunk_id,
            page_id=found[chunk_id][1],
            title=found[chunk_id][2],
            text=found[chunk_id][3],
            score=float(score),
            vector_score=float(vector_scores.get(chunk_id, 0.0)),
            keyword_score=float(keyword_scores.get(chunk_id, 0.0)),
        )
        for chunk_id, score in fused
        if chunk_id in found
    ]


class InProcessSearch:
    """Exact vector search and the keyword formula, in numpy over the persona's chunks: any database."""

    name = "in-process"

    def __init__(self, connection=None):
        self.connection = connection or connections["default"]

    def _key(self, person_id: int) -> tuple:
        chunks = KnowledgeChunk.objects.using(self.connection.alias).filter(person_id=person_id)
        stats = chunks.aggregate(count=Count("id"), last=Max("id"), total=Sum("id"))
        key = (stats["count"], stats["last"], stats["total"])
        if self.connection.vendor == "sqlite":
            # SQLite hands out again the ids of inserts that were rolled back: the pages' last change
            # tells such chunks apart from the ones cached.
            pages = KnowledgePage.objects.using(self.connection.alias).filter(person_id=person_id)
            key += (pages.aggregate(changed=Max("updated_at"))["changed"],)
        return key

    def index(self, person_id: int) -> _PersonIndex:
        return _in_process_cache.index(self.connection, person_id, self._key(person_id), with_keywords=True)

    def search(self, *, person_id: int, query: str, vector: np.ndarray, limit: int = 5) -> list[Passage]:
        index = self.index(person_id)
        if not len(index.ids):
            return []
        n = candidates(limit)
        vector_ranking, similarities = _vector_ranking(index, vector, n)
        keyword_scores = index.keywords.scores(query)
        keyword_ranking = index.ids[_top(index.ids, keyword_scores, n, positive=True)].tolist()
        fused = fuse(vector_ranking, keyword_ranking, limit=limit)
        positions = np.searchsorted(index.ids, [chunk_id for chunk_id, _ in fused])
        chosen = index.ids[positions].tolist()
        rows = (
            KnowledgeChunk.objects.using(self.connection.alias)
            .filter(person_id=person_id, id__in=chosen)
            .values_list("id", "page_id", "page__title", "text")
        )
        return _passages(
            rows,
            fused,
            vector_scores=dict(zip(chosen, similarities[positions].tolist(), strict=True)),
            keyword_scores=dict(zip(chosen, keyword_scores[positions].tolist(), strict=True)),
        )


# PostgreSQL.

_DETECT_SQL = """
SELECT EXISTS (
           SELECT 1 FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = 'knowledge_knowledgechunk'
             AND column_name = 'embedding_vector'
       ),
       (SELECT extversion FROM pg_extension WHERE extname = 'vector')
"""


@dataclass
class _ConnectionState:
    vector_column: bool
    iterative_scan: bool  # pgvector >= 0.8
    configured: bool = False  # the session's hnsw settings are in place


_states: "weakref.WeakKeyDictionary[object, _ConnectionState]" = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(connection) -> _ConnectionState:
    """What this server connection offers, asked once per connection (a migration adds the column)."""
    connection.ensure_connection()
    raw = connection.connection
    with _states_lock:
        state = _states.get(raw)
    if state is None:
        with connection.cursor() as cursor:
            cursor.execute(_DETECT_SQL)
            has_column, version = cursor.fetchone()
        numbers = tuple(int(part) for part in re.findall(r"\d+", version or "")[:2])
        state = _ConnectionState(vector_column=bool(has_column), iterative_scan=numbers >= (0, 8))
        with _states_lock:
            _states[raw] = state
    return state


def vector_column_available(connection) -> bool:
    """True on PostgreSQL where the migration could add `embedding_vector` (the server has pgvector)."""
    return connection.vendor == "postgresql" and _state(connection).vector_column


def vector_literal(vector) -> str:
    """pgvector's text form; float32 values printed in full, so the server stores the very same floats."""
    return "[" + ",".join(map(str, np.asarray(vector, dtype=np.float32).tolist())) + "]"


# The keyword half, shared by both PostgreSQL statements. Each distinct lexeme of the question
# becomes a one-word tsquery, unless ANALYZE's statistics of the table count it in MAX_TERM_CHUNKS
# chunks or more: such a word would cost the most (the GIN bitmap of all its chunks) and weigh the
# least, so it is skipped without touching the index. The other words' chunks come from the GIN
# index, at most MAX_TERM_CHUNKS of them (a word found that often among the persona's chunks is
# dropped by HAVING); tf is ts_rank_cd of a one-word query, which counts 0.1 per occurrence.
_KEYWORD_CTES = r"""
common_words AS (
    SELECT s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS shares,
           greatest(t.reltuples, 0) AS chunks
    FROM pg_stats s JOIN pg_class t ON t.oid = 'knowledge_knowledgechunk'::regclass
    WHERE s.schemaname = current_schema() AND s.tablename = 'knowledge_knowledgechunk'
      AND s.attname = 'search_vector'
), query_terms AS (
    SELECT DISTINCT ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery AS query
    FROM unnest(tsvector_to_array(to_tsvector('english', %(question)s))) AS lexeme
    WHERE NOT EXISTS (
        SELECT 1 FROM common_words w
        WHERE w.shares[array_position(w.lexemes, lexeme)] * w.chunks >= %(max_term_chunks)s
    )
), term_hits AS MATERIALIZED (
    SELECT q.query, h.id, h.tf
    FROM query_terms q
    CROSS JOIN LATERAL (
        SELECT c.id, round(10 * ts_rank_cd(c.search_vector, q.query))::float8 AS tf
        FROM knowledge_knowledgechunk c
        WHERE c.person_id = %(person)s AND c.search_vector @@ q.query
        LIMIT %(max_term_chunks)s
    ) AS h
), term_weights AS (
    SELECT query, ln(1 + %(max_term_chunks)s::float8 / count(*)) AS weight
    FROM term_hits
    GROUP BY query
    HAVING count(*) < %(max_term_chunks)s
), keyword_scores AS MATERIALIZED (
    SELECT h.id, sum(w.weight * h.tf * (%(k1)s + 1) / (h.tf + %(k1)s)) AS score
    FROM term_hits h JOIN term_weights w ON w.query = h.query
    GROUP BY h.id
), keyword_ranks AS (
    SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank
    FROM keyword_scores
    ORDER BY score DESC, id
    LIMIT %(depth)s
)"""

# Fusion and the passages' rows, shared by both statements. {vector_score} is pgvector's cosine, or
# NULL where numpy has it.
_FUSED_SELECT = """
, fused AS (
    SELECT id, sum(1.0::float8 / (%(rrf_k)s + rank)) AS score
    FROM (SELECT id, rank FROM vector_ranks UNION ALL SELECT id, rank FROM keyword_ranks) AS ranks
    GROUP BY id
    ORDER BY score DESC, id
    LIMIT %(limit)s
)
SELECT c.id, c.page_id, p.title, c.text, f.score, {vector_score}, coalesce(k.score, 0)
FROM fused f
JOIN knowledge_knowledgechunk c ON c.id = f.id AND c.person_id = %(person)s
JOIN knowledge_knowledgepage p ON p.id = c.page_id
LEFT JOIN keyword_scores k ON k.id = f.id
ORDER BY f.score DESC, c.id
"""

# The whole hybrid search in one statement. The vector CTE is MATERIALIZED and ordered by distance
# alone, as the HNSW index needs; with iterative scans in relaxed order its rows may come slightly out
# of order, so they are ranked again.
PGVECTOR_SQL = (
    """
WITH vector_hits AS MATERIALIZED (
    SELECT id, embedding_vector <=> %(vector)s::vector AS distance
    FROM knowledge_knowledgechunk
    WHERE person_id = %(person)s
    ORDER BY distance
    LIMIT %(depth)s
), vector_ranks AS (
    SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM vector_hits
),"""
    + _KEYWORD_CTES
    + _FUSED_SELECT.format(vector_score="1 - (c.embedding_vector <=> %(vector)s::vector)")
)

# The same with the vector ranking computed in numpy: chunk ids, best first.
POSTGRES_SQL = (
    """
WITH vector_ranks AS (
    SELECT id, rank FROM unnest(%(vector_ids)s::bigint[]) WITH ORDINALITY AS v(id, rank)
),"""
    + _KEYWORD_CTES
    + _FUSED_SELECT.format(vector_score="NULL::float8")
)

# What the numpy cache of a persona is checked against.
POSTGRES_KEY_SQL = """
SELECT count(*), coalesce(max(id), 0), coalesce(sum(id), 0)
FROM knowledge_knowledgechunk WHERE person_id = %(person)s
"""


def statement_params(*, person_id: int, query: str, limit: int) -> dict:
    """The parameters both statements share; PGVECTOR_SQL adds `vector`, POSTGRES_SQL `vector_ids`."""
    return {
        "person": person_id,
        "question": query,
        "depth": candidates(limit),
        "max_term_chunks": MAX_TERM_CHUNKS,
        "k1": BM25_K1,
        "rrf_k": RRF_K,
        "limit": limit,
    }


def hnsw_settings(*, iterative_scan: bool) -> list[tuple[str, str]]:
    """Enough candidates for good recall, and (pgvector 0.8) an index scan that goes on until it has
    N chunks of this persona, instead of stopping at ef_search chunks of anyone's."""
    settings = [("hnsw.ef_search", str(EF_SEARCH))]
    if iterative_scan:
        settings.append(("hnsw.iterative_scan", "relaxed_order"))
    return settings


def _passage(row, vector_score: float) -> Passage:
    return Passage(
        chunk_id=row[0],
        page_id=row[1],
        title=row[2],
        text=row[3],
        score=float(row[4]),
        vector_score=float(vector_score),
        keyword_score=float(row[6]),
    )


class PgvectorSearch:
    """PostgreSQL with pgvector: one statement, one round trip."""

    name = "pgvector"

    def __init__(self, connection=None):
        self.connection = connection or connections["default"]

    def _configure(self, cursor, state: _ConnectionState) -> None:
        if state.configured:
            return
        # Inside a transaction a rollback would undo the setting, so there it lasts the transaction only
        # and is made again next time; in autocommit it is made once for the session.
        local = self.connection.in_atomic_block
        settings = hnsw_settings(iterative_scan=state.iterative_scan)
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, %s)" for _ in settings),
            [value for name, setting in settings for value in (name, setting, local)],
        )
        state.configured = not local

    def search(self, *, person_id: int, query: str, vector: np.ndarray, limit: int = 5) -> list[Passage]:
        state = _state(self.connection)
        params = statement_params(person_id=person_id, query=query, limit=limit)
        params["vector"] = vector_literal(vector)
        with self.connection.cursor() as cursor:
            self._configure(cursor, state)
            cursor.execute(PGVECTOR_SQL, params)
            rows = cursor.fetchall()
        return [_passage(row, row[5] if row[5] is not None else 0.0) for row in rows]


class PostgresSearch:
    """PostgreSQL without pgvector: exact vector search in numpy, keywords and fusion in SQL."""

    name = "postgres"

    def __init__(self, connection=None):
        self.connection = connection or connections["default"]

    def index(self, person_id: int) -> _PersonIndex:
        with self.connection.cursor() as cursor:
            cursor.execute(POSTGRES_KEY_SQL, {"person": person_id})
            count, last, total = cursor.fetchone()
        return _postgres_cache.index(self.connection, person_id, (count, last, int(total)), with_keywords=False)

    def search(self, *, person_id: int, query: str, vector: np.ndarray, limit: int = 5) -> list[Passage]:
        index = self.index(person_id)
        if not len(index.ids):
            return []
        vector_ranking, similarities = _vector_ranking(index, vector, candidates(limit))
        params = statement_params(person_id=person_id, query=query, limit=limit)
        params["vector_ids"] = vector_ranking
        with self.connection.cursor() as cursor:
            cursor.execute(POSTGRES_SQL, params)
            rows = cursor.fetchall()
        positions = np.minimum(np.searchsorted(index.ids, [row[0] for row in rows]), len(index.ids) - 1)
        return [
            # A chunk added since the cache was read has no similarity here: 0.
            _passage(row, similarities[position] if index.ids[position] == row[0] else 0.0)
            for row, position in zip(rows, positions.tolist(), strict=True)
        ]
