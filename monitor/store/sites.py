"""Government websites, their columns, and what each fetch of their pages found."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from monitor.dates import from_db, to_db
from monitor.models import ColumnKind, SiteTarget
from monitor.store.base import StoreBase
from monitor.store.errors import StoreError
from monitor.store.sql import _id_list


@dataclass(slots=True)
class SiteRow:
    """A website as the sites roster lists it."""

    id: int
    site_code: str
    name: str
    url: str
    unit: str
    unit_id: int
    region: str
    roster_order: int
    retired: bool = False


@dataclass(slots=True)
class ColumnRow:
    """A column (栏目) of a website: its listing page and type."""

    id: int
    site: int
    name: str
    url: str
    kind: ColumnKind
    date_selector: str
    position: int
    proposed: bool = False


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """One row of a sites roster, as an import writes it."""

    site_code: str
    name: str
    url: str
    unit: str
    region: str


@dataclass(frozen=True, slots=True)
class ColumnEntry:
    """One row of a columns roster, as an import writes it."""

    site_code: str
    name: str
    url: str
    kind: ColumnKind
    date_selector: str = ""


@dataclass(slots=True)
class SiteObservation:
    """One fetch of a site's page and what was read from it (ok=False: a failed check)."""

    site: int
    target: SiteTarget
    url: str
    observed_at: datetime
    ok: bool
    reachable: bool | None = None
    column_id: int | None = None
    page: str | None = None
    sweep: str | None = None
    status: int | None = None
    items: int | None = None
    newest_date: date | None = None
    newest_title: str | None = None
    newest_url: str | None = None
    detail: str | None = None
    id: int | None = None
    # The detail as a message code and its parameters (None: free text, or stored before codes).
    detail_code: str | None = None
    detail_params: dict[str, Any] | None = None


@dataclass(slots=True)
class SiteEvidence:
    """What a site's verdict at a moment rests on: the newest fetch of each page."""

    homepage: SiteObservation | None = None
    columns: dict[int, SiteObservation] = field(default_factory=dict)
    links: list[SiteObservation] = field(default_factory=list)
    availability: list[SiteObservation] = field(default_factory=list)


_OBS_FIELDS = (
    "id",
    "site",
    "target",
    "column_id",
    "url",
    "page",
    "sweep",
    "observed_at",
    "ok",
    "reachable",
    "status",
    "items",
    "newest_date",
    "newest_title",
    "newest_url",
    "detail",
    "detail_code",
    "detail_params",
)
_OBS_COLUMNS = ", ".join(f"o.{name}" for name in _OBS_FIELDS)


def _observation(row: Sequence[Any]) -> SiteObservation:
    r = dict(zip(_OBS_FIELDS, row, strict=True))
    observed_at = from_db(r["observed_at"])
    assert observed_at is not None
    return SiteObservation(
        id=r["id"],
        site=r["site"],
        target=SiteTarget(r["target"]),
        column_id=r["column_id"],
        url=r["url"],
        page=r["page"],
        sweep=r["sweep"],
        observed_at=observed_at,
        ok=bool(r["ok"]),
        reachable=None if r["reachable"] is None else bool(r["reachable"]),
        status=r["status"],
        items=r["items"],
        newest_date=date.fromisoformat(r["newest_date"]) if r["newest_date"] else None,
        newest_title=r["newest_title"],
        newest_url=r["newest_url"],
        detail=r["detail"],
        detail_code=r["detail_code"],
        detail_params=json.loads(r["detail_params"]) if r["detail_params"] else None,
    )


_SITE_SELECT = (
    "SELECT s.id, s.site_code, s.name, s.url, u.name, s.unit, s.region, s.roster_order, "
    "s.retired FROM sites s JOIN units u ON u.id = s.unit"
)


def _site(row: Sequence[Any]) -> SiteRow:
    return SiteRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], bool(row[8]))


