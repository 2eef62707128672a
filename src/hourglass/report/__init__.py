"""Reports: figures (matplotlib) and the self-contained HTML document."""
