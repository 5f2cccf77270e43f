"""SQLAlchemy 2 / GeoAlchemy2 tables. Geometries are stored in EPSG:28992 (RD New, metres)."""

from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Computed, Date, DateTime, Float, ForeignKey, Index,
                        Integer, Numeric, SmallInteger, String, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

RD_NEW = 28992
WGS84 = 4326
WEB_MERCATOR = 3857  # vector tiles


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
    # Made by PostgreSQL from geom, never written: what the vector tiles find, clip and draw (migration 0014).
    geom_web_mercator = mapped_column(
        Geometry("MULTIPOLYGON", srid=WEB_MERCATOR, spatial_index=False),
        Computed(f"ST_Transform(geom, {WEB_MERCATOR})", persisted=True), deferred=True,
        comment="geom in Web Mercator, generated: what the vector tiles find, clip and draw, without a transform "
                "per request")

    @declared_attr.directive
    def __table_args__(cls):
        return (Index(f"{cls.__tablename__}_geom_idx", "geom", postgresql_using="gist"),
                Index(f"{cls.__tablename__}_web_mercator_idx", "geom_web_mercator", postgresql_using="gist"))


class Gemeente(CbsArea, Base):
    __tablename__ = "gemeente"


class Wijk(CbsArea, Base):
    __tablename__ = "wijk"

    gemeentecode: Mapped[str] = mapped_column(String(6), nullable=False)

    @declared_attr.directive
    def __table_args__(cls):
        return (
            Index("wijk_geom_idx", "geom", postgresql_using="gist"),
            Index("wijk_web_mercator_idx", "geom_web_mercator", postgresql_using="gist"),
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
            Index("buurt_web_mercator_idx", "geom_web_mercator", postgresql_using="gist"),
            Index("buurt_gemeente_idx", "jaar", "gemeentecode"),
            Index("buurt_wijk_idx", "jaar", "wijkcode"),
        )


AREA_MODELS = {"gemeente": Gemeente, "wijk": Wijk, "buurt": Buurt}
LEVELS = ("gemeente", "wijk", "buurt")


class Initiative(Base):
    """A community initiative: a point with a kind, themes and public contact details."""

    __tablename__ = "initiative"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="manual")
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    themes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text, comment="public contact of the initiative")
    phone: Mapped[str | None] = mapped_column(Text, comment="public contact of the initiative")
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=RD_NEW, spatial_index=False), nullable=False)
    # Made by PostgreSQL from location, never written: what the vector tiles draw (migration 0012).
    location_web_mercator = mapped_column(
        Geometry("POINT", srid=WEB_MERCATOR, spatial_index=False),
        Computed(f"ST_Transform(location, {WEB_MERCATOR})", persisted=True),
        comment="location in Web Mercator, generated: the vector tiles' coordinates without a transform per request")
    location_precision: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="pending")
    last_verified: Mapped[dt.date | None] = mapped_column(Date)
    # Derived from location and the active CBS year; re-derived whenever either changes.
    gemeentecode: Mapped[str | None] = mapped_column(String(6))
    wijkcode: Mapped[str | None] = mapped_column(String(8))
    buurtcode: Mapped[str | None] = mapped_column(String(10))
    areas_jaar: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="initiative_source_external_id_key"),
        CheckConstraint("status IN ('pending', 'published', 'archived', 'rejected')", name="initiative_status_check"),
        CheckConstraint("location_precision IN ('address', 'postcode', 'manual')",
                        name="initiative_precision_check"),
        Index("initiative_location_idx", "location", postgresql_using="gist"),
        Index("initiative_web_mercator_published_idx", "location_web_mercator", postgresql_using="gist",
              postgresql_where=text("status = 'published'")),
        Index("initiative_themes_idx", "themes", postgresql_using="gin"),
        Index("initiative_gemeente_idx", "gemeentecode"),
        Index("initiative_wijk_idx", "wijkcode"),
        Index("initiative_buurt_idx", "buurtcode"),
        Index("initiative_status_kind_idx", "status", "kind"),
    )


