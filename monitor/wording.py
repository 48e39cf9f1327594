"""A message's wording in Chinese and English (see `monitor.messages`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Wording:
    """A message's templates (str.format fields name its parameters)."""

    zh: str
    en: str
    durations: tuple[str, ...] = ()  # parameters that are durations (spelled out in Chinese)
    # Parameters quoted as a platform, a library or an address wrote them (a body
    # excerpt, an errmsg, a host): shown as they are in either language.
    quoted: tuple[str, ...] = ()
    # Parameters that take one of a few English phrases, with each one's Chinese.
    terms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
