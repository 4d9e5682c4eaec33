"""The public site (市长信箱, 办理查询, 典型案例): the mayor's mailbox form, a ticket's
status by its query code, the published cases and their Atom feed; a server of its own
beside the console."""

from callcenter.public.app import public_app, public_running, public_url

__all__ = ["public_app", "public_running", "public_url"]
