"""Responders: the local extractive one, and the OpenAI-compatible one against a local chat server."""

import re
import time
import zlib

import numpy as np
import pytest

from characters.models import Person
from knowledge import responders
from knowledge.responders import (
    DONT_KNOW,
    LocalResponder,
    OpenAICompatibleResponder,
    PersonaVoice,
    persona_voice,
    suggest_questions,
)
from knowledge.retrieval import Passage
from media_jobs.engines import RESPONDER, get_engine
from media_jobs.engines.base import EngineError, EngineUnavailable
from tests.knowledge.llm_server import LLMServer, deltas

REAL_EMBED = responders._embed
API_KEY = "sk-llm-test-0123456789abcdef"
ADA = PersonaVoice(name="Ada Lovelace", description="A mathematician and writer.", tone="precise and thoughtful")

EARLY_LIFE = Passage(
    chunk_id=1,
    page_id=11,
    title="Early life",
    text=(
        "Ada was born in London on 10 December 1815. Her father was the poet Lord Byron, who left England "
        "when she was a baby. Her mother, Anne Isabella Milbanke, insisted on lessons in mathematics and science."
    ),
    score=0.8,
    vector_score=0.7,
    keyword_score=0.2,
)
ENGINE = Passage(
    chunk_id=2,
    page_id=12,
    title="The Analytical Engine",
    text=(
        "In 1833 Ada met Charles Babbage at a party in London. Babbage designed the Analytical Engine, a "
        "mechanical general-purpose computer. In 1843 Ada published notes on the engine that included the "
        "first algorithm meant for a machine."
    ),
    score=0.7,
    vector_score=0.6,
    keyword_score=0.3,
)
HOBBIES = Passage(
    chunk_id=3,
    page_id=13,
    title="Hobbies",
    text="Ada loved horses and rode whenever she could.\n\nShe also studied music and played the harp.",
    score=0.5,
    vector_score=0.5,
    keyword_score=0.0,
)
PASSAGES = [EARLY_LIFE, ENGINE, HOBBIES]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for the sentence model: hashed keywords, unit length (wide, to avoid collisions)."""
    vectors = np.zeros((len(texts), 4096), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in responders._keywords(text):
            vectors[row, zlib.crc32(word.encode()) % 4096] += 1.0
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


@pytest.fixture(autouse=True)
def embeddings(monkeypatch):
    monkeypatch.setattr(responders, "_embed", bag_of_words)


@pytest.fixture
def llm(settings):
    with LLMServer(api_key=API_KEY) as server:
        settings.LLM_BASE_URL = server.url
        settings.LLM_API_KEY = API_KEY
        settings.LLM_MODEL = "test-model"
        settings.LLM_TIMEOUT_SECONDS = 2
        yield server


def answer(responder, question: str, passages=PASSAGES, persona=ADA, history=()) -> str:
    return "".join(responder.stream(persona=persona, question=question, passages=passages, history=list(history)))


def assert_no_key(error: EngineError, key: str = API_KEY) -> None:
    assert key not in str(error)
    assert key not in repr(error.args)


# -- the persona's voice ------------------------------------------------------------------------------------


def test_persona_voice_takes_the_tone_from_the_personality_then_the_style():
    person = Person(name=" Ada ", description="Mathematician.", personality={"tone": "witty"}, style={"tone": "dry"})
    assert persona_voice(person) == PersonaVoice(name="Ada", description="Mathematician.", tone="witty")

    person = Person(name="Ada", personality={"traits": ["curious", "precise"]}, style={"tone": ["calm", "warm"]})
    assert persona_voice(person).tone == "calm, warm"
    assert persona_voice(Person(name="Ada", personality={"traits": ["curious", "precise"]})).tone == "curious, precise"
    assert persona_voice(Person(name="Ada", personality=[], style=None)).tone == ""


def test_the_registry_uses_a_model_server_only_when_one_is_configured(settings):
    settings.LLM_BASE_URL = ""
    assert isinstance(get_engine(RESPONDER), LocalResponder)
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    assert isinstance(get_engine(RESPONDER), OpenAICompatibleResponder)
    settings.LLM_BASE_URL = ""
    assert isinstance(get_engine(RESPONDER), LocalResponder)  # decided at each call


def test_a_responder_can_be_pinned_in_settings_or_named(settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.ENGINES = {**settings.ENGINES, "responder": "local"}
    assert isinstance(get_engine(RESPONDER), LocalResponder)
    assert isinstance(get_engine(RESPONDER, "openai"), OpenAICompatibleResponder)
    with pytest.raises(EngineUnavailable):
        get_engine(RESPONDER, "no-such-responder")


# -- local --------------------------------------------------------------------------------------------------


def test_local_answer_quotes_the_sentence_that_answers_and_names_its_page():
    text = answer(LocalResponder(), "Who was your father?")

    assert text.startswith("From what I know, her father was the poet Lord Byron")
    assert "Anne Isabella" not in text and "Babbage" not in text
    assert text.endswith("\n\nSources: Early life (page 11)")


def test_local_answer_finds_the_page_by_meaning_and_keywords():
    text = answer(LocalResponder(), "When did you publish the first algorithm?")

    assert "1843 Ada published notes on the engine" in text
    assert text.endswith("Sources: The Analytical Engine (page 12)")


def test_local_answer_keeps_a_pages_order_and_says_nothing_twice():
    travels = Passage(
        chunk_id=7,
        page_id=30,
        title="Travels",
        text="Ada first saw Paris in 1840. The crossing was rough. Paris was her favourite city.",
    )
    repeated = Passage(chunk_id=8, page_id=30, title="Travels", text="Paris was her favourite city.")

    text = answer(LocalResponder(), "What about Paris?", passages=[repeated, travels])

    assert text == (
        "From what I know, Ada first saw Paris in 1840. Paris was her favourite city.\n\nSources: Travels (page 30)"
    )


def test_local_answer_streams_word_groups_that_join_to_the_whole_answer():
    pieces = list(LocalResponder().stream(persona=ADA, question="Who was your father?", passages=PASSAGES, history=[]))

    assert len(pieces) >= 4
    assert all(pieces)
    assert "".join(pieces) == LocalResponder().complete(
        persona=ADA, question="Who was your father?", passages=PASSAGES, history=[]
    )


def test_local_answer_speaks_in_the_personas_tone():
    friendly = PersonaVoice(name="Ada", tone="Friendly, playful")
    assert answer(LocalResponder(), "Who was your father?", persona=friendly).startswith(
        "Good question! From what I know, "
    )


def test_local_answer_says_it_does_not_know_without_passages_or_a_match():
    assert answer(LocalResponder(), "Who was your father?", passages=[]) == DONT_KNOW
    assert answer(LocalResponder(), "What is your favourite colour?") == DONT_KNOW


def test_local_answer_skips_headings_and_keeps_list_items():
    page = Passage(chunk_id=5, page_id=20, title="Facts", text="# Family\nPets\n- Owned a dog named Rover\n")
    assert answer(LocalResponder(), "What was your dog called?", passages=[page]) == (
        "From what I know, owned a dog named Rover.\n\nSources: Facts (page 20)"
    )


def test_local_answer_with_the_sentence_model_matches_by_meaning(monkeypatch):
    """The real model: no keyword is shared, and a question the pages can't answer gets no quote."""
    monkeypatch.setattr(responders, "_embed", REAL_EMBED)
    responder = LocalResponder()

    assert answer(responder, "Who was your dad?") == (
        "From what I know, her father was the poet Lord Byron, who left England when she was a baby."
        "\n\nSources: Early life (page 11)"
    )
    assert answer(responder, "Do you like animals?").endswith("Sources: Hobbies (page 13)")
    assert answer(responder, "What is your favourite colour?") == DONT_KNOW


