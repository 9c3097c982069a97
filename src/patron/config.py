"""One Settings object, read from PATRON_* environment variables, with safe local defaults."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PATRON_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./patron.db"
    # Seconds between runs of the scheduled jobs (vesting, expiry) inside `patron serve`;
    # 0 turns the in-process scheduler off (run `patron jobs run` from cron instead).
    jobs_interval: float = 60.0
    # Connection pool per process; PostgreSQL only.
    pool_size: int = 10
    # Largest request body accepted (413 beyond). A full batch of 1,000 events with a few
    # order lines each is about 1 MB.
    max_body_bytes: int = 4 * 1024 * 1024

    # One JSON line per request on standard output (docs/operations.md).
    access_log: bool = True
    # If set, /metrics needs `Authorization: Bearer <this>`; else it is open (keep it on an
    # internal network).
    metrics_token: str = ""

    # Origins whose pages may call the API from a browser (the shop's storefront), comma-
    # separated: "https://shop.example,https://www.shop.example". Empty: no CORS at all.
    cors_origins: str = ""
    # Longest validity (exp - iat, seconds) accepted for a member token; 24 h by default.
    member_token_max_age: int = 24 * 3600

    def cors_origin_list(self) -> list[str]:
        # An origin has no path: a trailing "/" would never match a browser's Origin header.
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
