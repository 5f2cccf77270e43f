"""Join a table of CBS figures (CSV or XLSX) onto the gemeenten, wijken and buurten loaded for a year, by code.

Any boundary source can so be completed with CBS figures: a StatLine download of the Kerncijfers wijken en
buurten, the shipped inhabitants table, or a spreadsheet of one's own (with --map). The whole file is read and
checked first: one unreadable value refuses it and nothing is written. The figures are written in one
transaction with the gap analysis' kept figures; a figure the file does not give ('.', empty, a CBS sentinel)
leaves the stored value as it is, so a partial table never erases what another source gave.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from ..errors import ImportRefused
from ..imports.tables import Table, read_table
from ..models import LEVELS
from ..queries import cbs_figures as queries
from ..queries.areas import active_year
from ..analysis.kept import refresh_all
from .codes import parse_code
from .reader import MEASURES, SENTINEL_MAX

# The code column: the first of these that the header has (any case); StatLine's own key column last.
CODE_COLUMNS = ("code", "gwb_code", "buurtcode", "wijkcode", "gemeentecode", "nhood_id", "Codering_3",
                "WijkenEnBuurten")
INTEGER_FIELDS = {"aantal_inwoners", "aantal_huishoudens"}
ALIASES = {"population": "aantal_inwoners"}  # the shipped inhabitants table (buurten_2024_inwoners.csv)


@dataclass(frozen=True)
class Share:
    """A StatLine count turned into the percentage the CBS map (and this service) stores: 100 × count / of."""

    field: str
    of: str


# CBS StatLine "Kerncijfers wijken en buurten" columns (name without the _NN position, which differs per year)
# -> the field this service stores. StatLine gives age groups and household types as counts; the map stores
# percentages, so those become shares of the same row's inhabitants or households.
STATLINE = {
    "aantalinwoners": "aantal_inwoners",
    "k_0tot15jaar": Share("pct_0_15", of="aantal_inwoners"),
    "k_65jaarofouder": Share("pct_65plus", of="aantal_inwoners"),
    "huishoudenstotaal": "aantal_huishoudens",
    "eenpersoonshuishoudens": Share("percentage_eenpersoonshuishoudens", of="aantal_huishoudens"),
    "gemiddeldehuishoudensgrootte": "gemiddelde_huishoudsgrootte",
    "bevolkingsdichtheid": "bevolkingsdichtheid",
    "oppervlakteland": "oppervlakte_land_ha",  # StatLine gives hectares, as the map does
    "huishoudensmeteenlaaginkomen": "percentage_huishoudens_met_laag_inkomen",
    "k_40huishoudensmetlaagsteinkomen": "percentage_huishoudens_met_laagste_inkomen",
    "huishonderofrondsociaalminimum": "percentage_huishoudens_onder_of_rond_sociaal_minimum",
    "wmoclienten": "aantal_wmo_clienten",
    "wmoclientenrelatief": "aantal_wmo_clienten_per_1000_inwoners",
}
# kerncijfers names this service knows even before any area of the year has them.
KNOWN_KERNCIJFERS = {f if isinstance(f, str) else f.field for f in STATLINE.values()} - set(MEASURES)
NO_FIGURE = {"", ".", "x"}  # CBS: "." gegevens ontbreken, "x" geheim
NIHIL = {"-", "–"}  # CBS: nihil
SHARE_DECIMALS = 1
REPORT_CODES = 20
MAX_PROBLEMS = 20
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_PLAIN = re.compile(r"-?\d+(?:[.,]\d+)?")
_DUTCH_GROUPED = re.compile(r"-?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_ENGLISH_GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


@dataclass(frozen=True)
class Column:
    """A column of the file that gives a figure: its position, header, the field it fills and how."""

    index: int
    header: str
    field: str
    how: str  # "naam", "StatLine", "--map" or "aandeel" (a share computed from a StatLine count)
    share_of: str | None = None


@dataclass
class LevelResult:
    updated: int = 0
    unchanged: int = 0
    total: int = 0
    without: dict[str, int] = field(default_factory=dict)


@dataclass
class FiguresReport:
    file: str
    read_as: str
    jaar: int
    code_column: str
    columns: list[Column]
    ignored: list[str]
    rows_read: int = 0
    without_code: int = 0
    unmatched: list[str] = field(default_factory=list)
    levels: dict[str, LevelResult] = field(default_factory=dict)
    dry_run: bool = False

    def lines(self) -> list[str]:
        out = [f"{self.file}: {self.read_as}", f"{self.rows_read} rijen gelezen; codes uit kolom '{self.code_column}'; "
               f"CBS-jaar {self.jaar}"]
        for column in self.columns:
            out.append(f"  kolom '{column.header}' → {column.field}" + _how(column))
        if self.ignored:
            out.append("genegeerde kolommen: " + ", ".join(f"'{h}'" if h else "(zonder naam)" for h in self.ignored))
        for level in LEVELS:
            result = self.levels.get(level)
            if result is None:
                continue
            verb = "zouden worden bijgewerkt" if self.dry_run else "bijgewerkt"
            out.append(f"{level}: {result.updated} {verb}, {result.unchanged} ongewijzigd "
                       f"(van {result.total} geladen voor {self.jaar})")
            for name, count in result.without.items():
                out.append(f"  {count} van {result.total} zonder {name}")
        if self.without_code:
            out.append(f"{self.without_code} rijen zonder code overgeslagen")
        if self.unmatched:
            shown = ", ".join(self.unmatched[:REPORT_CODES])
            more = " …" if len(self.unmatched) > REPORT_CODES else ""
            out.append(f"{len(self.unmatched)} rijen met een code zonder geladen gebied in {self.jaar}: {shown}{more}")
        if self.dry_run:
            out.append("Proefdraai: niets opgeslagen.")
        return out


def _how(column: Column) -> str:
    if column.how == "aandeel":
        return f" (StatLine-aantal, als percentage van {column.share_of})"
    return {"StatLine": " (StatLine)", "--map": " (--map)"}.get(column.how, "")


def parse_maps(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """--map COLUMN=FIELD options as {column header: field}; FIELD is `code` or a lower-case field name."""
    maps: dict[str, str] = {}
    for value in values:
        column, sep, name = value.rpartition("=")
        column, name = column.strip(), name.strip()
        if not sep or not column or not name:
            raise ImportRefused(f"--map '{value}': schrijf KOLOM=VELD, bijvoorbeeld --map Inw=aantal_inwoners.")
        if name != "code" and not _FIELD_NAME.fullmatch(name):
            raise ImportRefused(f"--map '{value}': '{name}' is geen veldnaam (kleine letters, cijfers en _, "
                                f"bijvoorbeeld aantal_inwoners).")
        if column in maps:
            raise ImportRefused(f"--map noemt kolom '{column}' twee keer.")
        maps[column] = name
    return maps


def load_cbs_figures(engine: Engine, path: str | Path, *, year: int | None = None, dry_run: bool = False,
                     maps: dict[str, str] | None = None, sheet: str | None = None, progress=None) -> FiguresReport:
    """Read and check the whole file, then write its figures in one transaction (none at all if any is bad)."""
    say = progress or (lambda _msg: None)
    path = Path(path)
    table = read_table(path, sheet=sheet)
    with engine.connect() as conn:
        jaar = year if year is not None else active_year(conn)
        if jaar is None:
            raise ImportRefused("Er is nog geen CBS-jaar geladen: laad eerst de grenzen (geoservice load-cbs).")
        if not queries.year_is_loaded(conn, jaar):
            raise ImportRefused(f"CBS-jaar {jaar} is niet geladen: laad eerst de grenzen van {jaar} "
                                f"(geoservice load-cbs … --year {jaar}).")
        code_index, columns, ignored = _columns(conn, table, jaar, maps or {}, path.name)
    report = FiguresReport(file=path.name, read_as=table.describe(), jaar=jaar,
                           code_column=table.header[code_index], columns=columns, ignored=ignored,
                           rows_read=len(table.rows), dry_run=dry_run)
    figures, unmatched = _figures(table, code_index, columns, report, path.name)
    fields = list(dict.fromkeys(c.field for c in columns))
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            for level in LEVELS:
                wanted = {code: values for (lvl, code), (_row, values) in figures.items() if lvl == level}
                if not wanted:
                    continue
                current = queries.current_figures(conn, level, jaar, list(wanted), fields, lock=not dry_run)
                unmatched += [(figures[level, code][0], code) for code in wanted if code not in current]
                if not current:
                    continue
                changes = {code: _changed(current[code], wanted[code]) for code in current}
                changes = {code: values for code, values in changes.items() if values}
                result = report.levels.setdefault(level, LevelResult())
                result.updated, result.unchanged = len(changes), len(current) - len(changes)
                if changes:
                    say(f"  {level}: {len(changes)} gebieden bijwerken …")
                    queries.write_figures(conn, level, jaar, changes)
                result.total, result.without = queries.areas_without(conn, level, jaar, fields)
            report.unmatched = [code for _row, code in sorted(unmatched)]
            if dry_run or not any(r.updated for r in report.levels.values()):
                transaction.rollback()
            else:
                # The gap analysis keeps figures per unit, and writes to CBS areas mark them stale: fresh at commit.
                refresh_all(conn)
                transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
    return report


def _columns(conn, table: Table, jaar: int, maps: dict[str, str], filename: str):
    """The code column's index, the figure columns, and the headers of the columns ignored."""
    header = table.header
    missing = [column for column in maps if column not in header]
    if missing:
        shown = ", ".join(f"'{h}'" for h in header if h)
        raise ImportRefused(f"--map: kolom '{missing[0]}' staat niet in {filename}; de kolommen zijn: {shown}.")
    mapped_code = [i for i, h in enumerate(header) if maps.get(h) == "code"]
    if len(mapped_code) > 1:
        raise ImportRefused("--map wijst meer dan één kolom aan als code.")
    lowered = [h.lower() for h in header]
    code_index = mapped_code[0] if mapped_code else next(
        (lowered.index(name.lower()) for name in CODE_COLUMNS if name.lower() in lowered), None)
    if code_index is None:
        raise ImportRefused(f"{filename} heeft geen kolom met CBS-codes: verwacht een van "
                            f"{', '.join(CODE_COLUMNS)} (of wijs er een aan met --map KOLOM=code).")
    candidates = {i: _snake(h) for i, h in enumerate(header) if i != code_index and h not in maps}
    stored = queries.stored_kerncijfer_keys(conn, jaar, sorted(set(candidates.values())))
    columns: list[Column] = []
    ignored: list[str] = []
    for index, name in enumerate(header):
        if index == code_index:
            continue
        if name in maps:
            columns.append(Column(index, name, resolve_field(maps[name]) or maps[name], "--map"))
            continue
        column = _recognise(index, name, stored)
        if column is None:
            ignored.append(name)
        else:
            columns.append(column)
    _refuse_doubles(columns)
    # A share computed from a StatLine count gives way to a column that gives the figure itself.
    direct = {c.field for c in columns if c.how != "aandeel"}
    for column in [c for c in columns if c.how == "aandeel" and c.field in direct]:
        columns.remove(column)
        ignored.append(column.header)
    if not columns:
        raise ImportRefused(f"{filename} heeft geen kolom met cijfers die deze dienst kent (zoals aantal_inwoners "
                            f"of AantalInwoners_5); wijs kolommen aan met --map KOLOM=VELD.")
    return code_index, columns, ignored


