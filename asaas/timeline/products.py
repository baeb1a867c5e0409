"""Products: the games, apps or movies reviews are about, and finding one from what a user typed.

Every command that takes a PRODUCT (timeline, events, alerts, responsiveness) resolves it here,
the same way: an exact external id (a Steam app id), else an exact name (any case), else the one
name that contains it; where several products match, ``--dataset`` picks the one of that
dataset (``in_dataset``: an app id present in two datasets). Unknown or ambiguous references
are one-line errors that name candidates, each name cut to ``NAME_IN_ERRORS`` characters (a
product's name comes from the data, and may be any length).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from asaas.errors import AsaasError
from asaas.store import Store
from asaas.store.schema import products, reviews

#: A Store (one read transaction per call) or an open connection.
Source = Store | sa.Connection


#: Longest product name or reference an error message quotes whole.
NAME_IN_ERRORS = 80


def clip(text: str, limit: int = NAME_IN_ERRORS) -> str:
    """``text`` on one line and at most ``limit`` characters (with "..." and its length when
    cut): how an error quotes a name that came from the data or a user."""
    one_line = " ".join(str(text).split())
    if len(one_line) <= limit:
        return one_line
    return f"{one_line[:limit - 3]}... ({len(one_line):,} characters)"


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

    @property
    def short_label(self) -> str:
        """``label`` with the name and id cut for an error message (see ``clip``)."""
        ext = clip(self.external_id, 40)
        return f"{clip(self.name)} ({ext})" if self.name else ext


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


#: Narrows products that all match what a user typed to those of one dataset (``in_dataset``).
Narrow = Callable[[Sequence[Product]], list[Product]]


def match_product(candidates: Sequence[Product], ref: str, *, narrow: Narrow | None = None,
                  dataset: str | None = None) -> Product:
    """The product ``ref`` names among ``candidates`` (see the module docstring). When several
    match, ``narrow`` (``in_dataset``, for ``--dataset``) keeps those of ``dataset``."""
    text = str(ref).strip()
    shown = repr(clip(text))
    if not text:
        raise ProductNotFoundError("empty product: give a product id or name (see `asaas sql "
                                   "\"SELECT external_id, name FROM products\"`)")
    if not candidates:
        raise ProductNotFoundError(f"unknown product {shown}: the database has no products "
                                   "yet; ingest reviews with products first (e.g. `asaas "
                                   "ingest --format steam ...`)")
    lower = text.casefold()
    for matches in ([p for p in candidates if p.external_id == text],
                    [p for p in candidates if (p.name or "").casefold() == lower],
                    [p for p in candidates if lower in (p.name or "").casefold()]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            return _ambiguous(shown, matches, narrow, dataset)
    names = {(p.name or "").casefold(): p for p in candidates if p.name}
    close = [names[n].short_label for n in difflib.get_close_matches(
        lower[:1000], list(names), n=5, cutoff=0.5)]
    ids = difflib.get_close_matches(text[:1000], [q.external_id for q in candidates], 3, 0.8)
    close += [p.short_label for p in candidates if p.external_id in ids]
    hint = f"; close matches: {'; '.join(dict.fromkeys(close))}" if close else \
        f"; {len(candidates)} products, e.g. {'; '.join(p.short_label for p in candidates[:3])}"
    raise ProductNotFoundError(f"unknown product {shown}{hint}")


def _ambiguous(shown: str, matches: list[Product], narrow: Narrow | None,
               dataset: str | None) -> Product:
    """The one of several matches in ``dataset`` (``narrow``), else a one-line error listing
    them (each name cut short) and the fix."""
    where = ""
    if narrow is not None:
        kept = narrow(matches)
        if len(kept) == 1:
            return kept[0]
        if not kept:
            listed = "; ".join(f"{p.short_label} in {clip(p.source, 40)}" for p in matches[:8])
            raise ProductNotFoundError(f"{shown} matches {len(matches)} products, none with "
                                       f"reviews in dataset {clip(str(dataset), 40)!r}: "
                                       f"{listed}; pick one of their datasets with --dataset")
        matches, where = kept, f" in dataset {clip(str(dataset), 40)!r}"
    several = narrow is None and len({p.source for p in matches}) > 1
    listed = "; ".join(f"{p.short_label} in {clip(p.source, 40)}" if several else p.short_label
                       for p in matches[:8])
    more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
    fix = "pick the dataset with --dataset" if several else "give the product id"
    raise ProductNotFoundError(f"{shown} matches {len(matches)} products: {listed}{more}{where}"
                               f"; {fix}")


def in_dataset(src: Source, dataset: str | None) -> Narrow | None:
    """For ``--dataset``: keeps, of several products, those of ``dataset``: ingested into it
    (``products.source``) or with reviews in it (a second file about the same Steam apps).
    None when no dataset is given."""
    if dataset is None:
        return None

    def narrow(found: Sequence[Product]) -> list[Product]:
        ids = [p.id for p in found]
        if isinstance(src, Store):
            with src.read_transaction() as conn:
                reviewed = _reviewed_in(conn, ids, dataset)
        else:
            reviewed = _reviewed_in(src, ids, dataset)
        return [p for p in found if p.source == dataset or p.id in reviewed]

    return narrow


def _reviewed_in(conn: sa.Connection, ids: list[int], dataset: str) -> set[int]:
    """Which of these products have a review in ``dataset`` (one index probe per product)."""
    found = conn.execute(sa.select(reviews.c.product_id).distinct().where(
        reviews.c.product_id.in_(ids), reviews.c.dataset == dataset))
    return {int(r[0]) for r in found}


def find_product(src: Source, ref: str | int, *, dataset: str | None = None) -> Product:
    """The product ``ref`` names; where several match, the one of ``dataset`` when given (an id
    present in two datasets is ambiguous only without it); an int is an internal id."""
    candidates = all_products(src)
    if isinstance(ref, int):
        for p in candidates:
            if p.id == ref:
                return p
        raise ProductNotFoundError(f"no product with id {ref}")
    return match_product(candidates, ref, narrow=in_dataset(src, dataset), dataset=dataset)
