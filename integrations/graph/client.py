"""Microsoft Graph through msal: one confidential client (and its token cache), one HTTP session.

The token comes from ``msal.ConfidentialClientApplication`` (client credentials: a client secret, or
a certificate) at ``MSGRAPH_AUTHORITY``/``MSGRAPH_TENANT_ID``; Graph calls go to ``MSGRAPH_URL``.
An authority that is not Microsoft's (a sovereign cloud proxy, a test double) is used with
``instance_discovery=False``, so msal does not ask Microsoft whether it knows the host.

Errors come out in a few kinds the callers act on: ``GraphAuthError`` (the credentials or the
tenant are wrong: names the setting and Microsoft's AADSTS code), ``GraphThrottled`` (429 with
Retry-After), ``GraphUnavailable`` (5xx, timeouts, no connection: says whether the request may have
been acted on), ``GraphNotFound`` and ``GraphRefused`` (any other 4xx). Reads wait out a short
Retry-After in place and follow ``@odata.nextLink``; writes are left to the outbox's retries.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:  # msal (~13 ms beyond requests) loads on the first sign-in, not at every start
    import msal  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)
"""Hosts msal's instance discovery knows; any other authority is used with ``instance_discovery=False``."""

AADSTS_SETTING = {
    "90002": "MSGRAPH_TENANT_ID",  # tenant not found
    "900023": "MSGRAPH_TENANT_ID",  # tenant id malformed
    "90013": "MSGRAPH_TENANT_ID",
    "700016": "MSGRAPH_CLIENT_ID",  # application not found in the tenant
    "7000215": "MSGRAPH_CLIENT_SECRET",  # invalid client secret
    "7000222": "MSGRAPH_CLIENT_SECRET",  # client secret expired
    "700027": "MSGRAPH_CLIENT_CERTIFICATE",  # certificate assertion not valid
    "700024": "MSGRAPH_CLIENT_CERTIFICATE",
}
"""Which setting a Microsoft sign-in error code points at."""

_AADSTS = re.compile(r"AADSTS(\d+)")

READ_RETRIES = 3
"""Times a read is tried again after a short Retry-After before the caller hears of the throttling."""


class GraphError(Exception):
    """A Graph or sign-in call failed; ``str()`` is safe to log (no token, no secret)."""


class GraphAuthError(GraphError):
    """Microsoft refused the app's credentials or does not know the tenant: no retry will help."""

    def __init__(self, setting: str, code: str, detail: str):
        super().__init__(f"{setting}: Microsoft refused the sign-in ({code}): {detail}")
        self.setting = setting
        self.code = code


class GraphThrottled(GraphError):
    def __init__(self, retry_after: float):
        super().__init__(f"Microsoft Graph is throttling (429, retry after {retry_after:g} s)")
        self.retry_after = retry_after


