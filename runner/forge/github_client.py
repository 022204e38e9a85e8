"""The PyGithub client as the runner configures it: bounded retries, counted requests,
and errors translated into what a person must do.

Resilient: PyGithub's retry (5xx with backoff, `retry-after`, `x-ratelimit-reset`) is
bounded in attempts and in wait. A POST is never repeated blindly: a 5xx or a dropped
connection may come after GitHub created the issue, PR or comment, so the client hands
the failure back and the forge looks for the item's marker before creating it again
(`create_once`). Rate-limit answers (403/429) are safe to repeat: nothing was applied.

A rejected or under-privileged token becomes a `ForgeCredentialError` naming the token or
the permission, since there may be no working token left to open an issue with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from runner.envvars import integer, number
from runner.forge.base import ForgeCredentialError, ForgeError

T = TypeVar("T")


def retry_settings(environ: Mapping[str, str]) -> tuple[int, float]:
    """(retries, backoff factor) from FLEET_GITHUB_RETRIES and FLEET_GITHUB_BACKOFF."""
    return (
        integer(environ, "FLEET_GITHUB_RETRIES", 5),
        number(environ, "FLEET_GITHUB_BACKOFF", 1.0),
    )


def _retry_class() -> type:
    from github import GithubRetry

    class CreateSafeRetry(GithubRetry):
        """GithubRetry that never repeats a POST whose request may have been applied."""

        def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
            if method == "POST" and status_code not in (403, 429):
                return False
            return bool(super().is_retry(method, status_code, has_retry_after))

        def increment(
            self,
            method: Any = None,
            url: Any = None,
            response: Any = None,
            error: Any = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Any:
            if method == "POST" and error is not None and self._is_read_error(error):
                raise error  # sent, maybe applied: the forge looks before creating again
            return super().increment(method, url, response, error, _pool, _stacktrace)

    return CreateSafeRetry


def connect(environ: Mapping[str, str]) -> tuple[Any, str]:
    """A lazy PyGithub client and the `owner/name` it works on, from the environment."""
    from github import Auth, Github

    from runner.forge import app_auth

    token, repository = app_auth.token(environ), environ.get("GITHUB_REPOSITORY")
    if not token or not repository or "/" not in repository:
        raise ForgeCredentialError(
            "the GitHub forge needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name); "
            "inside Actions pass `GITHUB_TOKEN: ${{ github.token }}` in the step's env"
        )
    interval = number(environ, "FLEET_GITHUB_WRITE_INTERVAL", 1.0)
    retries, backoff = retry_settings(environ)
    retry = _retry_class()(
        total=retries,
        backoff_factor=backoff,
        secondary_rate_wait=number(environ, "FLEET_GITHUB_SECONDARY_WAIT", 60),
        max_rate_limit_wait=number(environ, "FLEET_GITHUB_MAX_WAIT", 300),
        status_forcelist=[429, *range(500, 600)],
    )
    gh = Github(
        auth=Auth.Token(token),
        base_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
        retry=retry,
        timeout=30,
        lazy=True,
        seconds_between_requests=interval / 4,
        seconds_between_writes=interval,
    )
    return gh, repository


def ambiguous(exc: BaseException) -> bool:
    """A failure after which a write may or may not have been applied."""
    from github import GithubException
    from requests.exceptions import ConnectionError, Timeout

    if isinstance(exc, GithubException):
        return exc.status >= 500
    return isinstance(exc, ConnectionError | Timeout)


def create_once(
    create: Callable[[], T],
    find: Callable[[], T | None],
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> T:
    """`create()`, at most once in effect: after an ambiguous failure, `find()` (by the
    item's marker) comes first, and only if it finds nothing is the create tried again."""
    for attempt in range(retries + 1):
        try:
            return create()
        except Exception as exc:
            if not ambiguous(exc) or attempt == retries:
                raise
        sleep(backoff * 2**attempt)
        found = find()
        if found is not None:
            return found
    raise AssertionError("unreachable")  # the last attempt returns or raises


class RequestCounter(logging.Handler):
    """Counts PyGithub's requests (it logs one debug record per request)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def count_requests() -> RequestCounter:
    """Start counting PyGithub's requests; one counter per process counts at a time."""
    counter = RequestCounter()
    logger = logging.getLogger("github.Requester")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # counted, never printed (headers would be noise)
    for old in [h for h in logger.handlers if isinstance(h, RequestCounter)]:
        logger.removeHandler(old)
    logger.addHandler(counter)
    return counter


@contextmanager
def translate_errors(what: str, permission: str) -> Iterator[None]:
    """PyGithub's exceptions as ForgeErrors that say what to do; `what` completes
    "while trying to ...", `permission` is the workflow permission that allows it."""
    from github import BadCredentialsException, GithubException, RateLimitExceededException
    from requests.exceptions import ConnectionError, RetryError, Timeout

    try:
        yield
    except RetryError:  # urllib3 gave up on 5xx answers: GitHub's side, not a bug
        raise ForgeError(
            f"GitHub kept answering with server errors (5xx) while trying to {what}, "
            "after the retries (FLEET_GITHUB_RETRIES)",
            hint="GitHub may be unavailable (https://www.githubstatus.com): run the command "
            "again later",
        ) from None
    except (ConnectionError, Timeout) as exc:  # after the bounded retries: unreachable
        raise ForgeError(
            f"cannot reach the GitHub API while trying to {what}: {type(exc).__name__}",
            hint="check GITHUB_API_URL (unset means https://api.github.com) and the "
            "network, then run the command again",
        ) from None
    except BadCredentialsException:
        raise ForgeCredentialError(
            f"GITHUB_TOKEN was rejected (401 Bad credentials) while trying to {what}: it is "
            "missing, expired or revoked; pass `GITHUB_TOKEN: ${{ github.token }}` (or a "
            "token with repo access) in the step's env"
        ) from None
    except RateLimitExceededException as exc:
        raise ForgeError(
            f"GitHub rate limit while trying to {what}; the wait exceeded the "
            f"limit set by FLEET_GITHUB_MAX_WAIT ({exc})"
        ) from None
    except GithubException as exc:
        message = exc.data.get("message", "") if isinstance(exc.data, dict) else str(exc)
        if exc.status == 403:
            raise ForgeCredentialError(
                f"GITHUB_TOKEN may not {what} ({exc.status} {message}): give the job "
                f"`permissions: {permission}` in the workflow"
            ) from None
        raise ForgeError(f"GitHub refused to {what}: {exc.status} {message}") from None
