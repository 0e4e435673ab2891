"""The templates' gettext, looking the request's translations up once instead of per string.

Flask-Babel gives Jinja ``gettext = lambda s: get_translations().ugettext(s)``, and
``get_translations()`` walks the app context three times (the domain, the translations
cache, the locale) for every string: the receipt page translates about 50 strings, and
those lookups were about 8 % of a tip submission's profile (bench/RESULTS.md). Here the
translations object is kept on Flask-Babel's own per-request namespace next to the locale
and domain it was found for, and is looked up again whenever either changes
(``force_locale``, ``refresh``). The strings, the translations and the escaping are the
same: only the callables given to Jinja change, with Flask-Babel's own signatures.
"""

from __future__ import annotations

from flask import Flask, g
from flask_babel import get_translations

_MEMO = "tipline_translations"


def current_translations():
    """Flask-Babel's ``get_translations()``, remembered for the current locale and domain."""
    try:
        ctx = g._flask_babel
    except (AttributeError, RuntimeError):  # first call of the request, or no app context
        return get_translations()
    locale = getattr(ctx, "babel_locale", None)
    memo = getattr(ctx, _MEMO, None)
    if (
        memo is not None
        and locale is not None
        and memo[0] is locale
        and memo[1] is getattr(ctx, "babel_domain", None)
    ):
        return memo[2]
    translations = get_translations()
    setattr(
        ctx,
        _MEMO,
        (getattr(ctx, "babel_locale", None), getattr(ctx, "babel_domain", None), translations),
    )
    return translations


def init_app(app: Flask) -> None:
    """Replace the gettext callables Flask-Babel gave Jinja (after ``babel.init_app``)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: current_translations().ugettext(s),
        ngettext=lambda s, p, n: current_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: current_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: current_translations().unpgettext(c, s, p, n),
    )