# -- OpenAI-compatible --------------------------------------------------------------------------------------


def test_openai_request_carries_the_persona_the_numbered_passages_and_the_history(llm):
    llm.reply = "My father was Lord Byron [1]."
    history = [("user", "Hello!"), ("assistant", "Hello, I'm Ada."), ("user", "Who was your father?")]

    text = answer(OpenAICompatibleResponder(), "Who was your father?", passages=[EARLY_LIFE, ENGINE], history=history)

    assert text == "My father was Lord Byron [1]."
    (request,) = llm.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    body = request.json
    assert body["model"] == "test-model" and body["stream"] is True
    system, *turns, question = body["messages"]
    assert system["role"] == "system"
    for words in ("You are Ada Lovelace.", "A mathematician and writer.", "precise and thoughtful tone", "ONLY"):
        assert words in system["content"]
    assert "[1], [2]" in system["content"] and DONT_KNOW in system["content"]
    assert turns == [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hello, I'm Ada."}]
    assert question["role"] == "user"
    assert f"[1] Early life (page 11)\n{EARLY_LIFE.text}" in question["content"]
    assert f"[2] The Analytical Engine (page 12)\n{ENGINE.text}" in question["content"]
    assert question["content"].endswith("Question: Who was your father?")


def test_openai_history_is_cut_to_alternating_turns_that_strict_chat_templates_accept():
    history = [
        ("assistant", "Welcome!"),  # a greeting before the visitor spoke
        ("user", "Hi."),
        ("user", "Are you Ada?"),
        ("system", "ignored"),
        ("assistant", "I am."),
        ("user", "Who was your father?"),  # the current question, already stored
    ]
    messages = responders.answer_messages(
        persona=ADA, question="Who was your father?", passages=PASSAGES, history=history
    )

    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1:3] == [
        {"role": "user", "content": "Hi.\n\nAre you Ada?"},
        {"role": "assistant", "content": "I am."},
    ]