class GraphUnavailable(GraphError):
    """Graph (or the sign-in service) did not answer usefully. ``maybe_acted``: the request may have
    reached Graph all the same (a 5xx, a timeout, a connection closed without an answer)."""

    def __init__(self, reason: str, *, maybe_acted: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.maybe_acted = maybe_acted
        self.retry_after = retry_after


class GraphNotFound(GraphError):
    pass


class GraphRefused(GraphError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"Microsoft Graph refused ({status} {code}): {message[:200]}")
        self.status = status
        self.code = code


def aadsts_code(*texts: object) -> str | None:
    for text in texts:
        found = _AADSTS.search(str(text or ""))
        if found:
            return f"AADSTS{found.group(1)}"
    return None


_AADSTS_TEXT = re.compile(r"AADSTS\d+:\s*(?P<text>.*?)(?=\s*Trace ID|\"|$)", re.S)


def auth_error(code: str | None, detail: str, fallback: str = "MSGRAPH_CLIENT_SECRET") -> GraphAuthError:
    number = (code or "").removeprefix("AADSTS")
    found = _AADSTS_TEXT.search(detail or "")
    short = (found.group("text") if found else (detail or "").splitlines()[0] if detail else "").strip(" :.")
    short = short or "sign-in refused"
    return GraphAuthError(AADSTS_SETTING.get(number, fallback), code or "no AADSTS code", short[:160])


def _retry_after(response: requests.Response, default: float = 1.0) -> float:
    value = response.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else default
    except ValueError:
        return default


class GraphClient:
    """One app registration's access to Graph. Thread-safe; build one per process and reuse it."""

    def __init__(
        self,
        *,
        tenant: str,
        client_id: str,
        credential: str | Mapping[str, str],
        authority: str,
        graph_url: str,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        max_wait: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.tenant = tenant
        self.client_id = client_id
        self._credential = credential
        self.authority = f"{authority.rstrip('/')}/{tenant}"
        self.graph_url = graph_url.rstrip("/")
        parts = urlsplit(self.graph_url)
        self.scope = f"{parts.scheme}://{parts.netloc}/.default"
        self.session = session or requests.Session()
        self.timeout = timeout
        self.max_wait = max_wait
        self._sleep = sleep
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    # -- sign-in ---------------------------------------------------------------------------------

    @property
    def _credential_setting(self) -> str:
        return "MSGRAPH_CLIENT_CERTIFICATE" if isinstance(self._credential, Mapping) else "MSGRAPH_CLIENT_SECRET"

    def _application(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                import msal

                host = (urlsplit(self.authority).hostname or "").lower()
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        client_credential=dict(self._credential)
                        if isinstance(self._credential, Mapping)
                        else self._credential,
                        authority=self.authority,
                        http_client=self.session,
                        instance_discovery=None if host in MICROSOFT_AUTHORITY_HOSTS else False,
                        timeout=self.timeout,
                    )
                except requests.RequestException as error:
                    raise GraphUnavailable(f"cannot reach the sign-in service: {type(error).__name__}") from None
                except ValueError as error:
                    # An unknown tenant fails msal's tenant discovery (the AADSTS code is in the answer
                    # msal read, kept as the exception's context); a malformed credential fails here too.
                    code = aadsts_code(error, error.__context__)
                    fallback = "MSGRAPH_TENANT_ID" if "authority" in str(error) else self._credential_setting
                    raise auth_error(code, str(error.__context__ or error), fallback) from None
            return self._app

    def token(self) -> str:
        """An app-only access token from the cache, or a new one (msal refetches under 5 min left)."""
        try:
            result = self._application().acquire_token_for_client(scopes=[self.scope])
        except requests.RequestException as error:
            raise GraphUnavailable(f"cannot reach the sign-in service: {type(error).__name__}") from None
        if result and "access_token" in result:
            return str(result["access_token"])
        result = result or {}
        kind = str(result.get("error", ""))
        description = str(result.get("error_description", ""))
        codes = result.get("error_codes") or []
        code = aadsts_code(description) or (f"AADSTS{codes[0]}" if codes else None)
        if kind in {"invalid_client", "unauthorized_client", "invalid_tenant", "invalid_request"} or (
            code and code.removeprefix("AADSTS") in AADSTS_SETTING
        ):
            raise auth_error(code, description, self._credential_setting)
        raise GraphUnavailable(f"the sign-in service answered {kind or 'nothing useful'}", maybe_acted=False)

    def check(self) -> None:
        """Sign in once: raises ``GraphAuthError`` for wrong credentials, ``GraphUnavailable`` if down."""
        self.token()

    # -- calls -----------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return path if path.startswith("https://") else f"{self.graph_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call; a non-2xx answer is raised as one of the ``GraphError`` kinds."""
        all_headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json", **(headers or {})}
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                json=json,
                data=data,
                headers=all_headers,
                timeout=self.timeout,
            )
        except requests.ConnectTimeout:
            raise GraphUnavailable("Microsoft Graph did not accept the connection", maybe_acted=False) from None
        except requests.ConnectionError as error:
            refused = "NewConnectionError" in repr(error) or "Connection refused" in str(error)
            raise GraphUnavailable(
                f"Microsoft Graph unreachable: {type(error).__name__}", maybe_acted=not refused
            ) from None
        except requests.RequestException as error:
            raise GraphUnavailable(f"Microsoft Graph did not answer: {type(error).__name__}") from None
        status = response.status_code
        if status < 300:
            return response
        if status == 429:
            raise GraphThrottled(_retry_after(response))
        if status >= 500:
            retry = _retry_after(response) if "Retry-After" in response.headers else None
            raise GraphUnavailable(f"Microsoft Graph answered {status}", retry_after=retry)
        code, message = _graph_error(response)
        if status == 404:
            raise GraphNotFound(f"{code}: {message[:200]}")
        raise GraphRefused(status, code, message)

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A read; a Retry-After up to ``max_wait`` seconds is waited out here, a few times."""
        for attempt in range(READ_RETRIES + 1):
            try:
                answer: dict[str, Any] = self.request("GET", path, params=params).json()
                return answer
            except GraphThrottled as throttled:
                if attempt == READ_RETRIES or throttled.retry_after > self.max_wait:
                    raise
                log.info("Graph throttles a read; waiting %.1f s", throttled.retry_after)
                self._sleep(throttled.retry_after)
        raise AssertionError("unreachable")

    def get_all(self, path: str, params: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a collection, page by page through ``@odata.nextLink``."""
        page = self.get(path, params)
        while True:
            yield from page.get("value") or ()
            following = page.get("@odata.nextLink")
            if not following:
                return
            page = self.get(str(following))


def _graph_error(response: requests.Response) -> tuple[str, str]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return "", response.text[:200]
    return str(error.get("code", "")), str(error.get("message", ""))