def resolve_field(name: str) -> str | None:
    """The stored field that a kerncijfers name stands for: a column (aantal_inwoners, pct_65plus, …) or None."""
    if name in MEASURES:
        return name
    norm = re.sub(r"[^a-z0-9]", "", name.lower())
    for target, (_kind, names) in MEASURES.items():
        if norm in names:
            return target
    return ALIASES.get(name.lower())


def _recognise(index: int, header: str, stored: set[str]) -> Column | None:
    target = resolve_field(header)
    if target:
        return Column(index, header, target, "naam")
    stem = re.sub(r"_\d+$", "", header.strip()).lower()
    spec = STATLINE.get(stem)
    if isinstance(spec, Share):
        return Column(index, header, spec.field, "aandeel", share_of=spec.of)
    if spec:
        return Column(index, header, spec, "StatLine")
    snake = _snake(header)
    if snake in stored or snake in KNOWN_KERNCIJFERS:
        return Column(index, header, snake, "naam")
    return None


def _refuse_doubles(columns: list[Column]) -> None:
    seen: dict[str, Column] = {}
    for column in columns:
        if column.how == "aandeel":
            continue
        if column.field in seen:
            raise ImportRefused(f"De kolommen '{seen[column.field].header}' en '{column.header}' geven allebei "
                                f"{column.field}; houd er één over.")
        seen[column.field] = column


