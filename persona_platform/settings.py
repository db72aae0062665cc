"""Settings, all read from the environment.

Every variable has a default that works embedded (SQLite, a filesystem Celery broker, local
media); production differs only in environment values. `.env.example` documents each one.
"""

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")


def env_bool(name: str, default: bool) -> bool:
    """A strict boolean: a typo such as DEBUG=ture must stop start-up, not silently mean False."""
    raw = env.str(name, default="").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false).")


def env_int(name: str, default: int) -> int:
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def refuse_empty(*names: str) -> None:
    """A variable set to nothing (a blank `NAME=` line) is a mistake, not a request for the default."""
    for name in names:
        if name in os.environ and not os.environ[name].strip():
            raise ImproperlyConfigured(f"{name} is set but empty: give it a value or remove the line.")


# Set but empty, these would run with an empty secret, send jobs to amqp://localhost, or break every API key.
refuse_empty("SECRET_KEY", "CELERY_BROKER_URL", "API_KEY_HASH_SECRET")

# Core
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-embedded-only-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "persona_platform",
    "accounts",
    "characters",
    "media_jobs",
    "knowledge",
]

MIDDLEWARE = [
    "persona_platform.middleware.RequestIdMiddleware",  # first: every answer and log line carries the id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "persona_platform.middleware.ApiRequestSizeMiddleware",
    "persona_platform.middleware.ApiErrorShapeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "persona_platform.urls"
WSGI_APPLICATION = "persona_platform.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
# Admin logins: django-axes refuses further attempts after AXES_FAILURE_LIMIT failures for one user, and
# separately for one address, for AXES_COOLOFF_HOURS. The address is X-Forwarded-For, which the front door
# (or the production proxy) sets, else the socket's peer.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_HOURS", 1)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
AXES_VERBOSE = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Database
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web threads and the worker share one file: wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})

# Cache: Redis when configured, so rate limits are shared by every process.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Embedded mode serves from one process (threads), so a process-local cache is shared by all.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "persona"}}

# Celery
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "store_processed": False,
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
    }
    for folder in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / folder).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 900)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 960)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers keep their database connection across tasks, as web processes do across requests: each
