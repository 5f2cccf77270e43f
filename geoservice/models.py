"""SQLAlchemy 2 / GeoAlchemy2 tables. Geometries are stored in EPSG:28992 (RD New, metres)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, DateTime, Float, Index, Integer, SmallInteger, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

RD_NEW = 28992
WGS84 = 4326


class Base(DeclarativeBase):
    pass


class CbsJaar(Base):
    """A CBS year that has been loaded; exactly one (or none yet) is the active year."""

    __tablename__ = "cbs_jaar"

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("cbs_jaar_one_active", "is_active", unique=True, postgresql_where=text("is_active")),
    )


class CbsArea:
    """Columns shared by gemeente, wijk and buurt (one table per level, several years side by side)."""

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    naam: Mapped[str | None] = mapped_column(Text)
    water: Mapped[bool | None] = mapped_column(Boolean)
    aantal_inwoners: Mapped[int | None] = mapped_column(Integer)
    aantal_huishoudens: Mapped[int | None] = mapped_column(Integer)
    pct_0_15: Mapped[float | None] = mapped_column(Float, comment="% inwoners 0 tot 15 jaar")
    pct_65plus: Mapped[float | None] = mapped_column(Float, comment="% inwoners 65 jaar en ouder")
    bevolkingsdichtheid: Mapped[float | None] = mapped_column(Float, comment="inwoners per km²")
    oppervlakte_land_ha: Mapped[float | None] = mapped_column(Float)
    kerncijfers: Mapped[dict] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb"),
        comment="all other numeric CBS attributes; CBS sentinels stored as null",
    )
    source: Mapped[str | None] = mapped_column(Text, comment="file or URL the row was loaded from")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=RD_NEW, spatial_index=False), nullable=False)

    @declared_attr.directive
    def __table_args__(cls):
        return (Index(f"{cls.__tablename__}_geom_idx", "geom", postgresql_using="gist"),)


class Gemeente(CbsArea, Base):
    __tablename__ = "gemeente"


class Wijk(CbsArea, Base):
    __tablename__ = "wijk"

    gemeentecode: Mapped[str] = mapped_column(String(6), nullable=False)

    @declared_attr.directive
    def __table_args__(cls):
        return (
            Index("wijk_geom_idx", "geom", postgresql_using="gist"),
            Index("wijk_gemeente_idx", "jaar", "gemeentecode"),
        )


class Buurt(CbsArea, Base):
    __tablename__ = "buurt"

    wijkcode: Mapped[str] = mapped_column(String(8), nullable=False)
    gemeentecode: Mapped[str] = mapped_column(String(6), nullable=False)

    @declared_attr.directive
    def __table_args__(cls):
        return (
            Index("buurt_geom_idx", "geom", postgresql_using="gist"),
            Index("buurt_gemeente_idx", "jaar", "gemeentecode"),
            Index("buurt_wijk_idx", "jaar", "wijkcode"),
        )


AREA_MODELS = {"gemeente": Gemeente, "wijk": Wijk, "buurt": Buurt}
LEVELS = ("gemeente", "wijk", "buurt")

# Room for the registry (next issue): initiative (Point, 28992), partner, and
# service_area (MultiPolygon, 28992) join these tables through their geometries.
