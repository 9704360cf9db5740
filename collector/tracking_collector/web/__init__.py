"""Web: the dashboard page and its inline SVG charts, drawn from published documents."""
