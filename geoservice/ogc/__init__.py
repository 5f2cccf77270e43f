"""OGC API – Features (Part 1 Core, GeoJSON) under /ogc."""
