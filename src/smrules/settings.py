"""The policy header's settings, resolved over base policies (SPEC §2.3)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from . import nodes as n
from .errors import Diagnostic

KINDS = (
    "post",
    "comment",
    "reply",
    "share",
    "message",
    "livestream",
    "review",
    "job_ad",
    "profile_update",
    "tool_request",
    "account_connection",
)


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    title: str | None = None
    version: str | None = None
    description: str | None = None
    owner: str | None = None
    default: str = "allow"
    default_kinds: frozenset[str] | None = None  # `default deny for [...]`: only these kinds
    on_error: str = "deny"
    timezone: str = "UTC"

    @property
    def tz(self) -> dt.tzinfo:
        return zoneinfo.ZoneInfo(self.timezone) if self.timezone != "UTC" else dt.timezone.utc

    def default_denies(self, kind: object) -> bool:
        if self.default != "deny":
            return False
        return self.default_kinds is None or kind in self.default_kinds


def resolve_settings(
    name: str, headers: tuple[n.PolicyHeader, ...], diagnostics: list[Diagnostic]
) -> Settings:
    """Apply each header in order (base policies first); a later setting replaces an earlier."""
    values: dict[str, object] = {}
    for header in headers:
        seen: dict[str, n.Setting] = {}
        for setting in header.settings:
            if setting.name in seen:
                diagnostics.append(
                    Diagnostic(
                        "duplicate-setting",
                        f"`{setting.name}` is set twice in the policy header",
                        setting.span,
                        help=f"the first is at {seen[setting.name].span}",
                    )
                )
                continue
            seen[setting.name] = setting
            if setting.name == "default":
                values["default"] = setting.value
                values["default_kinds"] = _kinds(setting, diagnostics)
            elif setting.name == "timezone":
                values["timezone"] = _timezone(setting, diagnostics)
            elif setting.name != "extends":
                values[setting.name] = setting.value
    return Settings(name=name, **values)  # type: ignore[arg-type]


def _kinds(setting: n.Setting, diagnostics: list[Diagnostic]) -> frozenset[str] | None:
    if setting.kinds is None:
        return None
    kinds: list[str] = []
    for item in setting.kinds.items:
        value = getattr(item, "value", None)
        if isinstance(item, n.Literal) and type(value) is str and value in KINDS:
            kinds.append(value)
        else:
            shown = f"`{value}`" if type(value) is str else "this item"
            diagnostics.append(
                Diagnostic(
                    "bad-setting",
                    f"{shown} is not an activity kind",
                    item.span,
                    help="kinds are: " + ", ".join(KINDS),
                )
            )
    return frozenset(kinds)


def _timezone(setting: n.Setting, diagnostics: list[Diagnostic]) -> str:
    name = str(setting.value)
    if name == "UTC":
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        diagnostics.append(
            Diagnostic(
                "bad-setting",
                f"unknown time zone `{name}`",
                setting.span,
                help="use an IANA name such as `Europe/Berlin` or `UTC`",
            )
        )
        return "UTC"
    return name
