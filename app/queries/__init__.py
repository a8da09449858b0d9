"""All SQL lives here. GeoJSON is built inside PostgreSQL and handed back as text."""
