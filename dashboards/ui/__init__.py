"""Building blocks of the dashboard pages: data access, URL state, charts and notices."""
