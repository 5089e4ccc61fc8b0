"""Face watchlists and plate hotlists: their API, their tables, and the hotlist matcher."""