# task starts with close_old_connections() (persona_platform.celery), so CONN_MAX_AGE and the health
# check apply. Celery's default, a new connection per task, halved no-op job throughput (bench/).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
if "visibility_timeout" in CELERY_BROKER_TRANSPORT_OPTIONS and (
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] <= CELERY_TASK_TIME_LIMIT
):
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT must exceed CELERY_TASK_TIME_LIMIT, or long jobs run twice.")
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")
# Job kinds, registered by the app that owns each (media_jobs.kinds): one line per kind.
JOB_KINDS = [
    "media_jobs.jobs.noop",
    "characters.jobs.speech",
    "characters.jobs.voice_clone",
    "characters.jobs.video",
    "characters.jobs.talking_head",
    "characters.jobs.motion_transfer",
    "characters.jobs.lora_training",
    "characters.jobs.consent_verification",
    "knowledge.jobs.knowledge_index",
]
# A job's message that the broker could not take (it was down) is sent by this sweep; one that was sent but
# has waited this long is sent again (a broker that lost its messages). A second message is harmless.
JOB_REDISPATCH_SECONDS = env_int("JOB_REDISPATCH_SECONDS", 600)
# Publishing a job's message fails fast when the broker is down: the job stays queued for the sweep.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# The worker's and beat's signs of life (media_jobs.heartbeats); /healthz answers 503 past the stale limit.
HEARTBEAT_SECONDS = env_int("HEARTBEAT_SECONDS", 10)
HEARTBEAT_STALE_SECONDS = env_int("HEARTBEAT_STALE_SECONDS", 60)
# Whether /healthz requires the worker and beat to be alive (off where none run, e.g. a web-only test).
HEALTH_REQUIRES_WORKERS = env_bool("HEALTH_REQUIRES_WORKERS", True)
CELERY_BEAT_SCHEDULE = {
    "dispatch-pending-jobs": {"task": "media_jobs.jobs_dispatch_pending", "schedule": 5.0},
    "reap-stale-jobs": {"task": "media_jobs.jobs_reap_stale", "schedule": float(env_int("JOB_SWEEP_SECONDS", 30))},
    "deliver-due-webhooks": {"task": "media_jobs.webhooks_deliver_due", "schedule": 15.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Storage: local files by default, S3 (django-storages) when a bucket is named.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_URL = "/static/"
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
    AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", True)
    AWS_DEFAULT_ACL = None
    AWS_S3_FILE_OVERWRITE = False
# Tests run with the manifest-free storage: no collectstatic step is needed before them.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
# Media is served by the platform itself in embedded mode; behind S3 the URLs point at the bucket.
SERVE_MEDIA = env_bool("SERVE_MEDIA", not AWS_STORAGE_BUCKET_NAME)

# Request size: a 10 MB photo as base64 in JSON is about 13.4 MB; anything larger is a 413.
MAX_MEDIA_BYTES = env_int("MAX_MEDIA_BYTES", 10 * 1024 * 1024)
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", (MAX_MEDIA_BYTES * 4) // 3 + 512 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# A consent's recording (a short video of the person reading a phrase) may be larger: its one route takes it.
MAX_CONSENT_EVIDENCE_BYTES = env_int("MAX_CONSENT_EVIDENCE_BYTES", 50 * 1024 * 1024)
API_MAX_EVIDENCE_BODY_BYTES = (MAX_CONSENT_EVIDENCE_BYTES * 4) // 3 + 512 * 1024
# Every API route that takes no media or documents (its view has no `large_body`) takes at most this much.
API_MAX_JSON_BODY_BYTES = env_int("API_MAX_JSON_BODY_BYTES", 1024 * 1024)
# The embedded server's front door (persona_platform.frontdoor): a request reaches the app only when it is
# whole, its headers within HTTP_HEADER_TIMEOUT_SECONDS and its body within HTTP_BODY_TIMEOUT_SECONDS.
HTTP_HEADER_TIMEOUT_SECONDS = env_int("HTTP_HEADER_TIMEOUT_SECONDS", 10)
HTTP_BODY_TIMEOUT_SECONDS = env_int("HTTP_BODY_TIMEOUT_SECONDS", 60)
HTTP_KEEPALIVE_SECONDS = env_int("HTTP_KEEPALIVE_SECONDS", 5)
HTTP_MAX_BODY_BYTES = env_int("HTTP_MAX_BODY_BYTES", API_MAX_EVIDENCE_BODY_BYTES + 1024 * 1024)
# A fetch of media named by URL holds a request thread: one URL may take at most this long, all in.
FETCH_TIMEOUT_SECONDS = env_int("FETCH_TIMEOUT_SECONDS", 5)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000)
# Longest video accepted (profile videos, driving videos for motion transfer).
MAX_VIDEO_SECONDS = env_int("MAX_VIDEO_SECONDS", 300)
# Torch threads the sentence model uses per call (1 keeps a busy worker from fighting itself for cores).
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 1)
# How long a streamed conversation reply waits for its spoken audio before it sends the job id instead.
CONVERSATION_AUDIO_WAIT_SECONDS = env_int("CONVERSATION_AUDIO_WAIT_SECONDS", 30)
# Longest script a talking-head video speaks, and a preview's.
MAX_SCRIPT_CHARS = env_int("MAX_SCRIPT_CHARS", 5000)

# Live conversations (knowledge.live, docs/LIVE.md): WebRTC sessions held by `manage.py live` processes.
LIVE_PORT = env_int("LIVE_PORT", 8001)
# Where browsers reach this host's live process; conversation_url and webrtc_offer_url start with it.
LIVE_PUBLIC_URL = env.str("LIVE_PUBLIC_URL", default=f"http://127.0.0.1:{LIVE_PORT}").rstrip("/")
LIVE_TOKEN_TTL_SECONDS = env_int("LIVE_TOKEN_TTL_SECONDS", 3600)
LIVE_IDLE_SECONDS = env_int("LIVE_IDLE_SECONDS", 120)  # no speech (or typing) this long ends the conversation
LIVE_MAX_SECONDS = env_int("LIVE_MAX_SECONDS", 1800)
# Sessions one live process holds at the latency targets (bench/live_latency.py measures it on one core).
LIVE_MAX_SESSIONS = env_int("LIVE_MAX_SESSIONS", 2)
# STUN/TURN servers for both sides, as RTCPeerConnection's iceServers: [{"urls": [...], "username": ..., ...}].
LIVE_ICE_SERVERS = env.json("LIVE_ICE_SERVERS", default=[])
if not isinstance(LIVE_ICE_SERVERS, list) or not all(
    isinstance(server, dict) and server.get("urls") for server in LIVE_ICE_SERVERS
):
    raise ImproperlyConfigured('LIVE_ICE_SERVERS must be a JSON list of {"urls": ...} objects.')
# /healthz reports these besides its own checks: name -> a function answering a JSON-able value.
HEALTH_REPORTS = {"live": "knowledge.live.registry.live_health"}

# Consent (characters.services.consents, docs/CONSENT.md): a new workspace's policy, `record` or `enforce`.
CONSENT_POLICY_DEFAULT = env.str("CONSENT_POLICY_DEFAULT", default="record")
if CONSENT_POLICY_DEFAULT not in ("record", "enforce"):
    raise ImproperlyConfigured("CONSENT_POLICY_DEFAULT must be `record` or `enforce`.")