def test_openai_stream_yields_the_servers_deltas_in_order(llm):
    llm.reply = "My father was the poet Lord Byron [1], and my mother taught me mathematics [1]."

    pieces = list(OpenAICompatibleResponder().stream(persona=ADA, question="Family?", passages=PASSAGES, history=[]))

    assert pieces == deltas(llm.reply)


def test_openai_stream_yields_each_delta_as_it_arrives(llm):
    llm.reply = "one two three four five"
    llm.delta_delay = 0.15
    started = time.monotonic()

    arrivals = [
        time.monotonic() - started
        for _ in OpenAICompatibleResponder().stream(persona=ADA, question="Count?", passages=PASSAGES, history=[])
    ]

    assert len(arrivals) == 5
    assert arrivals[0] < arrivals[-1] - 0.4  # not buffered until the answer is complete


def test_openai_stream_waits_for_a_slow_first_token_within_the_timeout(llm):
    llm.slow_next(0.5)
    assert EARLY_LIFE.text in answer(OpenAICompatibleResponder(), "Who was your father?")  # the echo


def test_openai_complete_is_one_non_streamed_request(llm):
    llm.reply = "  I was born in London [1].  "

    text = OpenAICompatibleResponder().complete(persona=ADA, question="Where?", passages=PASSAGES, history=[])

    assert text == "I was born in London [1]."
    (request,) = llm.requests
    assert request.json["stream"] is False
    assert request.headers["accept"] == "application/json"


def test_openai_sends_no_authorization_when_there_is_no_key(llm, settings):
    llm.api_key = None
    settings.LLM_API_KEY = ""
    answer(OpenAICompatibleResponder(), "Who was your father?")
    assert "authorization" not in llm.requests[0].headers


def test_openai_answers_dont_know_without_passages_and_without_a_request(llm):
    responder = OpenAICompatibleResponder()
    assert answer(responder, "Who was your father?", passages=[]) == DONT_KNOW
    assert responder.complete(persona=ADA, question="Who?", passages=[], history=[]) == DONT_KNOW
    assert llm.requests == []


