"""The web app: Chinese question pages with highlighted sources, and a JSON API."""