# Provenance (media_jobs.provenance): every generated file carries a C2PA manifest signed with this
# certificate chain (PEM) and key. Unset, a local development CA and certificate are made under VAR_DIR.
C2PA_SIGNING_CERT = env.str("C2PA_SIGNING_CERT", default="")
C2PA_SIGNING_KEY = env.str("C2PA_SIGNING_KEY", default="")
C2PA_TRUST_ANCHORS = env.str("C2PA_TRUST_ANCHORS", default="")
# A job's provenance route says what consent covers its persona's likeness now, through this function of the
# app that owns consents (media_jobs names no app above it): (person=, kind=) -> "verified" | "unverified" | "revoked".
PROVENANCE_CONSENT_STATE = "characters.services.consent_policy.consent_state"

# Engines: local ones by default; a provider is used when its key is set (or named explicitly).
ELEVENLABS_API_KEY = env.str("ELEVENLABS_API_KEY", default="")
# An empty value (a copied .env.example line) means the default, here as for every engine setting below.
ELEVENLABS_BASE_URL = env.str("ELEVENLABS_BASE_URL", default="") or "https://api.elevenlabs.io"
ELEVENLABS_MODEL_ID = env.str("ELEVENLABS_MODEL_ID", default="") or "eleven_multilingual_v2"
FAL_KEY = env.str("FAL_KEY", default="")
FAL_QUEUE_URL = env.str("FAL_QUEUE_URL", default="") or "https://queue.fal.run"
FAL_REST_URL = env.str("FAL_REST_URL", default="") or "https://rest.alpha.fal.ai"  # fal_client's REST_URL
FAL_PLATFORM_URL = env.str("FAL_PLATFORM_URL", default="") or "https://api.fal.ai/v1"  # deletes a LoRA's files
FAL_LORA_TRAINING_APP = env.str("FAL_LORA_TRAINING_APP", default="") or "fal-ai/flux-lora-fast-training"
FAL_POLL_SECONDS = env_int("FAL_POLL_SECONDS", 5)
# A training waits inside one task: it must give up (and cancel at fal, and refund) before the
# task's soft time limit stops it. Longer trainings need higher Celery limits too.
FAL_TRAINING_TIMEOUT_SECONDS = env_int("FAL_TRAINING_TIMEOUT_SECONDS", CELERY_TASK_SOFT_TIME_LIMIT - 60)
if FAL_TRAINING_TIMEOUT_SECONDS >= CELERY_TASK_SOFT_TIME_LIMIT:
    raise ImproperlyConfigured(
        "FAL_TRAINING_TIMEOUT_SECONDS must be below CELERY_TASK_SOFT_TIME_LIMIT (raise both, and the visibility timeout)."
    )
# A persona answers through any OpenAI-compatible chat server when LLM_BASE_URL names one
# (e.g. http://127.0.0.1:8000/v1); without it, answers are composed locally from the knowledge base.
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="") or "gpt-4o-mini"
LLM_TIMEOUT_SECONDS = env_int("LLM_TIMEOUT_SECONDS", 60)
ENGINE_TIMEOUT_SECONDS = env_int("ENGINE_TIMEOUT_SECONDS", 60)
# Which engine serves a capability that has a choice (media_jobs.engines.get_engine): a name from ENGINE_CLASSES, or a
# list of names of which the first configured one is used, decided at each call ("openai" while LLM_BASE_URL is
# set). A capability with one engine class and no entry here uses that class; "" means none (a 503 where needed).
ENGINES: dict[str, str | list[str]] = {
    "speech": env.str("SPEECH_ENGINE", default="") or ("elevenlabs" if ELEVENLABS_API_KEY else "piper"),
    "voice_clone": "elevenlabs" if ELEVENLABS_API_KEY else "",
    "talking_head": env.str("TALKING_HEAD_ENGINE", default="") or "local",
    "lora": env.str("LORA_ENGINE", default="fal" if FAL_KEY else ""),
    "responder": ["openai", "local"],
    "voice_activity": env.str("VOICE_ACTIVITY_ENGINE", default="") or "silero",  # bench/turn_ending.py
}
# capability → name → engine class; each capability's Protocol is in media_jobs.engines.base.
ENGINE_CLASSES: dict[str, dict[str, str]] = {
    "speech": {
        "piper": "media_jobs.engines.speech.piper.PiperSpeech",
        "elevenlabs": "media_jobs.engines.speech.elevenlabs.ElevenLabsSpeech",
    },
    "voice_analysis": {"local": "media_jobs.engines.voice_clone.LocalVoiceAnalyzer"},
    "voice_clone": {"elevenlabs": "media_jobs.engines.speech.elevenlabs.ElevenLabsSpeech"},
    "face": {"dlib": "media_jobs.engines.face.DlibFaceAnalyzer"},
    "talking_head": {"local": "media_jobs.engines.talking_head.LocalTalkingHead"},
    "lora": {"fal": "media_jobs.engines.lora.fal.FalLoraTrainer"},
    "responder": {
        "local": "knowledge.responders.LocalResponder",
        "openai": "knowledge.responders.OpenAICompatibleResponder",
    },
    "speech_recognition": {"whisper": "media_jobs.engines.recognition.WhisperRecognizer"},
    "voice_activity": {"silero": "media_jobs.engines.vad.SileroVad", "webrtc": "media_jobs.engines.vad.WebRtcVad"},
    "noop": {"noop": "media_jobs.engines.noop.NoopEngine"},
}

