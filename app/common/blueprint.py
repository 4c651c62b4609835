"""The Blueprint every domain's routes build on: flask-smorest's, with a JSON body parser that says 415 for a form.

It lives here, below the domains, so that routes need not import app/api.py, which imports every routes module.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Request
from marshmallow import missing
from webargs.flaskparser import FlaskParser, abort, is_json_request

from app.common.requests import TooDeep, loads_json_body


class JsonBodyParser(FlaskParser):
    """webargs ignores a body whose type is not JSON and then reports every field missing;
    saying 415 names the real mistake (a form post, a missing Content-Type header)."""

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            if req.content_length:
                abort(415, messages={"json": ["Send the body as application/json."]})
            return missing
        try:
            return loads_json_body(req.get_data(cache=True))
        except TooDeep as error:
            abort(400, messages={"json": [f"{error.msg}."]})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """flask-smorest's `arguments`, with a schema given as a class made into an instance once, here.

        webargs builds a schema given as a class anew for every request (Schema.__init__ deep-copies the declared
        fields): about a twentieth of an X-ray line scan's CPU (cProfile of 400 scans). A loaded schema keeps no
        state between loads (none of ours reads `context`), so one instance serves every request; the OpenAPI
        document is the same.
        """
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)