def call(responder, mode: str) -> str:
    kwargs = {"persona": ADA, "question": "Who was your father?", "passages": PASSAGES, "history": []}
    return responder.complete(**kwargs) if mode == "complete" else "".join(responder.stream(**kwargs))


@pytest.mark.parametrize("mode", ["stream", "complete"])
@pytest.mark.parametrize(
    ("status", "retryable", "words"),
    [
        (400, False, "maximum context length"),
        (404, False, "model does not exist"),
        (429, True, "Rate limit reached"),
        (500, True, "server had an error"),
        (503, True, "overloaded"),
    ],
)
def test_openai_errors_map_onto_engine_errors(llm, mode, status, retryable, words):
    llm.fail_next(status)
    with pytest.raises(EngineError) as caught:
        call(OpenAICompatibleResponder(), mode)
    assert caught.value.retryable is retryable
    assert f"answered {status}: " in str(caught.value) and words in str(caught.value)
    assert_no_key(caught.value)


@pytest.mark.parametrize("mode", ["stream", "complete"])
@pytest.mark.parametrize("status", [408, 409, 502])
def test_openai_conflicts_and_timeouts_are_retryable_as_at_every_provider(llm, mode, status):
    llm.fail_next(status, {"error": {"message": "The model is being swapped.", "type": "conflict"}})
    with pytest.raises(EngineError, match="The model is being swapped") as caught:
        call(OpenAICompatibleResponder(), mode)
    assert caught.value.retryable is True
    assert f"answered {status}: " in str(caught.value)


@pytest.mark.parametrize("mode", ["stream", "complete"])
def test_openai_wrong_key_is_permanent_and_never_repeated(llm, settings, mode):
    wrong = "sk-wrong-9876543210fedcba"
    settings.LLM_API_KEY = wrong
    with pytest.raises(EngineError) as caught:
        call(OpenAICompatibleResponder(), mode)
    assert caught.value.retryable is False
    assert "answered 401: Incorrect API key provided: [key]." in str(caught.value)
    assert_no_key(caught.value, wrong)


@pytest.mark.parametrize("mode", ["stream", "complete"])
def test_openai_slow_first_token_past_the_timeout_is_retryable(llm, settings, mode):
    settings.LLM_TIMEOUT_SECONDS = 0.3
    llm.slow_next(3)
    with pytest.raises(EngineError) as caught:
        call(OpenAICompatibleResponder(), mode)
    assert caught.value.retryable is True


def test_openai_stream_cut_off_before_done_is_retryable(llm):
    llm.reply = "My father was Lord Byron."
    llm.truncate_next()
    pieces = []
    with pytest.raises(EngineError, match="ended before the answer did") as caught:
        for piece in OpenAICompatibleResponder().stream(persona=ADA, question="?", passages=PASSAGES, history=[]):
            pieces.append(piece)
    assert pieces == ["My"]
    assert caught.value.retryable is True