class Partner(Base):
    """A supporting organisation: network, regional or local supporter, fund, gemeente, corporation…"""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True, comment="the `id` an import file gives")
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    services: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    themes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, default=list, server_default=text("'{}'::text[]"),
        comment="initiative themes the partner supports (vocab.THEMES); empty: every theme")
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="manual")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ServiceArea(Base):
    """Where a partner works: a MultiPolygon plus the definition it was built from, to rebuild it."""

    __tablename__ = "service_area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    definition_type: Mapped[str] = mapped_column(Text, nullable=False)
    definition: Mapped[dict] = mapped_column(
        JSONB, nullable=False,
        comment='{"codes": [...]} | {"point": {"lat", "lon"}, "radius_m"} | {"geojson": {...}}',
    )
    cbs_jaar: Mapped[int | None] = mapped_column(SmallInteger, comment="CBS year a codes definition was built from")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=RD_NEW, spatial_index=False), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("definition_type IN ('codes', 'radius', 'geojson')", name="service_area_type_check"),
        UniqueConstraint("partner_id", "name", name="service_area_partner_name_key"),
        Index("service_area_geom_idx", "geom", postgresql_using="gist"),
    )


# --- Gap coverage kept on write (migration 0004; filled by queries.gaps.refresh_coverage) ---

class GapOverlap(Base):
    """How much of a unit (buurt or wijk of the active year) one service area covers."""

    __tablename__ = "gap_overlap"

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True, comment="buurt or wijk code")
    service_area_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, nullable=False)
    piece: Mapped[float] = mapped_column(
        Float, nullable=False, comment="m² of the unit inside the service area; -1: the area covers the whole unit")

    __table_args__ = (Index("gap_overlap_service_area_idx", "service_area_id"),)


class GapCoverage(Base):
    """Per unit that a service area overlaps: coverage by all partners together, and partners serving it."""

    __tablename__ = "gap_coverage"

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True, comment="buurt or wijk code")
    coverage = mapped_column(
        Numeric, nullable=False,
        comment="share of the unit inside the union of all service areas, rounded as the analysis does")
    n_partners: Mapped[int] = mapped_column(
        Integer, nullable=False, comment="partners whose service areas together cover at least half of the unit")


class GapCoverageStale(Base):
    """Service areas written since the last refresh (set by triggers); 0 stands for every unit."""

    __tablename__ = "gap_coverage_stale"

    service_area_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False,
        comment="a service area written since the last refresh; 0: everything")
    marked_xid: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="the transaction that marked it")


# --- Initiative counts kept on write (migration 0007; filled by queries.gaps.refresh_counts) ---

class GapCounts(Base):
    """Per unit of the active year: the initiative figures of the default gap question (all published, walk_m 1000)."""

    __tablename__ = "gap_counts"

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True, comment="buurt or wijk code")
    n_inside: Mapped[int] = mapped_column(Integer, nullable=False, comment="published initiatives inside the unit")
    n_nearby: Mapped[int] = mapped_column(
        Integer, nullable=False, comment="published initiatives within the default walk_m of the unit (inside counts)")
    nearest_m: Mapped[float | None] = mapped_column(
        Float, comment="metres to the nearest published initiative; null beyond 50 km")


class GapCountsStale(Base):
    """Points where a published initiative was or is, written since the last refresh (set by triggers)."""

    __tablename__ = "gap_counts_stale"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    location = mapped_column(Geometry("POINT", srid=28992, spatial_index=False),
                             comment="where a published initiative was or is now; NULL: everything")
    marked_xid: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="the transaction that marked it")


# --- Need kept on write (migration 0013; filled by analysis.need.refresh_kept_need) ---

class GapNeed(Base):
    """Per unit of the active year: need with the default weights, and its priority were it a white spot."""

    __tablename__ = "gap_need"

    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True, comment="buurt or wijk code")
    need: Mapped[float | None] = mapped_column(
        Float, comment="need with every indicator at weight 1 (0..1, 4 decimals); null: none")
    white_spot_priority: Mapped[float | None] = mapped_column(
        Float, comment="the priority when the unit is a white spot: aantal_inwoners × need, 1 decimal")


class GapNeedStale(Base):
    """A change of buurten, wijken or the active year since the last refresh of gap_need (set by triggers)."""

    __tablename__ = "gap_need_stale"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    marked_xid: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="the transaction that marked it")


# --- Anonymous demand of "Hulp bij je plan" (migration 0009; written by geoservice.partners.support) ---

class SupportDemand(Base):
    """How many /hulp searches asked for a service, per day and buurt: counts only, nothing about a person."""

    __tablename__ = "support_demand"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    jaar: Mapped[int] = mapped_column(SmallInteger, primary_key=True, comment="CBS year of the code")
    code: Mapped[str] = mapped_column(
        String(10), primary_key=True, comment="buurt code, or wijk code where no buurten are loaded; never anything finer")
    service: Mapped[str] = mapped_column(Text, primary_key=True, comment="a key of vocab.SERVICES")
    n: Mapped[int] = mapped_column(Integer, nullable=False, comment="searches that day that asked for the service")

    __table_args__ = (Index("support_demand_code_idx", "jaar", "code"),)


