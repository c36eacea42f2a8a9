"""`domain(url)`: the host a link points to (SPEC §2.4).

A string without a scheme is read as `https://` + string. The host is lower-cased, IDNA-encoded to
ASCII, and loses its port, userinfo, a trailing `.` and one leading `www.`. Anything that has no
valid host gives None. Input comes from untrusted text, so this never raises.

Parsing follows what a browser does with an `http(s)` URL where it matters for policy checks: `\\`
ends the authority like `/` (so `https://evil.example\\@good.example` is `evil.example`), tabs and
newlines are ignored, and a percent-encoded host is decoded (so `bit%2Ely` is `bit.ly`).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

try:  # IDNA 2008 with UTS #46 mapping; the stdlib codec (IDNA 2003) is the fallback.
    import idna as _idna
except ImportError:  # pragma: no cover - idna is a dependency in practice
    _idna = None

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_HOST_CHARS = re.compile(r"[a-z0-9_.-]+\Z")  # after IDNA; `_` appears in real host names
_LONG_LABEL = re.compile(r"[^.]{64}")
_STRIP = "".join(chr(c) for c in range(0x21)) + "\x7f"
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_SLASHES = "/\\"
_MAX_INPUT_HOST = 1024  # longer cannot be a valid host; spares IDNA a megabyte of text
_MAX_HOST = 253


def domain(url: str | None) -> str | None:
    """The host of `url` as SPEC §2.4 defines it, or None."""
    if not isinstance(url, str):
        return None
    try:
        host = _host(url)
        return _canonical(host) if host else None
    except Exception:  # hostile input must never break an evaluation
        return None


def _host(url: str) -> str | None:
    """The raw host part of `url` (brackets kept for IPv6), or None when it has no authority."""
    s = url.strip(_STRIP)
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.translate(_TAB_NEWLINE)
    m = _SCHEME.match(s)
    if s.startswith("//"):
        s = s[2:]
    elif m is not None and not (m.end() < len(s) and _is_port(s[m.end() :])):
        # A real scheme: an authority must follow (`mailto:` and `urn:` name no host).
        rest = s[m.end() :]
        if len(rest) < 2 or rest[0] not in _SLASHES or rest[1] not in _SLASHES:
            return None
        s = rest.lstrip(_SLASHES)
    end = _AUTHORITY_END.search(s)
    authority = s if end is None else s[: end.start()]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        close = host.find("]")
        if close < 0 or not _is_port(host[close + 1 :], colon=True):
            return None
        return host[: close + 1]
    host, colon, port = host.partition(":")
    if colon and not _is_port(port):
        return None
    return host


def _is_port(text: str, *, colon: bool = False) -> bool:
    """True for "" or ASCII digits (with a leading `:` when `colon`), then the end or a path.

    Without a scheme, `example.com:8080/path` has a port where a scheme's body would be.
    """
    if colon:
        if not text:
            return True
        if text[0] != ":":
            return False
        text = text[1:]
    digits = len(text) - len(text.lstrip("0123456789"))
    return digits == len(text) or (digits > 0 and text[digits] in "/?#\\")


def _canonical(host: str) -> str | None:
    if host.startswith("["):
        try:
            return ipaddress.IPv6Address(host[1:-1]).compressed
        except ValueError:
            return None
    if "%" in host:
        host = unquote(host, errors="strict")
    if len(host) > _MAX_INPUT_HOST:
        return None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        return None
    if not host.isascii():
        host = _to_ascii(host)
        if host is None:
            return None
        host = host.lower()
    if (
        len(host) > _MAX_HOST
        or not _HOST_CHARS.match(host)
        or host.startswith(".")
        or ".." in host
        or _LONG_LABEL.search(host)
    ):
        return None
    if host.startswith("www."):
        host = host[4:]
    return host or None


def _to_ascii(host: str) -> str | None:
    try:
        if _idna is not None:
            return _idna.encode(host, uts46=True).decode("ascii")
        return host.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None