# Where the API is reached from outside, for URLs built without a request (webhook payloads).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")

# Webhooks (Standard Webhooks signatures)
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")  # whsec_<base64>; derived from SECRET_KEY when empty
WEBHOOK_ALLOW_PRIVATE_URLS = env_bool("WEBHOOK_ALLOW_PRIVATE_URLS", False)
# Media and documents passed by URL (persona_platform.fetch): private addresses are refused unless this is on.
FETCH_ALLOW_PRIVATE_URLS = env_bool("FETCH_ALLOW_PRIVATE_URLS", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)

# API
API_KEY_HASH_SECRET = env.str("API_KEY_HASH_SECRET", default=SECRET_KEY)
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/minute").strip()
if API_RATE_LIMIT and not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", API_RATE_LIMIT, re.IGNORECASE):
    raise ImproperlyConfigured(
        f"API_RATE_LIMIT={API_RATE_LIMIT!r} must look like 600/minute (or /second, /hour, /day)."
    )
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20)
# A JSON body nested deeper, or with more object keys, is a 400 before it is parsed (persona_platform.api.parsers).
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)
API_MAX_JSON_KEYS = env_int("API_MAX_JSON_KEYS", 10_000)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100)

# The persona a BHuman call acts on (its `instance_id`, else the workspace's default one).
BHUMAN_INSTANCE_SELECTOR = "characters.selectors.person_instance"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["persona_platform.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["persona_platform.api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "persona_platform.api.schema.DialectAutoSchema",
    "EXCEPTION_HANDLER": "persona_platform.api.exception_handler.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Persona Platform API",
    "DESCRIPTION": (
        "One persona model served in four vendor dialects. Authenticate with `Authorization: Bearer <key>`, "
        "`x-api-key: <key>` or a bare `Authorization: <key>`; create a key with `manage.py createapikey`.\n\n"
        "Voices: speech comes from a local neural voice (Piper) or, when the installation has an ElevenLabs key, "
        "from ElevenLabs. A *local* voice clone does not copy anyone's voice: it measures the recordings' pitch "
        "and tempo and sets the one local voice to match them (its timbre and accent stay Piper's). "
        "ElevenLabs clones are true timbre clones made by the provider.\n\n"
        "Video: talking heads and motion transfers are rendered on the CPU from the persona's photo, which must "
        "show one face; the mouth follows the speech's phonemes and loudness, the eyes blink and the head moves "
        "slightly. Results are H.264/AAC MP4 files at 25 fps."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Our PATCH views validate with the serializer as declared (never partial=True): its required fields stay required.
    "COMPONENT_SPLIT_PATCH": False,
    "PREPROCESSING_HOOKS": ["persona_platform.api.schema.drop_trailing_slash_aliases"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "persona_platform.api.examples.attach_examples",  # the vendors' documented examples
        "persona_platform.api.schema.add_answer_headers",  # X-Request-ID, RateLimit, Location
    ],
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "persona_platform.api.dialects.VENDOR_JOB_STATUS_WORDS",
        "LoraStatusEnum": "characters.api.influgen.serializers.LORA_STATUSES",
        "VoiceStatusEnum": "characters.api.influgen.serializers.VOICE_STATUSES",
        "ConversationStatusEnum": "knowledge.api.twintone.serializers.CONVERSATION_STATUSES",
    },
}

# Security (production values come from the environment; see docs/DEPLOYMENT.md)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Log lines carry the request id, workspace, route, status and job id (persona_platform.logs). LOG_FORMAT is
# `json` (one object per line, for collectors) or `text`; by default text where people read the console
# (DEBUG, or embedded on SQLite as `make run` is), json otherwise. See docs/DEPLOYMENT.md.
LOG_FORMAT = env.str("LOG_FORMAT", default="").strip().lower() or (
    "text" if DEBUG or DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else "json"
)
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "persona_platform.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "persona_platform.logs.JsonFormatter"},
        "text": {"()": "persona_platform.logs.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
# The worker logs through LOGGING above (its lines carry the job id), not through a handler of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
