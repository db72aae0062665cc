"""Live conversations: response latency, barge-in, video rate and sync, capacity, and the floor (issue 14).

Run from the repository root:

    .venv/bin/python bench/live_latency.py [--turns 20] [--barge-ins 10] [--quick]

Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/persona_livebench; a throwaway
test database `test_<name>` is created, migrated and dropped) and Redis (REDIS_URL). Celery runs eagerly.

Set-up: a persona ("Maya", the test portrait) with the three bakery pages of the knowledge tests, indexed with
the real sentence model; the local responder answers. The live process runs in this process as `manage.py
live` runs it (uvicorn serving persona_platform.asgi, lifespan and all) in a thread, on a free loopback port.
Each visitor is `knowledge.live.client.LiveClient` in a process of its own (so that decoding the replica's
video does not take the server's GIL), speaking questions that Piper's default voice said beforehand.
Conversations are created through `POST /v1/conversations`, as an API user creates them.

Measures (all times are `time.monotonic()`, one clock for every process of the machine):

- Response latency, per spoken turn: from the end of the visitor's speech (when its last voiced sample left the
  client's microphone: `microphone.speech_started_at` plus the question's length without its trailing
  silence) to the arrival of the first audible chunk of the answer (RMS above SILENT_RMS, after the turn's
  `user_transcript`). Its stages come from the server session's own `timings` (seconds from the moment it
  decided the turn had ended to: recognized, first_token, first_sentence, first_audio); the moment itself is
  read by wrapping `LiveSession._turn`, which records the clock when the turn's task starts (the same instant
  the session takes as `turn_end`) and the session's `timings` entry when it returns (`probe_session`). A stage
  that finished during the pause that ended the turn (the session drafts the answer there) counts as 0, and a
  turn whose first sentence was ready when the turn ended counts as "drafted". So: end of turn
  (speech end -> turn end: the pause the detector waits for, plus the packets' way in), recognition, first
  token (retrieval and the responder), first sentence of speech (the rest of that sentence and Piper),
  first audio out (the playout's next 20 ms slot), and network/jitter (server's first sample -> the client
  has it decoded: Opus, RTP, the client's jitter buffer).
- Barge-in: the replica is made to talk (a typed question), and 0.8 to 1.7 s into its answer, in the middle
  of a word (the last 60 ms received audible), the visitor speaks another question. Time from the first voiced
  sample of that speech leaving the microphone to the arrival of the last audible chunk of the replica's voice
  before the interruption's own answer; also the moment the session cleared its playout (`_barge_in`, wrapped
  likewise): what comes after it was already on its way. Each interrupting question is answered and
  interrupted in turn; their latency is reported apart (the cut reply must finish storing itself first).
- Video: frames received per second over the session and in its worst 5 s window (the first 2 s, while the
  encoder ramps up, left out), and the audio-video offset: the mouth region's mean absolute change in luma
  against a listening frame, per received frame, correlated with the received audio's loudness (dB per
  20 ms chunk) over the answers, for lags of -400..400 ms in 10 ms steps; the lag with the highest Pearson r
  (positive: the picture is late). The speech driver's own lag is the same correlation on the floor's
  utterances drawn frame by frame with `pipeline.draw` (no transport): the difference is the transport's.
- Capacity: 2 and 3 visitors at once (staggered starts), each with its own conversation, `--capacity-turns`
  turns each; p95 latency per level (level 1 is the main run), this process's CPU (server threads) and the
  visitors' CPU. A level holds when its p95 is within CAPACITY_P95_S. The machine has 2 cores shared by the
  server, PostgreSQL and the visitors: sessions per core = the largest level that holds / 2.
- Floor: the same stages called directly in this process, no WebRTC, no turn detection: `pipeline.transcribe`
  of the question, `reply_begin` and `reply_piece` until the first thing to say is complete (the opening
  clause or the first sentence, as the session splits it), `speak` of it.
  The session's overhead = its latency - the floor's (p50s), and their ratio.

Prints Markdown tables; writes JSON to bench/results/ unless `--no-json`. About 10 minutes on two cores
(`--quick`: about 4). `--end-ms` and `--speculate-ms` override the session's turn detector for an experiment.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
SAMPLE_RATE = 48000
SILENT_RMS = 60.0  # int16 RMS of a 20 ms chunk (about -55 dBFS): above it, the replica is audible
VOICED_RMS = 50.0  # 10 ms windows of the visitor's question above this are speech (leading/trailing silence off)
SETTLE_SECONDS = 2.0  # after connecting, before the first question: ICE, DTLS and the video encoder's ramp
TARGETS = {"p50_ms": 800, "p95_ms": 1200, "barge_p95_ms": 150, "fps": 24, "av_offset_ms": 80}
CAPACITY_P95_S = 1.5
LAGS_MS = range(-400, 401, 10)

# Questions the bakery pages answer (no names: Whisper mishears "Maya"), each with a fact its answer must hold.
QUESTIONS = [
    ("How much is delivery to Canada?", "£14"),
    ("How often do I feed the starter?", "once a day"),
    ("What does the grey liquid on the starter mean?", "hungry"),
    ("How much does standard delivery cost?", "£4.95"),
    ("When is delivery free?", "£40"),
    ("When did you open the bakery?", "2015"),
    ("How long does international shipping take?", "working days"),
    ("How much does shipping to the United States cost?", "£14"),
    ("How long does delivery to Canada take?", "working days"),
    ("Do you ship overnight?", "overnight"),
]
TYPED_OPENER = "Tell me about delivery and shipping."  # gets the replica talking before an interruption


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def speech_bounds(pcm: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample of the voiced part of a question (10 ms windows above VOICED_RMS)."""
    window = SAMPLE_RATE // 100
    frames = pcm[: len(pcm) // window * window].astype(np.float64).reshape(-1, window)
    voiced = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > VOICED_RMS)
    return int(voiced[0]) * window, int(voiced[-1] + 1) * window


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0


