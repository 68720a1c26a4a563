"""Command-line interface (click + rich): a thin layer over mlcodec's public API."""
