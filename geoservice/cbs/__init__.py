"""The CBS Wijk- en Buurtkaart: read files (GeoPackage, GeoJSON, PDOK) and load them into PostGIS."""