# --- Accounts, API tokens, audit log and the private contact of submitters (migration 0005) ---

USER_ROLES = ("admin", "moderator", "partner_editor")
AUDIT_ENTITY_TYPES = ("initiative", "partner", "service_area", "user")


class User(Base):
    """Someone who may log in: an admin, a moderator, or the editor of one partner."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Text, nullable=False, comment="unique regardless of case")
    name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False, comment="werkzeug scrypt hash, never the password")
    role: Mapped[str] = mapped_column(Text, nullable=False)
    partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("partner.id", ondelete="CASCADE"), comment="the partner a partner_editor edits")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'moderator', 'partner_editor')", name="app_user_role_check"),
        CheckConstraint("(role = 'partner_editor') = (partner_id IS NOT NULL)", name="app_user_partner_check"),
        Index("app_user_email_key", func.lower(text("email")), unique=True),
        Index("app_user_partner_idx", "partner_id"),
    )


class ApiToken(Base):
    """A Bearer token for API writes, tied to a user; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(Text, nullable=False, unique=True, comment="hex SHA-256 of the token")
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("api_token_user_idx", "user_id"),)


class AuditLog(Base):
    """One change to an initiative, partner, service area or user: who, when, what, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[int] = mapped_column(Integer, nullable=False)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), comment="null: a public submitter (or a removed user)")
    actor: Mapped[str] = mapped_column(Text, nullable=False, comment="who, as shown: e-mail at the time or 'aanmelder'")
    action: Mapped[str] = mapped_column(Text, nullable=False)
    changes: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"),
                                          comment="{field: [old, new]}")
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())

    __table_args__ = (
        CheckConstraint("entity_type IN ('initiative', 'partner', 'service_area', 'user')",
                        name="audit_log_entity_type_check"),
        Index("audit_log_entity_idx", "entity_type", "entity_id", "at"),
        Index("audit_log_user_idx", "user_id"),
    )


class SubmissionContact(Base):
    """The private contact of whoever submitted an initiative: never shown, never exported."""

    __tablename__ = "submission_contact"

    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    client_hash: Mapped[str | None] = mapped_column(Text, comment="keyed hash of the submitting client, for abuse checks")
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      server_default=func.now())


class Correction(Base):
    """A report that something on the map is wrong ("Klopt er iets niet?"), about one initiative or the site.

    It changes nothing public: a moderator reads it, corrects the initiative (audited as any edit) and marks it
    accepted, or rejects it. The reporter's own contact is private, like a submitter's.
    """

    __tablename__ = "correction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"),
                                                      comment="null: about the site, not one initiative")
    message: Mapped[str] = mapped_column(Text, nullable=False)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_email: Mapped[str | None] = mapped_column(Text)
    client_hash: Mapped[str | None] = mapped_column(Text, comment="keyed hash of the reporting client (abuse checks)")
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'open'"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="correction_status_check"),
        Index("correction_open_idx", "created_at", postgresql_where=text("status = 'open'")),
        Index("correction_initiative_idx", "initiative_id"),
    )


# --- The data version that HTTP caching derives ETags from (migration 0006; bumped by triggers) ---

class DataVersion(Base):
    """One row: goes up with every transaction that writes initiatives, partners, service areas or CBS areas."""

    __tablename__ = "data_version"
    # No primary key in the table (the unique index on (true) keeps it to one row); the mapper needs one.
    __mapper_args__ = {"primary_key": ["version"]}

    version: Mapped[int] = mapped_column(BigInteger, nullable=False, comment="goes up by one per writing transaction")
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                    server_default=func.now())

    __table_args__ = (Index("data_version_one_row", text("(true)"), unique=True),)


class DataVersionPending(Base):
    """One row per open transaction that wrote map data; its commit bumps data_version and removes it (0011)."""

    __tablename__ = "data_version_pending"
    __table_args__ = {"comment": "one row per open transaction that wrote map data; removed when its commit "
                                 "bumps data_version"}
    __mapper_args__ = {"primary_key": ["xid"]}

    xid: Mapped[int] = mapped_column(BigInteger, nullable=False)
