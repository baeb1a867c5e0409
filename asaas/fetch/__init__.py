"""Fetch reviews from the stores' APIs into the landing folder, then into the database."""

from asaas.fetch.http import FetchError, Http, HttpPolicy
from asaas.fetch.steam import AppFetch, SteamFetchOptions, fetch_steam

__all__ = ["AppFetch", "FetchError", "Http", "HttpPolicy", "SteamFetchOptions", "fetch_steam"]
