"""The web console: supervisors watch the floor and listen to recordings; operators see
who is calling. aiohttp with jinja2 pages in Chinese, a JSON API behind them."""

from callcenter.web.app import console_url, web_address, web_app, web_running

__all__ = ["console_url", "web_address", "web_app", "web_running"]
