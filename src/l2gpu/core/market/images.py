"""Which job backend an offer runs on, and which container images its jobs may use.

An offer says, in its signed terms, how its provider's agent runs jobs (``backend``:
``local`` processes, ``container`` engines, a ``ray`` cluster) and, for containers, the
provider's image policy (``images``: comma-separated patterns, ``*`` matching any
run of characters, the first one being the image a job without its own runs in). A
renter asking for an image (``rent --image``, a task's ``image:``) gets it only from a
container offer whose policy allows it; the market refuses anything else before a
channel is opened (the quote), and the agent checks again before it starts the job.

    ImageError (L2gpuError)
    ├── an image reference that is empty, too long, or has characters no engine takes
    ├── an image asked of an offer whose backend runs no containers
    └── an image outside the provider's allowed patterns

Pure: text in, a reason or a named error out.
"""

from __future__ import annotations

import fnmatch
import re

from l2gpu.core.errors import L2gpuError

BACKENDS = ("local", "container", "ray")
"""What an offer's ``backend`` may say."""
MAX_IMAGE = 255
MAX_IMAGES = 512
"""The longest ``images`` policy of an offer, in characters."""
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")
_PATTERN = re.compile(r"[A-Za-z0-9*?][A-Za-z0-9._/:@+*?-]*")


class ImageError(L2gpuError):
    """An image that cannot be run on the offer asked, or is not an image at all."""


def check_image(image: str, *, name: str = "--image") -> str:
    """``image`` if it is a reference an engine can pull (``repo/name:tag`` or
    ``...@sha256:...``, at most 255 characters); raises :class:`ImageError` if not."""
    if not isinstance(image, str) or not image.strip():
        raise ImageError(f"{name} is empty", "name an image, e.g. pytorch/pytorch:2.3.0")
    if len(image) > MAX_IMAGE:
        raise ImageError(
            f"{name} is {len(image)} characters long, above {MAX_IMAGE}",
            "name the image by a shorter reference",
        )
    if not _IMAGE.fullmatch(image):
        raise ImageError(
            f"{name} {image!r} is not an image reference",
            "write it as an engine does, e.g. pytorch/pytorch:2.3.0 or "
            "ghcr.io/org/app@sha256:<digest>",
        )
    repository, at, _digest = image.partition("@")
    if at and ":" in repository.rsplit("/", 1)[-1]:
        # Attacked: "repo:2.4-cuda12@sha256:<digest>" passed the pattern "repo:*-cuda12*"
        # by its tag, yet engines run the digest and ignore the tag: any image of the
        # repository ran under a tag the provider allowed. A reference names one or
        # the other, so the allow-list checks what runs.
        raise ImageError(
            f"{name} {image!r} names both a tag and a digest (engines run the digest)",
            "name the image by its tag or by its digest (repo@sha256:<digest>), not both",
        )
    return image


def image_patterns(images: str) -> tuple[str, ...]:
    """The patterns of an offer's ``images`` policy, in order (blank ones dropped)."""
    return tuple(p.strip() for p in images.split(",") if p.strip())


def policy_problem(backend: str, images: str) -> str | None:
    """What is wrong with an offer's ``backend`` and ``images`` (None: nothing)."""
    if backend not in BACKENDS:
        return f"backend {backend!r} is not one of {', '.join(BACKENDS)}"
    if not isinstance(images, str) or len(images) > MAX_IMAGES:
        return f"images must be text of at most {MAX_IMAGES} characters"
    patterns = image_patterns(images)
    if backend != "container" and patterns:
        return f"a {backend} backend runs no images, yet the offer allows {images!r}"
    if backend == "container" and not patterns:
        return "a container backend must name at least the image its jobs run in"
    for pattern in patterns:
        if not _PATTERN.fullmatch(pattern):
            return f"images holds {pattern!r}, neither an image nor a pattern of one"
    return None


def is_allowed(images: str, image: str) -> bool:
    """Whether ``image`` matches one of the patterns of the policy ``images``."""
    return any(fnmatch.fnmatchcase(image, p) for p in image_patterns(images))


def image_refusal(offer_id: int, backend: str, images: str, image: str | None) -> ImageError | None:
    """Why offer ``offer_id`` (of ``backend``, allowing ``images``) cannot run a job in
    ``image``, as the error to raise; None when it can (or no image is asked)."""
    if image is None:
        return None
    check_image(image)
    if backend != "container":
        return ImageError(
            f"offer {offer_id} runs jobs on its provider's {backend} backend, not in "
            f"containers: it cannot run the image {image}",
            "rent an offer whose backend is container ('l2gpu offers search "
            "backend=container'), or rent without --image",
        )
    if not is_allowed(images, image):
        return ImageError(
            f"offer {offer_id}'s provider allows only the images {images}; {image} is not "
            "one of them",
            "ask for one of those images, or choose another offer",
        )
    return None
