"""HTML pages: rendering the templates in ``asaas/templates`` and writing the file.

Every page is one self-contained file (inline SVG, CSS and a few lines of script; nothing
fetched from the network), rendered by Jinja with autoescaping on, so no value reaches the HTML
unescaped, and written atomically: a reader, a web server or a mail job never sees half a page.
The pages themselves sit beside what they show: ``asaas/report_page.py`` (model metrics) and
``asaas/timeline/page.py`` (sentiment over time).
"""

from __future__ import annotations

import os
import stat
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from asaas import __version__
from asaas.clock import utcnow
from asaas.errors import AsaasError
from asaas.tables import format_cell


@cache
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("asaas", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["cell"] = format_cell
    # Column names may wrap after their underscores (a zero-width space), so that a wide table
    # of short numbers is not as wide as its longest names.
    env.filters["breakable"] = lambda name: str(name).replace("_", "_\u200b")
    return env


def render(template: str, **context: Any) -> str:
    """The page ``template`` with ``context``, plus the asaas version and the time (UTC)."""
    stamp = utcnow().strftime("%Y-%m-%d %H:%M UTC")
    return _environment().get_template(template).render(version=__version__, generated=stamp,
                                                         **context)


def check_target(path: str | Path) -> Path:
    """``path`` as a Path, refused before any work when its folder does not exist."""
    target = Path(path)
    if not target.parent.exists():
        raise AsaasError(f"cannot write {target}: folder {target.parent} does not exist")
    return target


def write_page(path: str | Path, page: str) -> Path:
    """Write ``page`` to ``path`` atomically: a temporary file in the same folder, then renamed
    over the target (readable as a file the user writes, not 0600 as a temp file would be).

    A symbolic link is followed (the file it points to is replaced, the link kept), and what is
    not a plain file (/dev/stdout, a FIFO, /dev/full) is written in place: renaming over it
    replaced the device itself when run as root."""
    target = check_target(path)
    try:
        kind = os.stat(target).st_mode  # through links
    except FileNotFoundError:
        kind = None
    except OSError as exc:
        raise AsaasError(f"cannot write {target}: {exc.strerror or exc}") from None
    if kind is not None and not stat.S_ISREG(kind):
        try:
            with open(target, "w", encoding="utf-8") as f:
                f.write(page)
        except OSError as exc:
            raise AsaasError(f"cannot write {target}: {exc.strerror or exc}") from None
        return target
    real = Path(os.path.realpath(target))
    tmp = real.with_name(f".{real.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, real)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AsaasError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
