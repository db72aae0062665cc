"""The live sessions this process holds, its limit, and its row in the registry.

Only `manage.py live` (uvicorn serving persona_platform.asgi) holds sessions: they are long-lived asyncio work
that gunicorn's request threads cannot carry. Its lifespan starts `process_run` (the registry heartbeat) and,
on shutdown, closes every session.
"""

import asyncio
import logging

from django.conf import settings

from knowledge.live import pipeline
from knowledge.live.registry import (
    BEAT_SECONDS,
    BUSY_RETRY_SECONDS,
    LiveBusy,
    live_process_beat,
    live_process_leave,
)
from knowledge.live.session import LiveSession
from knowledge.live.threads import in_thread
from persona_platform.errors import DomainError

logger = logging.getLogger(__name__)

SESSIONS: dict[int, LiveSession | None] = {}  # conversation id → its session (None while it is being set up)


class LiveOfferInvalid(DomainError, kind="BadRequest", status=400):
    pass


async def session_open(*, conversation_id: int, offer_sdp: str) -> str:
    """Answer a visitor's offer with a new session for the conversation; its SDP answer."""
    if conversation_id in SESSIONS:
        raise LiveOfferInvalid("A live session is already running for this conversation; end it first.")
    if len(SESSIONS) >= settings.LIVE_MAX_SESSIONS:
        raise LiveBusy("This live process holds as many sessions as it can; try again shortly.",
                          retry_after=BUSY_RETRY_SECONDS)  # fmt: skip
    SESSIONS[conversation_id] = None  # taken before the first await, so a second offer is refused
    try:
        replica = await in_thread(pipeline.replica_load, conversation_id=conversation_id)
        session = LiveSession(replica=replica, on_closed=_forget)
        SESSIONS[conversation_id] = session
        try:
            return await session.answer(offer_sdp)
        except ValueError as exc:
            await session.close("the offer was refused")
            raise LiveOfferInvalid(f"The offer cannot be used: {exc}") from None
    except BaseException:
        SESSIONS.pop(conversation_id, None)
        raise


def _forget(session: LiveSession) -> None:
    SESSIONS.pop(session.conversation_id, None)


async def session_close(*, conversation_id: int, end: bool = False) -> bool:
    """Close the conversation's session if this process holds it; whether it did."""
    session = SESSIONS.get(conversation_id)
    if session is None:
        return False
    await session.close("ended by the visitor", end=end)
    return True


async def sessions_close_all() -> None:
    await asyncio.gather(
        *(session.close("the live process is stopping") for session in list(SESSIONS.values()) if session),
        return_exceptions=True,
    )


def session_count() -> int:
    return len(SESSIONS)


async def process_run() -> None:
    """Report this process in the registry every BEAT_SECONDS until cancelled, then leave it."""
    try:
        while True:
            try:
                await in_thread(live_process_beat, url=settings.LIVE_PUBLIC_URL, sessions=len(SESSIONS),
                                max_sessions=settings.LIVE_MAX_SESSIONS)  # fmt: skip
            except Exception as exc:  # the database is away for a moment: try again on the next beat
                logger.warning("live process heartbeat not written: %s", exc)
            await asyncio.sleep(BEAT_SECONDS)
    finally:
        await sessions_close_all()
        try:
            await in_thread(live_process_leave, url=settings.LIVE_PUBLIC_URL)
        except Exception as exc:
            logger.warning("live process not removed from the registry: %s", exc)
