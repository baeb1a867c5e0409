"""Products: the games, apps or movies reviews are about, and finding one from what a user typed.

Every command that takes a PRODUCT (timeline, events, alerts, responsiveness) resolves it here,
the same way: an exact external id (a Steam app id), else an exact name (any case), else the one
name that contains it. Unknown or ambiguous references are one-line errors that name candidates.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.schema import products

#: A Store (one read transaction per call) or an open connection.
Source = Store | sa.Connection


class ProductNotFoundError(AsaasError):
    """No product (or more than one) matches what the user typed."""


@dataclass(frozen=True)
class Product:
    id: int
    source: str
    external_id: str
    name: str | None

    @property
    def label(self) -> str:
        """``name (external id)``, or the external id alone."""
        return f"{self.name} ({self.external_id})" if self.name else self.external_id


def all_products(src: Source) -> list[Product]:
    """Every product, by internal id."""
    if isinstance(src, Store):
        with src.read_transaction() as conn:
            return all_products(conn)
    rows = src.execute(sa.select(products.c.id, products.c.source, products.c.external_id,
                                 products.c.name).order_by(products.c.id))
    return [Product(int(r[0]), r[1], r[2], r[3]) for r in rows]


def products_by_id(src: Source) -> dict[int, Product]:
    return {p.id: p for p in all_products(src)}


def match_product(candidates: Sequence[Product], ref: str) -> Product:
    """The product ``ref`` names among ``candidates`` (see the module docstring)."""
    text = str(ref).strip()
    if not text:
        raise ProductNotFoundError("empty product: give a product id or name (see `asaas sql "
                                   "\"SELECT external_id, name FROM products\"`)")
    if not candidates:
        raise ProductNotFoundError(f"unknown product {text!r}: the database has no products "
                                   "yet; ingest reviews with products first (e.g. `asaas "
                                   "ingest --format steam ...`)")
    lower = text.casefold()
    for matches in ([p for p in candidates if p.external_id == text],
                    [p for p in candidates if (p.name or "").casefold() == lower],
                    [p for p in candidates if lower in (p.name or "").casefold()]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listed = "; ".join(p.label for p in matches[:8])
            more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
            raise ProductNotFoundError(f"{text!r} matches {len(matches)} products: {listed}"
                                       f"{more}; give the product id")
    names = {(p.name or "").casefold(): p for p in candidates if p.name}
    close = [names[n].label for n in difflib.get_close_matches(lower, list(names), n=5,
                                                               cutoff=0.5)]
    ids = difflib.get_close_matches(text, [q.external_id for q in candidates], 3, 0.8)
    close += [p.label for p in candidates if p.external_id in ids]
    hint = f"; close matches: {'; '.join(dict.fromkeys(close))}" if close else \
        f"; {len(candidates)} products, e.g. {'; '.join(p.label for p in candidates[:3])}"
    raise ProductNotFoundError(f"unknown product {text!r}{hint}")


def find_product(src: Source, ref: str | int) -> Product:
    """The product ``ref`` names; an int is an internal id."""
    candidates = all_products(src)
    if isinstance(ref, int):
        for p in candidates:
            if p.id == ref:
                return p
        raise ProductNotFoundError(f"no product with id {ref}")
    return match_product(candidates, ref)
