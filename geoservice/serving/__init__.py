"""How answers are served, whatever they answer: cache headers and ETags (caching), gzip (compression), security
headers, sessions and CSRF (security), rate limits (ratelimit) and the made tiles kept per data version
(tile_cache). The app factory wires them in; domain modules never import from here, only handlers do."""
