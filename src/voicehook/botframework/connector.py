"""The Bot Framework Connector v3 client: send, reply, update and delete activities.

A bot answers a conversation by calling the Channel API at the activity's ``serviceUrl``:

- ``POST {serviceUrl}/v3/conversations/{conversationId}/activities`` (SendToConversation)
- ``POST .../activities/{activityId}`` (ReplyToActivity)
- ``PUT .../activities/{activityId}`` (UpdateActivity)
- ``DELETE .../activities/{activityId}`` (DeleteActivity)

Ids in the path are percent-encoded (Teams ids contain ``:;@=``). The bearer token comes
from a :class:`~voicehook.botframework.auth.Credentials` (none in anonymous mode).

**Retries never duplicate a delivered activity.** A POST is not idempotent: the receiver
(a channel, a root bot) does not deduplicate by id. So a POST is sent again only when the
answer proves it was not handled:

- the TCP connection could not be opened (nothing was sent);
- ``429 Too Many Requests`` or ``503 Service Unavailable``: the receiver refused the call
  before handling it (HTTP semantics; ``Retry-After`` is honoured up to ``max_backoff``).

Any other failure of a POST (a ``500``, ``502``, ``504``, a timeout, a connection lost after
the request was written) may have happened after delivery, so it is **not** retried; the
:class:`ConnectorError` says ``maybe_delivered=True`` and the caller decides. ``PUT`` and
``DELETE`` are idempotent (they name the activity), so they are also retried after
``5xx``, timeouts and lost connections.

Every attempt has its own timeout (``timeout``, per call or per client).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from urllib.parse import quote

import aiohttp
import msgspec
import yarl

from voicehook.botframework.activity import (
    Activity,
    ResourceResponse,
    decode_resource_response,
    encode_activity,
)
from voicehook.botframework.auth import Credentials
from voicehook.upstream import HttpClient, UpstreamError

__all__ = ["ConnectorClient", "ConnectorError", "activities_url"]

logger = logging.getLogger("voicehook.botframework")

_REFUSED = frozenset({429, 503})


class ConnectorError(UpstreamError):
    """A Channel API call failed.

    ``maybe_delivered`` is True when the activity may have arrived anyway (the call failed
    after the request was sent, in a way that does not prove it was not handled).
    """

    def __init__(
        self, message: str, *, status: int | None = None, maybe_delivered: bool = False
    ) -> None:
        super().__init__(message, status=status)
        self.maybe_delivered = maybe_delivered


def activities_url(service_url: str, conversation_id: str, activity_id: str | None = None) -> str:
    """``{serviceUrl}/v3/conversations/{id}/activities[/{activityId}]``, ids encoded."""
    if not service_url.startswith(("http://", "https://")):
        raise ValueError("the serviceUrl must be an http(s) URL")
    if not conversation_id:
        raise ValueError("the conversation id must not be empty")
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    if activity_id:
        url += "/" + quote(activity_id, safe="")
    return url


class ConnectorClient:
    """Calls the Channel API with the app's HTTP client (see the module doc for retries).

    - ``timeout``: seconds per attempt (override per call).
    - ``retries``: further attempts after a retryable failure.
    - ``backoff``: the first wait between attempts (doubled each time), in seconds.
    - ``max_backoff``: the longest wait; a ``Retry-After`` longer than this is not waited
      out (the call fails instead).
    """

    def __init__(
        self,
        http: HttpClient,
        credentials: Credentials,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> None:
        if timeout <= 0 or retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("timeout must be positive; retries and waits not negative")
        self.http = http
        self.credentials = credentials
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def send(
        self, activity: Activity, *, audience: str | None = None, timeout: float | None = None
    ) -> ResourceResponse:
        """Send ``activity`` to its own ``serviceUrl`` and ``conversation``: a reply when it
        has ``replyToId``, else SendToConversation (what the SDK does)."""
        if not activity.service_url or activity.conversation is None:
            raise ValueError("the activity needs serviceUrl and conversation.id")
        conversation_id = activity.conversation.id or ""
        if activity.reply_to_id:
            return await self.reply_to_activity(
                activity.service_url,
                conversation_id,
                activity.reply_to_id,
                activity,
                audience=audience,
                timeout=timeout,
            )
        return await self.send_to_conversation(
            activity.service_url, conversation_id, activity, audience=audience, timeout=timeout
        )

    async def send_to_conversation(
        self,
        service_url: str,
        conversation_id: str,
        activity: Activity,
        *,
        audience: str | None = None,
        timeout: float | None = None,
    ) -> ResourceResponse:
        url = activities_url(service_url, conversation_id)
        body = await self._call("POST", url, conversation_id, activity, audience, timeout)
        return decode_resource_response(body)

    async def reply_to_activity(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: Activity,
        *,
        audience: str | None = None,
        timeout: float | None = None,
    ) -> ResourceResponse:
        url = activities_url(service_url, conversation_id, activity_id)
        body = await self._call("POST", url, conversation_id, activity, audience, timeout)
        return decode_resource_response(body)

    async def update_activity(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        activity: Activity,
        *,
        audience: str | None = None,
        timeout: float | None = None,
    ) -> ResourceResponse:
        """PUT the new version; the body gets ``id`` = ``activity_id`` (an SDK root needs it)."""
        if activity.id != activity_id:
            activity = _with_id(activity, activity_id)
        url = activities_url(service_url, conversation_id, activity_id)
        body = await self._call("PUT", url, conversation_id, activity, audience, timeout)
        return decode_resource_response(body)

    async def delete_activity(
        self,
        service_url: str,
        conversation_id: str,
        activity_id: str,
        *,
        audience: str | None = None,
        timeout: float | None = None,
    ) -> None:
        url = activities_url(service_url, conversation_id, activity_id)
        await self._call("DELETE", url, conversation_id, None, audience, timeout)

    async def _call(
        self,
        method: str,
        url: str,
        conversation_id: str,
        activity: Activity | None,
        audience: str | None,
        timeout: float | None,
    ) -> bytes:
        headers = {"x-ms-conversation-id": conversation_id}
        data = None
        if activity is not None:
            data = encode_activity(activity)
            headers["Content-Type"] = "application/json; charset=utf-8"
        token = await self.credentials.token(audience)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        idempotent = method != "POST"
        limit = aiohttp.ClientTimeout(total=timeout or self.timeout)
        session = self.http.session
        target = yarl.URL(url, encoded=True)  # keep our percent-encoding of the ids
        wait = self.backoff
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                async with session.request(
                    method, target, data=data, headers=headers, timeout=limit
                ) as resp:
                    status = resp.status
                    body = await resp.read()
                    if status in _REFUSED:
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
            except aiohttp.ClientConnectorError as exc:
                # The connection was never opened: nothing was sent.
                failure = ConnectorError(f"{method} {url}: cannot connect ({exc.os_error})")
            except TimeoutError:
                failure = ConnectorError(
                    f"{method} {url}: no answer within {limit.total:g} s",
                    maybe_delivered=not idempotent,
                )
                if not idempotent:
                    raise failure from None
            except aiohttp.ClientError as exc:
                failure = ConnectorError(
                    f"{method} {url}: {type(exc).__name__}", maybe_delivered=not idempotent
                )
                if not idempotent:
                    raise failure from None
            else:
                if 200 <= status < 300:
                    return body
                refused = status in _REFUSED
                failure = ConnectorError(
                    f"{method} {url} answered HTTP {status}",
                    status=status,
                    maybe_delivered=status >= 500 and not refused and not idempotent,
                )
                if not (refused or (idempotent and status >= 500)):
                    raise failure
            if attempt >= self.retries:
                raise failure
            delay = wait if retry_after is None else retry_after
            if delay > self.max_backoff:
                raise failure
            attempt += 1
            logger.info("%s; retry %d of %d in %.2f s", failure, attempt, self.retries, delay)
            await asyncio.sleep(delay)
            wait = min(wait * 2, self.max_backoff)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _with_id(activity: Activity, activity_id: str) -> Activity:
    return msgspec.structs.replace(activity, id=activity_id)