# -- the visitor (a process of its own) -------------------------------------------------------------------------


def visit(job: dict) -> dict:
    """Connect, follow `job["steps"]`, hang up; everything received, with arrival times."""
    return asyncio.run(_visit(job))


def _visitor_class():

    from knowledge.live.client import LiveClient

    class Visitor(LiveClient):
        """LiveClient that keeps each video frame's mouth-region change instead of the frame (25 RGB frames a
        second for minutes would not fit in memory), and each audio chunk's RMS."""

        def __init__(self, *, mouth_box: tuple[int, int, int, int], frame_size: tuple[int, int], **kwargs) -> None:
            super().__init__(**kwargs)
            self.mouth_box, self.frame_size = mouth_box, frame_size
            self.loudness: list[float] = []
            self.video_times: list[float] = []
            self.mouth: list[float] = []
            self.reference: np.ndarray | None = None
            self.early: list[np.ndarray] = []

        def on_audio(self, at: float, samples: np.ndarray) -> None:
            self.received.audio.append((at, samples))
            self.loudness.append(rms(samples))

        def on_video(self, at: float, frame) -> None:
            self.video_frames += 1
            self.video_times.append(at)
            self._mouth(frame)

        def _mouth(self, frame) -> None:
            plane = frame.planes[0]
            luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
            x0, y0, x1, y1 = self.mouth_box
            sx, sy = frame.width / self.frame_size[0], frame.height / self.frame_size[1]
            crop = luma[int(y0 * sy) : int(y1 * sy), int(x0 * sx) : int(x1 * sx)].astype(np.float32)
            if self.reference is None:
                # A listening face (closed mouth) once the encoder has ramped up: the frame before the first question.
                self.early.append(crop)
                if len(self.early) * 0.04 >= SETTLE_SECONDS - 0.2:
                    self.reference = self.early[-1]
                    self.mouth += [float(np.abs(c - self.reference).mean()) for c in self.early]
                    self.early = []
                return
            self.mouth.append(float(np.abs(crop - self.reference).mean()))

    return Visitor


async def _visit(job: dict) -> dict:
    client = _visitor_class()(
        offer_url=job["offer_url"], token=job["token"], mouth_box=job["mouth_box"], frame_size=job["frame_size"]
    )
    await asyncio.sleep(job.get("delay", 0.0))
    started_cpu = time.process_time()
    await client.connect()
    await asyncio.sleep(SETTLE_SECONDS)
    actions: list[dict] = []
    error = None
    try:
        for step in job["steps"]:
            await _step(client, step, actions)
    except TimeoutError as exc:  # reported with what was measured up to here
        error = str(exc)[:300]
    await _settled(client)
    await asyncio.sleep(0.5)
    await client.close()
    audio = client.received.audio
    return {
        "error": error,
        "actions": actions,
        "speech_started_at": client.microphone.speech_started_at,
        "events": client.received.events,
        "audio_times": [at for at, _ in audio],
        "audio_packet_times": client.received.audio_packets,
        "audio_rms": client.loudness,
        "audio": np.concatenate([pcm for _, pcm in audio]) if audio else np.zeros(0, np.int16),
        "audio_lengths": [len(pcm) for _, pcm in audio],
        "video_times": client.video_times,
        "mouth": client.mouth,
        "cpu_s": time.process_time() - started_cpu,
    }


