"""The one settings object, built once from the environment and `.env` (nothing else reads os.environ)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting dutybot has. Names are the environment variable names (no prefix)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    seeds_dir: Path = Field(default=PROJECT_ROOT / "seeds")
    data_dir: Path = Field(default=Path("data"))
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    answer_hits: int = Field(default=3, ge=1, le=10)
    max_question_chars: int = Field(default=500, ge=10)
    # SQLAlchemy URL; default a SQLite file in DATA_DIR. PostgreSQL: postgresql+psycopg://user@host/db
    database_url: str | None = None
    dialog_timeout_minutes: int = Field(default=30, ge=1)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return level

    @classmethod
    def explicit(cls, **values: Any) -> Settings:
        """Settings from the given values and defaults only: no environment, no `.env` (for tests)."""
        return _ExplicitSettings(**values)

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'dutybot.db'}"


class _ExplicitSettings(Settings):
    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def load_settings() -> Settings:
    """Settings from the environment and `.env` in the working directory."""
    return Settings()