def test_openai_unreachable_server_is_retryable(settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens
    settings.LLM_API_KEY = API_KEY
    with pytest.raises(EngineError, match="could not reach the language model") as caught:
        call(OpenAICompatibleResponder(), "complete")
    assert caught.value.retryable is True
    assert_no_key(caught.value)


def test_cited_maps_citation_numbers_onto_passages():
    assert responders.cited("Byron [2], then [1] and [2] again; [7] is not there.", PASSAGES) == [ENGINE, EARLY_LIFE]


# -- suggested questions ------------------------------------------------------------------------------------

TEMPLATES = re.compile(
    r"^(What can you tell me about|What do you know about|What happened in|Can you tell me more about) "
)


def assert_grounded(questions: list[str], passages=PASSAGES) -> None:
    known = " ".join(f"{p.title} {p.text}" for p in passages).lower()
    assert len({q.lower() for q in questions}) == len(questions)
    for question in questions:
        assert question[0].isupper() and question.endswith("?") and "  " not in question
        subject = TEMPLATES.sub("", question).rstrip("?")
        assert subject != question.rstrip("?"), question
        assert subject.lower() in known, question


def test_local_suggestions_are_grounded_distinct_and_take_the_topics_in_turn(settings):
    settings.LLM_BASE_URL = ""
    questions = suggest_questions(
        persona=ADA, topics=["Lord Byron", "the Analytical Engine", "horses"], context="", passages=PASSAGES, count=6
    )

    assert questions[:3] == [
        "What can you tell me about Lord Byron?",
        "What can you tell me about the Analytical Engine?",
        "What can you tell me about horses?",
    ]
    assert len(questions) == 6
    assert_grounded(questions)
    assert not any("Ada" in question for question in questions)  # the persona is not asked about itself


def test_local_suggestions_respect_the_count_and_need_passages(settings):
    settings.LLM_BASE_URL = ""
    kwargs = {"persona": ADA, "topics": ["Babbage"], "context": "A museum visit."}
    assert len(suggest_questions(**kwargs, passages=PASSAGES, count=2)) == 2
    assert suggest_questions(**kwargs, passages=[], count=3) == []
    assert suggest_questions(**kwargs, passages=PASSAGES, count=0) == []


def test_local_suggestions_without_topics_come_from_the_titles(settings):
    settings.LLM_BASE_URL = ""
    questions = suggest_questions(persona=ADA, topics=[], context="", passages=PASSAGES, count=4)
    assert len(questions) == 4
    assert_grounded(questions)


def test_model_suggestions_are_validated_and_trimmed_to_the_count(llm):
    llm.reply_next(
        '```json\n["What was your father like?", "what was your father like?", 42, "No question", '
        '"  Why did you meet   Babbage?  ", "What did you publish in 1843?"]\n```'
    )

    questions = suggest_questions(
        persona=ADA, topics=["family", "work"], context="At school.", passages=PASSAGES, count=2
    )

    assert questions == ["What was your father like?", "Why did you meet Babbage?"]
    (request,) = llm.requests
    assert request.json["stream"] is False
    system, user = request.json["messages"]
    assert "JSON array of 2 distinct strings" in system["content"] and "You are Ada Lovelace." in system["content"]
    assert "Topics (spread the questions over them): family; work" in user["content"]
    assert "Context: At school." in user["content"]
    assert f"[2] The Analytical Engine (page 12)\n{ENGINE.text}" in user["content"]


def test_model_suggestions_are_topped_up_with_local_ones(llm):
    llm.reply_next('["What was your father like?"]')
    questions = suggest_questions(persona=ADA, topics=["horses"], context="", passages=PASSAGES, count=3)
    assert questions[0] == "What was your father like?"
    assert questions[1] == "What can you tell me about horses?"
    assert len(questions) == 3


@pytest.mark.parametrize(
    "junk", ["Sure! Here are some questions about Ada.", "[1, 2, 3]", '["No question mark here"]', "[unclosed"]
)
def test_model_suggestions_fall_back_to_local_ones_on_junk(llm, junk):
    llm.reply_next(junk)
    kwargs = {"persona": ADA, "topics": ["Lord Byron", "horses"], "context": "", "passages": PASSAGES, "count": 3}

    questions = suggest_questions(**kwargs)

    assert questions == LocalResponder().suggest_questions(**kwargs)
    assert len(llm.requests) == 1


def test_model_suggestions_fall_back_to_local_ones_when_the_server_fails(llm):
    llm.fail_next(500)
    kwargs = {"persona": ADA, "topics": ["Lord Byron"], "context": "", "passages": PASSAGES, "count": 2}
    assert suggest_questions(**kwargs) == LocalResponder().suggest_questions(**kwargs)
