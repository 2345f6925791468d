"""The one settings object, built once from the environment and `.env` (nothing else reads os.environ)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting dutybot has. Names are the environment variable names (no prefix)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False,
        hide_input_in_errors=True,  # a mistyped secret must not be echoed to the terminal or a log
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

    # --- HTTP server (Telegram webhook, WeCom callback, /healthz); runs only when one of them is set.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)

    # --- Telegram. No token: no Telegram channel.
    telegram_bot_token: SecretStr | None = None
    # Bot API server; the token is appended (python-telegram-bot's base_url).
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    # Public webhook URL; empty means long polling. Its path is the local route.
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    # HTTP or SOCKS proxy for every Bot API call (Telegram is blocked in mainland China).
    telegram_proxy_url: SecretStr | None = None

    # --- WeCom (企业微信) self-built app. No corp id: no WeCom channel.
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_encoding_aes_key: SecretStr | None = None
    # Scheme and host only; the client appends /cgi-bin/...
    wecom_api_base_url: str = "https://qyapi.weixin.qq.com"
    wecom_callback_path: str = "/wecom/callback"
    # Group robots: a JSON object of name → key or full webhook URL.
    wecom_robot_webhooks: SecretStr | None = None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("telegram_bot_token", "telegram_webhook_url", "telegram_webhook_secret", "telegram_proxy_url",
                     "wecom_corp_id", "wecom_agent_id", "wecom_secret", "wecom_token", "wecom_encoding_aes_key",
                     "wecom_robot_webhooks", "database_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        """`KEY=` in .env means "not set", like leaving the line out."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wecom_robot_webhooks")
    @classmethod
    def _robots_are_json(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            robots = json.loads(value.get_secret_value()) if value.get_secret_value().strip() else {}
            if not isinstance(robots, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in robots.items()
            ):
                raise ValueError('WECOM_ROBOT_WEBHOOKS must be a JSON object like {"经理群": "key"}')
        return value

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def wecom_enabled(self) -> bool:
        return self.wecom_corp_id is not None

    def secret_values(self) -> list[str]:
        """Every configured secret, for log redaction (robot keys included)."""
        secrets = [self.telegram_bot_token, self.telegram_webhook_secret, self.telegram_proxy_url,
                   self.wecom_secret, self.wecom_token, self.wecom_encoding_aes_key]
        values = [s.get_secret_value() for s in secrets if s is not None]
        return values + list(self.robots.values())

    @property
    def robots(self) -> dict[str, str]:
        """Group robots by name → key or URL (secret: never log the values)."""
        if self.wecom_robot_webhooks is None:
            return {}
        return dict(json.loads(self.wecom_robot_webhooks.get_secret_value()))

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