def _figures(table: Table, code_index: int, columns: list[Column], report: FiguresReport, filename: str):
    """(level, code) -> (row number, {field: value}) for every row with a code; rows whose code is no CBS
    code are returned apart as (row number, text). ImportRefused listing every unreadable value."""
    figures: dict[tuple[str, str], tuple[int, dict]] = {}
    unmatched: list[tuple[int, str]] = []
    problems: list[str] = []
    for number, cells in table.rows:
        raw_code = cells[code_index] if code_index < len(cells) else None
        code_text = "" if raw_code is None else str(raw_code).strip()
        if not code_text:
            report.without_code += 1
            continue
        values: dict[str, float | int] = {}
        counts: dict[Column, float] = {}
        for column in columns:
            raw = cells[column.index] if column.index < len(cells) else None
            try:
                value = parse_figure(raw, integer=column.field in INTEGER_FIELDS and column.how != "aandeel")
            except ValueError as exc:
                problems.append(f"rij {number}, kolom '{column.header}': {exc}")
                continue
            if value is None:
                continue
            if column.how == "aandeel":
                counts[column] = value
            else:
                values[column.field] = value
        for column, count in counts.items():
            base = values.get(column.share_of)
            if base:  # no share of nothing: without the row's inhabitants (or households) the figure stays unknown
                values[column.field] = round(100 * count / base, SHARE_DECIMALS)
        code = parse_code(code_text)
        if code is None:
            unmatched.append((number, code_text))
            continue
        key = (code.level, code.code)
        if key in figures:
            problems.append(f"rij {number}: code {code.code} stond al in rij {figures[key][0]}")
            continue
        figures[key] = (number, values)
    if problems:
        more = f" (en nog {len(problems) - MAX_PROBLEMS})" if len(problems) > MAX_PROBLEMS else ""
        raise ImportRefused(f"{filename} is niet geladen, er is niets veranderd: "
                            + "; ".join(problems[:MAX_PROBLEMS]) + more + ".")
    return figures, unmatched


