"""The routes that carry a job's folder: uploads (``rent --dir``) and downloads
(``jobs download``), added to the market's app by :func:`add_workload_routes`.

Archives travel in base64 parts of at most 128 KiB, so no route needs a body larger
than the API's limit; the stores are :mod:`l2gpu.api.blobs` and :mod:`l2gpu.api.downloads`.
"""

# No "from __future__ import annotations": FastAPI reads the route annotations.

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path

from l2gpu import wire as w
from l2gpu.api import schemas as s
from l2gpu.api.inputs import ID_LIMIT
from l2gpu.api.problems import error_responses as errors
from l2gpu.api.service import MarketService
from l2gpu.core.types import Address
from l2gpu.serving.errors import ApiError

LeaseId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="A lease's (and its job's) id")]
DownloadId = Annotated[int, Path(ge=0, lt=ID_LIMIT, description="A download request's id")]
PartIndex = Annotated[int, Path(ge=0, lt=2**20, description="A part's index, from 0")]
Digest = Annotated[str, Path(pattern=s.SHA256_PATTERN, description="SHA-256, 64 lower-case hex")]
BODY = (413, 422)
SIGNED = (401,)


def _decoded(part: s.PartIn) -> bytes:
    try:
        return base64.b64decode(part.data, validate=True)
    except binascii.Error as exc:
        raise ApiError(f"the part is not base64: {exc}", "send the part's bytes in base64") from exc


def _part(index: int, data: bytes) -> dict[str, Any]:
    return {"index": index, "data": base64.b64encode(data).decode()}


def add_workload_routes(
    app: FastAPI, service: MarketService, caller: Callable[..., Address]
) -> None:
    """Add the upload and download routes; ``caller`` is the app's dependency that
    answers the signed-in caller's address."""
    Caller = Annotated[Address, Depends(caller)]  # noqa: N806 - a type alias, FastAPI style
    leases = service.leases

    @app.post(
        "/uploads",
        tags=["uploads"],
        response_model=w.Upload,
        responses=errors(400, 409, *SIGNED, *BODY),
    )
    def upload(body: s.UploadCreate, who: Caller) -> dict[str, Any]:
        """Declare a folder's archive (its SHA-256 and size) before sending its parts; the
        same digest again answers the upload there, with the parts it still misses."""
        return service.blobs.open_upload(who, body.sha256, body.size)

    @app.put(
        "/uploads/{sha256}/parts/{index}",
        tags=["uploads"],
        response_model=w.Upload,
        responses=errors(400, 404, 409, *SIGNED, *BODY),
    )
    def upload_part(
        sha256: Digest, index: PartIndex, body: s.PartIn, who: Caller
    ) -> dict[str, Any]:
        """Store one part of the caller's archive; the last one makes it complete if the
        parts hash to its digest (else they are dropped: 400)."""
        return service.blobs.put_upload_part(who, sha256, index, _decoded(body))

    @app.get(
        "/agent/leases/{lease_id}/archive/parts/{index}",
        tags=["agent"],
        response_model=w.Part,
        responses=errors(403, 404, 409, 422, *SIGNED),
    )
    def archive_part(lease_id: LeaseId, index: PartIndex, who: Caller) -> dict[str, Any]:
        """A part of the folder the lease's job starts in, for the lease's provider."""
        return _part(index, leases.archive_part(who, lease_id, index))

    @app.post(
        "/jobs/{lease_id}/downloads",
        tags=["jobs"],
        status_code=201,
        response_model=w.Download,
        responses=errors(400, 403, 404, 409, *SIGNED, *BODY),
    )
    def ask_download(lease_id: LeaseId, body: s.DownloadCreate, who: Caller) -> dict[str, Any]:
        """Ask the provider's agent for ``path`` of the lease's folder (the renter's
        EIP-191 signature of the request's message; see docs/workloads.md)."""
        signature = bytes.fromhex(body.signature.removeprefix("0x"))
        return service.downloads.ask(who, lease_id, body.path, body.issued_at, signature)

    @app.get(
        "/jobs/{lease_id}/downloads/{download_id}",
        tags=["jobs"],
        response_model=w.Download,
        responses=errors(403, 404, 422, *SIGNED),
    )
    def get_download(lease_id: LeaseId, download_id: DownloadId, who: Caller) -> dict[str, Any]:
        """A download request: asked, sending, ready (with its archive's parts) or failed."""
        return service.downloads.get(who, lease_id, download_id)

    @app.get(
        "/jobs/{lease_id}/downloads/{download_id}/parts/{index}",
        tags=["jobs"],
        response_model=w.Part,
        responses=errors(403, 404, 409, 422, *SIGNED),
    )
    def download_part(
        lease_id: LeaseId, download_id: DownloadId, index: PartIndex, who: Caller
    ) -> dict[str, Any]:
        """A part of a ready download's archive, for the lease's renter."""
        return _part(index, service.downloads.part(who, lease_id, download_id, index))

    @app.get(
        "/agent/downloads",
        tags=["agent"],
        response_model=list[w.AgentDownload],
        responses=errors(*SIGNED),
    )
    def agent_downloads(who: Caller) -> list[dict[str, Any]]:
        """The download requests waiting for the caller's agent, oldest first."""
        return service.downloads.pending(who)

    @app.post(
        "/agent/downloads/{download_id}",
        tags=["agent"],
        response_model=w.Download,
        responses=errors(403, 404, 409, *SIGNED, *BODY),
    )
    def answer_download(
        download_id: DownloadId, body: s.DownloadAnswer, who: Caller
    ) -> dict[str, Any]:
        """Answer a download: the archive's digest and size (then its parts), or an error."""
        return service.downloads.answer(
            who, download_id, sha256=body.sha256, size=body.size, error=body.error
        )

    @app.put(
        "/agent/downloads/{download_id}/parts/{index}",
        tags=["agent"],
        response_model=w.Download,
        responses=errors(400, 403, 404, 409, *SIGNED, *BODY),
    )
    def download_upload_part(
        download_id: DownloadId, index: PartIndex, body: s.PartIn, who: Caller
    ) -> dict[str, Any]:
        """Store one part of the archive answering a download."""
        return service.downloads.put_part(who, download_id, index, _decoded(body))
