"""geoservice ("Samenkaart"): the map of local community initiatives in the Netherlands."""

from __future__ import annotations

from flask import Flask

from .config import Settings


def create_app(config: Settings | None = None) -> Flask:
    """The only place an app is built. Does not start or migrate the database."""
    from . import db
    from .api import api, health
    from .api import errors as api_errors
    from .localdb import database_url

    settings = config or Settings.from_env()
    app = Flask("geoservice")
    app.config.update(SECRET_KEY=settings.secret_key)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["geoservice.settings"] = settings
    db.init_app(app, db.make_engine(database_url(settings, start=False)))

    from web import pages, render_error

    from .ogc.api import ogc

    app.register_blueprint(health)
    app.register_blueprint(api)
    app.register_blueprint(ogc)
    app.register_blueprint(pages)
    from .tiles import tiles

    app.register_blueprint(tiles)
    from .feeds import feeds

    app.register_blueprint(feeds)

    from .serving import compression

    compression.init_app(app)  # first registered, so it runs last: gzip of the final body and headers
    domain_error = api_errors.register(app, render_error)
    from .serving import security

    security.init_app(app, settings, domain_error)
    from .serving import caching

    caching.init_app(app)  # ETag, Cache-Control and 304 for anonymous reads of /api/v1 and /tiles
    from .serving import tile_cache

    tile_cache.init_app(app, settings)  # made tiles by data version, per worker (and Redis when configured)
    return app