class SiteTables(StoreBase):
    """Websites, columns and site observations."""

    # -- roster ----------------------------------------------------------------------

    def sites(self, *, include_retired: bool = False) -> list[SiteRow]:
        """Every website in roster order (retired ones only when asked)."""
        where = "" if include_retired else " WHERE s.retired = 0"
        rows = self.conn.execute(f"{_SITE_SELECT}{where} ORDER BY s.roster_order, s.id")
        return [_site(r) for r in rows]

    def site(self, site_id: int) -> SiteRow | None:
        """A website by id (retired ones too), or None."""
        row = self.conn.execute(f"{_SITE_SELECT} WHERE s.id = ?", (site_id,)).fetchone()
        return _site(row) if row else None

    def find_site(self, ref: str) -> SiteRow:
        """A website by id, 网站标识码 or exact name; StoreError when none or several match."""
        text = ref.strip()
        rows = self.conn.execute(
            f"{_SITE_SELECT} WHERE s.site_code = ? OR s.name = ? OR CAST(s.id AS TEXT) = ? "
            "ORDER BY s.id",
            (text, text, text),
        ).fetchall()
        if not rows:
            raise StoreError(f"no website {ref!r} (give its id, 网站标识码 or name)")
        if len(rows) > 1:
            raise StoreError(f"{ref!r} names {len(rows)} websites; give the 网站标识码")
        return _site(rows[0])

    def import_sites(
        self, *, file: str, now: datetime, entries: Sequence[SiteEntry]
    ) -> dict[str, int]:
        """Add new websites and update listed ones, in one transaction; counts by change."""
        stamp = to_db(now)
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        with self.transaction():
            import_id = self._site_import(file, "sites", stamp, len(entries))
            known = {s.site_code: s for s in self.sites(include_retired=True)}
            order = max((s.roster_order for s in known.values()), default=-1)
            units: dict[str, int] = {}
            for name in dict.fromkeys(e.unit for e in entries):
                self.conn.execute(
                    "INSERT INTO units (name, created_at) VALUES (?, ?) "
                    "ON CONFLICT(name) DO NOTHING",
                    (name, stamp),
                )
                units[name] = self.conn.execute(
                    "SELECT id FROM units WHERE name = ?", (name,)
                ).fetchone()[0]
            for entry in entries:
                old = known.get(entry.site_code)
                values = (entry.name, entry.url, units[entry.unit], entry.region)
                if old is None:
                    order += 1
                    self.conn.execute(
                        "INSERT INTO sites (site_code, name, url, unit, region, roster_order, "
                        "import_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (entry.site_code, *values, order, import_id, stamp, stamp),
                    )
                    counts["added"] += 1
                elif (old.name, old.url, old.unit_id, old.region, old.retired) == (*values, False):
                    counts["unchanged"] += 1
                else:
                    self.conn.execute(
                        "UPDATE sites SET name = ?, url = ?, unit = ?, region = ?, retired = 0, "
                        "import_id = ?, updated_at = ? WHERE id = ?",
                        (*values, import_id, stamp, old.id),
                    )
                    counts["changed"] += 1
        return counts

    def _site_import(self, file: str, form: str, stamp: str, rows: int) -> int:
        cur = self.conn.execute(
            "INSERT INTO imports (file, imported_at, effective_at, form, summary) "
            "VALUES (?, ?, ?, ?, ?)",
            (file, stamp, stamp, form, json.dumps({"rows": rows})),
        )
        return int(cur.lastrowid or 0)

    def site_ids_by_code(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT site_code, id FROM sites")}

    def import_columns(
        self, *, file: str, now: datetime, entries: Sequence[ColumnEntry], proposed: bool = False
    ) -> dict[str, int]:
        """Add or update columns (keyed by site and 栏目地址) in one transaction; counts."""
        stamp = to_db(now)
        counts = {"added": 0, "changed": 0, "unchanged": 0}
        with self.transaction():
            import_id = self._site_import(
                file, "site_proposals" if proposed else "site_columns", stamp, len(entries)
            )
            codes = self.site_ids_by_code()
            for entry in entries:
                site = codes.get(entry.site_code)
                if site is None:
                    raise StoreError(f"no website with 网站标识码 {entry.site_code}")
                old = self.conn.execute(
                    "SELECT id, name, kind, date_selector, proposed, retired FROM site_columns "
                    "WHERE site = ? AND url = ?",
                    (site, entry.url),
                ).fetchone()
                values = (entry.name, entry.kind.value, entry.date_selector, int(proposed))
                if old is None:
                    position = self.conn.execute(
                        "SELECT COALESCE(MAX(position), -1) + 1 FROM site_columns WHERE site = ?",
                        (site,),
                    ).fetchone()[0]
                    self.conn.execute(
                        "INSERT INTO site_columns (site, name, url, kind, date_selector, "
                        "proposed, position, import_id, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            site,
                            entry.name,
                            entry.url,
                            *values[1:],
                            position,
                            import_id,
                            stamp,
                            stamp,
                        ),
                    )
                    counts["added"] += 1
                elif proposed and not old[4]:
                    counts["unchanged"] += 1  # a proposal never demotes a confirmed column
                elif tuple(old[1:5]) == values and not old[5]:
                    counts["unchanged"] += 1
                else:
                    self.conn.execute(
                        "UPDATE site_columns SET name = ?, kind = ?, date_selector = ?, "
                        "proposed = ?, retired = 0, import_id = ?, updated_at = ? WHERE id = ?",
                        (*values, import_id, stamp, old[0]),
                    )
                    counts["changed"] += 1
        return counts

    def accept_proposed_columns(self, site_ids: Iterable[int], now: datetime) -> int:
        """Confirm the proposed columns of these sites (they are checked from now on)."""
        with self.transaction():
            cur = self.conn.execute(
                f"UPDATE site_columns SET proposed = 0, updated_at = ? "
                f"WHERE proposed = 1 AND site IN ({_id_list(site_ids)})",
                (to_db(now),),
            )
        return cur.rowcount

    def site_columns(
        self, site_ids: Iterable[int] | None = None, *, proposed: bool = False
    ) -> dict[int, list[ColumnRow]]:
        """Columns in force (or only the proposed ones) by site, in their order."""
        where = "retired = 0 AND proposed = ?"
        if site_ids is not None:
            where += f" AND site IN ({_id_list(site_ids)})"
        out: dict[int, list[ColumnRow]] = {}
        for r in self.conn.execute(
            "SELECT id, site, name, url, kind, date_selector, position, proposed "
            f"FROM site_columns WHERE {where} ORDER BY site, position, id",
            (int(proposed),),
        ):
            out.setdefault(r[1], []).append(
                ColumnRow(r[0], r[1], r[2], r[3], ColumnKind(r[4]), r[5], r[6], bool(r[7]))
            )
        return out

    # -- observations ------------------------------------------------------------------

    def add_site_observations(self, observations: Sequence[SiteObservation]) -> None:
        """Store fetches of site pages (one transaction)."""
        with self.transaction():
            for o in observations:
                cur = self.conn.execute(
                    "INSERT INTO site_observations (site, target, column_id, url, page, sweep, "
                    "observed_at, ok, reachable, status, items, newest_date, newest_title, "
                    "newest_url, detail, detail_code, detail_params) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        o.site,
                        o.target.value,
                        o.column_id,
                        o.url,
                        o.page,
                        o.sweep,
                        to_db(o.observed_at),
                        int(o.ok),
                        None if o.reachable is None else int(o.reachable),
                        o.status,
                        o.items,
                        o.newest_date.isoformat() if o.newest_date else None,
                        o.newest_title,
                        o.newest_url,
                        o.detail,
                        o.detail_code,
                        json.dumps(o.detail_params, ensure_ascii=False)
                        if o.detail_params is not None
                        else None,
                    ),
                )
                o.id = int(cur.lastrowid or 0)

    def site_evidence(
        self, site_ids: Iterable[int], at: datetime, *, since: datetime, probes_since: datetime
    ) -> dict[int, SiteEvidence]:
        """Per site, the newest fetch (in [since, at]) of the homepage and of each column,
        the links of its newest sweep, and the availability samples in [probes_since, at]."""
        ids = _id_list(site_ids)
        out: dict[int, SiteEvidence] = {int(i): SiteEvidence() for i in ids.split(",") if i}
        if not out:
            return out
        low, high = to_db(since), to_db(at)
        newest = self.conn.execute(
            f"""
            SELECT {_OBS_COLUMNS} FROM site_observations o
            WHERE o.site IN ({ids}) AND o.target IN ('homepage', 'column')
              AND o.observed_at BETWEEN ? AND ?
              AND o.id = (SELECT oo.id FROM site_observations oo
                          WHERE oo.site = o.site AND oo.target = o.target
                            AND oo.column_id IS o.column_id AND oo.observed_at BETWEEN ? AND ?
                          ORDER BY oo.observed_at DESC, oo.id DESC LIMIT 1)
            """,
            (low, high, low, high),
        )
        for row in newest:
            obs = _observation(row)
            if obs.target is SiteTarget.HOMEPAGE:
                out[obs.site].homepage = obs
            elif obs.column_id is not None:
                out[obs.site].columns[obs.column_id] = obs
        # The newest sweep of each site, then its link rows (index on (site, sweep)):
        # a year of sweeps stays a few index searches per site.
        newest_sweeps = self.conn.execute(
            f"""
            SELECT s.id, (SELECT oo.sweep FROM site_observations oo
                          WHERE oo.site = s.id AND oo.target = 'link' AND oo.column_id IS NULL
                            AND oo.observed_at BETWEEN ? AND ?
                          ORDER BY oo.observed_at DESC LIMIT 1)
            FROM sites s WHERE s.id IN ({ids})
            """,
            (low, high),
        ).fetchall()
        for site_id, sweep in newest_sweeps:
            if sweep is None:
                continue
            rows = self.conn.execute(
                f"SELECT {_OBS_COLUMNS} FROM site_observations o "
                "WHERE o.site = ? AND o.sweep = ? AND o.target = 'link' ORDER BY o.id",
                (site_id, sweep),
            )
            out[site_id].links.extend(_observation(row) for row in rows)
        samples = self.conn.execute(
            f"""
            SELECT {_OBS_COLUMNS} FROM site_observations o
            WHERE o.site IN ({ids}) AND o.target IN ('homepage', 'probe')
              AND o.reachable IS NOT NULL AND o.observed_at BETWEEN ? AND ?
            ORDER BY o.observed_at
            """,
            (to_db(probes_since), high),
        )
        for row in samples:
            obs = _observation(row)
            out[obs.site].availability.append(obs)
        return out