async def _step(client, step: dict, actions: list[dict]) -> None:
    if step["kind"] == "turn":
        heard = len(client.events("user_transcript"))
        client.say(step["pcm"])
        actions.append({"kind": "turn", "question": step["question"]})
        await client.wait_for("user_transcript", count=heard + 1, timeout=60)
        await _settled(client)
        await asyncio.sleep(0.5)
    elif step["kind"] == "type":
        client.type(step["text"])
        actions.append({"kind": "type"})
        await _until_loud(client, after=time.monotonic())
        await _mid_word(client, hold=step["hold"])
    elif step["kind"] == "barge":
        interrupted = len(client.events("interrupted"))
        spoken_at = time.monotonic()
        client.say(step["pcm"])
        actions.append({"kind": "barge", "question": step["question"]})
        await client.wait_for("interrupted", count=interrupted + 1, timeout=15)
        # The interruption's own answer: once it is audible, the next interruption cuts it off.
        await _until_loud(client, after=spoken_at + len(step["pcm"]) / SAMPLE_RATE)
        await _mid_word(client, hold=step["hold"])


async def _mid_word(client, *, hold: float) -> None:
    """Let the replica talk for `hold` seconds, then until it is in the middle of a word (the last 60 ms audible):
    an interruption in a pause between phrases would find nothing to stop."""
    await asyncio.sleep(hold)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline and not all(level > SILENT_RMS for level in client.loudness[-3:]):
        await asyncio.sleep(0.005)


async def _until_loud(client, *, after: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    checked = 0
    while time.monotonic() < deadline:
        times, loudness = [at for at, _ in client.received.audio], client.loudness
        for index in range(checked, len(loudness)):
            if times[index] > after and loudness[index] > SILENT_RMS:
                return
        checked = len(loudness)
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the replica was not heard within {timeout} s")


async def _settled(client, *, timeout: float = 90.0) -> None:
    """Every heard turn has its `agent_done`, and the replica has been quiet for 0.5 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(client.events("agent_done")) + len(client.events("error"))
        quiet = not any(level > SILENT_RMS for level in client.loudness[-25:])
        if done >= len(client.events("user_transcript")) and quiet:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the replica did not finish within {timeout} s")


# -- the server side -------------------------------------------------------------------------------------------

TURNS: dict[int, list[dict]] = {}  # conversation id -> its turns as the session saw them
BARGE_INS: dict[int, list[float]] = {}  # conversation id -> when the session stopped the replica's voice


def probe_session() -> None:
    """Record when each turn's task starts (the session's `turn_end`), its `timings` entry when it finishes, and
    when a barge-in clears the playout. Observation only: the session's behaviour is unchanged."""
    from knowledge.live.session import LiveSession

    original, barge_in = LiveSession._turn, LiveSession._barge_in

    def probed_barge_in(self) -> None:
        BARGE_INS.setdefault(self.conversation_id, []).append(time.monotonic())
        barge_in(self)

    LiveSession._barge_in = probed_barge_in  # type: ignore[method-assign]

    async def probed(self, *args, **kwargs) -> None:
        record: dict[str, Any] = {"turn_end": time.monotonic(), "timings": None}
        TURNS.setdefault(self.conversation_id, []).append(record)
        count = len(self.timings)
        try:
            await original(self, *args, **kwargs)
        finally:
            if len(self.timings) > count:
                record["timings"] = dict(self.timings[-1])

    LiveSession._turn = probed  # type: ignore[method-assign]


class LiveServer:
    """`manage.py live` in a thread, as tests/knowledge/conftest.py's live_process runs it."""

    def __init__(self, settings) -> None:
        import uvicorn  # heavy: the ASGI server, only for the live process

        from tests.knowledge.live_helpers import free_port

        port = free_port()
        settings.LIVE_PUBLIC_URL = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            "persona_platform.asgi:application", host="127.0.0.1", port=port, lifespan="on", log_config=None
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:
            raise RuntimeError("the live process did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


# -- the run -----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="spoken turns of the main session (20)")
    parser.add_argument("--barge-ins", type=int, default=10, help="interruptions (10)")
    parser.add_argument("--floor-turns", type=int, help="questions for the floor (the turns', up to 10)")
    parser.add_argument("--levels", default="1,2,3", help="concurrent sessions to measure (1,2,3)")
    parser.add_argument("--capacity-turns", type=int, default=4, help="turns per visitor above level 1 (4)")
    parser.add_argument("--quick", action="store_true", help="6 turns, 3 interruptions, 2 per visitor")
    parser.add_argument("--end-ms", type=int, help="override the session's END_MS (an experiment)")
    parser.add_argument("--speculate-ms", type=int, help="override the session's SPECULATE_MS (an experiment)")
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.turns, args.barge_ins, args.capacity_turns = 6, 3, 2
    if args.floor_turns is None:  # the session's questions in the session's order: the same mix of answers
        args.floor_turns = min(args.turns, len(QUESTIONS))
    args.levels = sorted({int(level) for level in args.levels.split(",")} | {1})

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "persona_platform.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/persona_livebench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["API_RATE_LIMIT"] = ""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from knowledge.live import session as live_session
    from persona_platform.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    settings.LIVE_MAX_SESSIONS = max(args.levels)
    if args.end_ms is not None:
        live_session.END_MS = args.end_ms
    if args.speculate_ms is not None:
        live_session.SPECULATE_MS = args.speculate_ms
    args.detector = {"END_MS": live_session.END_MS, "SPECULATE_MS": live_session.SPECULATE_MS}
    media = tempfile.mkdtemp(prefix="live-bench-")
    settings.MEDIA_ROOT = media
    load = os.getloadavg()[0]
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        results = run(args, settings)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)
    results["load_before"] = load
    report(results, args)


