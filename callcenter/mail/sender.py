"""The SMTP edge: one mail handed to the server, with time-outs and retries.

smtplib (the standard library) rather than aiosmtplib: no new dependency for a few mails
an hour, and smtplib's STARTTLS, AUTH and error classes are the well-trodden ones. It
blocks, so each attempt runs on this sender's own single thread (never the event loop,
and never the default executor, which the controller needs for its recordings); the
waits between attempts are on the event loop. Every socket operation has a time-out, so
a silent server holds that thread for at most `timeout` seconds per step."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage

from callcenter.settings import MailSection

log = logging.getLogger(__name__)


class MailError(Exception):
    """A mail that could not be handed to the SMTP server; `permanent` when trying again
    cannot help (a refused recipient or sender, a wrong password)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + ", ".join(
            f"{who} ({code})" for who, (code, _) in exc.recipients.items())
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _permanent(exc: BaseException) -> bool:
    """5xx answers are final; 4xx, time-outs and dropped connections are worth a retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


class SmtpSender:
    """Hands mails to the `[mail]` SMTP server: up to `attempts` tries, waiting
    `backoff`, then twice that, ... (at most `max_backoff`) between them."""

    def __init__(self, mail: MailSection, *, timeout: float = 15.0, attempts: int = 4, backoff: float = 5.0,
                 max_backoff: float = 120.0, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.mail = mail
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smtp")

    async def send(self, message: EmailMessage, about: str = "") -> None:
        """Send `message` (`about` names it in the log: "ticket 12"); MailError when
        every attempt failed or the server refused it for good."""
        loop = asyncio.get_running_loop()
        wait = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                refused = await loop.run_in_executor(self._thread, self._send_once, message)
            except (OSError, smtplib.SMTPException) as exc:  # SMTPException is an OSError; both said for clarity
                reason = _reason(exc)
                if _permanent(exc):
                    raise MailError(f"refused by {self.mail.host}: {reason}", permanent=True) from None
                if attempt == self.attempts:
                    where = f"{self.mail.host}:{self.mail.port}"
                    raise MailError(f"{where} failed {attempt} times, last: {reason}") from None
                log.warning("mail %s: attempt %d of %d to %s:%d failed (%s); again in %.0f s", about,
                            attempt, self.attempts, self.mail.host, self.mail.port, reason, wait)
                await self._sleep(wait)
                wait = min(wait * 2, self.max_backoff)
            else:
                if refused:
                    log.error("mail %s: %s refused %s", about, self.mail.host,
                              ", ".join(f"{who} ({code})" for who, (code, _) in refused.items()))
                return

    def _send_once(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """One attempt, on the sender's thread; the recipients refused (others got it)."""
        with smtplib.SMTP(self.mail.host, self.mail.port, timeout=self.timeout) as smtp:
            if self.mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.mail.user:
                smtp.login(self.mail.user, self.mail.password)
            return smtp.send_message(message)

    def close(self) -> None:
        """No new attempt starts; one under way ends within its time-out."""
        self._thread.shutdown(wait=False, cancel_futures=True)
