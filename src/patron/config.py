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


@lru_cache
def get_settings() -> Settings:
    return Settings()
