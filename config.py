"""Configuration from environment variables.

`create_app` picks `ProductionConfig` when TIPLINE_ENV=production, else `Config`;
`instance/config.py` (if any) is loaded after it and test settings last.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("TIPLINE_INSTANCE_DIR", BASE_DIR / "instance"))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    # Key for the follow-up codes' HMAC; derived from SECRET_KEY when unset.
    # Changing it invalidates every receipt code already handed out.
    TIPLINE_RECEIPT_KEY = os.environ.get("TIPLINE_RECEIPT_KEY")

    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'tipline.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # PostgreSQL only: pool per worker process, and no statement may run longer than this.
    TIPLINE_DB_POOL_SIZE = _int("TIPLINE_DB_POOL_SIZE", 5)
    TIPLINE_DB_MAX_OVERFLOW = _int("TIPLINE_DB_MAX_OVERFLOW", 5)
    TIPLINE_DB_STATEMENT_TIMEOUT_MS = _int("TIPLINE_DB_STATEMENT_TIMEOUT_MS", 5000)

    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    # Code of the deployment's root unit in the units table ("38" is Thanh Hóa).
    TIPLINE_ROOT_UNIT = os.environ.get("TIPLINE_ROOT_UNIT", "38")

    TIPLINE_MAX_PHOTO_BYTES = _int("TIPLINE_MAX_PHOTO_BYTES", 10 * 1024 * 1024)
    TIPLINE_MAX_PHOTO_PIXELS = _int("TIPLINE_MAX_PHOTO_PIXELS", 40_000_000)
    # Voice notes (issue 21): the longest accepted recording, and the largest upload (a
    # phone's WAV of 2 minutes is about 10 MB; M4A, AMR and Opus are far smaller).
    TIPLINE_VOICE_MAX_SECONDS = _int("TIPLINE_VOICE_MAX_SECONDS", 120)
    TIPLINE_VOICE_MAX_BYTES = _int("TIPLINE_VOICE_MAX_BYTES", 12 * 1024 * 1024)
    # The whole request may carry a photo plus the form fields.
    MAX_CONTENT_LENGTH = TIPLINE_MAX_PHOTO_BYTES + 256 * 1024
    # Werkzeug applies this to its parse buffer too, which holds up to a 64 KiB read plus
    # what is left of the last one: at 64 KiB, photo uploads failed with 413 at random.
    MAX_FORM_MEMORY_SIZE = 512 * 1024
    # Any body that is not a multipart upload (a URL-encoded form, JSON) is read whole, and
    # none needs more than this (the longest form, a tip, is 4,000 characters of text):
    # bigger ones get 413 before they are parsed (tipline/core/multipart.py).
    TIPLINE_MAX_FORM_BYTES = _int("TIPLINE_MAX_FORM_BYTES", 256 * 1024)
    # A tip form sent again (Back and send, an outbox replay) never makes a second tip;
    # its follow-up code is shown again only this many minutes after the first post
    # (counted from the minute the tip was recorded), later "already received" only.
    TIPLINE_RESUBMIT_CODE_MINUTES = _int("TIPLINE_RESUBMIT_CODE_MINUTES", 10)

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    TIPLINE_LOCALES = ("vi", "en")

    WTF_CSRF_TIME_LIMIT = 8 * 3600
    # WTForms ships no Vietnamese catalogue, and every message our forms show is our own
    # (Vietnamese, with its English in tipline/translations): Flask-WTF's per-request load
    # of WTForms' catalogue (a search of the disk on every form) buys nothing.
    WTF_I18N_ENABLED = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True

    RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL", "memory://")
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = False
    # Redis down must not stop tips: fall back to per-process limits (logged by the limiter).
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "tipline")
    TIPLINE_SUBMIT_LIMIT = os.environ.get("TIPLINE_SUBMIT_LIMIT", "20 per hour")
    TIPLINE_FOLLOWUP_LIMIT = os.environ.get("TIPLINE_FOLLOWUP_LIMIT", "30 per hour")
    TIPLINE_LOGIN_LIMIT = os.environ.get("TIPLINE_LOGIN_LIMIT", "10 per 15 minutes")

    TIPLINE_INBOX_PAGE_SIZE = 25
    # Units and categories are kept per worker process (tipline/core/refcache.py). A change
    # made through this process shows at once; one made by another worker, machine or a
    # CLI command shows within this many seconds. 0 reads them on every request.
    TIPLINE_REFERENCE_CACHE_SECONDS = _int("TIPLINE_REFERENCE_CACHE_SECONDS", 60)
    # Retention: personal data of a closed tip (contact, note texts; photos when
    # TIPLINE_RETENTION_PHOTOS) is removed this many days after closing, by the cron
    # command `flask tipline retention purge`. Counters and states are kept.
    TIPLINE_RETENTION_DAYS = _int("TIPLINE_RETENTION_DAYS", 365)
    TIPLINE_RETENTION_PHOTOS = _bool("TIPLINE_RETENTION_PHOTOS", False)
    # Staff accounts (tipline/accounts/): password policy, idle sign-out, two-factor.
    TIPLINE_PASSWORD_MIN_LENGTH = _int("TIPLINE_PASSWORD_MIN_LENGTH", 10)
    TIPLINE_STAFF_IDLE_MINUTES = _int("TIPLINE_STAFF_IDLE_MINUTES", 30)
    # Wrong passwords for one account, from anywhere (the per-client limit is separate).
    TIPLINE_LOGIN_ACCOUNT_LIMIT = os.environ.get("TIPLINE_LOGIN_ACCOUNT_LIMIT", "5 per 15 minutes")
    # Roles that must sign in with a second factor, e.g. "commune_police,admin"; none by default.
    TIPLINE_REQUIRE_2FA_ROLES = tuple(
        r for r in os.environ.get("TIPLINE_REQUIRE_2FA_ROLES", "").replace(" ", "").split(",") if r
    )
    # Proxies in front (nginx: 1). The forwarded client address is used only, in memory,
    # for the rate limiter's hourly keyed hash; it is never stored or logged.
    TIPLINE_PROXY_HOPS = _int("TIPLINE_PROXY_HOPS", 0)

    # --- photo storage (tipline/tips/storage.py) ---------------------------------------
    # "local": files under UPLOAD_DIR (one machine). "s3": an S3 bucket or an S3-compatible
    # server shared by several machines; credentials come from boto3's usual environment
    # variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE...).
    TIPLINE_PHOTO_STORAGE = os.environ.get("TIPLINE_PHOTO_STORAGE", "local")
    TIPLINE_S3_BUCKET = os.environ.get("TIPLINE_S3_BUCKET")
    TIPLINE_S3_PREFIX = os.environ.get("TIPLINE_S3_PREFIX", "photos/")
    TIPLINE_S3_ENDPOINT_URL = os.environ.get("TIPLINE_S3_ENDPOINT_URL") or None
    TIPLINE_S3_REGION = os.environ.get("TIPLINE_S3_REGION") or None

    # --- reports (tipline/reports/) ------------------------------------------------------
    # Public and dashboard sums are kept this long (any write in the process drops them).
    TIPLINE_REPORTS_CACHE_SECONDS = _int("TIPLINE_REPORTS_CACHE_SECONDS", 60)
    # Exports stop at this many rows (the screen says so before the download).
    TIPLINE_REPORTS_EXPORT_MAX_ROWS = _int("TIPLINE_REPORTS_EXPORT_MAX_ROWS", 100_000)

    # --- triage (tipline/tips/inbox.py, triage.py, notify.py) ---------------------------
    # Per category code: (default priority, days to a first response, days to settle).
    # 20 days to settle is the legal period for reports of crime (Criminal Procedure Code
    # 2015, art. 147); the other periods are the commune's own targets.
    TIPLINE_TRIAGE_DEFAULTS = {
        "theft": ("normal", 1, 20),
        "drugs": ("urgent", 1, 20),
        "gambling": ("normal", 2, 20),
        "disturbance": ("urgent", 1, 20),
        "domestic_violence": ("urgent", 1, 20),
        "suspicious": ("normal", 1, 20),
        "traffic": ("normal", 3, 30),
        "fire": ("urgent", 1, 10),
        "social_evils": ("normal", 3, 30),
        "other": ("low", 3, 30),
    }
    TIPLINE_TRIAGE_FALLBACK = ("normal", 3, 30)
    # `flask tipline escalate-stale` hands tips nobody acted on for this long to the police.
    TIPLINE_ESCALATE_AFTER_HOURS = _int("TIPLINE_ESCALATE_AFTER_HOURS", 48)
    # Likely duplicates are looked for this many days either side of a tip.
    TIPLINE_DUPLICATE_WINDOW_DAYS = _int("TIPLINE_DUPLICATE_WINDOW_DAYS", 7)
    # The inbox's counts and filter options are reused this long at most (0: not kept);
    # any write in this process, a tip event or a read of the user's drops them sooner.
    TIPLINE_INBOX_CACHE_SECONDS = _int("TIPLINE_INBOX_CACHE_SECONDS", 60)
    # The e-mail alert channel (tipline/alerts/channels/email.py); no host: no e-mail.
    TIPLINE_SMTP_HOST = os.environ.get("TIPLINE_SMTP_HOST") or None
    TIPLINE_SMTP_PORT = _int("TIPLINE_SMTP_PORT", 25)
    TIPLINE_SMTP_USER = os.environ.get("TIPLINE_SMTP_USER") or None
    TIPLINE_SMTP_PASSWORD = os.environ.get("TIPLINE_SMTP_PASSWORD") or None
    TIPLINE_SMTP_STARTTLS = _bool("TIPLINE_SMTP_STARTTLS", False)
    TIPLINE_SMTP_TIMEOUT = _int("TIPLINE_SMTP_TIMEOUT", 10)
    TIPLINE_MAIL_FROM = os.environ.get("TIPLINE_MAIL_FROM", "tipline@localhost")
    # Links in alerts point here (e.g. https://tinbao.example.vn).
    TIPLINE_BASE_URL = os.environ.get("TIPLINE_BASE_URL", "http://127.0.0.1:5000")
    # --- settings: tipster messages and session (issue 5) ---
    # The tipster's follow-up session (a cookie that dies with the browser) ends this many
    # minutes after the codes were entered.
    TIPLINE_TIPSTER_SESSION_MINUTES = _int("TIPLINE_TIPSTER_SESSION_MINUTES", 15)
    # Messages a tipster may post (replies, added information) per client and hour.
    TIPLINE_MESSAGE_LIMIT = os.environ.get("TIPLINE_MESSAGE_LIMIT", "20 per hour")
    # A closed tip still takes the tipster's replies for this many days (an answer to the
    # last question); after that the status page asks for a new tip instead.
    TIPLINE_TIPSTER_REPLY_DAYS = _int("TIPLINE_TIPSTER_REPLY_DAYS", 14)
    # --- settings: follow-up guard (issue 5) ---
    # Wrong follow-up codes (tipline/public/guard.py), counted per fixed window of this many
    # minutes (1 to 60; keys never outlive an hour): a client past its allowance waits for
    # the next window (the right code is not checked either); a reference past its
    # allowance is under attack, and then only clients with fewer than
    # ..._PER_CLIENT_REFERENCE wrong codes on it themselves still get their code checked.
    TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES = _int("TIPLINE_FOLLOWUP_WRONG_WINDOW_MINUTES", 15)
    TIPLINE_FOLLOWUP_WRONG_PER_CLIENT = _int("TIPLINE_FOLLOWUP_WRONG_PER_CLIENT", 10)
    TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE = _int("TIPLINE_FOLLOWUP_WRONG_PER_REFERENCE", 5)
    TIPLINE_FOLLOWUP_WRONG_PER_CLIENT_REFERENCE = _int(
        "TIPLINE_FOLLOWUP_WRONG_PER_CLIENT_REFERENCE", 2
    )
    # --- settings: API (issue 10) ---
    # Requests per partner key, per staff token, and per client without a key (Open311 reads).
    TIPLINE_API_KEY_LIMIT = os.environ.get("TIPLINE_API_KEY_LIMIT", "600 per hour")
    TIPLINE_API_TOKEN_LIMIT = os.environ.get("TIPLINE_API_TOKEN_LIMIT", "1200 per hour")
    TIPLINE_API_PUBLIC_LIMIT = os.environ.get("TIPLINE_API_PUBLIC_LIMIT", "120 per hour")
    # A staff app's token lasts this long (a password change or deactivation ends it sooner).
    TIPLINE_API_TOKEN_HOURS = _int("TIPLINE_API_TOKEN_HOURS", 12)
    # Open311 GET requests: the default window and the most results one answer holds.
    TIPLINE_OPEN311_WINDOW_DAYS = _int("TIPLINE_OPEN311_WINDOW_DAYS", 90)
    TIPLINE_OPEN311_MAX_RESULTS = _int("TIPLINE_OPEN311_MAX_RESULTS", 1000)
    # media_url of a partner's request: fetched (http/https, public addresses only) within
    # these limits; 0 seconds turns fetching off (media_url is then refused).
    TIPLINE_OPEN311_MEDIA_TIMEOUT = _int("TIPLINE_OPEN311_MEDIA_TIMEOUT", 5)
    # Tests only: let media_url reach 127.0.0.1 (a local test server).
    TIPLINE_OPEN311_MEDIA_ALLOW_LOOPBACK = False
    # --- settings: abuse control (issue 21) ---
    # A proof of work (tipline/public/puzzle.py) is asked of the form's script once a
    # commune gets more than ..._COMMUNE_PER_HOUR tips in an hour, or one client sends
    # more than ..._CLIENT_PER_HOUR: BASE_BITS leading zero bits at the threshold, one more
    # per doubling of the load, at most MAX_BITS; a puzzle lives ..._SECONDS.
    TIPLINE_PUZZLE_COMMUNE_PER_HOUR = _int("TIPLINE_PUZZLE_COMMUNE_PER_HOUR", 20)
    TIPLINE_PUZZLE_CLIENT_PER_HOUR = _int("TIPLINE_PUZZLE_CLIENT_PER_HOUR", 3)
    TIPLINE_PUZZLE_BASE_BITS = _int("TIPLINE_PUZZLE_BASE_BITS", 16)
    TIPLINE_PUZZLE_MAX_BITS = _int("TIPLINE_PUZZLE_MAX_BITS", 24)
    TIPLINE_PUZZLE_SECONDS = _int("TIPLINE_PUZZLE_SECONDS", 900)
    # The flood alarm: more tips than this to one commune within an hour alerts its commune
    # police (once per hour) and offers the inbox's bulk "reject as spam" on the held ones.
    TIPLINE_FLOOD_PER_HOUR = _int("TIPLINE_FLOOD_PER_HOUR", 30)
    # --- settings: alerts (issue 16) ---
    # Key(s) sealing personal data at rest (push addresses, phone numbers): Fernet keys,
    # comma-separated, the first sealing (tipline/core/sealed.py). Development: generated
    # once into instance/data_key. Production: required.
    TIPLINE_DATA_KEY = os.environ.get("TIPLINE_DATA_KEY") or None
    # An urgent tip nobody of the village team opened within this many minutes alerts the
    # commune police; a tip still unanswered this many hours before its first-response
    # deadline alerts its handler (each once per tip).
    TIPLINE_URGENT_ACK_MINUTES = _int("TIPLINE_URGENT_ACK_MINUTES", 30)
    TIPLINE_DEADLINE_NEAR_HOURS = _int("TIPLINE_DEADLINE_NEAR_HOURS", 24)
    # The worker (`flask tipline worker`, started by `make run`): deliveries claimed per
    # batch, how long a claim holds (then another worker takes over a send that died),
    # the time limit of one send, attempts before a delivery fails for good, the backoff
    # between attempts (doubling from the first, capped, with jitter), the wait when idle.
    TIPLINE_WORKER_BATCH = _int("TIPLINE_WORKER_BATCH", 50)
    TIPLINE_WORKER_LEASE_SECONDS = _int("TIPLINE_WORKER_LEASE_SECONDS", 120)
    TIPLINE_WORKER_IDLE_SECONDS = float(os.environ.get("TIPLINE_WORKER_IDLE_SECONDS") or 2)
    TIPLINE_ALERT_SEND_TIMEOUT = _int("TIPLINE_ALERT_SEND_TIMEOUT", 10)
    TIPLINE_ALERT_MAX_ATTEMPTS = _int("TIPLINE_ALERT_MAX_ATTEMPTS", 8)
    TIPLINE_ALERT_BACKOFF_SECONDS = _int("TIPLINE_ALERT_BACKOFF_SECONDS", 30)
    TIPLINE_ALERT_BACKOFF_MAX_SECONDS = _int("TIPLINE_ALERT_BACKOFF_MAX_SECONDS", 3600)
    # Alerts older than this many days go with the retention purge (0: kept); "send me a
    # test alert" per account (each may cost an SMS from the commune's shared allowance).
    TIPLINE_ALERT_RETENTION_DAYS = _int("TIPLINE_ALERT_RETENTION_DAYS", 90)
    TIPLINE_TEST_ALERT_LIMIT = os.environ.get("TIPLINE_TEST_ALERT_LIMIT", "3 per hour")
    # Periodic jobs the worker runs (minutes between runs; 0: off, e.g. when cron runs
    # the CLI commands instead). One worker runs each due job; a job that dies is taken
    # over after TIPLINE_JOB_LEASE_SECONDS.
    TIPLINE_SCHEDULE_ALERT_SCANS_MINUTES = _int("TIPLINE_SCHEDULE_ALERT_SCANS_MINUTES", 5)
    TIPLINE_SCHEDULE_ESCALATE_MINUTES = _int("TIPLINE_SCHEDULE_ESCALATE_MINUTES", 60)
    TIPLINE_SCHEDULE_RETENTION_MINUTES = _int("TIPLINE_SCHEDULE_RETENTION_MINUTES", 1440)
    TIPLINE_SCHEDULE_PHOTOS_MINUTES = _int("TIPLINE_SCHEDULE_PHOTOS_MINUTES", 1440)
    TIPLINE_SCHEDULE_COUNTERS_MINUTES = _int("TIPLINE_SCHEDULE_COUNTERS_MINUTES", 1440)
    TIPLINE_JOB_LEASE_SECONDS = _int("TIPLINE_JOB_LEASE_SECONDS", 1800)
    # Web Push (tipline/alerts/push.py). The VAPID private key (base64url raw P-256 key, or
    # PEM); development: generated once into instance/vapid_private_key; production: unset
    # means Web Push is off. The subject is the contact push services see (mailto: or https:).
    TIPLINE_VAPID_PRIVATE_KEY = os.environ.get("TIPLINE_VAPID_PRIVATE_KEY") or None
    TIPLINE_VAPID_SUBJECT = os.environ.get("TIPLINE_VAPID_SUBJECT") or None
    # Push services accepted, comma-separated origins scheme://host[:port]; "https://*.d" is
    # any host under d (which must resolve to public addresses). Default: the major browsers'.
    TIPLINE_PUSH_SERVICE_HOSTS = os.environ.get(
        "TIPLINE_PUSH_SERVICE_HOSTS",
        "https://fcm.googleapis.com,https://updates.push.services.mozilla.com,"
        "https://web.push.apple.com,https://*.notify.windows.com",
    )
    # How long a push service keeps an alert for a phone that is off (seconds).
    TIPLINE_PUSH_TTL_SECONDS = _int("TIPLINE_PUSH_TTL_SECONDS", 86400)
    # SMS out (tipline/alerts/sms.py): "none", "android" (SMS Gateway for Android in its
    # local-server or private-server mode; never the public cloud relay) or "http" (a
    # generic provider taking {to, text, id, sender} as JSON, its key in a header).
    TIPLINE_SMS_DRIVER = os.environ.get("TIPLINE_SMS_DRIVER", "none")
    TIPLINE_SMS_ANDROID_URL = os.environ.get("TIPLINE_SMS_ANDROID_URL") or None
    TIPLINE_SMS_ANDROID_USER = os.environ.get("TIPLINE_SMS_ANDROID_USER") or None
    TIPLINE_SMS_ANDROID_PASSWORD = os.environ.get("TIPLINE_SMS_ANDROID_PASSWORD") or None
    TIPLINE_SMS_ANDROID_SIM = os.environ.get("TIPLINE_SMS_ANDROID_SIM") or None
    TIPLINE_SMS_HTTP_URL = os.environ.get("TIPLINE_SMS_HTTP_URL") or None
    TIPLINE_SMS_HTTP_KEY = os.environ.get("TIPLINE_SMS_HTTP_KEY") or None
    TIPLINE_SMS_HTTP_KEY_HEADER = os.environ.get("TIPLINE_SMS_HTTP_KEY_HEADER", "X-Api-Key")
    TIPLINE_SMS_SENDER = os.environ.get("TIPLINE_SMS_SENDER") or None
    TIPLINE_SMS_TIMEOUT = _int("TIPLINE_SMS_TIMEOUT", 10)
    # A text the gateway could not send within this long is dropped there, not sent late.
    TIPLINE_SMS_TTL_MINUTES = _int("TIPLINE_SMS_TTL_MINUTES", 720)
    # Android asks before an app sends more than 30 SMS in 30 minutes (every part counts):
    # the budget of one gateway, in parts, over a moving window.
    TIPLINE_SMS_BUDGET_PARTS = _int("TIPLINE_SMS_BUDGET_PARTS", 30)
    TIPLINE_SMS_BUDGET_MINUTES = _int("TIPLINE_SMS_BUDGET_MINUTES", 30)
    # Vietnamese marks in SMS (70 characters a part instead of 160); kept only if they fit.
    TIPLINE_SMS_MARKS = _bool("TIPLINE_SMS_MARKS", False)
    # Staff numbers are checked with a code sent by SMS: its lifetime, and codes per account.
    TIPLINE_SMS_CODE_MINUTES = _int("TIPLINE_SMS_CODE_MINUTES", 10)
    TIPLINE_SMS_CODE_LIMIT = os.environ.get("TIPLINE_SMS_CODE_LIMIT", "5 per hour")
    # SMS in (tipline/sms/): gateways are registered by administrators (/admin/sms-gateways).
    # A webhook older or newer than this many seconds is refused (its X-Timestamp).
    TIPLINE_SMS_WEBHOOK_WINDOW_SECONDS = _int("TIPLINE_SMS_WEBHOOK_WINDOW_SECONDS", 300)
    TIPLINE_SMS_WEBHOOK_MAX_BYTES = _int("TIPLINE_SMS_WEBHOOK_MAX_BYTES", 16 * 1024)
    # Messages taken from one number, and from one gateway (a flood cannot fill an inbox).
    TIPLINE_SMS_NUMBER_LIMIT = os.environ.get("TIPLINE_SMS_NUMBER_LIMIT", "10 per hour")
    TIPLINE_SMS_GATEWAY_LIMIT = os.environ.get("TIPLINE_SMS_GATEWAY_LIMIT", "200 per hour")
    # How long the "which commune?" exchange on a province number waits for its answer.
    TIPLINE_SMS_CONVERSATION_MINUTES = _int("TIPLINE_SMS_CONVERSATION_MINUTES", 60)
    # The category of a tip that came by SMS (staff change it while triaging).
    TIPLINE_SMS_CATEGORY = os.environ.get("TIPLINE_SMS_CATEGORY", "other")
    # --- settings: production tuning (issue 3) ---


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    @staticmethod
    def check(config: dict) -> None:
        """Refuse to start without a real secret key or with the embedded database."""
        key = config.get("SECRET_KEY") or ""
        if len(key) < 32 or key.lower() in {"dev", "change-me", "secret"}:
            raise RuntimeError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        if not config.get("TIPLINE_DATA_KEY"):
            raise RuntimeError(
                "TIPLINE_DATA_KEY must be set in production (python -c 'from "
                "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
            )
