"""AMI at the edge, through panoramisk: CLI commands, MixMonitor, seat registrations.

panoramisk reconnects by itself whenever a connection drops, including the one we close
on purpose; `AmiSession.close` switches that off so a finished session stays finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from panoramisk import Manager

from callcenter.errors import PbxError
from callcenter.settings import Settings

# panoramisk logs every failed (re)connect as a warning; our callers report those themselves.
_PANORAMISK_LOG = logging.getLogger("callcenter.ami.panoramisk")
_PANORAMISK_LOG.setLevel(logging.ERROR)


class AmiSession:
    def __init__(self, manager: Any) -> None:
        self._manager = manager

    async def action(self, name: str, **fields: str) -> dict[str, str]:
        """Send one action; return its response as a dict, PbxError if Asterisk refuses it."""
        response = await self._manager.send_action({"Action": name, **fields})
        message = response[0] if isinstance(response, list) else response
        result = {str(k): str(v) for k, v in dict(message).items()}
        if result.get("Response", "").lower() == "error":
            raise PbxError(f"AMI {name} refused: {result.get('Message', 'no reason given')}")
        return result

    async def action_list(self, name: str, **fields: str) -> list[dict[str, str]]:
        """An action answered by a list of events (…List, …ListComplete)."""
        messages = await self._manager.send_action({"Action": name, **fields}, as_list=True)
        return [{str(k): str(v) for k, v in dict(m).items()} for m in messages]

    async def command(self, command: str) -> str:
        """Run an Asterisk CLI command and return its output text."""
        response = await self._manager.send_command(command)
        message = response[0] if isinstance(response, list) else response
        output = message.get("Output", message.get("content", ""))
        if isinstance(output, list):
            return "\n".join(str(line) for line in output)
        return str(output)

    def close(self) -> None:
        self._manager.connection_lost = lambda exc: None
        self._manager.close()


@asynccontextmanager
async def ami_session(settings: Settings, connect_timeout: float = 5.0) -> AsyncIterator[AmiSession]:
    creds = settings.credentials()
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=settings.ami_host,
        port=settings.asterisk.ami_port,
        username=creds.ami_user,
        secret=creds.ami_password,
        events="off",
        encoding="utf-8",
        ping_delay=3600,
        log=_PANORAMISK_LOG,
    )
    where = f"AMI at {settings.ami_host}:{settings.asterisk.ami_port}"
    session = AmiSession(manager)
    try:
        try:
            await asyncio.wait_for(manager.connect(), connect_timeout)
        except (TimeoutError, OSError):
            raise PbxError(f"{where} does not answer (is Asterisk running? `hotline pbx status`)") from None
        login = manager.authenticated_future
        if login is not None:
            try:
                await asyncio.wait_for(login, connect_timeout)
            except TimeoutError:
                raise PbxError(f"{where} did not answer the log-in") from None
        if not manager.authenticated:
            raise PbxError(f"{where} refused the log-in of user {creds.ami_user!r}")
        yield session
    finally:
        session.close()
