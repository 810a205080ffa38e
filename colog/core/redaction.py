"""Masking secrets in text that is shown to people: URLs with passwords in them.

Used by `colog config`, error lines and log output; it needs nothing but the standard library,
so every layer can use it.
"""

from __future__ import annotations

import re

# scheme://userinfo@host: the userinfo runs to the last "@" before the path, so a password
# with an unescaped "@" in it is masked whole.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/\s]*)@", re.I)
_SECRET_QUERY = re.compile(r"(?P<key>[?&](?:password|passwd|pass|pwd|secret|token)=)[^&\s]*",
                           re.I)


def redact(text: str) -> str:
    """`text` with every password in a URL replaced by ***; a user name alone stays."""
    def mask(match: re.Match) -> str:
        user, colon, _ = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:***@" if colon else f"{match['scheme']}***@"

    return _SECRET_QUERY.sub(r"\g<key>***", _USERINFO.sub(mask, text))


def url_passwords(url: str) -> list[str]:
    """The passwords embedded in the userinfo of the URLs in `url`."""
    return [m["userinfo"].partition(":")[2] for m in _USERINFO.finditer(url)]