# Counts (inhabitants, households) are stored as PostgreSQL integers; no area of the Netherlands comes near this.
MAX_COUNT = 100_000_000
MAX_FIGURE = 1e15  # other figures: shares, densities, euros; anything larger is a typing error


def parse_figure(raw, *, integer: bool = False) -> float | int | None:
    """A cell as a number; None for no figure ('.', 'x', empty, a CBS sentinel); ValueError (Dutch) if unreadable.

    Text may use a decimal comma as Dutch Excel writes it ("12,5"), and thousands separators when it also has
    decimals or more than one group ("1.234,5", "1,234.5", "12.345.678").
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError(f"'{raw}' is geen getal")
    if isinstance(raw, (int, float)):
        number = float(raw)
    else:
        text = str(raw).strip().replace("\u00a0", "").replace(" ", "")
        if text.lower() in NO_FIGURE:
            return None
        if text in NIHIL:
            return 0
        number = _number_text(text)
        if number is None:
            raise ValueError(f"'{str(raw).strip()}' is geen getal")
    if not math.isfinite(number):
        raise ValueError(f"'{raw}' is geen getal")
    if number <= SENTINEL_MAX:
        return None
    if integer:
        if number != round(number):
            raise ValueError(f"'{raw}' is geen geheel getal")
        if not 0 <= number <= MAX_COUNT:
            raise ValueError(f"'{str(raw).strip()}' kan geen aantal zijn (0 tot {MAX_COUNT:,})".replace(",", "."))
        return int(round(number))
    if abs(number) > MAX_FIGURE:
        raise ValueError(f"'{str(raw).strip()}' is te groot voor een kerncijfer")
    return number


def _number_text(text: str) -> float | None:
    if _PLAIN.fullmatch(text):
        return float(text.replace(",", "."))
    if _DUTCH_GROUPED.fullmatch(text) and ("," in text or text.count(".") > 1):
        return float(text.replace(".", "").replace(",", "."))
    if _ENGLISH_GROUPED.fullmatch(text) and ("." in text or text.count(",") > 1):
        return float(text.replace(",", ""))
    return None


def _changed(current: dict, new: dict) -> dict:
    """The figures of `new` that differ from what is stored."""
    return {name: value for name, value in new.items() if not _same(current.get(name), value)}


def _same(stored, value) -> bool:
    try:
        return stored is not None and float(stored) == float(value)
    except (TypeError, ValueError):  # a kerncijfer stored as text by some other writer: replace it
        return False


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