def run(args, settings) -> dict:
    from rest_framework.test import APIClient

    from accounts.services import api_key_create
    from knowledge.live import pipeline
    from knowledge.live.sessions import SESSIONS
    from knowledge.services.pages import pages_store
    from tests import factories
    from tests.dialects.bhuman.test_knowledge import PAGES
    from tests.knowledge.live_helpers import speech

    workspace = factories.workspace_create(email="live-bench@example.com")
    person = factories.person_create(workspace=workspace, name="Maya")
    pages_store(person=person, pages=cast(list[dict], PAGES))
    api = APIClient()
    _, raw_key = api_key_create(workspace=workspace, user=workspace.owner, name="live benchmark")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    said = {question: speech(question) for question, _ in QUESTIONS}
    said[TYPED_OPENER] = speech(TYPED_OPENER)
    bounds = {question: speech_bounds(pcm) for question, pcm in said.items()}
    probe_session()

    def conversation() -> dict:
        response = api.post("/v1/conversations", {"replica_id": str(person.pk)}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    # The floor, in this process, before any session (it also loads every model this process will use).
    floor_conversation = conversation()
    replica = pipeline.replica_load(conversation_id=int(floor_conversation["id"]))
    floor = run_floor(pipeline, replica, int(floor_conversation["id"]), said, args.floor_turns)
    api.post(f"/v1/conversations/{floor_conversation['id']}")
    landmarks = replica.rig.lm + np.array(replica.rig.roi[:2])
    mouth = landmarks[48:68]
    width = float(np.ptp(mouth[:, 0]))
    height, frame_width = replica.frame.shape[:2]
    box = (
        max(0, int(mouth[:, 0].min() - 0.3 * width)),
        max(0, int(mouth[:, 1].min() - 0.25 * width)),
        min(frame_width, int(mouth[:, 0].max() + 0.3 * width)),
        min(height, int(mouth[:, 1].max() + 0.6 * width)),
    )
    floor["driver_lag"] = driver_lag(pipeline, replica, floor.pop("utterances"), box)

    def job(created: dict, steps: list[dict], delay: float = 0.0) -> dict:
        return {"offer_url": created["webrtc_offer_url"], "token": created["conversation_token"], "steps": steps,
                "mouth_box": box, "frame_size": (frame_width, height), "delay": delay}  # fmt: skip

    def turn(index: int) -> dict:
        question = QUESTIONS[index % len(QUESTIONS)][0]
        return {"kind": "turn", "question": question, "pcm": said[question]}

    levels: dict[int, dict] = {}
    context = multiprocessing.get_context("spawn")  # this process has threads: never fork it
    with LiveServer(settings):
        for level in args.levels:
            created = [conversation() for _ in range(level)]
            if level == 1:  # the main session: a warm-up turn, the turns, then the interruptions
                steps = [turn(len(QUESTIONS) - 1)] + [turn(index) for index in range(args.turns)]
                # Interruptions come 0.8 to 1.7 s into an answer, in the middle of a word.
                steps.append({"kind": "type", "text": TYPED_OPENER, "hold": 0.8})
                for index in range(args.barge_ins):
                    question = QUESTIONS[(index + 3) % len(QUESTIONS)][0]
                    hold = 0.8 + 0.3 * ((index + 1) % 4)
                    steps.append({"kind": "barge", "question": question, "pcm": said[question], "hold": hold})
                jobs = [job(created[0], steps)]
            else:  # each visitor its own questions, starts staggered so that turns do not line up by design
                jobs = [
                    job(made, [turn(3 * number + index) for index in range(args.capacity_turns + 1)], 1.3 * number)
                    for number, made in enumerate(created)
                ]
            wall, cpu = time.monotonic(), time.process_time()
            with context.Pool(level) as pool:  # one process per visitor, each taking one job
                visits = pool.map(visit, jobs, chunksize=1)
            wall, cpu = time.monotonic() - wall, time.process_time() - cpu
            for made in created:
                api.post(f"/v1/conversations/{made['id']}")
            deadline = time.monotonic() + 15
            while SESSIONS and time.monotonic() < deadline:
                time.sleep(0.1)
            levels[level] = analyse_level(visits, [int(made["id"]) for made in created], bounds, wall, cpu)
            print(f"level {level}: {len(levels[level]['latencies'])} turns in {wall:.0f} s", file=sys.stderr)
    return {"floor": floor, "levels": levels}


def run_floor(pipeline, replica, conversation_id: int, said: dict, turns: int) -> dict:
    """The turn's stages called one after another, as fast as they go: the session's floor."""
    rows: list[dict] = []
    utterances: list = []
    warm_up = [QUESTIONS[-1][0], QUESTIONS[-2][0]]  # models load on first use
    questions = warm_up + [QUESTIONS[index % len(QUESTIONS)][0] for index in range(turns)]
    for index, question in enumerate(questions):
        pcm = said[question]
        start = time.monotonic()
        text = pipeline.transcribe(pipeline.to_recognizer(pcm))
        recognized = time.monotonic()
        turn = pipeline.reply_begin(conversation_id=conversation_id, text=text)
        buffer, answer, first, first_token = "", "", None, None
        while first is None:
            piece = pipeline.reply_piece(turn)
            if piece is None:
                ready = pipeline.sentences(pipeline.spoken_part(buffer), final=True, opening=True)[0]
                first = ready[0] if ready else ""
                break
            first_token = first_token or time.monotonic()
            answer += piece
            buffer += piece
            ready, buffer = pipeline.sentences(pipeline.spoken_part(buffer), final=False, opening=True)
            first = ready[0] if ready else None
        utterance = pipeline.speak(replica, first)
        spoken = time.monotonic()
        while (piece := pipeline.reply_piece(turn)) is not None:
            answer += piece
        pipeline.reply_store(turn=turn, text=answer)
        if index < len(warm_up):
            continue
        first_token = first_token or spoken
        rows.append({"recognition": recognized - start, "first_token": first_token - recognized,
                     "first_sentence": spoken - first_token, "total": spoken - start})  # fmt: skip
        if len(utterances) < 4:
            utterances.append(utterance)
    return {"turns": rows, "utterances": utterances}


# -- analysis ----------------------------------------------------------------------------------------------------


def analyse_level(visits: list[dict], conversation_ids: list[int], bounds: dict, wall: float, cpu: float) -> dict:
    measured, after, barges, fps, av, errors = [], [], [], [], None, []
    for visit_result, conversation_id in zip(visits, conversation_ids, strict=True):
        turns, found_barges = analyse_visit(
            visit_result, TURNS.get(conversation_id, []), BARGE_INS.get(conversation_id, []), bounds
        )
        measured += [t for t in turns if t["kind"] == "turn"][1:]  # each session's first turn warms it up
        after += [t["latency"] for t in turns if t["kind"] == "barge"]
        barges += found_barges
        fps.append(frame_rate(visit_result["video_times"]))
        if av is None:
            av = av_offset(visit_result, [t for t in turns if t["kind"] == "turn"])
        if visit_result["error"]:
            errors.append(visit_result["error"])
            print(f"a visitor stopped early: {visit_result['error']}", file=sys.stderr)
    return {
        "turns": measured,
        "latencies": [t["latency"] for t in measured],
        "after_barge_in": after,
        "barge_ins": barges,
        "fps": fps,
        "av": av,
        "errors": errors,
        "wall_s": wall,
        "server_cores": cpu / wall,
        "visitor_cores": sum(v["cpu_s"] for v in visits) / wall,
    }


def analyse_visit(
    visit_result: dict, server_turns: list[dict], server_barge_ins: list[float], bounds: dict
) -> tuple[list[dict], list[dict]]:
    times = np.array(visit_result["audio_times"])
    packet_times = np.array(visit_result["audio_packet_times"])
    loud = np.array(visit_result["audio_rms"]) > SILENT_RMS
    events = visit_result["events"]
    transcripts = [(at, event["text"]) for at, event in events if event["type"] == "user_transcript"]
    spoken = [action for action in visit_result["actions"] if action["kind"] != "type"]
    turns, barges = [], []
    for action, began in zip(spoken, visit_result["speech_started_at"], strict=False):
        first, last = bounds[action["question"]]
        speech_start, speech_end = began + first / SAMPLE_RATE, began + last / SAMPLE_RATE
        transcript = next(((at, text) for at, text in transcripts if at > speech_end), None)
        if transcript is None:
            continue
        answer_at = times[(times > transcript[0]) & loud]
        if not len(answer_at):
            continue
        heard_at = float(answer_at[0])
        done_at = next((at for at, event in events if at > heard_at and event["type"] == "agent_done"), None)
        reply = "".join(
            event["text"]
            for at, event in events
            if event["type"] == "agent_text" and transcript[0] < at <= (done_at or float("inf"))
        )
        row = {
            "kind": action["kind"],
            "question": action["question"],
            "heard": transcript[1],
            "fact": dict(QUESTIONS)[action["question"]] in reply,
            "speech_end": speech_end,
            "answer_at": heard_at,
            "done_at": done_at,
            "latency": heard_at - speech_end,
        }
        server = [record for record in server_turns if speech_start < record["turn_end"] < heard_at]
        timings = server[-1]["timings"] if server else None
        if timings and {"recognized", "first_token", "first_sentence", "first_audio"} <= timings.keys():
            turn_end = server[-1]["turn_end"]
            # What of each stage was left when the turn ended (the pause drafted the answer's start: negative).
            left = {name: max(0.0, at) for name, at in timings.items()}
            row["stages"] = {
                "end of turn": turn_end - speech_end,
                "recognition": left["recognized"],
                "first token": left["first_token"] - left["recognized"],
                "first sentence of speech": left["first_sentence"] - left["first_token"],
                "first audio out": left["first_audio"] - left["first_sentence"],
                "network and jitter": heard_at - (turn_end + timings["first_audio"]),
            }
            row["drafted"] = timings["first_sentence"] <= 0
        turns.append(row)
        if action["kind"] == "barge":
            interrupted = next((at for at, e in events if at > speech_start and e["type"] == "interrupted"), None)
            window = (times >= speech_start - 0.3) & (times < transcript[0])
            talking_before = bool(np.any(loud & window & (times < speech_start)))
            over = times[loud & window & (times >= speech_start)]
            over_the_wire = packet_times[loud & window & (packet_times >= speech_start)]
            cleared = next((at for at in server_barge_ins if speech_start < at < transcript[0]), None)
            barges.append({
                "talking": talking_before,
                "stopped_after": float(over[-1] - speech_start) if len(over) else 0.0,
                "stopped_on_wire_after": float(over_the_wire[-1] - speech_start) if len(over_the_wire) else 0.0,
                "interrupted_event": (interrupted - speech_start) if interrupted else None,
                "server_cleared": (cleared - speech_start) if cleared else None,
            })  # fmt: skip
    return turns, barges


def frame_rate(times: list[float]) -> dict:
    if len(times) < 2:
        return {"mean": 0.0, "worst_5s": 0.0}
    stamps = np.array(times)
    stamps = stamps[stamps >= stamps[0] + 2.0]
    mean = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    windows = [
        np.count_nonzero((stamps >= at) & (stamps < at + 5.0)) / 5.0
        for at in np.arange(stamps[0], stamps[-1] - 5.0, 1.0)
    ]
    return {"mean": float(mean), "worst_5s": float(min(windows)) if windows else float(mean)}


def loudness_db(levels) -> np.ndarray:
    return 20 * np.log10(np.maximum(np.asarray(levels, dtype=np.float64), 1.0) / 32768.0)


def best_lag(audio_t, audio_db, video_t, mouth, spans) -> tuple[float, float]:
    """(lag in ms, Pearson r): the shift of the audio's loudness that best matches the mouth's change."""
    grid = np.concatenate([np.arange(start, end, 0.01) for start, end in spans])
    mouth_at = np.interp(grid, video_t, mouth)
    best = (0.0, -2.0)
    for lag in LAGS_MS:
        level = np.interp(grid - lag / 1000.0, audio_t, audio_db)
        r = float(np.corrcoef(level, mouth_at)[0, 1])
        if r > best[1]:
            best = (float(lag), r)
    return best


def av_offset(visit_result: dict, turns: list[dict]) -> dict | None:
    spans = [(t["answer_at"], t["done_at"]) for t in turns if t["done_at"] and t["done_at"] - t["answer_at"] > 1.0]
    if not spans or len(visit_result["mouth"]) != len(visit_result["video_times"]):
        return None
    db = _smooth(loudness_db(visit_result["audio_rms"]))
    lag, r = best_lag(visit_result["audio_times"], db, visit_result["video_times"], visit_result["mouth"], spans)
    return {"lag_ms": lag, "r": r, "answers": len(spans)}


def _smooth(values: np.ndarray) -> np.ndarray:
    """Over 40 ms (two chunks): a video frame's time."""
    return np.convolve(values, np.ones(2) / 2, mode="same")


def driver_lag(pipeline, replica, utterances, box) -> dict:
    """The same correlation on utterances drawn frame by frame without any transport: the speech driver's own lag.
    A frame drawn at the audio's position p shows the motion at p (as the live video track does)."""
    x0, y0, x1, y1 = box

    def luma(rgb: np.ndarray) -> np.ndarray:
        return rgb[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)

    reference = luma(pipeline.draw(replica, frame_index=0, mouth=(0.0, 0.0)))
    results = []
    for utterance in utterances:
        motion = utterance.motion
        video_t = (np.arange(motion.frames) + 0.5) / pipeline.FPS
        mouth = [
            float(
                np.abs(luma(pipeline.draw(replica, frame_index=0, mouth=(float(jaw), float(width)))) - reference).mean()
            )
            for jaw, width in zip(motion.jaw_open, motion.mouth_width, strict=True)
        ]
        chunks = len(utterance.pcm) // 960
        audio_t = np.arange(chunks) * 0.02
        db = _smooth(loudness_db([rms(utterance.pcm[i * 960 : (i + 1) * 960]) for i in range(chunks)]))
        results.append(best_lag(audio_t, db, video_t, mouth, [(0.0, chunks * 0.02)]))
    return {"lag_ms": float(np.median([lag for lag, _ in results])), "r": float(np.median([r for _, r in results]))}


# -- report ------------------------------------------------------------------------------------------------------


def report(results: dict, args) -> None:
    floor, levels = results["floor"], results["levels"]
    main_level = levels[1]
    latencies = [value * 1000 for value in main_level["latencies"]]
    floor_total = [row["total"] * 1000 for row in floor["turns"]]
    summary: dict = {"detector": args.detector, "load_before": results["load_before"]}
    print(
        f"Machine: {platform.machine()} {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average before the run {results['load_before']:.2f}; detector {args.detector}\n"
    )
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    facts = sum(t["fact"] for t in main_level["turns"])
    print(f"## Response latency: one session, {len(latencies)} spoken turns ({facts} answers held their fact)\n")
    print("| | p50 | p95 | mean | max | target |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| end of speech -> first audio | {p50:.0f} ms | {p95:.0f} ms | {statistics.fmean(latencies):.0f} ms "
          f"| {max(latencies):.0f} ms | p50 <= {TARGETS['p50_ms']}, p95 <= {TARGETS['p95_ms']} |")  # fmt: skip
    after = [value * 1000 for value in main_level["after_barge_in"]]
    if after:
        print(f"| turns that interrupted the replica ({len(after)}) | {statistics.median(after):.0f} ms "
              f"| {percentile(after, 0.95):.0f} ms | {statistics.fmean(after):.0f} ms | {max(after):.0f} ms | |")  # fmt: skip
    summary["latency_ms"] = {"p50": p50, "p95": p95, "all": latencies, "after_barge_in": after}
    summary["turns"] = [
        {key: turn.get(key) for key in ("question", "heard", "fact", "latency", "stages", "drafted")}
        for turn in main_level["turns"]
    ]

    staged = [t["stages"] for t in main_level["turns"] if "stages" in t]
    if staged:
        total = sum(statistics.fmean(s[name] * 1000 for s in staged) for name in staged[0])
        drafted = sum(1 for t in main_level["turns"] if t.get("drafted"))
        summary["drafted_turns"] = drafted
        print(
            f"\nStages ({len(staged)} turns with the session's timings, {drafted} of them drafted during the pause;"
            " share of the mean):\n"
        )
        print("| stage | p50 | mean | p95 | share |")
        print("|---|---:|---:|---:|---:|")
        summary["stages_ms"] = {}
        for name in staged[0]:
            values = [s[name] * 1000 for s in staged]
            mean = statistics.fmean(values)
            print(f"| {name} | {statistics.median(values):.0f} ms | {mean:.0f} ms | {percentile(values, 0.95):.0f} ms "
                  f"| {100 * mean / total:.0f}% |")  # fmt: skip
            summary["stages_ms"][name] = {"p50": statistics.median(values), "mean": mean}

    barges = [b for b in main_level["barge_ins"] if b["talking"]]
    stops = [b["stopped_after"] * 1000 for b in barges]
    if stops:
        detected = [b["interrupted_event"] * 1000 for b in barges if b["interrupted_event"] is not None]
        print(f"\n## Barge-in: {len(stops)} interruptions of a talking replica "
              f"({len(main_level['barge_ins']) - len(stops)} more found it already quiet)\n")  # fmt: skip
        print("| | p50 | p95 | max | target |")
        print("|---|---:|---:|---:|---|")
        print(f"| speech starts -> last audible replica audio arrives | {statistics.median(stops):.0f} ms "
              f"| {percentile(stops, 0.95):.0f} ms | {max(stops):.0f} ms | p95 <= {TARGETS['barge_p95_ms']} |")  # fmt: skip
        on_wire = [b["stopped_on_wire_after"] * 1000 for b in barges]
        print(f"| speech starts -> last audible replica packet arrives (before the client's jitter buffer) "
              f"| {statistics.median(on_wire):.0f} ms | {percentile(on_wire, 0.95):.0f} ms | {max(on_wire):.0f} ms | |")  # fmt: skip
        cleared = [b["server_cleared"] * 1000 for b in barges if b["server_cleared"] is not None]
        if cleared:
            print(f"| speech starts -> the session clears its playout | {statistics.median(cleared):.0f} ms "
                  f"| {percentile(cleared, 0.95):.0f} ms | {max(cleared):.0f} ms | |")  # fmt: skip
        if detected:
            print(f"| speech starts -> `interrupted` event arrives | {statistics.median(detected):.0f} ms "
                  f"| {percentile(detected, 0.95):.0f} ms | {max(detected):.0f} ms | |")  # fmt: skip
        summary["barge_in_ms"] = {"p50": statistics.median(stops), "p95": percentile(stops, 0.95), "all": stops,
                                  "on_wire": on_wire, "cleared": cleared, "interrupted_event": detected}  # fmt: skip

    fps = main_level["fps"][0]
    av = main_level["av"]
    print("\n## Video (the main session)\n")
    print("| | measured | target |")
    print("|---|---:|---|")
    print(f"| frames per second received, whole session | {fps['mean']:.1f} | >= {TARGETS['fps']} |")
    print(f"| worst 5 s window | {fps['worst_5s']:.1f} | >= {TARGETS['fps']} |")
    if av:
        transport = av["lag_ms"] - floor["driver_lag"]["lag_ms"]
        print(f"| audio-video offset, received (best lag of mouth change vs loudness, r = {av['r']:.2f}, "
              f"{av['answers']} answers) | {av['lag_ms']:+.0f} ms | within ±{TARGETS['av_offset_ms']} |")  # fmt: skip
        print(f"| the speech driver's own lag, no transport (r = {floor['driver_lag']['r']:.2f}) "
              f"| {floor['driver_lag']['lag_ms']:+.0f} ms | |")  # fmt: skip
        print(f"| offset added by the session and transport | {transport:+.0f} ms | |")
    summary["video"] = {"fps": fps, "av": av, "driver_lag": floor["driver_lag"]}

    print("\n## Capacity: concurrent sessions on this machine (2 cores)\n")
    print(
        "| sessions | turns | p50 | p95 | worst fps (5 s) | server CPU (cores) | visitors' CPU (cores) | p95 <= 1.5 s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    holds = 0
    summary["capacity"] = {}
    for level, data in sorted(levels.items()):
        values = [value * 1000 for value in data["latencies"]]
        if not values:
            continue
        level_p95 = percentile(values, 0.95)
        ok = level_p95 <= CAPACITY_P95_S * 1000
        holds = level if ok and holds == level - 1 else holds
        worst = min(f["worst_5s"] for f in data["fps"])
        print(f"| {level} | {len(values)} | {statistics.median(values):.0f} ms | {level_p95:.0f} ms | {worst:.1f} "
              f"| {data['server_cores']:.2f} | {data['visitor_cores']:.2f} | {'yes' if ok else 'no'} |")  # fmt: skip
        summary["capacity"][level] = {"p50": statistics.median(values), "p95": level_p95, "worst_fps": worst,
                                      "server_cores": data["server_cores"], "visitor_cores": data["visitor_cores"]}  # fmt: skip
    print(f"\nLargest level within {CAPACITY_P95_S} s p95: {holds} session(s) on 2 cores = {holds / 2:g} per core "
          "(the two cores also carry PostgreSQL and the visitors' own WebRTC work).")  # fmt: skip
    summary["capacity_holds"] = holds
    for level, data in sorted(levels.items()):
        for error in data["errors"]:
            print(f"\nLevel {level}: a visitor stopped early: {error}")

    print(f"\n## Floor: the stages called directly, no WebRTC ({len(floor_total)} questions)\n")
    print("| | p50 | p95 |")
    print("|---|---:|---:|")
    for name in ("recognition", "first_token", "first_sentence", "total"):
        values = [row[name] * 1000 for row in floor["turns"]]
        print(f"| {name.replace('_', ' ')} | {statistics.median(values):.0f} ms | {percentile(values, 0.95):.0f} ms |")
    floor_p50 = statistics.median(floor_total)
    print(f"\nSession p50 {p50:.0f} ms vs floor p50 {floor_p50:.0f} ms: overhead {p50 - floor_p50:+.0f} ms, "
          f"ratio {p50 / floor_p50:.2f}x (the session's end-of-turn wait, END_MS = {args.detector['END_MS']} ms, "
          "is in it, not in the floor).")  # fmt: skip
    end_of_turn = summary.get("stages_ms", {}).get("end of turn", {}).get("p50")
    if end_of_turn is not None:
        rest = p50 - end_of_turn
        print(f"Without the end-of-turn stage (p50 {end_of_turn:.0f} ms): {rest:.0f} ms, overhead "
              f"{rest - floor_p50:+.0f} ms, ratio {rest / floor_p50:.2f}x.")  # fmt: skip
    summary["floor_ms"] = {"p50": floor_p50, "p95": percentile(floor_total, 0.95)}
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        (RESULTS_DIR / f"live_latency-{stamp}.json").write_text(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
