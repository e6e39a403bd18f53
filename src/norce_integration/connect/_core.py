"""The pure half of the Connect resource: header text, request headers, response parsing.

No I/O: these take values (a header model, an ``httpx.Response`` already received) and
return values or raise; :mod:`._async_resource` and its generated twin do the sending.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import attrs
import cattrs
import httpx

from .._convert import converter
from .._exceptions import ResponseValidationError
from ._rules import check_header, header_json
from .models import ImportKind, JobResponse


__all__ = ["SubmittedImport", "header_value", "import_headers", "job_response", "structure"]

T = TypeVar("T")


@attrs.frozen
class SubmittedImport:
    """What was sent and what Norce answered.

    Attributes:
        kind: the import kind.
        response: Norce's ``JobResponse`` (``response.job_id`` is the job to track).
        item_count: items streamed in the body.
        size: body size in bytes.
        digest: sha256 hex of the exact body bytes.
        header: the ``X-StormConnect-Header`` value sent.
    """

    kind: ImportKind
    response: JobResponse
    item_count: int
    size: int
    digest: str
    header: str

    @property
    def job_id(self) -> int:
        """The Connect job id (``submit`` guarantees there is one)."""
        assert self.response.job_id is not None
        return self.response.job_id

    @property
    def payload_size(self) -> int:
        """Alias of :attr:`size`."""
        return self.size

    @property
    def payload_digest(self) -> str:
        """Alias of :attr:`digest`."""
        return self.digest


def header_value(header: Any, kind: ImportKind | str) -> str:
    """The exact ``X-StormConnect-Header`` text for ``header`` (one line of ASCII JSON).

    Raises:
        HeaderRuleError: the header breaks a Norce rule for ``kind``.
    """
    check_header(header, ImportKind(kind))
    raw = header_json(header)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        # HTTP header values must be ASCII: escape non-ASCII characters as JSON \u escapes.
        return json.dumps(json.loads(raw), ensure_ascii=True, separators=(",", ":"))


def import_headers(value: str) -> dict[str, str]:
    """The request headers of an import POST."""
    return {"X-StormConnect-Header": value, "Content-Type": "application/json"}


def structure(data: Any, cls: type[T], response: httpx.Response) -> T:
    """``data`` as ``cls``, or a :class:`ResponseValidationError` naming the paths."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        errors = (
            cattrs.transform_error(exc)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise ResponseValidationError(
            f"unexpected {cls.__name__} from Norce",
            errors=errors,
            body=response.text,
            method=response.request.method,
            url=str(response.request.url),
        ) from exc


def job_response(response: httpx.Response, data: Any) -> JobResponse:
    """The ``JobResponse`` of an import POST; it must name a job."""
    result = structure(data, JobResponse, response)
    if result.job_id is None:
        summary = result.validation_summary
        messages = list(summary.messages or []) if summary is not None else []
        raise ResponseValidationError(
            "Norce accepted the import but returned no JobId",
            errors=["$.JobId: missing", *messages],
            body=response.text,
            method=response.request.method,
            url=str(response.request.url),
        )
    return result
