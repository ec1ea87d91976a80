"""What gunicorn serves in the load run: the app (benchmark settings, see ``run.bench_config``)
with a bare Flask app mounted at ``/__bare`` that answers ``/bytes/<n>`` with n precomputed bytes,
the baseline measured through the same server and workers."""

from __future__ import annotations

import os

from flask import Flask, Response, request
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from pilotbase import create_app
from run import bench_config

app = create_app(bench_config(os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_UPLOAD_DIR"]))
bare = Flask("bare")
_payloads: dict[int, bytes] = {}


@bare.route("/bytes/<int:size>", methods=["GET", "POST"])
def _bytes(size: int) -> Response:
    body = _payloads.get(size)
    if body is None:
        body = _payloads[size] = b"x" * size
    return Response(body, mimetype=request.args.get("type", "text/html"))


application = DispatcherMiddleware(app, {"/__bare": bare})
