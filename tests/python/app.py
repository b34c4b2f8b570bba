"""A small Pyramid app on the original pyramid_redis_sessions, for the
compatibility tests: the conformance app's routes that matter for sharing a
session, served by wsgiref on a free loopback port.

Usage: app.py REDIS_URL SECRET [PREFIX]
Prints "port N" once it listens, then serves until killed.
"""
import datetime
import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import redis
from pyramid.config import Configurator
from pyramid.response import Response

REDIS_URL, SECRET = sys.argv[1], sys.argv[2]
PREFIX = sys.argv[3] if len(sys.argv) > 3 else None
WHEN = datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
_client = redis.StrictRedis.from_url(REDIS_URL)


def client_callable(request, **redis_options):
    # The original's own path passes charset=/errors=, which newer redis-py
    # refuses: hand it a client instead, as its manual documents.
    return _client


def text(body):
    return Response(body, content_type="text/plain")


def as_json(value):
    return Response(json.dumps(value, default=repr), content_type="application/json", charset="utf-8")


def incr(request):
    n = request.session.get("counter", 0) + 1
    request.session["counter"] = n
    return text(str(n))


def read(request):
    return text(str(request.session.get("counter", 0)))


def get(request):
    return as_json(request.session.get(request.params["key"]))


def type_of(request):
    value = request.session.get(request.params["key"])
    return text(type(value).__module__ + "." + type(value).__name__)


def set_(request):
    request.session[request.params["key"]] = request.params["value"]
    return text("ok")


def set_datetime(request):
    request.session[request.params["key"]] = WHEN
    return text("ok")


def is_datetime(request):
    return text("yes" if request.session.get(request.params["key"]) == WHEN else "no")


def flash(request):
    request.session.flash(request.params["msg"], request.params.get("queue", ""))
    return text("ok")


def peek_flash(request):
    return as_json(request.session.peek_flash(request.params.get("queue", "")))


def pop_flash(request):
    return as_json(request.session.pop_flash(request.params.get("queue", "")))


def csrf(request):
    return text(request.session.get_csrf_token())


def keys(request):
    return as_json(sorted(request.session.keys()))


def invalidate(request):
    request.session.invalidate()
    return text("ok")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    settings = {
        "redis.sessions.secret": SECRET,
        "redis.sessions.timeout": "1200",
        "redis.sessions.client_callable": client_callable,
    }
    if PREFIX:
        settings["redis.sessions.prefix"] = PREFIX
    config = Configurator(settings=settings)
    config.include("pyramid_redis_sessions")
    for name, view in [
        ("incr", incr), ("read", read), ("get", get), ("type", type_of),
        ("set", set_), ("set_datetime", set_datetime), ("is_datetime", is_datetime),
        ("flash", flash), ("peek_flash", peek_flash), ("pop_flash", pop_flash),
        ("csrf", csrf), ("keys", keys), ("invalidate", invalidate),
    ]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name)
    server = make_server("127.0.0.1", 0, config.make_wsgi_app(), handler_class=QuietHandler)
    print("port", server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
