"""Logging in once and keeping the same device (and so the same crypto identity) forever."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from nio import AsyncClient, AsyncClientConfig, LoginResponse, WhoamiResponse

from bot.config import Config
from bot.store.bot_state import BotState

log = logging.getLogger(__name__)

FATAL_ERRCODES = frozenset({"M_UNKNOWN_TOKEN", "M_FORBIDDEN", "M_USER_DEACTIVATED"})


class LoginFailed(RuntimeError):
    pass


def build_client(config: Config) -> AsyncClient:
    config.storage.crypto_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    client_config = AsyncClientConfig(
        # nio would retry 429 and connection errors forever; the outbox and the
        # sync loop own retries so they can be bounded and paced.
        max_limit_exceeded=0,
        max_timeouts=0,
        store_sync_tokens=False,
        encryption_enabled=True,
        request_timeout=config.sync.timeout_ms / 1000 + 30,
    )
    return AsyncClient(
        config.homeserver.url,
        config.homeserver.user_id,
        store_path=str(config.storage.crypto_dir),
        config=client_config,
        ssl=config.homeserver.verify_tls,
    )


async def raw_request(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """A client-server API call nio has no wrapper for (account data, whoami)."""
    headers = {"Content-Type": "application/json"}
    if client.access_token:
        headers["Authorization"] = f"Bearer {client.access_token}"
    response = await client.send(
        method, path, json.dumps(body) if body is not None else None, headers
    )
    try:
        data = await response.json(content_type=None)
    except ValueError:
        data = {}
    finally:
        response.release()
    return response.status, data if isinstance(data, dict) else {}


async def _password_login(client: AsyncClient, config: Config, state: BotState) -> None:
    if config.homeserver.password is None:
        raise LoginFailed("the stored access token is invalid and no password is configured")
    response = await client.login(
        config.homeserver.password.get_secret_value(), device_name=config.homeserver.device_name
    )
    if not isinstance(response, LoginResponse):
        raise LoginFailed(f"login refused by the homeserver: {response.status_code}")
    await state.set("access_token", response.access_token)
    await state.set("device_id", response.device_id)
    log.info("logged in as %s, device %s", response.user_id, response.device_id)


async def log_in(client: AsyncClient, config: Config, state: BotState) -> None:
    """Reuse the stored (or configured) token and device; password login only once."""
    device_id = await state.get("device_id")
    token = await state.get("access_token")
    if config.homeserver.access_token is not None:
        token = config.homeserver.access_token.get_secret_value()
        client.access_token = token
        whoami = await client.whoami()
        if not isinstance(whoami, WhoamiResponse) or not whoami.device_id:
            raise LoginFailed("the configured access token was refused or has no device")
        device_id = whoami.device_id
        await state.set("device_id", device_id)
    if token and device_id:
        client.restore_login(config.homeserver.user_id, device_id, token)
        whoami = await client.whoami()
        if isinstance(whoami, WhoamiResponse):
            log.info("reusing device %s", device_id)
        elif getattr(whoami, "status_code", None) in FATAL_ERRCODES:
            # Keep the device id: a new login with it keeps our crypto identity.
            log.warning("stored access token refused, logging in again on device %s", device_id)
            await _password_login(client, config, state)
        else:
            raise LoginFailed(f"whoami failed: {getattr(whoami, 'message', whoami)}")
    else:
        await _password_login(client, config, state)
    if client.should_upload_keys:
        await client.keys_upload()


async def set_direct_rooms(client: AsyncClient, direct: dict[str, list[str]]) -> bool:
    path = f"/_matrix/client/v3/user/{quote(client.user_id, safe='')}/account_data/m.direct"
    status, _ = await raw_request(client, "PUT", path, direct)
    return status == 200


async def get_direct_rooms(client: AsyncClient) -> dict[str, list[str]]:
    path = f"/_matrix/client/v3/user/{quote(client.user_id, safe='')}/account_data/m.direct"
    status, data = await raw_request(client, "GET", path)
    if status != 200:
        return {}
    return {k: [r for r in v if isinstance(r, str)] for k, v in data.items() if isinstance(v, list)}
